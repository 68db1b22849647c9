/**
 * Benchmark: the clamd adapter's msgs/s over a folder of .eml files against
 * `clamdscan --multiscan --fdpass` over the same files, the same (lab) clamd, matched
 * parallelism. After one untimed warm-up, `--runs N` measured rounds (default 1); each
 * round runs clamdscan and then each adapter mode; prints every run, the medians and the
 * ratios (per round, and the median of those).
 *
 *   node dist/scripts/bench-adapters.js --corpus DIR [--runs 3] [--parallel 8] [--pool 8] [--pool 0] [--mode in-place|in-place-read|instream]...
 *                                       [--clamd-temp memory|disk] [--chunk-size BYTES] [--clamd-threads 8] [--no-clamscan]
 *                                       [--env shell|as-is]
 *   node dist/scripts/bench-adapters.js --make-test-corpus DIR [--count 2000]   (half EICAR in base64)
 *
 * Whole processes (first, unless --no-whole; --whole-only skips the rest): `avbench scan -s
 * clamd DIR` (node bin.cjs, the package's bin, of a private copy of dist/, its defaults: the lean path when the
 * build made its bundle, said at the start; an avbench.config.json naming the lab
 * clamd's clamd.conf) against `clamdscan --config-file=CONF --multiscan --fdpass DIR` on the
 * same lab clamd, alternating, `--runs` rounds after one untimed warm-up of each, medians
 * and the ratio; on the corpus and on a folder of `--small-count` (20,000) small messages,
 * `--small DIR` (default corpora/small, made with --make-test-corpus's generator when
 * missing; --no-small skips it); each side's CPU time (user + system) is printed too. Then Node's own start-up (`node -e 0`) and `avbench scan`
 * of one message (start-up + probe), and `avbench scan -s embedded DIR` as a whole process
 * next to the core's in-process speed (scanMessage + embedded over the same files, 4 at once).
 * Every process runs in an administrator's shell environment: this one without
 * NODE_EXTRA_CA_CERTS, which costs every Node start ~40 ms here (scripts/lib/env.ts;
 * `--env as-is` keeps it).
 *
 * Adapter modes (default: all three). Every unit is `{ kind: 'message', data, location:
 * 'message', path }` with path = the corpus file:
 * - in-place: inPlace 'auto' (unix socket, so clamd reads the file: `zSCAN <path>`), and
 *   the bench does NOT read the file (data is empty): like clamdscan, which never reads
 *   the bytes either. If clamd could not read a file, the adapter would stream the empty
 *   data, so the verdicts are compared with clamdscan's and any difference is printed.
 * - in-place-read: the same, but each file is read first (readFileSync), as a real caller
 *   such as scanMessage({ path }) holds the bytes anyway.
 * - instream: inPlace 'never': each file is read and streamed with INSTREAM.
 * The file list is streamed (opendir), never held whole.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, opendir, rm, stat, writeFile } from 'node:fs/promises';
import { setMaxListeners } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createClamdAdapter } from '../adapters/clamd.js';
import { createClamscanAdapter } from '../adapters/clamscan.js';
import { createEmbeddedAdapter } from '../adapters/embedded.js';
import { childrenCpuSeconds } from '../src/bench/host.js';
import { median } from '../src/bench/stats.js';
import { orderedPool } from '../src/cli/pool.js';
import { run } from '../src/core/exec.js';
import { scanMessageDetailed } from '../src/core/scan.js';
import { openCorpus } from '../src/corpus/read.js';
import { startClamd, type LabClamd } from '../src/lab/clamd.js';
import { eicar } from '../src/lab/signatures.js';
import { listOf, opt, readOptions, wholeNumber } from './lib/args.js';
import { useUsersEnvironment } from './lib/env.js';
import { hostLine, loadAverage } from './lib/host.js';
import { AVBENCH_BIN as SHARED_BIN, privateDist } from './lib/sut.js';

/**
 * The avbench command line, as a user runs it: bin.cjs (the package's bin) of a private copy of dist/ made by
 * main() (engineers sharing this tree rebuild dist/ while the bench runs, and a tsc run
 * makes the bin fall back to the full CLI), else dist/src/cli/bin.cjs next to this dist/scripts/.
 */
let AVBENCH_BIN = SHARED_BIN;

