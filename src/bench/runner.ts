/**
 * The matrix runner behind `avbench bench`: corpus × scanners × modes × concurrency levels
 * (plus third-party SUTs and a no-scan baseline per mode), each run one warm-up pass and N
 * measured repeats; the run's figures are those of the median repeat (by msgs/s) and
 * `repeats[]` lists every repeat so the spread is visible.
 *
 * The corpus is streamed on every pass (one message read at a time, never all held); only
 * the per-message records of the current run's repeats are kept.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { listScanners, resolveScanner } from '../../adapters/index.js';
import { openScanners, type OpenedScanners } from '../../adapters/open.js';
import { createNoopAdapter } from '../../adapters/noop.js';
import type { AvbenchConfig } from '../config/config.js';
import type { Limits } from '../core/limits.js';
import type { Adapter, ProbeResult } from '../core/types.js';
import { openCorpus, type CorpusEntry, type OpenedCorpus } from '../corpus/read.js';
import type { ModeName } from '../modes/types.js';
import { startFrontEnd, startSut, type BenchOutcome, type Target } from './frontends.js';
import { hostInfo, LoadSampler } from './host.js';
import { SCHEMA_VERSION, type ColdSummary, type Interval, type LoadShape, type MessageResult, type RepeatFigures, type ResourceUse, type Results, type Run, type ScannerInfo } from '../results/types.js';
import { countRecords, hitDeadline } from '../results/counts.js';
import { computeDetection, countFates, latencySummary, meanInterval, medianIndex, percentile, round3 } from './stats.js';
import { parseSut, type SutSpec } from './sut.js';
import { CorpusHasher, describeAdapter, describeCommand, describeProcesses, withDescription, type ScannerOptionsSeen } from './versions.js';

/** Every mode, in run order. */
export const MODES: readonly ModeName[] = ['direct', 'smtp', 'milter', 'lda'];

/** What the runner tells while it works (for progress lines). */
export type BenchEvent =
  | { type: 'skip'; name: string; reason: string }
  | { type: 'run-start'; id: string; index: number; total: number; passes: number; messages: number; round?: number; rounds?: number }
  | { type: 'pass'; id: string; pass: number; passes: number; warmup: boolean; cold?: boolean; done: number; messages: number }
  | { type: 'run-end'; run: Run }
  | { type: 'run-failed'; id: string; reason: string };

/** Options of {@link runBench}. */
export interface RunBenchOptions {
  /** Corpus folder (with manifest.json for detection figures), mbox, Maildir or file. */
  corpus: string;
  /** Scanner names; default: every available scanner (config entries and built-in types, not presets or noop). With `suts` and no scanners: none. */
  scanners?: readonly string[];
  /** Modes for the scanners; default all four. */
  modes?: readonly ModeName[];
  /** Third-party systems under test (`--sut` URLs, see sut.ts). */
  suts?: readonly string[];
  /** Concurrency levels (messages in flight); default [1]. */
  concurrency?: readonly number[];
  /** Measured repeats per run (default 3). */
  repeat?: number;
  /** Bench only the first N messages of the corpus (default: all). */
  limit?: number;
  /** Per mode, bench only the first N messages (e.g. `{ lda: 30 }`: a process per message is slow). */
  modeLimits?: Partial<Record<ModeName, number>>;
  /** Warm-up passes before each measured warm pass, not measured (default 1). */
  warmup?: number;
  /**
   * A cold pass per round before the warm-up (default true): every message carries a unique
   * `X-Avbench-Pass` header line (new whole-message bytes), and a scanner named in
   * `coldReset.scanners` has its caches emptied first.
   */
  cold?: boolean;
  /** Where the bench owns the scanner daemon (`--lab`): the scanners behind it and how to empty its caches (clamd RELOAD). */
  coldReset?: { scanners: readonly string[]; reset(): Promise<void> };
  /** The no-scan baseline per mode and concurrency (default true). */
  baseline?: boolean;
  /** Loaded config (scanner definitions, limits). */
  config?: AvbenchConfig;
  /** The config file's path, handed to `avbench deliver` in lda mode. */
  configPath?: string;
  /** argv that runs `avbench deliver` (default: this Node and dist/src/cli/bin.js). */
  deliverCommand?: readonly string[];
  /** PIDs whose CPU and RSS are sampled per scanner name (e.g. a lab clamd for clamd, clamdscan, icap). */
  scannerPids?: Readonly<Record<string, readonly number[]>>;
  /** Per-message deadline in the drivers (ms, default 60 000). */
  timeoutMs?: number;
  /**
   * SMTP runs (ours and `--sut smtp://`): a new connection per message (default, what an
   * MTA on port 25 sees) or `concurrency` sessions kept open and reused.
   */
  connection?: LoadShape['connection'];
  /** SMTP runs: target messages per second across all sessions (open-loop schedule); absent or 0: flat out. */
  rate?: number;
  /** The command line, recorded for "how to reproduce". */
  command?: string;
  /** Progress and notices. */
  onEvent?: (e: BenchEvent) => void;
}

