/**
 * Benchmark of the bench harness itself (issue 5, "Done when"):
 *
 *   npx tsc -p tsconfig.build.json && node dist/scripts/bench-harness.js [--corpus DIR] [--big N] [--only ceiling|memory]
 *
 * Throughput figures need a quiet machine: other processes on the cores show up directly.
 *
 * 1. Ceiling: the no-op scanner with granularity `message` (the core hands it the raw
 *    message and does nothing else) in direct mode on the quick corpus must reach at least
 *    20,000 msgs/s, so the harness never limits what it measures. Median of 15 repeats after
 *    10 warm-up passes (1,680 messages: until the JIT has settled), as `avbench bench`
 *    computes it. For information, the no-op with
 *    granularity `part` (the baseline the bench reports: the core's MIME walk and archive
 *    expansion, no engine) is measured the same way.
 * 2. Memory: a bench over a 10,000-message corpus (the quick corpus's messages replicated
 *    into a temp folder with a manifest) — the embedded scanner plus the baseline, in the
 *    direct, smtp and milter modes, one warm-up and two repeats, results.json written —
 *    runs in a child process, whose peak RSS (process.resourceUsage().maxRSS) must stay
 *    under 300 MB.
 */
import { existsSync } from 'node:fs';
import { link, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench } from '../src/bench/runner.js';
import { writeResultsFile } from '../src/bench/write.js';
import { run } from '../src/core/exec.js';
import { generateCorpus } from '../src/corpus/generate.js';
import type { ManifestEntry } from '../src/corpus/manifest.js';
import type { ModeName } from '../src/modes/types.js';
import { opt, readOptions } from './lib/args.js';

const CEILING_TARGET = 20_000;
const RSS_TARGET = 300 * 1024 * 1024;

const OPTIONS = readOptions(
  'bench-harness',
  process.argv.slice(2),
  {
    corpus: opt.optionalString(),
    big: opt.whole(10_000),
    only: opt.optionalString(),
    // the memory child's own options
    child: opt.optionalString(),
    out: opt.optionalString(),
    modes: opt.string('direct,smtp,milter'),
  },
  'node dist/scripts/bench-harness.js [--corpus DIR] [--big N] [--only ceiling|memory]',
);
if (OPTIONS.only !== undefined && OPTIONS.only !== 'ceiling' && OPTIONS.only !== 'memory') throw new Error('bench-harness: --only is ceiling or memory');

/** Replicate `src`'s messages into `out` until it holds `n` (hard links where possible). */
async function replicate(src: string, out: string, n: number): Promise<void> {
  const manifest = JSON.parse(await readFile(join(src, 'manifest.json'), 'utf8')) as ManifestEntry[];
  await mkdir(out, { recursive: true });
  const entries: ManifestEntry[] = [];
  for (let i = 0; i < n; i++) {
    const e = manifest[i % manifest.length] as ManifestEntry;
    const file = `m${String(i + 1).padStart(5, '0')}.eml`;
    await link(join(src, e.file), join(out, file)).catch(() => copyFile(join(src, e.file), join(out, file)));
    entries.push({ ...e, file });
  }
  await writeFile(join(out, 'manifest.json'), JSON.stringify(entries, null, 1));
}

/** The child: bench the big corpus and print its peak RSS. */
async function child(corpus: string, out: string): Promise<void> {
  const modes = OPTIONS.modes.split(',') as ModeName[];
  const results = await runBench({ corpus, scanners: ['embedded'], modes, repeat: 2, warmup: 1 });
  await writeResultsFile(join(out, 'results.json'), results);
  const figures = results.runs.map((r) => ({ id: r.id, msgsPerSec: r.throughput.msgsPerSec, lost: r.fates.lost, messages: r.messages }));
  process.stdout.write(`${JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024, runs: figures })}\n`);
}

async function ceiling(corpus: string, granularity: 'message' | 'part'): Promise<{ median: number; repeats: number[] }> {
  const results = await runBench({
    corpus,
    scanners: ['noop-x'],
    modes: ['direct'],
    repeat: 15,
    warmup: 10,
    baseline: false,
    config: { scanners: { 'noop-x': { type: 'noop', granularity } } },
  });
  const r = results.runs[0];
  if (r === undefined) throw new Error('no run');
  return { median: r.throughput.msgsPerSec, repeats: r.repeats.map((x) => Math.round(x.msgsPerSec)) };
}

async function main(): Promise<void> {
  if (OPTIONS.child !== undefined) {
    if (OPTIONS.out === undefined) throw new Error('bench-harness: --child needs --out');
    await child(OPTIONS.child, OPTIONS.out);
    return;
  }
  const work = await mkdtemp(join(tmpdir(), 'avbench-harness-'));
  try {
    let quick = OPTIONS.corpus;
    if (quick === undefined) {
      quick = existsSync('corpora/quick/manifest.json') ? 'corpora/quick' : join(work, 'quick');
      if (quick !== 'corpora/quick') await generateCorpus({ out: quick, profile: 'quick' });
    }
    const big = OPTIONS.big;

    const only = OPTIONS.only;
    let ceilingOk = true;
    if (only !== 'memory') {
      const msg = await ceiling(quick, 'message');
      const part = await ceiling(quick, 'part');
      ceilingOk = msg.median >= CEILING_TARGET;
      console.log(`harness ceiling (noop, granularity message, direct, ${quick}): ${Math.round(msg.median)} msgs/s (repeats ${msg.repeats.join(', ')}) — target ≥ ${CEILING_TARGET}: ${msg.median >= CEILING_TARGET ? 'PASS' : 'FAIL'}`);
      console.log(`core walk baseline (noop, granularity part, direct): ${Math.round(part.median)} msgs/s (repeats ${part.repeats.join(', ')}) — for information: the MIME walk and archive expansion, no engine`);
    }
    if (only === 'ceiling') {
      if (!ceilingOk) process.exitCode = 1;
      return;
    }
    const bigDir = join(work, 'big');
    await replicate(quick, bigDir, big);
    const script = new URL(import.meta.url).pathname;
    const t0 = Date.now();
    const r = await run(process.execPath, [script, '--child', bigDir, '--out', work], { deadline: Date.now() + 1_800_000 });
    if (!r.ok || r.exitCode !== 0) throw new Error(`child failed: ${r.ok ? `exit ${r.exitCode}` : r.reason} ${r.stderr.slice(-2000)}`);
    const line = r.stdout.trim().split('\n').pop() as string;
    const fig = JSON.parse(line) as { maxRssBytes: number; runs: Array<{ id: string; msgsPerSec: number; lost: number; messages: number }> };
    const mb = fig.maxRssBytes / 1024 / 1024;
    console.log(`bench over ${big} messages (embedded + baseline; direct, smtp, milter; 1 warm-up + 2 repeats; results.json written) in ${((Date.now() - t0) / 1000).toFixed(0)} s:`);
    for (const x of fig.runs) console.log(`  ${x.id.padEnd(22)} ${Math.round(x.msgsPerSec)} msgs/s, ${x.messages} messages, lost ${x.lost}`);
    console.log(`  peak RSS ${mb.toFixed(0)} MB — target < ${RSS_TARGET / 1024 / 1024} MB: ${fig.maxRssBytes < RSS_TARGET ? 'PASS' : 'FAIL'}`);
    if (!ceilingOk || fig.maxRssBytes >= RSS_TARGET) process.exitCode = 1;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