/** How the adapter side gets each message to clamd (see the file comment). */
type Mode = 'in-place' | 'in-place-read' | 'instream';
const MODES: readonly Mode[] = ['in-place', 'in-place-read', 'instream'];

interface Args {
  corpus?: string;
  parallel: number;
  pools: number[];
  modes: Mode[];
  runs: number;
  clamscan: boolean;
  makeTestCorpus?: string;
  count: number;
  temp: 'memory' | 'disk';
  chunkSize?: number;
  clamdThreads: number;
  /** The whole processes' environment (scripts/lib/env.ts): this shell's without Node start-up taxes, or as is. */
  env: 'shell' | 'as-is';
  whole: boolean;
  wholeOnly: boolean;
  small?: string;
  smallCount: number;
}

function parseArgs(argv: string[]): Args {
  const { pool, mode, noClamscan, noWhole, noSmall, small, clamdTemp, ...v } = readOptions('bench-adapters', argv, {
    corpus: opt.optionalString(),
    parallel: opt.whole(8),
    pool: opt.strings(),
    runs: opt.whole(1),
    'no-clamscan': opt.flag(),
    'no-whole': opt.flag(),
    'whole-only': opt.flag(),
    small: opt.string('corpora/small'),
    'no-small': opt.flag(),
    'small-count': opt.whole(20_000),
    mode: opt.strings(),
    'make-test-corpus': opt.optionalString(),
    count: opt.whole(2000),
    'chunk-size': opt.optionalWhole(),
    'clamd-threads': opt.whole(8),
    'clamd-temp': opt.oneOf('memory', ['memory', 'disk'] as const),
    env: opt.oneOf('shell', ['shell', 'as-is'] as const),
  });
  return {
    ...v,
    pools: pool.length === 0 ? [8] : pool.map((p) => wholeNumber(p, '--pool', 0)),
    modes: mode.length === 0 ? [...MODES] : mode.map((m) => listOf(m, MODES, '--mode')).flat(),
    clamscan: !noClamscan,
    whole: !noWhole,
    temp: clamdTemp,
    ...(noSmall ? {} : { small }),
  };
}

/** A quick test folder: `count` small .eml files, every second one with EICAR as a base64 attachment. */
async function makeTestCorpus(dir: string, count: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const b64 = eicar().toString('base64');
  for (let i = 0; i < count; i++) {
    const head = `From: a${i}@example.org\r\nTo: b@example.org\r\nSubject: message ${i}\r\nMIME-Version: 1.0\r\n`;
    const text = `Hello ${i},\r\n${'this is an ordinary line of mail text. '.repeat(10)}\r\n`;
    const body =
      i % 2 === 0
        ? `${head}Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\nContent-Type: text/plain\r\n\r\n${text}--b${i}\r\n` +
          `Content-Type: application/octet-stream; name="t${i}.com"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--b${i}--\r\n`
        : `${head}Content-Type: text/plain\r\n\r\n${text}`;
    await writeFile(join(dir, `m${String(i).padStart(5, '0')}.eml`), body, { mode: 0o600 });
  }
}

/** Stream the .eml paths of a folder (not recursive). */
async function* emlFiles(dir: string): AsyncGenerator<string> {
  for await (const e of await opendir(dir)) if (e.isFile() && e.name.endsWith('.eml')) yield join(dir, e.name);
}

interface AdapterRun {
  ms: number;
  messages: number;
  bytes: number;
  infected: Map<string, string>;
  errors: Map<string, string>;
}

const NO_BYTES = Buffer.alloc(0);

/** Milliseconds since `t0` (process.hrtime.bigint()). */
function msSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** A run's end: its time since `t0` into `out.ms` (the adapter's close() not counted), then close the adapter. */
async function closeTimed<T extends { ms: number }>(out: T, t0: bigint, adapter: { close(): Promise<void> }): Promise<T> {
  out.ms = msSince(t0);
  await adapter.close();
  return out;
}

