/**
 * `avbench scan [--scanner NAME]... [--json | --clamd-style] [--config FILE] PATH...`
 * Files, folders (a corpus with or without manifest.json), mbox files, Maildirs, and `-`:
 * one message read from standard input (a pipe or a redirected file), shown as `stdin`.
 * Exit 0 all clean · 1 something infected · 2 an error (an error outranks infected), also
 * when the paths yield no message at all (an empty folder is not a clean pass).
 * `--clamd-style` prints what clamdscan prints (clamdStyleLine, clamdSummary).
 *
 * How the scanners are fed, chosen once from what they are:
 * - a message that is a file on the local disk goes to the core by path: a local clamd
 *   scans it in place (SCAN, as `clamdscan --fdpass` lets it), and the bytes are read only
 *   when some scanner needs them (the core's MIME walk, INSTREAM, a copy);
 * - whole-message scanners that scan many messages in one go (clamscan, clamdscan: one
 *   process per batch) get batches, as `clamscan -r DIR` is one process;
 * - every other scanner gets the messages one by one, `--jobs` at once, output in order.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { monotonicMs } from '../../core/clock.js';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { LookedAtUnit } from '../../../adapters/clamd.js';
import { openScanners } from '../../../adapters/open.js';
import { loadConfig } from '../../config/config.js';
import { resolveLimits, type Limits } from '../../core/limits.js';
import { fileMessageUnit, scanMessageDetailed, type ScannerResult } from '../../core/scan.js';
import type { Adapter, ScanUnit, Verdict } from '../../core/types.js';
import { errorVerdict } from '../../core/verdict.js';
import { openCorpus, type CorpusEntry, type OpenedCorpus } from '../../corpus/read.js';
import { CONFIG_OPTION } from '../options.js';
import type { CliState } from '../types.js';
import { readLeanArgv } from '../lean-argv.js';
import { orderedPool } from '../pool.js';
import { progress } from '../progress.js';
import { readStream } from '../read-stream.js';

/** The options of `avbench scan` as yargs hands them to the handler. */
export interface ScanArgs {
  paths: string[];
  scanner: string[];
  json: boolean;
  config?: string;
  infected: boolean;
  jobs?: number;
  summary: boolean;
  /** clamdscan's output: `FILE: NAME FOUND` / `FILE: OK` / `FILE: REASON ERROR` and its SCAN SUMMARY block. */
  clamdStyle?: boolean;
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
/** ... but the first batch to clamd is this small: its threads start while the next batch is looked at. */
const CLAMD_FIRST_BATCH = 32;
/** ... and at most this many bytes of them held in memory (files scanned in place hold none). */
const BATCH_BYTES = 64 * 1024 * 1024;
/** The abort reason a batch's signal gets when its run is over. */
const BATCH_OVER = new Error('avbench scan: the batch is over');
/** Output is written in blocks of about this size when stdout is not a terminal. */
const OUTPUT_BLOCK = 64 * 1024;

export function scanCommand(state: CliState): CommandModule<object, ScanArgs> {
  return {
    command: 'scan <paths..>',
    describe: 'Scan messages: .eml files, corpus folders, mbox files, Maildirs, - (one message on stdin)',
    builder: (y: Argv) =>
      y
        .positional('paths', { type: 'string', array: true, demandOption: true, describe: 'files, folders, mbox files or Maildirs; - reads one message from standard input' })
        .option('scanner', { alias: 's', type: 'string', array: true, nargs: 1, default: ['embedded'], describe: 'scanner name (repeatable); `avbench scanners` lists them' })
        .option('json', { type: 'boolean', default: false, describe: 'print one JSON array: an element per message and scanner' })
        .option('config', CONFIG_OPTION)
        .option('infected', { alias: 'i', type: 'boolean', default: false, describe: 'print only infected and error messages' })
        .option('jobs', { alias: 'j', type: 'number', default: DEFAULT_JOBS, describe: 'messages scanned at once by scanners given one message at a time (clamd, clamscan and clamdscan get batches)' })
        .option('summary', { type: 'boolean', default: true, describe: 'print a per-category table when the corpus is labelled, the SCAN SUMMARY block with --clamd-style (--no-summary to skip)' })
        .option('clamd-style', {
          type: 'boolean',
          default: false,
          describe: "print clamdscan's lines (FILE: NAME FOUND, FILE: OK, FILE: REASON ERROR; absolute paths, stream for stdin) and its SCAN SUMMARY block; one --scanner only, not with --json",
        })
        .check((argv) => {
          const problem = scanUsageProblem(argv as unknown as ScanArgs);
          if (problem !== undefined) throw new Error(problem);
          return true;
        })
        .example('$0 scan message.eml', 'scan one message with the embedded scanner')
        .example('cat message.eml | $0 scan -s clamd -', 'scan one message read from a pipe')
        .example('$0 scan -s clamd --clamd-style -i DIR', "clamdscan's output, infected files only")
        .example('$0 scan -s clamd -s embedded --json corpora/quick', 'two scanners, JSON out')
        .epilogue(SCAN_EXIT_CODES) as unknown as Argv<ScanArgs>,
    handler: async (args: ArgumentsCamelCase<ScanArgs>) => {
      state.exitCode = await runScan(args);
    },
  };
}

/** What `scan --help` says of exit codes, beside clamdscan's. */
export const SCAN_EXIT_CODES = [
  'Exit codes: 0 every message clean; 1 something infected; 2 an error: a scanner error or timeout, a',
  'limit hit, an unreadable path, no message at all (an empty folder, empty stdin), a usage or config',
  'error. An error outranks infected: a run with both exits 2 (an error may hide a virus). clamdscan',
  'uses the same numbers (0 no virus, 1 virus found, 2 error) but lets a virus outrank errors: it',
  'exits 1 when it found one, even after errors. --clamd-style keeps avbench\'s exit codes.',
].join('\n');

/** `-` names standard input, as for clamscan and clamdscan (the full CLI hands it on as `/dev/stdin`, which yargs keeps). */
export function isStdinPath(path: string): boolean {
  return path === '-' || path === '/dev/stdin';
}

/** A combination of options `scan` refuses, said as what to do; undefined when they go together. */
export function scanUsageProblem(args: Pick<ScanArgs, 'paths' | 'scanner' | 'json' | 'clamdStyle'>): string | undefined {
  if ((args.paths ?? []).filter((p) => isStdinPath(String(p))).length > 1) return 'standard input (-) holds one message: name - once';
  if (args.clamdStyle !== true) return undefined;
  if (args.json) return '--clamd-style and --json are two output formats: choose one';
  const scanners = new Set(args.scanner ?? []);
  if (scanners.size > 1) return `--clamd-style prints one verdict per file as clamdscan does, from one scanner: name one --scanner (got ${[...scanners].join(', ')})`;
  return undefined;
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
const SCAN_FLAGS: Record<string, ['json' | 'infected' | 'summary' | 'clamdStyle', boolean]> = {
  '--json': ['json', true],
  '--clamd-style': ['clamdStyle', true],
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
 * `--summary` / `--no-summary`, `--clamd-style`, and the paths (before, between or after
 * the options; `-` is standard input). Returns undefined for anything else — help, version, an unknown, repeated or bundled
 * option, `--`, a value that looks like an option, a path yargs could read as a number or
 * as a boolean flag's value, no path at all, a combination scanUsageProblem refuses — so the
 * caller hands the whole command line to
 * yargs, which then behaves exactly as it always has.
 */
export function parseScanArgv(argv: readonly string[]): ScanArgs | undefined {
  const scanner: string[] = [];
  const paths: string[] = [];
  const out: ScanArgs = { paths, scanner, json: false, infected: false, jobs: DEFAULT_JOBS, summary: true };
  const ok = readLeanArgv(argv, {
    flags: SCAN_FLAGS,
    values: SCAN_VALUE_OPTIONS,
    repeatable: ['scanner'],
    flag: (option, value) => {
      out[option] = value;
    },
    positional: (a) => {
      // A boolean flag takes a following `true`/`false` as its value in yargs.
      if (a === '' || a === 'true' || a === 'false' || NUMBER_LIKE.test(a)) return false;
      paths.push(a);
      return true;
    },
    value: (key, value) => {
      if (key === 'scanner') {
        scanner.push(value);
        return true;
      }
      if (key === 'jobs') {
        if (!PLAIN_COUNT.test(value)) return false;
        out.jobs = Number(value);
      } else out.config = value;
      return true;
    },
  });
  if (!ok) return undefined;
  if (paths.length === 0) return undefined;
  if (scanner.length === 0) scanner.push('embedded');
  if (scanUsageProblem(out) !== undefined) return undefined;
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
  /** Where `-` reads its message (default process.stdin). */
  stdin?: NodeJS.ReadableStream;
}

/** One path of the command line, opened. */
interface Source {
  path: string;
  corpus: OpenedCorpus;
  /** The message on standard input. */
  stdin: boolean;
}

/** The one message on standard input as a corpus of one entry, `stdin` (bytes only: scanners get them, clamd by INSTREAM). */
function stdinCorpus(path: string, data: Buffer): OpenedCorpus {
  const entry: CorpusEntry = { file: 'stdin', size: data.length, read: () => Promise.resolve(data) };
  const list = [entry];
  const entries = {
    async *[Symbol.asyncIterator]() {
      yield* list;
    },
    [Symbol.iterator]: () => list[Symbol.iterator](),
  };
  return { info: { path, kind: 'file', messages: 1, bytes: data.length }, entries };
}

/**
 * Run `avbench scan` with parsed options; resolves to the exit code (0 clean, 1 infected,
 * 2 error). Throws ConfigError for an unusable config, an unknown scanner name or a scanner that is
 * not available (probed with a deadline; the caller says so: one line, exit 2).
 * Every path is opened (and `-` read) before anything is scanned or printed: paths that yield
 * no message at all are an error (one line on stderr, exit 2, nothing on stdout).
 */
export async function runScan(args: ScanArgs, io: ScanIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const usage = scanUsageProblem(args);
  if (usage !== undefined) {
    io.stderr.write(`avbench: ${usage}\n`);
    return 2;
  }
  const { config } = await loadConfig(args.config);
  // One lifecycle (adapters/open.ts): every scanner probed with a deadline; one not
  // available is a ConfigError (one line, exit 2) before any path is opened or read.
  const scanners = await openScanners(args.scanner, config, { require: true });
  // Then the paths (not `-`) are opened together; what they found is reported in order, and
  // stdin is read only when its turn comes.
  const opening = args.paths.map((path) => (isStdinPath(path) ? undefined : openCorpus(path).then((corpus) => ({ corpus }), (err: unknown) => ({ err: err as Error }))));
  const adapters: Adapter[] = scanners.adapters;
  const clamdStyle = args.clamdStyle === true;
  try {
    const startedAt = Date.now();
    const started = monotonicMs();
    let worst = 0;
    let openErrors = 0;
    const sources: Source[] = [];
    for (const [k, path] of args.paths.entries()) {
      const opened = opening[k];
      if (opened === undefined) {
        let data: Buffer;
        try {
          data = await readStream(io.stdin ?? process.stdin);
        } catch (err) {
          io.stderr.write(`avbench: cannot read standard input: ${(err as Error).message}\n`);
          openErrors += 1;
          continue;
        }
        if (data.length === 0) {
          io.stderr.write('avbench: standard input is empty: pipe or redirect one message into `avbench scan -` (cat message.eml | avbench scan -)\n');
          openErrors += 1;
          continue;
        }
        sources.push({ path, corpus: stdinCorpus(path, data), stdin: true });
        continue;
      }
      const got = await opened;
      if ('corpus' in got) {
        sources.push({ path, corpus: got.corpus, stdin: false });
      } else {
        // clamdscan says this (on stderr) of a path it cannot open, and counts it in Total errors.
        if (clamdStyle) io.stderr.write(`ERROR: Can't access file ${resolvePath(path)}\n`);
        else io.stderr.write(`avbench: cannot read ${path}: ${got.err.message}\n`);
        openErrors += 1;
      }
    }
    if (openErrors > 0) worst = 2;
    if (sources.every((src) => src.corpus.info.messages === 0)) {
      // Not a clean pass: nothing was scanned. (Each path that could not be read has said why.)
      const empty = sources.map((src) => src.path);
      if (empty.length > 0) {
        io.stderr.write(
          `avbench: no message to scan in ${empty.join(', ')}: give .eml files, corpus folders, mbox files or Maildirs that hold messages (\`avbench corpus generate --out DIR\` makes a corpus), or - for one message on standard input\n`,
        );
      }
      return 2;
    }
    const limits = resolveLimits(config.limits);
    const jobs = args.jobs ?? DEFAULT_JOBS;
    const batchers = adapters.filter((a) => a.granularity === 'message' && a.scanBatch !== undefined);
    const singles = adapters.filter((a) => !batchers.includes(a));
    // clamd queues a second batch's commands behind the first, so its threads never wait
    // between batches; a process scanner (clamscan: its own signature load each) runs one at a time.
    const batchesAtOnce = batchers.every((a) => a.type === 'clamd') ? 2 : 1;
    const out = new Output(io.stdout);
    let first = true;
    let count = 0;
    let bytes = 0;
    const clamd = { infected: 0, errors: openErrors };
    const tallies = new Map<string, Map<string, Tally>>(); // scanner → category → tally
    if (args.json) out.write('[');
    for (const { path, corpus: opened, stdin } of sources) {
      const bar = progress(`scanning ${stdin ? 'stdin' : path}`, opened.info.messages, io.stderr as NodeJS.WriteStream);
      // clamdscan: one line per file named on the command line (OK too); in a folder only
      // what it found or failed on, then `FOLDER: OK` when that was nothing.
      const shownAs = clamdStyle ? clamdNames(path, opened, stdin) : undefined;
      const oneFile = stdin || opened.info.kind === 'file';
      let flagged = false;
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
          } else if (shownAs !== undefined) {
            if (v.status === 'infected') clamd.infected += 1;
            else if (v.status === 'error') clamd.errors += 1;
            if (v.status !== 'clean') flagged = true;
            if ((v.status !== 'clean' || oneFile) && !(args.infected && v.status === 'clean')) out.write(clamdStyleLine(shownAs(entry.file), v) + '\n');
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
        for await (const batch of orderedPool(batchesOf(opened.entries, most, batchesAtOnce > 1 ? CLAMD_FIRST_BATCH : most), batchesAtOnce, (b) => scanBatchOf(b, batchers, singles, adapters, jobs, limits, config.limits))) {
          for (const s of batch) report(s);
        }
      }
      if (shownAs !== undefined && !oneFile && !flagged && !args.infected) out.write(`${shownAs(undefined)}: OK\n`);
      out.flush();
      bar.done();
    }
    if (args.json) out.write(first ? ']\n' : '\n]\n');
    else if (clamdStyle) {
      if (args.summary) out.write(clamdSummary(clamd.infected, clamd.errors, startedAt, Date.now(), monotonicMs() - started));
    } else if (args.summary) {
      const secs = (monotonicMs() - started) / 1000;
      if (tallies.size > 0) out.write((await summaryTable(tallies)) + '\n');
      out.write(`${count} messages, ${(bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(2)} s (${(count / secs).toFixed(0)} msg/s, ${(bytes / 1e6 / secs).toFixed(1)} MB/s)\n`);
    }
    out.flush();
    return worst;
  } finally {
    await scanners.close();
  }
}

/**
 * The names --clamd-style prints for one path's messages, as clamdscan prints them: absolute,
 * symbolic links resolved (clamdscan's realpath), `stream` for standard input (what
 * `cat FILE | clamdscan -` prints). An mbox's messages are `BOX#N` (clamdscan scans the box
 * as one file). Called with undefined: the path itself (a folder's `FOLDER: OK`).
 */
function clamdNames(path: string, opened: OpenedCorpus, stdin: boolean): (file: string | undefined) => string {
  if (stdin) return () => 'stream';
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    real = resolvePath(path);
  }
  // Entries are named join(path, ...) (src/corpus/read.ts): swap that prefix for the real path.
  const given = join(path).replace(/\/+$/, '');
  return (file) => {
    if (file === undefined || file === path || opened.info.kind === 'file') return real;
    if (given === '.') return `${real}/${file}`;
    if (file.startsWith(`${given}/`) || file.startsWith(`${given}#`)) return real + file.slice(given.length);
    return resolvePath(file);
  };
}

/**
 * clamdscan's line for one file: `FILE: NAME FOUND` (the first detection, as clamd reports
 * without --allmatch), `FILE: OK`, `FILE: REASON ERROR`. The reason is the error code and
 * message on one line without colons: clamdscan prints what follows the last colon of
 * clamd's reply, so a script may split the line at its last `: `.
 */
export function clamdStyleLine(file: string, v: Verdict): string {
  switch (v.status) {
    case 'clean':
      return `${file}: OK`;
    case 'infected':
      return `${file}: ${v.detections[0]?.name ?? 'Unknown'} FOUND`;
    case 'error':
      return `${file}: ${`${v.error.code} ${v.error.message}`.replace(/[\r\n:]+/g, ' ').replace(/\s+/g, ' ').trim()} ERROR`;
  }
}

/** clamdscan's date: `2026:12:04 10:23:48`, local time. */
function clamdDate(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}:${two(d.getMonth() + 1)}:${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/**
 * clamdscan's SCAN SUMMARY block (ClamAV 1.x), blank line first: Infected files, Total
 * errors (only when there were some), Time (`0.320 sec (0 m 0 s)`), Start Date, End Date.
 */
export function clamdSummary(infected: number, errors: number, startMs: number, endMs: number, elapsedMs: number): string {
  const whole = Math.floor(elapsedMs / 1000);
  const milli = Math.floor(elapsedMs - whole * 1000);
  return [
    '',
    '----------- SCAN SUMMARY -----------',
    `Infected files: ${infected}`,
    ...(errors > 0 ? [`Total errors: ${errors}`] : []),
    `Time: ${whole}.${String(milli).padStart(3, '0')} sec (${Math.floor(whole / 60)} m ${whole % 60} s)`,
    `Start Date: ${clamdDate(startMs)}`,
    `End Date:   ${clamdDate(endMs)}`,
    '',
  ].join('\n');
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

/** Group entries into batches of at most `most` messages (the first: `first`) and BATCH_BYTES bytes held. */
async function* batchesOf(entries: AsyncIterable<CorpusEntry>, most: number, first = most): AsyncGenerator<Batch> {
  let limit = first;
  let batch: Batch = { entries: [], units: [] };
  let held = 0;
  const cwd = process.cwd();
  // A folder's entries are listed in memory: take them without an await each.
  const sync = Symbol.iterator in entries ? (entries as unknown as Iterable<CorpusEntry>)[Symbol.iterator]() : undefined;
  const async = sync === undefined ? entries[Symbol.asyncIterator]() : undefined;
  for (;;) {
    const next = sync !== undefined ? sync.next() : await (async as AsyncIterator<CorpusEntry>).next();
    if (next.done === true) break;
    const e = next.value;
    let unit: ScanUnit | undefined;
    if (e.path !== undefined) {
      unit = fileMessageUnit(absolutePath(e.path, cwd));
      // The corpus lstat'ed it: clamd's adapter need not look again (LookedAtUnit).
      if (e.plainFile === true && e.size !== undefined) (unit as LookedAtUnit).plainFile = { size: e.size };
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
    if (batch.entries.length >= limit || held >= BATCH_BYTES) {
      yield batch;
      batch = { entries: [], units: [] };
      held = 0;
      if (limit < most) {
        // A small first batch: let it reach the scanner (its commands are written on the
        // way, in microtasks) before the next one's files are looked at.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      limit = most;
    }
  }
  if (batch.entries.length > 0) yield batch;
}

/** A path with a `.` or `..` segment, a doubled slash or a trailing slash: path.resolve() has work to do. */
const UNNORMAL_PATH = /\/\.\.?(\/|$)|\/\/|\/$/;

/**
 * `path.resolve(cwd, p)` (cwd: process.cwd(), read once), without its work per file in the usual case:
 * a corpus's paths are already normal (join()ed), absolute or relative to the working folder.
 */
export function absolutePath(p: string, cwd: string): string {
  if (p === '' || UNNORMAL_PATH.test(p.charCodeAt(0) === 47 ? p : `/${p}`)) return resolvePath(cwd, p);
  if (p.charCodeAt(0) === 47) return p;
  return cwd === '/' ? `/${p}` : `${cwd}/${p}`;
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
      const t0 = monotonicMs();
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
      const ms = (monotonicMs() - t0) / units.length;
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