/** Thrown for input the bench cannot use (no corpus, nothing to run, bad SUT). */
export class BenchInputError extends Error {
  override readonly name = 'BenchInputError';
}

/** One thing to bench: an adapter in some modes, or a SUT. */
type Plan =
  | { kind: 'adapter'; adapter: Adapter; info: ScannerInfo; modes: readonly ModeName[]; baseline: boolean; pids: readonly number[] }
  | { kind: 'sut'; spec: SutSpec; info: ScannerInfo; deadlineMs?: number };

function scannerInfo(a: Adapter, p: ProbeResult): ScannerInfo {
  return {
    name: a.name,
    type: a.type,
    granularity: a.granularity,
    ...(p.version === undefined ? {} : { version: p.version }),
    ...(p.signatures === undefined ? {} : { signatures: p.signatures }),
  };
}

/** Corpus-relative file name (the record stays small and portable). */
function fileOf(prefix: string, file: string): string {
  if (!file.startsWith(prefix)) return file;
  const rel = file.slice(prefix.length);
  return sep === '/' ? rel : rel.split(sep).join('/');
}

/** One measured or warm-up pass. */
export interface Pass {
  records: MessageResult[];
  durationMs: number;
  bytes: number;
  /** Per message (by index): when it was sent and when its outcome came, ms after the pass began; its size. */
  starts?: number[];
  ends?: number[];
  sizes?: number[];
}

function toRecord(file: string, entry: CorpusEntry, out: BenchOutcome): MessageResult {
  const r: MessageResult = { file, verdict: out.verdict, names: out.names, ms: round3(out.ms), fate: out.fate };
  if (entry.expected !== undefined) r.expected = entry.expected;
  if (entry.category !== undefined) r.category = entry.category;
  if (out.errorCode !== undefined) r.errorCode = out.errorCode;
  if (out.part !== undefined) r.part = out.part;
  if (out.smtpReply !== undefined) r.smtpReply = out.smtpReply;
  if (out.milterAction !== undefined) r.milterAction = out.milterAction;
  if (out.exitCode !== undefined) r.exitCode = out.exitCode;
  return r;
}

/** Drivers never throw for SUT trouble; a throw is a harness bug, counted as lost. */
function internalFailure(file: string, err: unknown): MessageResult {
  return { file, verdict: 'error', names: [], errorCode: 'INTERNAL', ms: 0, fate: 'lost', smtpReply: `avbench: ${err instanceof Error ? err.message : String(err)}` };
}

/** The header line that makes a cold pass's bytes new (unique per message and pass). */
export const PASS_HEADER = 'X-Avbench-Pass';

/**
 * `raw` with an `X-Avbench-Pass: <value>` line on top (after an mbox `From ` line, in the
 * message's own line ending): new bytes for whole-message caches, the same parts inside.
 */
export function withPassHeader(raw: Buffer, value: string): Buffer {
  const nl = raw.indexOf(0x0a);
  const eol = nl > 0 && raw[nl - 1] === 0x0d ? '\r\n' : '\n';
  const at = nl >= 0 && raw.subarray(0, 5).toString('latin1') === 'From ' ? nl + 1 : 0;
  return Buffer.concat([raw.subarray(0, at), Buffer.from(`${PASS_HEADER}: ${value}${eol}`, 'latin1'), raw.subarray(at)]);
}

/** One step of the bench's schedule. */
export interface Step {
  /** 1-based round: every cell's round 1 runs before any cell's round 2. */
  round: number;
  /** Index into the cells. */
  cell: number;
  /** `cold` (measured, first sight of the bytes), `warmup` (not measured), `warm` (measured). */
  kind: 'cold' | 'warmup' | 'warm';
}

/**
 * The order of every pass: rounds outermost (repeat 1 of every cell, then repeat 2...), so
 * drift in the machine's load spreads over all cells instead of favouring the first; within
 * a round each cell gets its cold pass (when asked), its warm-up passes, then its measured
 * warm pass — every cell is warmed right before it is measured.
 */
export function planSchedule(cells: number, repeat: number, warmup: number, cold: boolean): Step[] {
  const steps: Step[] = [];
  for (let round = 1; round <= repeat; round++) {
    for (let cell = 0; cell < cells; cell++) {
      if (cold) steps.push({ round, cell, kind: 'cold' });
      for (let k = 0; k < warmup; k++) steps.push({ round, cell, kind: 'warmup' });
      steps.push({ round, cell, kind: 'warm' });
    }
  }
  return steps;
}