async function runAdapter(dir: string, socket: string, parallel: number, poolSize: number, mode: Mode, chunkSize?: number): Promise<AdapterRun> {
  const inPlace = mode === 'instream' ? 'never' : 'auto';
  const read = mode !== 'in-place';
  const adapter = createClamdAdapter({ socket, poolSize, inPlace, ...(chunkSize === undefined ? {} : { chunkSize }) });
  const files = emlFiles(dir);
  const out: AdapterRun = { ms: 0, messages: 0, bytes: 0, infected: new Map(), errors: new Map() };
  const signal = new AbortController().signal;
  setMaxListeners(parallel * 2 + 10, signal);
  const t0 = process.hrtime.bigint();
  async function worker(): Promise<void> {
    for (;;) {
      const next = await files.next();
      if (next.done === true) return;
      const file = next.value;
      // Mail-sized files: a synchronous read from the page cache costs less CPU than
      // fs.promises.readFile's thread-pool round trips (measured here: 83 vs 178-252 µs/msg).
      const data = read ? readFileSync(file) : NO_BYTES;
      const v = await adapter.scan({ kind: 'message', data, location: 'message', path: file }, { signal, deadline: Date.now() + 30_000 });
      out.messages++;
      out.bytes += data.length;
      if (v.status === 'infected') out.infected.set(file, v.detections.map((d) => d.name).join(','));
      else if (v.status === 'error') out.errors.set(file, `${v.error.code}: ${v.error.message}`);
    }
  }
  await Promise.all(Array.from({ length: parallel }, () => worker()));
  return closeTimed(out, t0, adapter);
}

interface ClamdscanRun {
  ms: number;
  exitCode: number | string;
  infected: Map<string, string>;
  errorLines: number;
}

