/**
 * Issue 3's acceptance check: on a corpus (default: the generated full corpus), every real
 * adapter — clamd, clamscan, clamdscan, c-icap (ICAP) — gives, message by message, the
 * verdict ClamAV's own `clamdscan` gives; the YARA per-part adapter gives the expected labels.
 * Printed per category. Real clamd and c-icap are started on loopback for the run, with the
 * lab's signature database (EICAR .ndb + clam.exe .hdb), and stopped after.
 *
 *   npm run build && node dist/scripts/compare-adapters.js [--corpus corpora/full] [--jobs 8]
 *
 * Exit 0 when everything agrees, 1 otherwise.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Table from 'cli-table3';
import { createClamdAdapter } from '../adapters/clamd.js';
import { createClamdscanAdapter } from '../adapters/clamdscan.js';
import { createClamscanAdapter } from '../adapters/clamscan.js';
import { createIcapAdapter } from '../adapters/icap.js';
import { createYaraAdapter } from '../adapters/yara.js';
import { writeEicarYaraRules } from '../src/lab/signatures.js';
import { orderedPool } from '../src/cli/pool.js';
import { run } from '../src/core/exec.js';
import { scanMessageDetailed } from '../src/core/scan.js';
import type { Adapter, ScanUnit, Verdict } from '../src/core/types.js';
import { generateCorpus } from '../src/corpus/generate.js';
import { openCorpus, type CorpusEntry } from '../src/corpus/read.js';
import { startCicap, startClamd } from '../src/lab/index.js';
import { opt, readOptions } from './lib/args.js';

/** --corpus, --jobs (messages scanned at once), --batch (messages per process of a process adapter). */
function parseArgs(argv: string[]): { corpus: string; jobs: number; batch: number } {
  return readOptions('compare-adapters', argv, { corpus: opt.string('corpora/full'), jobs: opt.whole(8), batch: opt.whole(400) }, 'compare-adapters [--corpus DIR] [--jobs N] [--batch N]');
}

/** "infected:NAME,NAME" / "clean" / "error:CODE" — what is compared. */
function key(v: Verdict): string {
  if (v.status === 'infected') return `infected:${[...new Set(v.detections.map((d) => d.name))].sort().join(',')}`;
  if (v.status === 'error') return `error:${v.error.code}`;
  return 'clean';
}

