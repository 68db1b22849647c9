/**
 * `avbench scan [--scanner NAME]... [--json] [--config FILE] PATH...`
 * Files, folders (a corpus with or without manifest.json), mbox files and Maildirs.
 * Exit 0 all clean · 1 something infected · 2 an error.
 *
 * How the scanners are fed, chosen once from what they are:
 * - a message that is a file on the local disk goes to the core by path: a local clamd
 *   scans it in place (SCAN, as `clamdscan --fdpass` lets it), and the bytes are read only
 *   when some scanner needs them (the core's MIME walk, INSTREAM, a copy);
 * - whole-message scanners that scan many messages in one go (clamscan, clamdscan: one
 *   process per batch) get batches, as `clamscan -r DIR` is one process;
 * - every other scanner gets the messages one by one, `--jobs` at once, output in order.
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { adapterByName } from '../../../adapters/index.js';
import { loadConfig } from '../../config/config.js';
import { resolveLimits, type Limits } from '../../core/limits.js';
import { fileMessageUnit, scanMessageDetailed, type ScannerResult } from '../../core/scan.js';
import type { Adapter, ScanUnit, Verdict } from '../../core/types.js';
import { errorVerdict } from '../../core/verdict.js';
import { openCorpus, type CorpusEntry } from '../../corpus/read.js';
import type { CliState } from '../main.js';
import { orderedPool } from '../pool.js';
import { progress } from '../progress.js';

/** The options of `avbench scan` as yargs hands them to the handler. */
export interface ScanArgs {
  paths: string[];
  scanner: string[];
  json: boolean;
  config?: string;
  infected: boolean;
  jobs?: number;
  summary: boolean;
}

/** One line of `scan --json` (DESIGN.md): `{ file, scanner, ms, ...Verdict }`. */
export type ScanRecord = { file: string; scanner: string; ms: number } & Verdict;

/**
 * Messages in flight, by default, for scanners given one message at a time (embedded,
 * yara, icap...). Batching scanners set their own pace: clamd keeps a pipelined session
 * full (its own MaxThreads threads do the work), clamscan/clamdscan run a process per batch.
 */
const DEFAULT_JOBS = 4;
/** Whole messages handed to a batching process scanner (clamscan, clamdscan: one process each) at once. */
const BATCH_MESSAGES = 1000;
/**
 * ... and to clamd: smaller, so its first SCAN commands go out as soon as the first few
 * hundred files are looked at (each batch is stat'ed before it is sent); two batches are
 * queued at once, so clamd's threads never wait between them.
 */
const CLAMD_BATCH_MESSAGES = 256;
/** ... and at most this many bytes of them held in memory (files scanned in place hold none). */
const BATCH_BYTES = 64 * 1024 * 1024;
/** The abort reason a batch's signal gets when its run is over. */
const BATCH_OVER = new Error('avbench scan: the batch is over');
/** Output is written in blocks of about this size when stdout is not a terminal. */
const OUTPUT_BLOCK = 64 * 1024;

export function scanCommand(state: CliState): CommandModule<object, ScanArgs> {
  return {
    command: 'scan <paths..>',
    describe: 'Scan messages: .eml files, corpus folders, mbox files, Maildirs',
    builder: (y: Argv) =>
      y
        .positional('paths', { type: 'string', array: true, demandOption: true, describe: 'files, folders, mbox files or Maildirs' })
        .option('scanner', { alias: 's', type: 'string', array: true, nargs: 1, default: ['embedded'], describe: 'scanner name (repeatable); `avbench scanners` lists them' })
        .option('json', { type: 'boolean', default: false, describe: 'print one JSON array: an element per message and scanner' })
        .option('config', { alias: 'c', type: 'string', describe: 'config file (default: ./avbench.config.json when present)' })
        .option('infected', { alias: 'i', type: 'boolean', default: false, describe: 'print only infected and error messages' })
        .option('jobs', { alias: 'j', type: 'number', default: DEFAULT_JOBS, describe: 'messages scanned at once by scanners given one message at a time (clamd, clamscan and clamdscan get batches)' })
        .option('summary', { type: 'boolean', default: true, describe: 'print a per-category table when the corpus is labelled (--no-summary to skip)' })
        .example('$0 scan message.eml', 'scan one message with the embedded scanner')
        .example('$0 scan -s clamd -s embedded --json corpora/quick', 'two scanners, JSON out') as unknown as Argv<ScanArgs>,
    handler: async (args: ArgumentsCamelCase<ScanArgs>) => {
      state.exitCode = await runScan(args);
    },
  };
}

