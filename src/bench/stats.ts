/**
 * Figures of a run: latency percentiles, the median repeat, detection counts and fates.
 * Pure functions over per-message records (tested on hand-made outcomes).
 */
import type { Fate } from '../modes/types.js';
import type { Detection, DetectionCounts, Fates, Latency, MessageResult } from '../results/types.js';

/** Every fate, in report order. */
export const FATES: readonly Fate[] = ['scanned', 'delivered', 'tagged', 'rejected', 'tempfailed', 'dropped', 'lost'];

/**
 * The p-th percentile (0..100) of ascending `sorted` values, nearest-rank method (the
 * smallest value with at least p% of the values at or below it). 0 for an empty list.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  return sorted[Math.min(n, rank) - 1] as number;
}

/**
 * The q-quantile (0..1) of values in any order, interpolated linearly between the two
 * nearest ranks (R's and NumPy's default; the median of an even count is the mean of the two
 * middle values). NaN for an empty list; the input is not changed. For per-message latencies
 * results.json uses {@link percentile} (nearest rank: a value really measured).
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within 0..1, got ${q}`);
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

/** The median of values in any order (the mean of the two middle ones for an even count); NaN for an empty list. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** p50 / p95 / p99 / max of latencies in ms (any order; the input is not changed). */
export function latencySummary(ms: ArrayLike<number>): Latency {
  const sorted = Float64Array.from(ms as ArrayLike<number>).sort();
  return {
    p50: round3(percentile(sorted, 50)),
    p95: round3(percentile(sorted, 95)),
    p99: round3(percentile(sorted, 99)),
    max: round3(sorted.length === 0 ? 0 : (sorted[sorted.length - 1] as number)),
  };
}

/**
 * Index of the median item by `key` (for an even count, the lower of the two middle
 * ones, so the figure is one that was really measured). -1 for an empty list.
 */
export function medianIndex<T>(items: readonly T[], key: (t: T) => number): number {
  if (items.length === 0) return -1;
  const order = items.map((t, i) => ({ i, k: key(t) })).sort((a, b) => a.k - b.k || a.i - b.i);
  return (order[Math.floor((order.length - 1) / 2)] as { i: number }).i;
}

/** Relative spread of values: (max - min) / median, 0 for fewer than two values. */
export function relativeSpread(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const med = sorted[Math.floor((sorted.length - 1) / 2)] as number;
  if (med === 0) return 0;
  return ((sorted[sorted.length - 1] as number) - (sorted[0] as number)) / med;
}

/** A zeroed tally. */
function emptyCounts(): DetectionCounts {
  return { tp: 0, fn: 0, fp: 0, tn: 0, errors: 0, detectionRate: null, falsePositiveRate: null };
}

/** The message fields detection needs. */
export type Judged = Pick<MessageResult, 'expected' | 'category' | 'verdict'>;

function add(c: DetectionCounts, r: Judged): void {
  if (r.expected !== 'infected' && r.expected !== 'clean') return; // 'any' and unlabelled: timed, not judged
  if (r.verdict === 'error') c.errors++;
  else if (r.expected === 'infected') {
    if (r.verdict === 'infected') c.tp++;
    else c.fn++;
  } else if (r.verdict === 'infected') c.fp++;
  else c.tn++;
}

function withRates(c: DetectionCounts): DetectionCounts {
  c.detectionRate = c.tp + c.fn === 0 ? null : c.tp / (c.tp + c.fn);
  c.falsePositiveRate = c.fp + c.tn === 0 ? null : c.fp / (c.fp + c.tn);
  return c;
}

/**
 * Detection over labelled messages: infected → tp (found) or fn (said clean); clean → fp
 * (flagged) or tn. An error on a labelled message is neither: it is counted in `errors`
 * (never as clean). `any` and unlabelled messages are excluded. Rates are null when
 * undefined. allCaughtNoFalsePositive (also written as the deprecated `vb100`): at least
 * one infected message judged, every one found, no clean flagged, no error on any message.
 */
export function computeDetection(records: Iterable<Judged>): Detection {
  const all = emptyCounts();
  const byCat = new Map<string, DetectionCounts>();
  let labelled = 0;
  let anyErrors = 0;
  for (const r of records) {
    if (r.verdict === 'error') anyErrors++;
    if (r.expected !== 'infected' && r.expected !== 'clean') continue;
    labelled++;
    add(all, r);
    const cat = r.category ?? '(none)';
    let c = byCat.get(cat);
    if (c === undefined) byCat.set(cat, (c = emptyCounts()));
    add(c, r);
  }
  withRates(all);
  const byCategory: Record<string, DetectionCounts> = {};
  for (const cat of [...byCat.keys()].sort()) byCategory[cat] = withRates(byCat.get(cat) as DetectionCounts);
  // As src/results/counts.ts defines it: no error on any message, labelled or not.
  const allCaught = labelled > 0 && all.tp + all.fn > 0 && all.fn === 0 && all.fp === 0 && anyErrors === 0;
  return { ...all, byCategory, allCaughtNoFalsePositive: allCaught, vb100: allCaught };
}

/** Count fates; throws if they do not add up to the number of records (a harness bug). */
export function countFates(records: Iterable<{ fate: Fate }>, expectedTotal?: number): Fates {
  const fates = Object.fromEntries(FATES.map((f) => [f, 0])) as Fates;
  let n = 0;
  for (const r of records) {
    if (!(r.fate in fates)) throw new Error(`unknown fate ${JSON.stringify(r.fate)}`);
    fates[r.fate]++;
    n++;
  }
  const sum = FATES.reduce((s, f) => s + fates[f], 0);
  if (sum !== n || (expectedTotal !== undefined && sum !== expectedTotal)) {
    throw new Error(`fates add up to ${sum}, expected ${expectedTotal ?? n} messages`);
  }
  return fates;
}

/** Round to 3 decimals (ms figures in results.json). */
export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
