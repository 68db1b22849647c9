/**
 * The bench's last step: from measured passes to results.json. A pass's figures (throughput,
 * completed throughput apart from deadline hits, the time stalled on deadlines), a run from
 * its warm passes (the median repeat's figures, every repeat listed, the interval over
 * them, the cold summary, resource use per pass), and the results document around the runs.
 */
import type { OpenedCorpus } from '../corpus/read.js';
import type { ModeName } from '../modes/types.js';
import { countRecords, hitDeadline } from '../results/counts.js';
import { SCHEMA_VERSION, type ColdSummary, type HostInfo, type Interval, type LoadShape, type MessageResult, type RepeatFigures, type ResourceUse, type Results, type Run, type ScannerInfo } from '../results/types.js';
import type { CellState } from './cell.js';
import type { Pass } from './pass.js';
import type { Cell } from './plan.js';
import { computeDetection, countFates, latencySummary, meanInterval, medianIndex, percentile, round3 } from './stats.js';
import type { BenchSettings } from './validate.js';

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

/** A cell's run record from its state after the last step (undefined when it failed or measured nothing). */
export function assembleRun(cell: Cell, st: CellState, cold: boolean): Run | undefined {
  if (st.failed !== undefined || st.warm.length === 0) return undefined;
  const { plan, mode, concurrency, id } = cell;
  const resources = perPass(sumUse(st.use), st.use.length);
  const sut = st.sut ?? (plan.kind === 'sut' ? plan.spec.url : 'ours');
  return buildRun(
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
}

/** What {@link assembleResults} puts around the runs. */
export interface ResultsFrame {
  startedAt: string;
  host: HostInfo;
  corpus: OpenedCorpus;
  /** sha256 of the benched messages, when every one could be read. */
  contentSha256: string | undefined;
  /** Bytes of the messages a run over the whole `--limit` benched (for the corpus figures under --limit). */
  benchedBytes: number;
  command: string | undefined;
  skipped: { name: string; reason: string }[];
}

/** results.json's content: host, corpus (the messages benched, under --limit), settings, skipped, runs. */
export function assembleResults(frame: ResultsFrame, settings: BenchSettings, runs: Run[]): Results {
  const { corpus, contentSha256, skipped } = frame;
  const { limit, repeat, warmup, cold } = settings;
  // With --limit, the corpus figures are those of the messages benched.
  const first = runs[0];
  const limited = limit < corpus.info.messages && first !== undefined ? { messages: first.messages, bytes: frame.benchedBytes } : undefined;
  const results: Results = {
    schemaVersion: SCHEMA_VERSION,
    startedAt: frame.startedAt,
    finishedAt: new Date().toISOString(),
    host: frame.host,
    corpus: {
      path: corpus.info.path,
      messages: limited?.messages ?? corpus.info.messages,
      bytes: limited?.bytes ?? corpus.info.bytes,
      ...(limited === undefined ? {} : { totalMessages: corpus.info.messages }),
      ...(corpus.info.manifestSha256 === undefined ? {} : { manifestSha256: corpus.info.manifestSha256 }),
      ...(contentSha256 === undefined ? {} : { contentSha256 }),
    },
    ...(frame.command === undefined ? {} : { command: frame.command }),
    settings: { repeats: repeat, warmup, cold, order: 'interleaved' },
    ...(skipped.length > 0 ? { skipped } : {}),
    runs,
  };
  return results;
}