/** Value options of `avbench scan` the strict parser knows (each spelling yargs accepts as its own argument). */
const SCAN_VALUE_OPTIONS: Record<string, 'scanner' | 'config' | 'jobs'> = {
  '-s': 'scanner',
  '--scanner': 'scanner',
  '-c': 'config',
  '--config': 'config',
  '-j': 'jobs',
  '--jobs': 'jobs',
};

/** Boolean flags of `avbench scan` the strict parser knows. */
const SCAN_FLAGS: Record<string, ['json' | 'infected' | 'summary', boolean]> = {
  '--json': ['json', true],
  '-i': ['infected', true],
  '--infected': ['infected', true],
  '--summary': ['summary', true],
  '--no-summary': ['summary', false],
};

/** A whole number as yargs' `type: 'number'` reads it the same way (anything else: not ours to judge). */
const PLAIN_COUNT = /^[0-9]+$/;
/** What yargs-parser takes for a number (it may turn such a positional into one): left to yargs. */
const NUMBER_LIKE = /^(0x[0-9a-f]+|-?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?)$/i;

/**
 * Parse the arguments after `scan` the way the yargs module above does, for the usual
 * spellings: `-s NAME` / `--scanner NAME` / `--scanner=NAME` (repeatable), `--json`,
 * `-i` / `--infected`, `-c FILE` / `--config FILE` / `--config=FILE`, `-j N` / `--jobs N`,
 * `--summary` / `--no-summary`, and the paths (before, between or after the options).
 * Returns undefined for anything else — help, version, an unknown, repeated or bundled
 * option, `--`, a value that looks like an option, a path yargs could read as a number or
 * as a boolean flag's value, no path at all — so the caller hands the whole command line to
 * yargs, which then behaves exactly as it always has.
 */
export function parseScanArgv(argv: readonly string[]): ScanArgs | undefined {
  const scanner: string[] = [];
  const paths: string[] = [];
  const seen = new Set<string>();
  const out: ScanArgs = { paths, scanner, json: false, infected: false, jobs: DEFAULT_JOBS, summary: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) {
      // A boolean flag takes a following `true`/`false` as its value in yargs.
      if (a === '' || a === 'true' || a === 'false' || NUMBER_LIKE.test(a)) return undefined;
      paths.push(a);
      continue;
    }
    const flag = SCAN_FLAGS[a];
    if (flag !== undefined) {
      if (seen.has(flag[0])) return undefined;
      seen.add(flag[0]);
      out[flag[0]] = flag[1];
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    const key = SCAN_VALUE_OPTIONS[name];
    if (key === undefined) return undefined;
    let value: string | undefined;
    if (eq > 0) value = a.slice(eq + 1);
    else {
      value = argv[++i];
      if (value === undefined || value.startsWith('-')) return undefined;
    }
    if (value === '') return undefined;
    if (key === 'scanner') {
      scanner.push(value);
      continue;
    }
    if (seen.has(key)) return undefined;
    seen.add(key);
    if (key === 'jobs') {
      if (!PLAIN_COUNT.test(value)) return undefined;
      out.jobs = Number(value);
    } else out.config = value;
  }
  if (paths.length === 0) return undefined;
  if (scanner.length === 0) scanner.push('embedded');
  return out;
}

interface Tally {
  messages: number;
  expectedInfected: number;
  detected: number;
  missed: number;
  expectedClean: number;
  falsePositives: number;
  errors: number;
}

/** One message's results, in the order of the scanners given. */
interface Scanned {
  entry: CorpusEntry;
  results: ScannerResult[];
  size: number;
}

/** Where `runScan` writes (replaceable by the lean bundle's build, which runs sample scans quietly). */
export interface ScanIo {
  stdout: Pick<NodeJS.WriteStream, 'write' | 'isTTY'>;
  stderr: Pick<NodeJS.WriteStream, 'write' | 'isTTY'>;
}

/**
 * Run `avbench scan` with parsed options; resolves to the exit code (0 clean, 1 infected,
 * 2 error). Throws ConfigError for an unusable config or scanner name (the caller says so).
 */