async function runClamdscan(dir: string, configFile: string): Promise<ClamdscanRun> {
  const t0 = process.hrtime.bigint();
  const r = await run('clamdscan', ['--multiscan', '--fdpass', `--config-file=${configFile}`, '--no-summary', dir], {
    deadline: Date.now() + 30 * 60_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  const ms = msSince(t0);
  const infected = new Map<string, string>();
  let errorLines = 0;
  for (const line of r.stdout.split('\n')) {
    const m = /^(.*): (.+) FOUND$/.exec(line);
    if (m !== null) infected.set(resolve(m[1] as string), m[2] as string);
    else if (/ ERROR$/.test(line)) errorLines++;
  }
  return { ms, exitCode: r.ok ? r.exitCode : r.reason, infected, errorLines };
}

/** One `clamscan -r DIR` over the corpus folder: the reference for the batched adapter. */
async function runClamscanFolder(dir: string, dbDir: string): Promise<{ ms: number; infected: Set<string> }> {
  const t0 = process.hrtime.bigint();
  const r = await run('clamscan', ['-d', dbDir, '--no-summary', '--stdout', '-r', dir], { deadline: Date.now() + 30 * 60_000, maxBuffer: 256 * 1024 * 1024 });
  const ms = msSince(t0);
  const infected = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(.*): (.+) FOUND$/.exec(line);
    if (m !== null) infected.add(resolve(m[1] as string));
  }
  return { ms, infected };
}

/** The clamscan adapter, batched: one clamscan process per `batch` messages. */
async function runClamscanBatched(dir: string, dbDir: string, batch: number, tempDir?: string): Promise<{ ms: number; messages: number; infected: Set<string>; errors: number }> {
  const adapter = createClamscanAdapter({ database: dbDir, ...(tempDir === undefined ? {} : { tempDir }) });
  const out = { ms: 0, messages: 0, infected: new Set<string>(), errors: 0 };
  const t0 = process.hrtime.bigint();
  let files: string[] = [];
  const flush = async (): Promise<void> => {
    if (files.length === 0) return;
    // A real caller has the bytes; the adapter scans the corpus files in place (no temp copies).
    const units = files.map((f) => ({ kind: 'message' as const, data: readFileSync(f), location: 'message', path: f }));
    const verdicts = await adapter.scanBatch!(units, { signal: new AbortController().signal, deadline: Date.now() + 30 * 60_000 });
    verdicts.forEach((v, i) => {
      if (v.status === 'infected') out.infected.add(files[i]!);
      else if (v.status === 'error') out.errors++;
    });
    out.messages += files.length;
    files = [];
  };
  for await (const f of emlFiles(dir)) {
    files.push(f);
    if (files.length >= batch) await flush();
  }
  await flush();
  return closeTimed(out, t0, adapter);
}

/** One whole process: wall time from spawn to exit, its exit, and the files it called FOUND (absolute path → name). */
interface ProcessRun {
  ms: number;
  /** CPU time (user + system) of the process, ms (10 ms resolution); undefined off Linux. */
  cpuMs: number | undefined;
  exit: number | string;
  found: Map<string, string>;
  errorLines: number;
}

/**
 * CPU time (user + system, ms) of this process's children that have been waited for
 * (10 ms resolution); undefined off Linux. Only the timed process exits during a
 * timeProcess call, so the difference is its CPU.
 */
function childrenCpuMs(): number | undefined {
  return process.platform === 'linux' ? Math.round(childrenCpuSeconds() * 1000) : undefined;
}

async function timeProcess(file: string, args: string[]): Promise<ProcessRun> {
  const cpu0 = childrenCpuMs();
  const t0 = process.hrtime.bigint();
  const r = await run(file, args, { deadline: Date.now() + 30 * 60_000, maxBuffer: 256 * 1024 * 1024 });
  const ms = msSince(t0);
  const cpu1 = childrenCpuMs();
  const cpuMs = cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0;
  const found = new Map<string, string>();
  let errorLines = 0;
  for (const line of r.stdout.split('\n')) {
    // `PATH: NAME FOUND` (ClamAV, avbench), `PATH: NAME FOUND in PART` (avbench, per-part scanners)
    const m = /^(.*): (.+?) FOUND(?: in .+)?$/.exec(line);
    if (m !== null) found.set(resolve(m[1] as string), m[2] as string);
    else if (/ ERROR($| )/.test(line)) errorLines++;
  }
  return { ms, cpuMs, exit: r.ok ? r.exitCode : r.reason, found, errorLines };
}

/** Median CPU of some runs, as text: `CPU 560 ms (runs: 550 / 570)`, or nothing when unknown. */
function cpuText(runs: readonly ProcessRun[]): string {
  const xs = runs.map((r) => r.cpuMs);
  if (xs.some((x) => x === undefined)) return '';
  return `, CPU ${median(xs as number[]).toFixed(0)} ms (runs: ${xs.join(' / ')})`;
}

function loadText(): string {
  return loadAverage(2);
}

/** Number of .eml files in a folder (what both sides scan; clamdscan also opens manifest.json). */
async function countEml(dir: string): Promise<number> {
  let n = 0;
  for await (const _ of emlFiles(dir)) n++;
  return n;
}

/** Files where two FOUND maps differ (a file in one and not the other, or another name). */
function foundDiff(a: Map<string, string>, b: Map<string, string>): number {
  let n = 0;
  for (const [f, name] of a) if (b.get(f) !== name) n++;
  for (const f of b.keys()) if (!a.has(f)) n++;
  return n;
}

/**
 * `avbench scan -s clamd DIR` vs `clamdscan --multiscan --fdpass DIR` as whole processes on
 * the same clamd: one untimed warm-up each, then `runs` rounds, the two alternating which
 * goes first; prints every run, the medians and the ratio (median of the per-round ratios).
 */
async function wholeClamd(label: string, dir: string, clamd: LabClamd, config: string, runs: number): Promise<void> {
  const messages = await countEml(dir);
  const cs = (): Promise<ProcessRun> => timeProcess('clamdscan', [`--config-file=${clamd.configFile}`, '--multiscan', '--fdpass', dir]);
  const av = (): Promise<ProcessRun> => timeProcess(process.execPath, [AVBENCH_BIN, 'scan', '-c', config, '-s', 'clamd', dir]);
  const before = loadText();
  await cs();
  await av();
  const csRuns: ProcessRun[] = [];
  const avRuns: ProcessRun[] = [];
  for (let round = 0; round < runs; round++) {
    if (round % 2 === 0) {
      csRuns.push(await cs());
      avRuns.push(await av());
    } else {
      avRuns.push(await av());
      csRuns.push(await cs());
    }
  }
  const rate = (r: ProcessRun): number => (messages / r.ms) * 1000;
  const csRates = csRuns.map(rate);
  const avRates = avRuns.map(rate);
  const ratios = avRates.map((x, i) => x / (csRates[i] as number));
  const list = (xs: number[], d = 0): string => xs.map((x) => x.toFixed(d)).join(' / ');
  const lastCs = csRuns[csRuns.length - 1] as ProcessRun;
  const lastAv = avRuns[avRuns.length - 1] as ProcessRun;
  console.log(`whole processes, ${label}: ${messages} messages in ${dir} (load average before ${before}, after ${loadText()})`);
  console.log(`  clamdscan --multiscan --fdpass DIR: ${median(csRates).toFixed(0)} msg/s (runs: ${list(csRates)}; ${list(csRuns.map((r) => r.ms))} ms${cpuText(csRuns)}), exit ${lastCs.exit}, ${lastCs.found.size} FOUND, ${lastCs.errorLines} ERROR lines`);
  console.log(`  avbench scan -s clamd DIR:          ${median(avRates).toFixed(0)} msg/s (runs: ${list(avRates)}; ${list(avRuns.map((r) => r.ms))} ms${cpuText(avRuns)}), exit ${lastAv.exit}, ${lastAv.found.size} FOUND, ${lastAv.errorLines} ERROR lines, ${foundDiff(lastCs.found, lastAv.found)} files where the FOUND lines differ`);
  console.log(`  ratio avbench / clamdscan: ${median(ratios).toFixed(2)}x (runs: ${list(ratios, 2)}; target ≥ 1.0x)`);
}

/** Node's own start-up and `avbench scan` of one message (start-up, config, probe, one scan), median of `n`. */
async function startupFigures(clamd: LabClamd, config: string, one: string, n: number): Promise<void> {
  // Which path `avbench scan` takes here: the lean bundle with its code cache, as installed, or not.
  const traced = await run(process.execPath, [AVBENCH_BIN, 'scan', '-c', config, '-s', 'clamd', one], { deadline: Date.now() + 60_000, env: { AVBENCH_LEAN_TRACE: '1' } });
  const path = /^avbench scan: (.*)$/m.exec(traced.stderr)?.[1] ?? 'unknown (no AVBENCH_LEAN_TRACE line)';
  console.log(`avbench scan runs: ${path}${path.startsWith('lean path (code cache accepted)') ? '' : '  <-- NOT the lean path with its code cache: run npm run build'}`);
  const bare: ProcessRun[] = [];
  const scanOne: ProcessRun[] = [];
  const embeddedOne: ProcessRun[] = [];
  for (let i = 0; i < n; i++) {
    bare.push(await timeProcess(process.execPath, ['-e', '0']));
    scanOne.push(await timeProcess(process.execPath, [AVBENCH_BIN, 'scan', '-c', config, '-s', 'clamd', one]));
    embeddedOne.push(await timeProcess(process.execPath, [AVBENCH_BIN, 'scan', '-c', config, '-s', 'embedded', one]));
  }
  void clamd;
  const ms = (rs: ProcessRun[]): string => `${median(rs.map((r) => r.ms)).toFixed(0)} ms${cpuText(rs).replace(/ \(runs: [^)]*\)/, '')}`;
  console.log(
    `start-up (median of ${n}, load average ${loadText()}): node -e 0 ${ms(bare)}; ` +
      `avbench scan -s clamd ONE.eml ${ms(scanOne)}; avbench scan -s embedded ONE.eml ${ms(embeddedOne)}`,
  );
}

/** The core's in-process speed with the embedded scanner: scanMessage over the corpus files, 4 at once (what `avbench scan` does). */
async function coreEmbedded(dir: string): Promise<{ ms: number; messages: number; infected: number }> {
  const adapter = createEmbeddedAdapter();
  const opened = await openCorpus(dir);
  const t0 = process.hrtime.bigint();
  let messages = 0;
  let infected = 0;
  for await (const v of orderedPool(opened.entries, 4, async (e) => (await scanMessageDetailed(readFileSync(e.path ?? e.file), { scanners: [adapter] })).verdict)) {
    messages++;
    if (v.status === 'infected') infected++;
  }
  const ms = msSince(t0);
  await adapter.close();
  return { ms, messages, infected };
}

/** `avbench scan -s embedded DIR` as a whole process next to the core's in-process speed. */
async function wholeEmbedded(dir: string, config: string, runs: number): Promise<void> {
  const before = loadText();
  await coreEmbedded(dir); // warm-up
  const core: number[] = [];
  const whole: number[] = [];
  let messages = 0;
  let coreInfected = 0;
  let wholeFound = 0;
  for (let round = 0; round < runs; round++) {
    const c = await coreEmbedded(dir);
    messages = c.messages;
    coreInfected = c.infected;
    core.push(c.ms);
    const w = await timeProcess(process.execPath, [AVBENCH_BIN, 'scan', '-c', config, '-s', 'embedded', dir]);
    wholeFound = w.found.size;
    whole.push(w.ms);
  }
  const rate = (ms: number): number => (messages / ms) * 1000;
  const ratios = whole.map((w, i) => rate(w) / rate(core[i] as number));
  console.log(`embedded scanner, ${messages} messages in ${dir} (load average before ${before}, after ${loadText()}):`);
  console.log(`  core in-process (scanMessage, 4 at once): ${rate(median(core)).toFixed(0)} msg/s (runs: ${core.map((x) => rate(x).toFixed(0)).join(' / ')}), ${coreInfected} infected`);
  console.log(`  avbench scan -s embedded DIR (whole process): ${rate(median(whole)).toFixed(0)} msg/s (runs: ${whole.map((x) => rate(x).toFixed(0)).join(' / ')}), ${wholeFound} FOUND lines`);
  console.log(`  ratio whole process / core: ${median(ratios).toFixed(2)}x (runs: ${ratios.map((x) => x.toFixed(2)).join(' / ')})`);
}

/** `avbench scan -s clamscan DIR` vs `clamscan -d DB -r DIR`, whole processes, one run each after a warm-up. */
async function wholeClamscan(dir: string, clamd: LabClamd, config: string): Promise<void> {
  const messages = await countEml(dir);
  const cs = (): Promise<ProcessRun> => timeProcess('clamscan', ['-d', clamd.dbDir, '-r', dir]);
  const av = (): Promise<ProcessRun> => timeProcess(process.execPath, [AVBENCH_BIN, 'scan', '-c', config, '-s', 'clamscan', dir]);
  const before = loadText();
  await cs();
  await av();
  const c = await cs();
  const a = await av();
  const rate = (r: ProcessRun): number => (messages / r.ms) * 1000;
  console.log(`whole processes, clamscan (load average before ${before}, after ${loadText()}): clamscan -r DIR ${rate(c).toFixed(0)} msg/s (${c.ms.toFixed(0)} ms, ${c.found.size} FOUND); ` +
    `avbench scan -s clamscan DIR ${rate(a).toFixed(0)} msg/s (${a.ms.toFixed(0)} ms, ${a.found.size} FOUND, ${foundDiff(c.found, a.found)} files differ) → ${(rate(a) / rate(c)).toFixed(2)}x`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.makeTestCorpus !== undefined) {
    await makeTestCorpus(args.makeTestCorpus, args.count);
    console.log(`wrote ${args.count} .eml files to ${args.makeTestCorpus}`);
    return;
  }
  if (args.corpus === undefined) throw new Error('give --corpus DIR (or --make-test-corpus DIR)');
  const dir = resolve(args.corpus);
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
    throw new Error(`no corpus folder ${dir}: make one with \`avbench corpus generate --out ${args.corpus} --profile full\` or --make-test-corpus`);
  }
  const envLine = useUsersEnvironment(args.env);
  const clamd = await startClamd({ maxThreads: args.clamdThreads, tempStorage: args.temp });
  try {
    console.log(hostLine(2));
    console.log(envLine);
    console.log(`clamd: lab instance pid ${clamd.pid}, MaxThreads ${args.clamdThreads}, TemporaryDirectory ${clamd.tempDir}`);
    console.log(`corpus: ${dir}; parallelism ${args.parallel}; ${args.runs} measured round(s) after one untimed warm-up\n`);
    if (args.whole) {
      const work = await mkdtemp(join(tmpdir(), 'avbench-bench-'));
      try {
        // What a user writes: an avbench.config.json naming the clamd.conf of the clamd to use.
        const config = join(work, 'avbench.config.json');
        await writeFile(config, JSON.stringify({ scanners: { clamd: { type: 'clamd', configFile: clamd.configFile }, clamscan: { type: 'clamscan', database: clamd.dbDir } } }), { mode: 0o600 });
        AVBENCH_BIN = join(await privateDist(work), 'dist/src/cli/bin.cjs');
        const one = join(work, 'one.eml');
        await writeFile(one, 'From: a@example.org\r\nTo: b@example.org\r\nSubject: one\r\n\r\nHello.\r\n', { mode: 0o600 });
        await startupFigures(clamd, config, one, 5);
        await wholeClamd('the corpus', dir, clamd, config, args.runs);
        if (args.small !== undefined) {
          const small = resolve(args.small);
          if (!existsSync(small)) {
            await makeTestCorpus(small, args.smallCount);
            console.log(`(made ${args.smallCount} small messages in ${small})`);
          }
          await wholeClamd('small messages', small, clamd, config, args.runs);
        }
        await wholeEmbedded(dir, config, args.runs);
        if (args.clamscan) await wholeClamscan(dir, clamd, config);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      console.log('');
      if (args.wholeOnly) return;
    }
    // warm-up: page cache, clamd threads
    for (const mode of args.modes) await runAdapter(dir, clamd.socket, args.parallel, args.pools[0] ?? 8, mode, args.chunkSize);
    await runClamdscan(dir, clamd.configFile);

    const csRuns: ClamdscanRun[] = [];
    const variants = args.pools.flatMap((pool) => args.modes.map((mode) => ({ pool, mode, runs: [] as AdapterRun[] })));
    for (let round = 0; round < args.runs; round++) {
      csRuns.push(await runClamdscan(dir, clamd.configFile));
      for (const v of variants) v.runs.push(await runAdapter(dir, clamd.socket, args.parallel, v.pool, v.mode, args.chunkSize));
    }
    const messages = variants[0]?.runs[0]?.messages ?? 0;
    const rate = (ms: number): number => (messages / ms) * 1000;
    const list = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(' / ');
    const csRates = csRuns.map((r) => rate(r.ms));
    const cs = csRuns[csRuns.length - 1] as ClamdscanRun;
    console.log(
      `clamdscan --multiscan --fdpass: ${median(csRates).toFixed(0)} msg/s (runs: ${list(csRates)}), exit ${cs.exitCode}, ${cs.infected.size} FOUND, ${cs.errorLines} ERROR lines`,
    );
    for (const { pool, mode, runs } of variants) {
      const rates = runs.map((r) => rate(r.ms));
      const ratios = rates.map((x, i) => x / (csRates[i] as number));
      const r = runs[runs.length - 1] as AdapterRun;
      let disagree = 0;
      for (const [f] of r.infected) if (!cs.infected.has(f)) disagree++;
      for (const [f] of cs.infected) if (!r.infected.has(f)) disagree++;
      const how = mode === 'in-place' ? 'in place (zSCAN), bytes not read' : mode === 'in-place-read' ? 'in place (zSCAN), bytes read too' : 'INSTREAM';
      const conns = pool > 0 ? `IDSESSION pool ${pool}` : 'new connection per scan';
      console.log(
        `clamd adapter, ${how} (${conns}, ${args.parallel} parallel): ${median(rates).toFixed(0)} msg/s (runs: ${list(rates)}), ` +
          `${r.infected.size} infected, ${r.errors.size} errors, ${disagree} files where the verdict differs from clamdscan`,
      );
      console.log(`  ratio adapter / clamdscan: ${median(ratios).toFixed(2)}x (runs: ${ratios.map((x) => x.toFixed(2)).join(' / ')}; target ≥ 1.0x)`);
      for (const [f, e] of [...r.errors].slice(0, 3)) console.log(`  error ${f}: ${e}`);
    }
    if (!args.clamscan) return;

    // clamscan: the adapter batched (signature load paid once per batch) vs one run over the folder.
    const batch = 1000;
    await runClamscanFolder(dir, clamd.dbDir); // warm-up
    const folder = await runClamscanFolder(dir, clamd.dbDir);
    const tmp = existsSync('/dev/shm') ? '/dev/shm' : undefined;
    const batched = await runClamscanBatched(dir, clamd.dbDir, batch, tmp);
    const fRate = (batched.messages / folder.ms) * 1000;
    const bRate = (batched.messages / batched.ms) * 1000;
    let differ = 0;
    for (const f of batched.infected) if (!folder.infected.has(f)) differ++;
    for (const f of folder.infected) if (!batched.infected.has(f)) differ++;
    console.log(`\nclamscan -r DIR (one process): ${folder.ms.toFixed(0)} ms, ${fRate.toFixed(0)} msg/s, ${folder.infected.size} FOUND`);
    console.log(
      `clamscan adapter, batches of ${batch} (temp files in ${tmp ?? 'the OS temp folder'}): ${batched.ms.toFixed(0)} ms, ${bRate.toFixed(0)} msg/s, ` +
        `${batched.infected.size} infected, ${batched.errors} errors, ${differ} files where the verdict differs`,
    );
    console.log(`  ratio clamscan adapter / clamscan -r: ${(bRate / fRate).toFixed(2)}x (target ≥ 0.9x)`);
  } finally {
    await clamd.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 2;
});