/** Drive every corpus message through `target` once, `target.concurrency` at a time. */
async function runPass(corpus: OpenedCorpus, target: Target, tick: (done: number) => void, limit = Infinity, nonce?: string): Promise<Pass> {
  const syncRead = corpus.info.kind !== 'mbox';
  const base = corpus.info.path.endsWith(sep) ? corpus.info.path : corpus.info.path + sep;
  const records: MessageResult[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const sizes: number[] = [];
  const inFlight = new Set<Promise<void>>();
  const inFlightMax = Math.max(1, target.concurrency);
  let bytes = 0;
  let done = 0;
  let index = 0;
  const driver = target.driver;
  const t0 = performance.now();
  for await (const entry of corpus.entries) {
    if (index >= limit) break;
    const i = index++;
    const file = fileOf(base, entry.file);
    let raw: Buffer;
    let size = 0;
    try {
      // Synchronous reads of small files are several times cheaper than fs/promises here,
      // and the pass is about the system under test, not the harness.
      raw = syncRead ? readFileSync(entry.file) : await entry.read();
      size = raw.length;
      if (nonce !== undefined) raw = withPassHeader(raw, `${nonce}.${i}`);
    } catch (err) {
      records[i] = {
        file,
        ...(entry.expected === undefined ? {} : { expected: entry.expected }),
        ...(entry.category === undefined ? {} : { category: entry.category }),
        verdict: 'error',
        names: [],
        errorCode: 'IO',
        ms: 0,
        fate: target.mode === 'direct' ? 'scanned' : 'tempfailed',
      };
      starts[i] = ends[i] = performance.now() - t0;
      sizes[i] = 0;
      tick(++done);
      void err;
      continue;
    }
    // The corpus's bytes: a cold pass's header line is not counted in MB/s.
    bytes += size;
    sizes[i] = size;
    starts[i] = performance.now() - t0;
    if (inFlightMax === 1) {
      // The lean path: no extra promise or closure per message.
      let out: BenchOutcome;
      try {
        out = await driver.send({ file: entry.file, raw });
      } catch (err) {
        records[i] = internalFailure(file, err);
        ends[i] = performance.now() - t0;
        tick(++done);
        continue;
      }
      ends[i] = performance.now() - t0;
      records[i] = toRecord(file, entry, out);
      tick(++done);
      continue;
    }
    const p = driver.send({ file: entry.file, raw }).then(
      (out) => {
        ends[i] = performance.now() - t0;
        records[i] = toRecord(file, entry, out);
        tick(++done);
      },
      (err: unknown) => {
        ends[i] = performance.now() - t0;
        records[i] = internalFailure(file, err);
        tick(++done);
      },
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    if (inFlight.size >= inFlightMax) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const durationMs = performance.now() - t0;
  target.afterPass?.();
  return { records, durationMs, bytes, starts, ends, sizes };
}

/**
 * Flag the records that ended at the SUT's own deadline: an error that took at least 90 % of
 * it (clamsmtpd answers 451 once its TimeOut passes). Errors with code TIMEOUT (the driver's
 * or the scanner's deadline) count as deadline hits without a flag (src/results/counts.ts).
 */
export function markDeadlines(records: MessageResult[], sutDeadlineMs: number | undefined): void {
  if (sutDeadlineMs === undefined) return;
  for (const r of records) if (r !== undefined && r.verdict === 'error' && r.ms >= 0.9 * sutDeadlineMs) r.deadline = true;
}

/**
 * Wall-clock ms of a pass during which only deadline-bound messages were in flight (no other
 * message was being handled): time the pass lost to deadlines. Without per-message times
 * (hand-made passes), the deadline messages' time divided by the concurrency.
 */
export function stalledMs(p: Pass, isHit: (i: number) => boolean, concurrency = 1): number {
  const n = p.records.length;
  if (p.starts === undefined || p.ends === undefined) {
    let sum = 0;
    for (let i = 0; i < n; i++) if (isHit(i)) sum += (p.records[i] as MessageResult).ms;
    return Math.min(p.durationMs, sum / Math.max(1, concurrency));
  }
  const events: { t: number; hit: boolean; d: 1 | -1 }[] = [];
  for (let i = 0; i < n; i++) {
    const s = p.starts[i];
    const e = p.ends[i];
    if (s === undefined || e === undefined) continue;
    const hit = isHit(i);
    events.push({ t: s, hit, d: 1 }, { t: e, hit, d: -1 });
  }
  // At equal times, ends before starts: a message that starts as another ends does not overlap it.
  events.sort((a, b) => a.t - b.t || a.d - b.d);
  let others = 0;
  let hits = 0;
  let last = 0;
  let stalled = 0;
  for (const ev of events) {
    if (others === 0 && hits > 0) stalled += ev.t - last;
    last = ev.t;
    if (ev.hit) hits += ev.d;
    else others += ev.d;
  }
  return Math.min(p.durationMs, stalled);
}

interface Figures {
  msgsPerSec: number;
  mbPerSec: number;
  durationMs: number;
  completedMsgsPerSec?: number;
  timeouts?: number;
}

/** A pass's figures; completed throughput (and the deadline hits) only when some message hit a deadline. */
function figures(p: Pass, concurrency = 1): Figures & { completed: { messages: number; durationMs: number; msgsPerSec: number; mbPerSec: number }; stalledMs: number; timeouts: number } {
  const secs = p.durationMs / 1000;
  const hits: boolean[] = p.records.map((r) => r !== undefined && hitDeadline(r));
  const nHits = hits.filter((h) => h).length;
  const stalled = nHits === 0 ? 0 : stalledMs(p, (i) => hits[i] === true, concurrency);
  let doneBytes = p.bytes;
  if (nHits > 0) {
    const sizes = p.sizes;
    if (sizes === undefined) {
      doneBytes = (p.bytes * (p.records.length - nHits)) / Math.max(1, p.records.length);
    } else {
      for (let i = 0; i < hits.length; i++) if (hits[i] === true) doneBytes -= sizes[i] ?? 0;
    }
  }
  const doneMs = Math.max(0, p.durationMs - stalled);
  const doneSecs = doneMs / 1000;
  const completed = {
    messages: p.records.length - nHits,
    durationMs: round3(doneMs),
    msgsPerSec: round3(doneSecs > 0 ? (p.records.length - nHits) / doneSecs : 0),
    mbPerSec: round3(doneSecs > 0 ? doneBytes / 1e6 / doneSecs : 0),
  };
  return {
    msgsPerSec: round3(secs > 0 ? p.records.length / secs : 0),
    mbPerSec: round3(secs > 0 ? p.bytes / 1e6 / secs : 0),
    durationMs: round3(p.durationMs),
    completed,
    stalledMs: stalled,
    timeouts: nHits,
  };
}

function repeatOf(f: ReturnType<typeof figures>, p: Pass, pass?: 'cold' | 'warm', round?: number): RepeatFigures {
  const r: RepeatFigures = { msgsPerSec: f.msgsPerSec, mbPerSec: f.mbPerSec, durationMs: f.durationMs };
  if (f.timeouts > 0) {
    r.completedMsgsPerSec = f.completed.msgsPerSec;
    r.timeouts = f.timeouts;
  }
  if (pass !== undefined) {
    r.pass = pass;
    if (round !== undefined) r.round = round;
    const ms = Float64Array.from(p.records.map((m) => m.ms)).sort();
    r.p50Ms = round3(percentile(ms, 50));
  }
  return r;
}

/** The 95 % interval (Student's t) of the mean completed msgs/s over repeats, cut at 0; undefined for fewer than two. */
export function throughputInterval(repeats: readonly RepeatFigures[]): Interval | undefined {
  const ci = meanInterval(repeats.map((r) => r.completedMsgsPerSec ?? r.msgsPerSec));
  if (ci === null) return undefined;
  // A rate is never negative: a wide interval over few noisy repeats is cut at 0.
  return { low: round3(Math.max(0, ci.low)), high: round3(ci.high), level: ci.level, method: 't', n: ci.n };
}

/** What {@link buildRun} adds when the bench told passes apart. */
export interface PassKinds {
  /** The cold passes, in round order. */
  cold?: readonly Pass[];
  /** How the cold passes emptied the caches. */
  coldReset?: ColdSummary['reset'];
  /** Mark repeats warm and with their round (the bench's interleaved schedule). */
  rounds?: boolean;
}

/** The run record from its measured passes (figures of the median repeat). */
export function buildRun(
  id: string,
  scanner: ScannerInfo,
  mode: ModeName,
  sut: string,
  concurrency: number,
  baseline: boolean,
  passes: readonly Pass[],
  resources?: ResourceUse,
  shape?: LoadShape,
  sutDeadlineMs?: number,
  kinds: PassKinds = {},
): Run {
  for (const p of passes) markDeadlines(p.records, sutDeadlineMs);
  const all = passes.map((p) => figures(p, concurrency));
  const marked = kinds.rounds === true || kinds.cold !== undefined;
  const repeats = all.map((f, i) => repeatOf(f, passes[i] as Pass, marked ? 'warm' : undefined, marked ? i + 1 : undefined));
  const m = medianIndex(repeats, (r) => r.msgsPerSec);
  const med = passes[m] as Pass;
  const medFig = all[m] as (typeof all)[number];
  const fates = countFates(med.records, med.records.length);
  const counts = countRecords(med.records);
  const run: Run = {
    id,
    scanner,
    mode,
    sut,
    ...(baseline ? { baseline: true } : {}),
    concurrency,
    ...(shape === undefined ? {} : { shape }),
    messages: med.records.length,
    durationMs: medFig.durationMs,
    throughput: { msgsPerSec: medFig.msgsPerSec, mbPerSec: medFig.mbPerSec },
    latencyMs: latencySummary(med.records.map((r) => r.ms)),
    detection: computeDetection(med.records),
    fates,
    repeats,
    completed: medFig.completed,
    timeouts: {
      messages: counts.timeouts,
      seconds: counts.timeoutSeconds,
      stalledSeconds: round3(medFig.stalledMs / 1000),
      ...(sutDeadlineMs === undefined ? {} : { sutDeadlineMs }),
    },
    counts,
    results: med.records,
  };
  const ci = throughputInterval(repeats);
  if (ci !== undefined) run.throughputCi = ci;
  if (kinds.cold !== undefined && kinds.cold.length > 0) run.cold = coldSummary(kinds.cold, concurrency, sutDeadlineMs, kinds.coldReset ?? 'unique-bytes');
  if (resources !== undefined) run.resources = resources;
  return run;
}

function coldSummary(passes: readonly Pass[], concurrency: number, sutDeadlineMs: number | undefined, reset: ColdSummary['reset']): ColdSummary {
  for (const p of passes) markDeadlines(p.records, sutDeadlineMs);
  const all = passes.map((p) => figures(p, concurrency));
  const repeats = all.map((f, i) => repeatOf(f, passes[i] as Pass, 'cold', i + 1));
  const m = medianIndex(repeats, (r) => r.completedMsgsPerSec ?? r.msgsPerSec);
  const med = all[m] as (typeof all)[number];
  const out: ColdSummary = {
    repeats,
    msgsPerSec: med.completed.msgsPerSec,
    mbPerSec: med.completed.mbPerSec,
    latencyMs: latencySummary((passes[m] as Pass).records.map((r) => r.ms)),
    reset,
  };
  const ci = throughputInterval(repeats);
  if (ci !== undefined) out.throughputCi = ci;
  return out;
}

/** Resource use over several sampled passes: CPU seconds added up, the highest peaks. */
export function sumUse(uses: readonly ResourceUse[]): ResourceUse {
  const out: ResourceUse = { avbench: { cpuSeconds: 0, peakRssBytes: 0 } };
  for (const u of uses) {
    out.avbench.cpuSeconds += u.avbench.cpuSeconds;
    out.avbench.peakRssBytes = Math.max(out.avbench.peakRssBytes, u.avbench.peakRssBytes);
    if (u.scanner !== undefined) {
      const s = (out.scanner ??= { cpuSeconds: 0, peakRssBytes: 0, pids: [] });
      s.cpuSeconds += u.scanner.cpuSeconds;
      s.peakRssBytes = Math.max(s.peakRssBytes, u.scanner.peakRssBytes);
      for (const pid of u.scanner.pids) if (!s.pids.includes(pid)) s.pids.push(pid);
    }
    if (u.children !== undefined) (out.children ??= { cpuSeconds: 0 }).cpuSeconds += u.children.cpuSeconds;
  }
  return out;
}

/** Scale the sampler's totals over N repeats to one pass. */
function perPass(use: ResourceUse, n: number): ResourceUse {
  const k = Math.max(1, n);
  const out: ResourceUse = { avbench: { cpuSeconds: round3(use.avbench.cpuSeconds / k), peakRssBytes: use.avbench.peakRssBytes } };
  if (use.scanner !== undefined) out.scanner = { ...use.scanner, cpuSeconds: round3(use.scanner.cpuSeconds / k) };
  if (use.children !== undefined) out.children = { cpuSeconds: round3(use.children.cpuSeconds / k) };
  return out;
}

/** A SUT's programs and databases: through its PIDs, and for `lda:` the command it runs. */
async function describeSut(spec: SutSpec): Promise<Awaited<ReturnType<typeof describeProcesses>>> {
  const d = await describeProcesses(spec.pids).catch(() => ({ programs: [], databases: [] }) as Awaited<ReturnType<typeof describeProcesses>>);
  if (spec.kind === 'lda') {
    const program = await describeCommand(spec.command[0] as string).catch(() => undefined);
    if (program !== undefined && !d.programs.some((p) => p.name === program.name)) d.programs.unshift(program);
  }
  return d;
}

/** sha256 of the benched messages (names and bytes), read once before the runs; undefined when one cannot be read. */
async function hashCorpus(corpus: OpenedCorpus, limit: number): Promise<string | undefined> {
  const base = corpus.info.path.endsWith(sep) ? corpus.info.path : corpus.info.path + sep;
  const h = new CorpusHasher();
  let n = 0;
  try {
    for await (const entry of corpus.entries) {
      if (n++ >= limit) break;
      h.add(fileOf(base, entry.file), await entry.read());
    }
  } catch {
    return undefined;
  }
  return h.hex();
}

/** Names benched when none are given: config entries and built-in types, not presets, cli or noop. */
function defaultScannerNames(config: AvbenchConfig): string[] {
  return listScanners(config)
    .filter((e) => e.source !== 'preset' && e.type !== 'noop' && !(e.source === 'builtin' && e.type === 'cli'))
    .map((e) => e.name);
}

function checkPositiveInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0) throw new BenchInputError(`${what} must be a whole number ≥ 0, got ${v}`);
}

/**
 * Run the bench and return results.json's content. Throws BenchInputError for unusable
 * input (corpus missing, bad SUT, nothing to run); a scanner that is not available is
 * skipped (an event and `skipped[]` say why); scanner trouble during a run is data.
 */
export async function runBench(o: RunBenchOptions): Promise<Results> {
  const startedAt = new Date().toISOString();
  const emit = o.onEvent ?? (() => undefined);
  const config: AvbenchConfig = o.config ?? { scanners: {} };
  const repeat = o.repeat ?? 3;
  const warmup = o.warmup ?? 1;
  checkPositiveInt(repeat, 'repeat');
  checkPositiveInt(warmup, 'warmup');
  const limit = o.limit ?? Infinity;
  for (const [m, n] of Object.entries(o.modeLimits ?? {})) {
    if (!MODES.includes(m as ModeName)) throw new BenchInputError(`mode limit for unknown mode "${m}"`);
    if (!Number.isInteger(n) || (n as number) < 1) throw new BenchInputError(`mode limit ${m} must be a whole number ≥ 1, got ${n}`);
  }
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 1)) throw new BenchInputError(`limit must be a whole number ≥ 1, got ${o.limit}`);
  if (repeat < 1) throw new BenchInputError('repeat must be at least 1');
  const levels = [...new Set(o.concurrency ?? [1])];
  for (const c of levels) if (!Number.isInteger(c) || c < 1) throw new BenchInputError(`concurrency must be a whole number ≥ 1, got ${c}`);
  const connection = o.connection ?? 'per-message';
  if (connection !== 'per-message' && connection !== 'kept-open') throw new BenchInputError(`connection must be per-message or kept-open, got ${JSON.stringify(connection)}`);
  if (o.rate !== undefined && !(Number.isFinite(o.rate) && o.rate >= 0)) throw new BenchInputError(`rate must be messages per second ≥ 0 (0 = flat out), got ${o.rate}`);
  const shape: LoadShape = { connection, ...(o.rate === undefined || o.rate === 0 ? {} : { rate: o.rate }) };
  const modes = [...new Set(o.modes ?? MODES)];
  for (const m of modes) if (!MODES.includes(m)) throw new BenchInputError(`unknown mode "${m}" (known: ${MODES.join(', ')})`);

  let corpus: OpenedCorpus;
  try {
    corpus = await openCorpus(o.corpus);
  } catch (err) {
    throw new BenchInputError((err as Error).message);
  }
  let suts: SutSpec[];
  try {
    suts = (o.suts ?? []).map(parseSut);
  } catch (err) {
    throw new BenchInputError((err as Error).message);
  }

  const skipped: { name: string; reason: string }[] = [];
  const skip = (name: string, reason: string): void => {
    skipped.push({ name, reason });
    emit({ type: 'skip', name, reason });
  };

  // Scanners: the named ones, else every available one (none when only SUTs were given).
  const names = o.scanners !== undefined && o.scanners.length > 0 ? [...new Set(o.scanners)] : suts.length > 0 ? [] : defaultScannerNames(config);
  const plans: Plan[] = [];
  const adapters: Adapter[] = [];
  // lda baseline: `avbench deliver` in a child builds its scanner from a config; this one names
  // noop with granularity message (the transport alone), the rest as given.
  let baselineConfigDir: string | undefined;
  let baselineConfigPath: string | undefined;
  try {
    for (const name of names) {
      // One lifecycle (adapters/open.ts): built by name, probed with a deadline, not required.
      let opened: OpenedScanners;
      try {
        opened = await openScanners([name], config, { require: false });
      } catch (err) {
        if (o.scanners !== undefined && o.scanners.length > 0) throw new BenchInputError((err as Error).message);
        skip(name, `bad configuration: ${(err as Error).message}`);
        continue;
      }
      const adapter = opened.adapters[0] as Adapter;
      adapters.push(adapter);
      const p = (opened.probes[0] as OpenedScanners['probes'][number]).probe;
      if (!p.available) {
        skip(name, p.reason ?? 'not available');
        continue;
      }
      const pids = o.scannerPids?.[name] ?? [];
      let info = scannerInfo(adapter, p);
      try {
        info = withDescription(info, await describeAdapter(adapter.type, resolveScanner(name, config).options as ScannerOptionsSeen, pids, p));
      } catch {
        /* versions are best effort: the probe's figures stay */
      }
      plans.push({ kind: 'adapter', adapter, info, modes, baseline: false, pids });
    }
    for (const spec of suts) {
      const d = await describeSut(spec);
      const deadlineMs = spec.deadlineMs ?? d.deadlineMs;
      plans.push({ kind: 'sut', spec, info: withDescription({ name: spec.name, type: 'sut' }, d), ...(deadlineMs === undefined ? {} : { deadlineMs }) });
    }
    if (plans.length === 0) throw new BenchInputError(`nothing to bench: ${skipped.length > 0 ? skipped.map((s) => `${s.name} (${s.reason})`).join('; ') : 'no scanner or SUT given'}`);

    // The no-scan baseline of every mode in play, first.
    if (o.baseline !== false) {
      const inPlay = new Set<ModeName>();
      for (const p of plans) {
        if (p.kind === 'adapter') for (const m of p.modes) inPlay.add(m);
        else inPlay.add(p.spec.kind);
      }
      // The transport alone: granularity message, so the core hands the raw message to the
      // no-op scanner and never walks its MIME tree (a message the walker would refuse passes).
      const noop = createNoopAdapter({ granularity: 'message' });
      if (inPlay.has('lda')) {
        baselineConfigDir = await mkdtemp(join(tmpdir(), 'avbench-baseline-'));
        baselineConfigPath = join(baselineConfigDir, 'avbench.config.json');
        const withNoop: AvbenchConfig = { ...config, scanners: { ...config.scanners, [noop.name]: { type: 'noop', granularity: 'message' } } };
        await writeFile(baselineConfigPath, JSON.stringify(withNoop, null, 2), { mode: 0o600 });
      }
      adapters.push(noop);
      plans.unshift({ kind: 'adapter', adapter: noop, info: scannerInfo(noop, await noop.probe()), modes: MODES.filter((m) => inPlay.has(m)), baseline: true, pids: [] });
    }

    // Flatten into runs.
    type Cell = { plan: Plan; mode: ModeName; concurrency: number; id: string };
    const cells: Cell[] = [];
    for (const plan of plans) {
      const planModes = plan.kind === 'adapter' ? plan.modes : [plan.spec.kind];
      for (const mode of planModes) {
        for (const c of levels) {
          const who = plan.kind === 'adapter' && plan.baseline ? 'baseline' : plan.info.name;
          cells.push({ plan, mode, concurrency: c, id: `${who}/${mode}/c${c}` });
        }
      }
    }

    const host = hostInfo();
    const contentSha256 = await hashCorpus(corpus, limit);
    const runs: Run[] = [];
    let benchedBytes = 0;
    const cold = o.cold !== false;
    const passes = (cold ? 1 : 0) + warmup + 1;
    const nonceBase = `${Date.now().toString(36)}.${process.pid}`;
    // Per cell: its measured passes so far, its resource use, and why it stopped (a start failure ends it).
    type CellState = { warm: Pass[]; cold: Pass[]; use: ResourceUse[]; target?: Target | undefined; sut?: string; shape?: LoadShape; failed?: string; reset: 'reload' | 'unique-bytes'; resetFailed?: boolean };
    const states: CellState[] = cells.map(() => ({ warm: [], cold: [], use: [], reset: 'unique-bytes' }));
    const resets = new Set(o.coldReset?.scanners ?? []);
    for (const step of planSchedule(cells.length, repeat, warmup, cold)) {
      const cell = cells[step.cell] as Cell;
      const st = states[step.cell] as CellState;
      if (st.failed !== undefined) continue;
      const { plan, mode, concurrency, id } = cell;
      const cellLimit = Math.min(limit, o.modeLimits?.[mode] ?? Infinity);
      const messages = Math.min(corpus.info.messages, cellLimit);
      if (st.target === undefined) {
        emit({ type: 'run-start', id, index: step.cell, total: cells.length, passes, messages, round: step.round, rounds: repeat });
        try {
          st.target =
            plan.kind === 'adapter'
              ? await startFrontEnd({
                  adapter: plan.adapter,
                  mode,
                  concurrency,
                  ...(config.limits === undefined ? {} : { limits: config.limits }),
                  ...(o.deliverCommand === undefined ? {} : { deliverCommand: o.deliverCommand }),
                  ...(plan.baseline && baselineConfigPath !== undefined ? { configPath: baselineConfigPath } : o.configPath === undefined ? {} : { configPath: o.configPath }),
                  ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
                  shape,
                })
              : await startSut(plan.spec, concurrency, o.timeoutMs, shape);
        } catch (err) {
          st.failed = `could not start: ${(err as Error).message}`;
          skip(id, st.failed);
          emit({ type: 'run-failed', id, reason: st.failed });
          continue;
        }
      }
      const target = st.target;
      st.sut = plan.kind === 'sut' ? plan.spec.url : target.sut;
      if (target.shape !== undefined) st.shape = target.shape;
      const stepNo = (step.kind === 'cold' ? 0 : (cold ? 1 : 0) + (step.kind === 'warmup' ? 0 : warmup)) + 1;
      // Progress every 16 messages (and the last): no event per message on the fast path.
      const tick = (done: number): void => {
        if ((done & 15) === 0 || done === messages) emit({ type: 'pass', id, pass: stepNo, passes, warmup: step.kind === 'warmup', cold: step.kind === 'cold', done, messages });
      };
      try {
        if (step.kind === 'cold') {
          if (plan.kind === 'adapter' && !plan.baseline && resets.has(plan.info.name) && o.coldReset !== undefined && st.resetFailed !== true) {
            try {
              await o.coldReset.reset();
              st.reset = 'reload';
            } catch (err) {
              // The pass still runs on new bytes; the cell says only that (conservative label).
              st.resetFailed = true;
              st.reset = 'unique-bytes';
              skip(`${id} (cold reset)`, `clamd RELOAD failed, cold passes on unique bytes only: ${(err as Error).message}`);
            }
          }
          st.cold.push(await runPass(corpus, target, tick, cellLimit, `${nonceBase}.${id}.${step.round}`));
        } else if (step.kind === 'warmup') {
          await runPass(corpus, target, tick, cellLimit);
        } else {
          const sampler = new LoadSampler([...(plan.kind === 'adapter' ? plan.pids : []), ...target.pids]);
          sampler.start();
          st.warm.push(await runPass(corpus, target, tick, cellLimit));
          st.use.push(sampler.stop());
        }
      } catch (err) {
        st.failed = `failed: ${(err as Error).message}`;
        await target.close();
        st.target = undefined;
        skip(id, st.failed);
        emit({ type: 'run-failed', id, reason: st.failed });
        continue;
      }
      // The front end lives for one round of a cell: each round starts it afresh and warms it.
      if (step.kind === 'warm') {
        await target.close();
        st.target = undefined;
      }
    }
    for (const [index, cell] of cells.entries()) {
      const st = states[index] as CellState;
      if (st.target !== undefined) await st.target.close();
      if (st.failed !== undefined || st.warm.length === 0) continue;
      const { plan, mode, concurrency, id } = cell;
      const cellLimit = Math.min(limit, o.modeLimits?.[mode] ?? Infinity);
      if (cellLimit === limit) benchedBytes = st.warm[0]?.bytes ?? benchedBytes;
      const resources = perPass(sumUse(st.use), st.use.length);
      const sut = st.sut ?? (plan.kind === 'sut' ? plan.spec.url : 'ours');
      const run = buildRun(
        id,
        plan.info,
        mode,
        sut,
        concurrency,
        plan.kind === 'adapter' && plan.baseline,
        st.warm,
        resources,
        st.shape,
        plan.kind === 'sut' ? plan.deadlineMs : undefined,
        { rounds: true, ...(cold ? { cold: st.cold, coldReset: st.reset } : {}) },
      );
      runs.push(run);
      emit({ type: 'run-end', run });
    }

    // With --limit, the corpus figures are those of the messages benched.
    const first = runs[0];
    const limited = limit < corpus.info.messages && first !== undefined ? { messages: first.messages, bytes: benchedBytes } : undefined;
    const results: Results = {
      schemaVersion: SCHEMA_VERSION,
      startedAt,
      finishedAt: new Date().toISOString(),
      host,
      corpus: {
        path: corpus.info.path,
        messages: limited?.messages ?? corpus.info.messages,
        bytes: limited?.bytes ?? corpus.info.bytes,
        ...(limited === undefined ? {} : { totalMessages: corpus.info.messages }),
        ...(corpus.info.manifestSha256 === undefined ? {} : { manifestSha256: corpus.info.manifestSha256 }),
        ...(contentSha256 === undefined ? {} : { contentSha256 }),
      },
      ...(o.command === undefined ? {} : { command: o.command }),
      settings: { repeats: repeat, warmup, cold, order: 'interleaved' },
      ...(skipped.length > 0 ? { skipped } : {}),
      runs,
    };
    return results;
  } finally {
    await Promise.all(adapters.map((a) => a.close().catch(() => undefined)));
    if (baselineConfigDir !== undefined) await rm(baselineConfigDir, { recursive: true, force: true });
  }
}