export async function runScan(args: ScanArgs, io: ScanIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const { config } = await loadConfig(args.config);
  const names = [...new Set(args.scanner)];
  const adapters: Adapter[] = names.map((n) => adapterByName(n, config));
  try {
    const probes = await Promise.all(adapters.map((a) => a.probe()));
    for (const [i, p] of probes.entries()) {
      if (!p.available) {
        io.stderr.write(`avbench: scanner ${(adapters[i] as Adapter).name} is not available: ${p.reason ?? 'no reason given'}\n`);
        return 2;
      }
    }
    const limits = resolveLimits(config.limits);
    const jobs = args.jobs ?? DEFAULT_JOBS;
    const batchers = adapters.filter((a) => a.granularity === 'message' && a.scanBatch !== undefined);
    const singles = adapters.filter((a) => !batchers.includes(a));
    // clamd queues a second batch's commands behind the first, so its threads never wait
    // between batches; a process scanner (clamscan: its own signature load each) runs one at a time.
    const batchesAtOnce = batchers.every((a) => a.type === 'clamd') ? 2 : 1;
    const out = new Output(io.stdout);
    let worst = 0;
    let first = true;
    let count = 0;
    let bytes = 0;
    const started = performance.now();
    const tallies = new Map<string, Map<string, Tally>>(); // scanner → category → tally
    if (args.json) out.write('[');
    for (const path of args.paths) {
      let opened;
      try {
        opened = await openCorpus(path);
      } catch (err) {
        io.stderr.write(`avbench: cannot read ${path}: ${(err as Error).message}\n`);
        worst = 2;
        continue;
      }
      const bar = progress(`scanning ${path}`, opened.info.messages, io.stderr as NodeJS.WriteStream);
      const report = ({ entry, results, size }: Scanned): void => {
        count += 1;
        bytes += size;
        bar.tick(count);
        for (const r of results) {
          const v = r.verdict;
          if (v.status === 'error') worst = 2;
          else if (v.status === 'infected' && worst === 0) worst = 1;
          if (args.json) {
            const rec: ScanRecord = { file: entry.file, scanner: r.scanner, ms: round(r.ms), ...v };
            out.write((first ? '\n' : ',\n') + JSON.stringify(rec));
            first = false;
          } else if (!args.infected || v.status !== 'clean') {
            out.write(formatLine(entry.file, r, adapters.length > 1) + '\n');
          }
          if (entry.expected !== undefined) tally(tallies, r.scanner, entry, v);
        }
      };
      if (batchers.length === 0) {
        for await (const s of orderedPool(opened.entries, jobs, (e) => scanOne(e, adapters, config.limits))) report(s);
      } else {
        const most = batchesAtOnce > 1 ? CLAMD_BATCH_MESSAGES : BATCH_MESSAGES;
        for await (const batch of orderedPool(batchesOf(opened.entries, most), batchesAtOnce, (b) => scanBatchOf(b, batchers, singles, adapters, jobs, limits, config.limits))) {
          for (const s of batch) report(s);
        }
      }
      out.flush();
      bar.done();
    }
    if (args.json) out.write(first ? ']\n' : '\n]\n');
    else if (args.summary) {
      const secs = (performance.now() - started) / 1000;
      if (tallies.size > 0) out.write((await summaryTable(tallies)) + '\n');
      out.write(`${count} messages, ${(bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(2)} s (${(count / secs).toFixed(0)} msg/s, ${(bytes / 1e6 / secs).toFixed(1)} MB/s)\n`);
    }
    out.flush();
    return worst;
  } finally {
    await Promise.all(adapters.map((a) => a.close().catch(() => undefined)));
  }
}

/**
 * One message through the core, by path when it is a local file: only whole-message
 * scanners → the core reads the bytes if one of them asks (clamd in place never does);
 * else the file is read here, synchronously (from the page cache a sync read of a
 * mail-sized file costs a fraction of fs.promises' four thread-pool round trips).
 */
async function scanOne(entry: CorpusEntry, scanners: readonly Adapter[], limits: Partial<Limits> | undefined): Promise<Scanned> {
  const opts = { scanners, ...(limits ? { limits } : {}) };
  if (entry.path !== undefined && scanners.every((a) => a.granularity === 'message')) {
    const scan = await scanMessageDetailed({ path: entry.path }, opts);
    return { entry, results: scan.results, size: entry.size ?? 0 };
  }
  let raw: Buffer;
  try {
    raw = entry.path !== undefined ? readFileSync(entry.path) : await entry.read();
  } catch (err) {
    const v = errorVerdict('IO', `cannot read ${entry.file}: ${(err as Error).message}`);
    return { entry, results: scanners.map((a) => ({ scanner: a.name, verdict: v, ms: 0 })), size: 0 };
  }
  const scan = await scanMessageDetailed(entry.path !== undefined ? { path: entry.path, data: raw } : raw, opts);
  return { entry, results: scan.results, size: raw.length };
}

/** A batch of entries with the whole-message units the batching scanners get. */
interface Batch {
  entries: CorpusEntry[];
  /** Per entry: its unit, or undefined when its bytes could not be read (it is then scanned alone, which reports why). */
  units: Array<ScanUnit | undefined>;
}

