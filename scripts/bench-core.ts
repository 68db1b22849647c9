/**
 * Benchmark of the scanning core's MIME walker against mailparser's simpleParser.
 *
 *   tsc -p tsconfig.build.json && node dist/scripts/bench-core.js [--corpus DIR] [--time MS]
 *
 * Inputs, in one run:
 *  (a) a generated, deterministic ~4 MB message with a 3 MB base64 attachment;
 *  (b) with --corpus DIR, every .eml in DIR (read one file at a time, never all at once).
 * For each input every contender is timed with tinybench; MB/s (MB = 10^6 bytes of raw
 * message) uses the median of the samples, and the spread (rme) is printed beside it. The
 * ratio is ours / simpleParser. Peak RSS is process.resourceUsage().maxRSS.
 *
 * Contenders are a list: to add one (e.g. the full scanMessage), append an entry to
 * CONTENDERS with a `process(raw)` that does the whole job for one message.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { Bench } from 'tinybench';
import { Budget, LimitExceededError, resolveLimits } from '../src/core/limits.js';
import { walkMime } from '../src/core/mime/walk.js';
import { scanMessage } from '../src/core/scan.js';
import { run } from '../src/core/exec.js';
import { generateCorpus } from '../src/corpus/generate.js';
import { openCorpus } from '../src/corpus/read.js';
import { createEmbeddedAdapter } from '../adapters/embedded.js';
import { opt, readOptions } from './lib/args.js';
import { hostLine } from './lib/host.js';

const EMBEDDED = createEmbeddedAdapter();

/** One thing being measured: processes one raw message completely. */
interface Contender {
  name: string;
  process(raw: Buffer): unknown;
}

/** Limits wide enough not to cut the benchmark inputs short (limit hits still end the walk). */
const BENCH_LIMITS = resolveLimits({ maxExpandedBytes: 1024 ** 3, maxParts: 100_000, timeoutMs: 600_000 });

/** Sink so the work cannot be optimized away. */
let sink = 0;
/** Messages simpleParser threw on (reported, not hidden). */
let simpleParserFailures = 0;

const CONTENDERS: Contender[] = [
  {
    name: 'walkMime',
    process(raw) {
      const budget = new Budget(BENCH_LIMITS);
      try {
        for (const leaf of walkMime(raw, budget)) sink += leaf.data.length;
      } catch (e) {
        if (!(e instanceof LimitExceededError)) throw e;
      }
    },
  },
  {
    name: 'simpleParser',
    async process(raw) {
      // simpleParser refuses some hostile corpus messages (e.g. "Max header size for a MIME
      // node exceeded"): count those as processed, as the core gives them a verdict too.
      try {
        const parsed = await simpleParser(raw);
        for (const a of parsed.attachments) sink += a.size;
        sink += (parsed.text ?? '').length;
      } catch {
        simpleParserFailures += 1;
      }
    },
  },
  {
    // The whole core: MIME walk + container expansion + the embedded scanner (EICAR).
    name: 'scanMessage+embedded',
    async process(raw) {
      const v = await scanMessage(raw, { scanners: [EMBEDDED], limits: BENCH_LIMITS });
      sink += v.status.length;
    },
  },
];

/** The contender the ratio is taken against. */
const BASELINE = 'simpleParser';

/** Deterministic pseudo-random bytes (LCG). */
function pseudoRandom(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** ~4 MB message: a text part, an HTML part and a 3 MB attachment in base64 (76-char CRLF lines). */
export function generatedMessage(): { raw: Buffer; attachment: Buffer } {
  const attachment = pseudoRandom(3_000_000, 42);
  const b64 = attachment.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  const text = 'Please find the quarterly figures attached.\r\n'.repeat(50);
  const raw = Buffer.from(
    [
      'From: Sender <sender@example.org>',
      'To: Recipient <rcpt@example.org>',
      'Subject: =?utf-8?q?Quarterly_figures_=E2=80=93_Q3?=',
      'Date: Mon, 02 Sep 2024 10:00:00 +0000',
      'Message-ID: <bench-1@example.org>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="=_bench_outer"',
      '',
      '--=_bench_outer',
      'Content-Type: multipart/alternative; boundary="=_bench_alt"',
      '',
      '--=_bench_alt',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 7bit',
      '',
      text,
      '--=_bench_alt',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      `<html><body><p style=3D"margin:0">${text.replace(/\r\n/g, '<br>=\r\n')}</p></body></html>`,
      '--=_bench_alt--',
      '',
      '--=_bench_outer',
      'Content-Type: application/octet-stream; name="figures.bin"',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename="figures.bin"',
      '',
      lines.join('\r\n'),
      '--=_bench_outer--',
      '',
    ].join('\r\n'),
    'latin1',
  );
  return { raw, attachment };
}

interface Figures {
  name: string;
  mbPerSec: number;
  medianMs: number;
  rme: number;
  samples: number;
}

/** Time every contender on one input set; `each` feeds it the messages and returns the ms spent in the contender. */
async function measure(
  label: string,
  totalBytes: number,
  each: (c: Contender) => Promise<number>,
  opts: { time: number; iterations: number },
): Promise<Figures[]> {
  const bench = new Bench({ name: label, time: opts.time, iterations: opts.iterations, warmupIterations: 1, warmupTime: 0 });
  for (const c of CONTENDERS) {
    bench.add(c.name, async () => ({ overriddenDuration: await each(c) }));
  }
  await bench.run();
  const out: Figures[] = [];
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== 'completed') {
      const why = r.state === 'errored' ? r.error.message : r.state;
      console.error(`  ${task.name}: ${why}`);
      continue;
    }
    const medianMs = r.latency.p50;
    out.push({ name: task.name, medianMs, mbPerSec: totalBytes / 1e6 / (medianMs / 1000), rme: r.latency.rme, samples: r.latency.samplesCount });
  }
  return out;
}

