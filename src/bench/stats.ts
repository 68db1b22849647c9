/**
 * Figures of a run: latency percentiles, the median repeat, detection counts and fates.
 * Pure functions over per-message records (tested on hand-made outcomes).
 */
import type { Fate } from '../modes/types.js';
import { judge } from '../results/counts.js';
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
  const j = judge(r); // 'any' and unlabelled: timed, not judged
  if (j === 'error') c.errors++;
  else if (j !== undefined) c[j]++;
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

/** A confidence interval of a mean (or of a difference of means) over repeats. */
export interface MeanInterval {
  /** The mean of the values (or the difference of the two means). */
  mean: number;
  low: number;
  high: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  /** Student's t over the repeats (Welch's for a difference). */
  method: 't' | 'welch-t';
  /** Values it rests on (for a difference: the smaller of the two counts). */
  n: number;
}

/** Two-sided 95 % quantiles of Student's t (0.975) for 1..30 degrees of freedom; beyond 30 the table's tail is used. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06,
  2.056, 2.052, 2.048, 2.045, 2.042,
];

/**
 * The 0.975 quantile of Student's t with `df` degrees of freedom (a fractional df, as Welch's
 * gives, is rounded down: the wider, safer interval). Only the 95 % level is tabulated.
 */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) throw new RangeError(`degrees of freedom must be ≥ 1, got ${df}`);
  const k = Math.floor(df);
  if (k <= T975.length) return T975[k - 1] as number;
  if (k <= 60) return 2.042 - ((k - 30) / 30) * (2.042 - 2.0);
  if (k <= 120) return 2.0 - ((k - 60) / 60) * (2.0 - 1.98);
  return 1.96;
}

function meanVar(xs: readonly number[]): { mean: number; variance: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.length < 2 ? 0 : xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1);
  return { mean, variance };
}

/**
 * The 95 % confidence interval of the mean of `values` (repeats of one figure): mean ± t ·
 * s / √n. Null for fewer than two finite values (no spread to judge from).
 */
export function meanInterval(values: readonly number[]): MeanInterval | null {
  const xs = values.filter((x) => Number.isFinite(x));
  if (xs.length < 2) return null;
  const { mean, variance } = meanVar(xs);
  const half = tQuantile975(xs.length - 1) * Math.sqrt(variance / xs.length);
  return { mean, low: mean - half, high: mean + half, level: 0.95, method: 't', n: xs.length };
}

/**
 * The 95 % confidence interval of mean(a) − mean(b) (Welch's t: unequal variances). Null when
 * either side has fewer than two finite values. When both sides have no spread at all the
 * interval is the single difference.
 */
export function differenceInterval(a: readonly number[], b: readonly number[]): MeanInterval | null {
  const xa = a.filter((x) => Number.isFinite(x));
  const xb = b.filter((x) => Number.isFinite(x));
  if (xa.length < 2 || xb.length < 2) return null;
  const A = meanVar(xa);
  const B = meanVar(xb);
  const va = A.variance / xa.length;
  const vb = B.variance / xb.length;
  const se = Math.sqrt(va + vb);
  const mean = A.mean - B.mean;
  if (se === 0) return { mean, low: mean, high: mean, level: 0.95, method: 'welch-t', n: Math.min(xa.length, xb.length) };
  const df = (va + vb) ** 2 / ((va * va) / (xa.length - 1) + (vb * vb) / (xb.length - 1));
  const half = tQuantile975(Math.max(1, df)) * se;
  return { mean, low: mean - half, high: mean + half, level: 0.95, method: 'welch-t', n: Math.min(xa.length, xb.length) };
}

/**
 * Whether a difference is measurable: its interval does not hold 0. Null when there is no
 * interval (fewer than two repeats on a side): the report then says nothing either way.
 */
export function measurable(ci: MeanInterval | null): boolean | null {
  if (ci === null) return null;
  return !(ci.low <= 0 && ci.high >= 0);
}