/** Group entries into batches of at most `most` messages and BATCH_BYTES bytes held. */
async function* batchesOf(entries: AsyncIterable<CorpusEntry>, most: number): AsyncGenerator<Batch> {
  let batch: Batch = { entries: [], units: [] };
  let held = 0;
  // A folder's entries are listed in memory: take them without an await each.
  const sync = Symbol.iterator in entries ? (entries as unknown as Iterable<CorpusEntry>)[Symbol.iterator]() : undefined;
  const async = sync === undefined ? entries[Symbol.asyncIterator]() : undefined;
  for (;;) {
    const next = sync !== undefined ? sync.next() : await (async as AsyncIterator<CorpusEntry>).next();
    if (next.done === true) break;
    const e = next.value;
    let unit: ScanUnit | undefined;
    if (e.path !== undefined) {
      unit = fileMessageUnit(resolvePath(e.path));
    } else {
      try {
        const data = await e.read();
        held += data.length;
        unit = { kind: 'message', data, location: 'message' };
      } catch {
        unit = undefined;
      }
    }
    batch.entries.push(e);
    batch.units.push(unit);
    if (batch.entries.length >= most || held >= BATCH_BYTES) {
      yield batch;
      batch = { entries: [], units: [] };
      held = 0;
    }
  }
  if (batch.entries.length > 0) yield batch;
}

/**
 * One batch: each batching scanner's scanBatch once over it (the run's time shared out
 * evenly as each message's `ms`), the other scanners message by message, `jobs` at once.
 * Messages a batch run does not answer for (it threw: a file vanished, an adapter bug) are
 * scanned one by one through the core, which gives each its own verdict.
 */
async function scanBatchOf(
  batch: Batch,
  batchers: readonly Adapter[],
  singles: readonly Adapter[],
  all: readonly Adapter[],
  jobs: number,
  limits: Limits,
  given: Partial<Limits> | undefined,
): Promise<Scanned[]> {
  const n = batch.entries.length;
  const byScanner = new Map<string, ScannerResult[]>();
  const runBatcher = async (a: Adapter): Promise<void> => {
    // Plain loops: a flatMap callback's array per message is garbage for every message of a big scan.
    const idx: number[] = [];
    const units: ScanUnit[] = [];
    for (let i = 0; i < n; i++) {
      const u = batch.units[i];
      if (u !== undefined) {
        idx.push(i);
        units.push(u);
      }
    }
    const results: Array<ScannerResult | undefined> = new Array<ScannerResult | undefined>(n).fill(undefined);
    if (units.length > 0) {
      const t0 = performance.now();
      const controller = new AbortController();
      let verdicts: Verdict[] | undefined;
      try {
        // The message time limit for the run, plus one second per message in it.
        verdicts = await (a as Required<Pick<Adapter, 'scanBatch'>>).scanBatch(units, { signal: controller.signal, deadline: Date.now() + limits.timeoutMs + units.length * 1000 });
        if (verdicts.length !== units.length) verdicts = undefined;
      } catch {
        verdicts = undefined;
      } finally {
        // Whatever the run left waiting is cancelled. (A reason given: abort() without one
        // builds a DOMException with its stack, once per batch, for nobody to read.)
        controller.abort(BATCH_OVER);
      }
      const ms = (performance.now() - t0) / units.length;
      if (verdicts !== undefined) {
        const got = verdicts;
        for (let k = 0; k < idx.length; k++) results[idx[k] as number] = { scanner: a.name, verdict: got[k] as Verdict, ms };
      }
    }
    const rest: number[] = [];
    for (let i = 0; i < n; i++) if (results[i] === undefined) rest.push(i);
    for await (const [i, s] of orderedPool(rest, jobs, async (i) => [i, await scanOne(batch.entries[i] as CorpusEntry, [a], given)] as const)) {
      results[i] = s.results[0];
    }
    byScanner.set(a.name, results as ScannerResult[]);
  };
  const runSingles = async (): Promise<void> => {
    if (singles.length === 0) return;
    const perEntry: ScannerResult[][] = [];
    for await (const s of orderedPool(batch.entries, jobs, (e) => scanOne(e, singles, given))) perEntry.push(s.results);
    singles.forEach((a, k) => byScanner.set(a.name, perEntry.map((r) => r[k] as ScannerResult)));
  };
  await Promise.all([...batchers.map(runBatcher), runSingles()]);
  const columns = all.map((a) => byScanner.get(a.name) as ScannerResult[]);
  return batch.entries.map((entry, i) => ({
    entry,
    results: columns.length === 1 ? [(columns[0] as ScannerResult[])[i] as ScannerResult] : columns.map((c) => c[i] as ScannerResult),
    size: entry.size ?? (batch.units[i]?.data.length ?? 0),
  }));
}