function report(label: string, totalBytes: number, messages: number, figures: Figures[]): void {
  console.log(`\n${label}: ${messages} message(s), ${(totalBytes / 1e6).toFixed(2)} MB`);
  for (const f of figures) {
    console.log(
      `  ${f.name.padEnd(14)} ${f.mbPerSec.toFixed(1).padStart(9)} MB/s   median ${f.medianMs.toFixed(2)} ms   ±${f.rme.toFixed(1)}%   ${f.samples} samples`,
    );
  }
  const base = figures.find((f) => f.name === BASELINE);
  for (const f of figures) {
    if (base && f !== base) console.log(`  ratio ${f.name}/${BASELINE}: ${(f.mbPerSec / base.mbPerSec).toFixed(1)}x`);
  }
  console.log(`  peak RSS so far: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
}

function parseArgs(argv: string[]): { corpus?: string; time: number; rssChild?: string } {
  const { help, ...v } = readOptions('bench-core', argv, { corpus: opt.optionalString(), 'rss-child': opt.optionalString(), time: opt.number(3000, (n) => n > 0), help: opt.flag('h') }, USAGE);
  if (help) {
    console.log(`usage: ${USAGE}`);
    process.exit(0);
  }
  return v;
}

const USAGE = 'node dist/scripts/bench-core.js [--corpus DIR] [--time MS per contender]';

/**
 * Child mode: scan every message of a corpus with the core + embedded scanner, one at a
 * time as `avbench scan` does, and print this process's peak RSS — a clean measurement, away
 * from the benchmark's own buffers and simpleParser's.
 */
async function rssChild(dir: string): Promise<void> {
  const { info, entries } = await openCorpus(dir);
  let n = 0;
  for await (const e of entries) {
    await scanMessage(await e.read(), { scanners: [EMBEDDED] });
    n += 1;
  }
  process.stdout.write(JSON.stringify({ messages: n, bytes: info.bytes, maxRssKb: process.resourceUsage().maxRSS }) + '\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.rssChild !== undefined) return rssChild(args.rssChild);
  if (args.corpus !== undefined && !existsSync(path.join(args.corpus, 'manifest.json'))) {
    console.log(`generating the full corpus into ${args.corpus} (seed 1)...`);
    await generateCorpus({ out: args.corpus, profile: 'full', seed: 1 });
  }
  console.log(`bench-core — ${hostLine()}`);
  console.log('MB/s = raw message MB (10^6 bytes) / median time per pass; ± is tinybench relative margin of error');

  // (a) generated message
  const { raw, attachment } = generatedMessage();
  const leaves = [...walkMime(raw, new Budget(BENCH_LIMITS))];
  const att = leaves.find((l) => l.filename === 'figures.bin');
  if (!att || !att.data.equals(attachment)) throw new Error('walkMime decoded the generated attachment wrongly');
  const timeOne = async (c: Contender): Promise<number> => {
    const t0 = performance.now();
    await c.process(raw);
    return performance.now() - t0;
  };
  const gen = await measure('generated', raw.length, timeOne, { time: args.time, iterations: 20 });
  report('generated message (3 MB base64 attachment)', raw.length, 1, gen);

  // (b) corpus, one file at a time
  if (args.corpus !== undefined) {
    const dir = args.corpus;
    const files = (await readdir(dir)).filter((f) => f.toLowerCase().endsWith('.eml')).sort().map((f) => path.join(dir, f));
    let totalBytes = 0;
    for (const f of files) totalBytes += (await readFile(f)).length;
    const timeCorpus = async (c: Contender): Promise<number> => {
      let ms = 0;
      for (const f of files) {
        const data = await readFile(f); // not timed: only the contender's work is
        const t0 = performance.now();
        await c.process(data);
        ms += performance.now() - t0;
      }
      return ms;
    };
    const corpus = await measure('corpus', totalBytes, timeCorpus, { time: args.time, iterations: 3 });
    report(`corpus ${dir}`, totalBytes, files.length, corpus);
  }
  if (simpleParserFailures > 0) console.log(`\nsimpleParser threw on ${simpleParserFailures} message pass(es) (counted as processed)`);
  console.log(`\npeak RSS of this benchmark process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (sink ${sink > 0 ? 'ok' : 'empty'})`);
  if (args.corpus !== undefined) {
    const child = await run(process.execPath, [fileURLToPath(import.meta.url), '--rss-child', args.corpus]);
    if (!child.ok || child.exitCode !== 0) throw new Error(`rss child failed: ${child.stderr}`);
    const r = JSON.parse(child.stdout) as { messages: number; bytes: number; maxRssKb: number };
    const mb = r.maxRssKb / 1024;
    console.log(`peak RSS scanning the whole corpus (${r.messages} messages, ${(r.bytes / 1e6).toFixed(0)} MB) in a fresh process: ${mb.toFixed(0)} MB (target ≤ 256 MB: ${mb <= 256 ? 'met' : 'NOT met'})`);
  }
}

await main();
