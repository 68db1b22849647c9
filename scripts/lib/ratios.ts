/**
 * Our system against a named reference measured in alternating rounds: the ratio of each
 * round (ours ÷ theirs, the two runs of the same round), the median of those ratios, the
 * target's verdict, and the one summary table `bench-gateways-all` prints. A round's ratio
 * pairs two runs made minutes apart at most, under the same load; the median of the ratios
 * is less swayed by a load spike than the ratio of the two medians.
 */
import { median } from '../../src/bench/stats.js';

/** ours[i] ÷ theirs[i] for every round both have (a round whose reference gave 0 is skipped). */
export function roundRatios(ours: readonly number[], theirs: readonly number[]): number[] {
  const n = Math.min(ours.length, theirs.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const o = ours[i] as number;
    const t = theirs[i] as number;
    if (Number.isFinite(o) && Number.isFinite(t) && t > 0) out.push(o / t);
  }
  return out;
}

/** One row of the summary: a comparison in one shape, with every run of both sides. */
export interface Comparison {
  /** e.g. `serve smtp vs Haraka + clamd`. */
  comparison: string;
  /** e.g. `per connection`, `kept-open`. */
  shape: string;
  /** What the msg/s counts: `accepted` (smtp-source's own time) or `delivered` (to the last arrival at the sink). */
  figure: 'accepted' | 'delivered';
  /** msg/s of each round, ours and the reference's, in round order. */
  ours: readonly number[];
  theirs: readonly number[];
  /** The target: ours ≥ target × theirs. */
  target: number;
  /** Runs (of either side) whose messages were not all accounted for: such a row cannot meet its target. */
  problems: number;
  /** The 1-minute load average at each run. */
  load1: readonly number[];
}

/** A judged row. */
export interface ComparisonResult extends Comparison {
  oursMedian: number;
  theirsMedian: number;
  /** Per-round ratios (see {@link roundRatios}). */
  ratios: number[];
  /** Their median; NaN when no round has both. */
  ratio: number;
  /** ratio ≥ target, at least one round, and every message accounted for. */
  met: boolean;
}

/** Medians, per-round ratios and the verdict of one comparison. */
export function judge(c: Comparison): ComparisonResult {
  const ratios = roundRatios(c.ours, c.theirs);
  const ratio = median(ratios);
  return { ...c, oursMedian: median(c.ours), theirsMedian: median(c.theirs), ratios, ratio, met: ratios.length > 0 && ratio >= c.target && c.problems === 0 };
}

/** msg/s as the benches print them: whole above 100, one decimal below. */
export function fmtRate(n: number): string {
  return Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : '–';
}

/** `8.2–13.5` (or one value, or `–`). */
export function loadRange(load1: readonly number[]): string {
  if (load1.length === 0) return '–';
  const lo = Math.min(...load1);
  const hi = Math.max(...load1);
  return lo === hi ? lo.toFixed(1) : `${lo.toFixed(1)}–${hi.toFixed(1)}`;
}

/** The verdict cell: `met`, `**not met**`, or `**not met** (N runs lost messages)`. */
export function verdict(r: ComparisonResult): string {
  if (r.met) return 'met';
  if (r.problems > 0) return `**not met** (${r.problems} run${r.problems === 1 ? '' : 's'} with messages not accounted for)`;
  return '**not met**';
}

/**
 * The summary table (Markdown): comparison · shape · ours msg/s [runs] · theirs msg/s [runs]
 * · ratio, the median of the per-round ratios (each round's) · target · verdict · load1 over
 * the runs.
 */
export function summaryTable(rows: readonly ComparisonResult[]): string {
  const lines = [
    '| comparison | shape | ours msg/s [runs] | theirs msg/s [runs] | ratio: median of rounds (rounds) | target | verdict | load1 |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const runs = (xs: readonly number[]): string => `${fmtRate(median(xs))} [${xs.map(fmtRate).join(', ')}]`;
    const ratio = Number.isFinite(r.ratio) ? `**${r.ratio.toFixed(2)}x** (${r.ratios.map((x) => x.toFixed(2)).join(' / ')})` : '–';
    lines.push(`| ${r.comparison} | ${r.shape}${r.figure === 'delivered' ? ', delivered' : ''} | ${runs(r.ours)} | ${runs(r.theirs)} | ${ratio} | ≥ ${r.target}x | ${verdict(r)} | ${loadRange(r.load1)} |`);
  }
  return `${lines.join('\n')}\n`;
}