/**
 * stdout in blocks: one write per ~64 KB instead of one per line (each write is a system
 * call), unless stdout is a terminal, where each line shows as it comes.
 */
class Output {
  private parts: string[] = [];
  private size = 0;
  private readonly direct: boolean;

  constructor(private readonly stream: ScanIo['stdout']) {
    this.direct = stream.isTTY === true;
  }

  write(text: string): void {
    if (this.direct) {
      this.stream.write(text);
      return;
    }
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= OUTPUT_BLOCK) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    this.stream.write(this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }
}

/** clamscan-like line: `file: clean`, `file: NAME FOUND in PART`, `file: ERROR CODE message`. */
function formatLine(file: string, r: ScannerResult, showScanner: boolean): string {
  const who = showScanner ? ` [${r.scanner}]` : '';
  const v = r.verdict;
  switch (v.status) {
    case 'clean':
      return `${file}${who}: clean`;
    case 'infected':
      return `${file}${who}: ${v.detections.map((d) => `${d.name} FOUND${d.part ? ` in ${d.part}` : ''}`).join(', ')}`;
    case 'error':
      return `${file}${who}: ERROR ${v.error.code} ${v.error.message}`;
  }
}

function tally(t: Map<string, Map<string, Tally>>, scanner: string, entry: CorpusEntry, v: Verdict): void {
  const byCat = t.get(scanner) ?? new Map<string, Tally>();
  t.set(scanner, byCat);
  for (const cat of [entry.category ?? '(none)', 'ALL']) {
    const x = byCat.get(cat) ?? { messages: 0, expectedInfected: 0, detected: 0, missed: 0, expectedClean: 0, falsePositives: 0, errors: 0 };
    byCat.set(cat, x);
    x.messages += 1;
    if (v.status === 'error') x.errors += 1;
    if (entry.expected === 'infected') {
      x.expectedInfected += 1;
      if (v.status === 'infected') x.detected += 1;
      else if (v.status === 'clean') x.missed += 1;
    } else if (entry.expected === 'clean') {
      x.expectedClean += 1;
      if (v.status === 'infected') x.falsePositives += 1;
    }
  }
}

async function summaryTable(t: Map<string, Map<string, Tally>>): Promise<string> {
  const head = ['scanner', 'category', 'messages', 'detected', 'missed', 'false pos.', 'errors'];
  const rows: string[][] = [];
  for (const [scanner, byCat] of t) {
    const cats = [...byCat.keys()].filter((c) => c !== 'ALL').sort();
    for (const cat of [...cats, 'ALL']) {
      const x = byCat.get(cat);
      if (x === undefined) continue;
      rows.push([scanner, cat, String(x.messages), `${x.detected}/${x.expectedInfected}`, String(x.missed), `${x.falsePositives}/${x.expectedClean}`, String(x.errors)]);
    }
  }
  const plain = plainTable(head, rows);
  if (plain !== undefined) return plain;
  // Loaded only when a table with other characters is printed.
  const { default: Table } = await import('cli-table3');
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) table.push(r);
  return table.toString();
}

/** A cell the plain renderer draws as cli-table3 would: printable ASCII only (one column per character, no line breaks). */
const PLAIN_CELL = /^[\x20-\x7e]*$/;

/**
 * The table cli-table3 draws with its default characters and padding, no colours and no
 * fixed widths (`new Table({ head, style: { head: [], border: [] } })`, rows pushed, then
 * toString()), byte for byte, when every cell is printable ASCII; undefined otherwise (the
 * caller then asks cli-table3). Drawing it here costs well under a millisecond, where
 * cli-table3 took ~30 ms of CPU on the full corpus's table in a fresh process.
 */
export function plainTable(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string | undefined {
  const all = [head, ...rows];
  for (const r of all) {
    if (r.length !== head.length) return undefined;
    for (const c of r) if (!PLAIN_CELL.test(c)) return undefined;
  }
  const widths = head.map((_, j) => Math.max(...all.map((r) => (r[j] as string).length)) + 2);
  const rule = (l: string, m: string, r: string): string => l + widths.map((w) => '─'.repeat(w)).join(m) + r;
  const line = (cells: readonly string[]): string => `│${cells.map((c, j) => ` ${c}${' '.repeat((widths[j] as number) - 1 - c.length)}`).join('│')}│`;
  const out = [rule('┌', '┬', '┐'), line(head)];
  for (const r of rows) out.push(rule('├', '┼', '┤'), line(r));
  out.push(rule('└', '┴', '┘'));
  return out.join('\n');
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