/** ClamAV's own clamdscan over the corpus folder: the reference verdict per file. */
async function clamdscanReference(configFile: string, files: string[]): Promise<Map<string, string>> {
  const ref = new Map<string, string>();
  for (let i = 0; i < files.length; i += 500) {
    const chunk = files.slice(i, i + 500);
    const r = await run('clamdscan', [`--config-file=${configFile}`, '--no-summary', '--fdpass', ...chunk], { deadline: Date.now() + 300_000 });
    if (!r.ok) throw new Error(`clamdscan failed: ${r.message}`);
    for (const line of r.stdout.split('\n')) {
      const m = /^(.*): (.+) (FOUND|ERROR)$/.exec(line) ?? /^(.*): (OK)$/.exec(line);
      if (!m) continue;
      const [, file, what, kind] = m;
      ref.set(resolve(file!), kind === 'FOUND' ? `infected:${what}` : kind === 'ERROR' ? 'error:SCANNER' : 'clean');
    }
  }
  return ref;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(join(args.corpus, 'manifest.json'))) {
    console.log(`generating the full corpus into ${args.corpus} (seed 1)...`);
    await generateCorpus({ out: args.corpus, profile: 'full', seed: 1 });
  }
  const entries: CorpusEntry[] = [];
  const { entries: it } = await openCorpus(args.corpus);
  for await (const e of it) entries.push(e); // labels + read() only; the bytes stay on disk
  const files = entries.map((e) => resolve(e.file));

  const work = await mkdtemp(join(tmpdir(), 'avbench-compare-'));
  const clamd = await startClamd({ maxThreads: 8, streamMaxLength: '100M' });
  const cicap = await startCicap({ clamdSocket: clamd.socket, maxObjectSize: '100M' });
  try {
    const rules = await writeEicarYaraRules(join(work, 'eicar.yar'));
    console.log(`clamd pid ${clamd.pid}, c-icap pid ${cicap.pid}, ${entries.length} messages from ${args.corpus}`);
    let t0 = performance.now();
    const ref = await clamdscanReference(clamd.configFile, files);
    console.log(`reference: clamdscan --fdpass over ${files.length} files in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const messageAdapters: Adapter[] = [
      createClamdAdapter({ name: 'clamd', socket: clamd.socket }),
      createClamscanAdapter({ name: 'clamscan', database: clamd.dbDir }),
      createClamdscanAdapter({ name: 'clamdscan', configFile: clamd.configFile, mode: 'fdpass' }),
      createIcapAdapter({ name: 'c-icap', url: cicap.url, granularity: 'message' }),
    ];
    const yara = createYaraAdapter({ name: 'yara', rules });
    const got = new Map<string, string[]>(); // adapter → key per entry
    for (const a of messageAdapters) {
      t0 = performance.now();
      const keys: string[] = [];
      if (a.scanBatch !== undefined) {
        // Process adapters: one process per batch of whole messages (signature load paid once).
        for (let i = 0; i < entries.length; i += args.batch) {
          const chunk = entries.slice(i, i + args.batch);
          const units: ScanUnit[] = await Promise.all(chunk.map(async (e) => ({ kind: 'message' as const, data: await e.read(), location: 'message' })));
          const verdicts = await a.scanBatch(units, { signal: new AbortController().signal, deadline: Date.now() + 600_000 });
          keys.push(...verdicts.map(key));
        }
      } else {
        for await (const k of orderedPool(entries, args.jobs, async (e) => key((await scanMessageDetailed(await e.read(), { scanners: [a] })).verdict))) keys.push(k);
      }
      got.set(a.name, keys);
      console.log(`${a.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    t0 = performance.now();
    const yaraKeys: string[] = [];
    for await (const k of orderedPool(entries, args.jobs, async (e) => key((await scanMessageDetailed(await e.read(), { scanners: [yara] })).verdict))) yaraKeys.push(k);
    console.log(`yara (per part): ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Per category: how many agree with clamdscan (YARA: with the labels it can judge).
    const cats = new Map<string, { n: number; agree: Map<string, number>; yaraJudged: number; yaraAgree: number }>();
    const disagreements: string[] = [];
    entries.forEach((e, i) => {
      const cat = e.category ?? '(none)';
      const c = cats.get(cat) ?? { n: 0, agree: new Map(), yaraJudged: 0, yaraAgree: 0 };
      cats.set(cat, c);
      c.n += 1;
      const r = ref.get(files[i]!) ?? 'missing';
      for (const a of messageAdapters) {
        const k = got.get(a.name)![i]!;
        if (k === r) c.agree.set(a.name, (c.agree.get(a.name) ?? 0) + 1);
        else disagreements.push(`${a.name} ${e.file} [${cat}]: ${k} — clamdscan: ${r}`);
      }
      // YARA's rule is EICAR only: it is judged on EICAR-family infected and on clean messages.
      const family = (e as { manifestEntry?: { family?: string } }).manifestEntry?.family;
      if ((e.expected === 'infected' && family === 'eicar') || e.expected === 'clean') {
        c.yaraJudged += 1;
        const y = yaraKeys[i]!;
        const ok = e.expected === 'clean' ? y === 'clean' : y.startsWith('infected:');
        if (ok) c.yaraAgree += 1;
        else disagreements.push(`yara ${e.file} [${cat}]: ${y} — expected ${e.expected}`);
      }
    });
    const table = new Table({ head: ['category', 'messages', ...messageAdapters.map((a) => `${a.name} = clamdscan`), 'yara = label'], style: { head: [], border: [] } });
    const totals = { n: 0, agree: new Map<string, number>(), yj: 0, ya: 0 };
    for (const [cat, c] of [...cats].sort(([a], [b]) => a.localeCompare(b))) {
      table.push([cat, c.n, ...messageAdapters.map((a) => `${c.agree.get(a.name) ?? 0}/${c.n}`), c.yaraJudged ? `${c.yaraAgree}/${c.yaraJudged}` : '–']);
      totals.n += c.n;
      for (const a of messageAdapters) totals.agree.set(a.name, (totals.agree.get(a.name) ?? 0) + (c.agree.get(a.name) ?? 0));
      totals.yj += c.yaraJudged;
      totals.ya += c.yaraAgree;
    }
    table.push(['ALL', totals.n, ...messageAdapters.map((a) => `${totals.agree.get(a.name) ?? 0}/${totals.n}`), `${totals.ya}/${totals.yj}`]);
    console.log(table.toString());
    const infectedRef = [...ref.values()].filter((v) => v.startsWith('infected:')).length;
    console.log(`clamdscan reference: ${infectedRef} infected, ${ref.size - infectedRef} not, of ${files.length}`);
    if (disagreements.length > 0) {
      console.log(`\n${disagreements.length} disagreement(s):`);
      for (const d of disagreements.slice(0, 50)) console.log('  ' + d);
      process.exitCode = 1;
    } else {
      console.log('\nevery adapter agrees with clamdscan on every message; yara agrees with every label it can judge');
    }
    await Promise.all([...messageAdapters, yara].map((a) => a.close()));
  } finally {
    await cicap.stop();
    await clamd.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
