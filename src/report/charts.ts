/**
 * Chart.js configurations as plain JSON (no functions), built once from results.json and
 * used twice: embedded in report.html's data block (drawn by the page) and rendered to PNG
 * on @napi-rs/canvas. Labels are drawn on a canvas, never parsed as HTML.
 */
import type { Results, Run } from '../results/types.js';
import { completedThroughput } from '../results/counts.js';
import { compareStrings, modesOf, overheadRows, runLabel, throughputInterval } from './model.js';

/** A 95 % interval drawn as a whisker over bar i (null: none, e.g. fewer than two repeats). */
export type ErrorBar = { low: number; high: number } | null;

/** A point of a line chart: x and y as numbers (the latency CDF: ms, % of messages). */
export interface ChartPoint {
  x: number;
  y: number;
}

/** One dataset of a bar chart: a value per label. */
export interface ChartDataset {
  label: string;
  data: (number | null)[];
  backgroundColor: string;
  borderColor: string;
  borderWidth: number;
  /**
   * The 95 % interval of each bar (same index as `data`), drawn as a whisker by the error-bar
   * plugin (src/report/errorbars.ts); Chart.js itself ignores the key.
   */
  errorBars?: ErrorBar[];
}

/** One dataset of a line chart: points. */
export interface LineDataset {
  label: string;
  data: ChartPoint[];
  backgroundColor: string;
  borderColor: string;
  borderWidth: number;
}

/** A Chart.js bar-chart configuration that survives JSON.stringify. */
export interface BarChartSpec {
  type: 'bar';
  data: {
    labels: string[];
    datasets: ChartDataset[];
  };
  options: Record<string, unknown>;
}

/** A Chart.js line-chart configuration (points, no labels) that survives JSON.stringify. */
export interface LineChartSpec {
  type: 'line';
  data: {
    labels: string[];
    datasets: LineDataset[];
  };
  options: Record<string, unknown>;
}

/** A chart of the report, bar or line. */
export type ChartSpec = BarChartSpec | LineChartSpec;

/** The charts of one report, by canvas name. */
export interface ChartSet {
  throughput: BarChartSpec;
  latency: LineChartSpec;
  overhead: BarChartSpec;
}

/** The chart names, in page order (also the PNG file names: throughput.png ...). */
export const CHART_NAMES = ['throughput', 'latency', 'overhead'] as const;

const PALETTE = ['#2f6db5', '#e08a1e', '#3a9a5b', '#b8413c', '#7b5ea7', '#8a6d3b', '#d45d9c', '#5f6b73', '#21a0a8', '#a4a83a'];

/** Width and height the charts are drawn at (PNG pixels, canvas attributes). */
export const CHART_SIZE = { width: 960, height: 420 } as const;

function dataset(label: string, data: (number | null)[], i: number, errorBars?: ErrorBar[]): ChartDataset {
  const c = PALETTE[i % PALETTE.length] ?? '#2f6db5';
  const out: ChartDataset = { label, data: data.map((v) => (v === null || !Number.isFinite(v) ? null : round(v))), backgroundColor: c, borderColor: c, borderWidth: 1 };
  if (errorBars !== undefined && errorBars.some((b) => b !== null)) {
    out.errorBars = errorBars.map((b) => (b === null || !Number.isFinite(b.low) || !Number.isFinite(b.high) ? null : { low: round(b.low), high: round(b.high) }));
  }
  return out;
}

/**
 * Widen the y axis so every whisker fits (Chart.js scales to the bars only): `suggestedMax`
 * at the highest interval end, `suggestedMin` at the lowest when it is below 0.
 */
function fitErrorBars(spec: BarChartSpec): BarChartSpec {
  const ends = spec.data.datasets.flatMap((d) => (d.errorBars ?? []).flatMap((b) => (b === null ? [] : [b.low, b.high])));
  if (ends.length === 0) return spec;
  const y = (spec.options['scales'] as { y: Record<string, unknown> }).y;
  y['suggestedMax'] = Math.max(...ends);
  const low = Math.min(...ends);
  if (low < 0) y['suggestedMin'] = low;
  return spec;
}

/** A Run's chosen figure and its interval. */
interface Bar {
  value: number;
  ci: ErrorBar;
}

function bars(values: (Bar | null)[]): { data: (number | null)[]; errorBars: ErrorBar[] } {
  return { data: values.map((b) => b?.value ?? null), errorBars: values.map((b) => b?.ci ?? null) };
}

/** Round to 4 significant digits (smaller JSON, same picture). */
function round(v: number): number {
  if (v === 0) return 0;
  const p = 10 ** (3 - Math.floor(Math.log10(Math.abs(v))));
  return Math.round(v * p) / p;
}

function options(title: string, yTitle: string, xTitle: string): Record<string, unknown> {
  return {
    animation: false,
    responsive: false,
    devicePixelRatio: 1,
    plugins: {
      title: { display: true, text: title, font: { size: 16 } },
      legend: { position: 'bottom' },
    },
    scales: {
      x: { title: { display: true, text: xTitle } },
      y: { beginAtZero: true, title: { display: true, text: yTitle } },
    },
  };
}

function concurrencyMatters(results: Results): boolean {
  return new Set(results.runs.map((r) => r.concurrency)).size > 1;
}

const scannerOf = (r: Run): string => (r.baseline === true ? 'no scan (baseline)' : r.scanner.name);

/**
 * Throughput (msgs/s, median of repeats) by scanner (x) and mode (datasets), each bar with the
 * 95 % interval of the mean over the warm repeats as a whisker (the run's `throughputCi`, or
 * computed from its repeats for older files). The no-scan baselines are left out (they would
 * dwarf every scanner); the overhead chart shows them.
 */
export function throughputChart(results: Results): BarChartSpec {
  const runsOf = results.runs.filter((r) => r.baseline !== true);
  const scanners = [...new Set(runsOf.map(scannerOf))];
  const withC = concurrencyMatters(results);
  const series = new Map<string, Run[]>();
  for (const m of modesOf(results)) {
    const cs = [...new Set(runsOf.filter((r) => r.mode === m).map((r) => r.concurrency))].sort((a, b) => a - b);
    for (const c of cs) series.set(withC ? `${m} · c${c}` : m, runsOf.filter((r) => r.mode === m && r.concurrency === c));
  }
  const datasets = [...series.entries()].map(([label, runs], i) => {
    const b = bars(
      scanners.map((s): Bar | null => {
        const hit = runs.filter((r) => scannerOf(r) === s);
        if (hit.length === 0) return null;
        const best = hit.reduce((x, y) => (completedThroughput(y).msgsPerSec > completedThroughput(x).msgsPerSec ? y : x));
        const ci = throughputInterval(best);
        return { value: completedThroughput(best).msgsPerSec, ci: ci === null ? null : { low: ci.low, high: ci.high } };
      }),
    );
    return dataset(label, b.data, i, b.errorBars);
  }).filter((d) => d.data.some((v) => v !== null));
  return fitErrorBars({ type: 'bar', data: { labels: scanners, datasets }, options: options('Throughput by scanner and mode (completed messages, median of repeats; whiskers: 95 % interval of the mean)', 'messages per second', 'scanner') });
}

/** Runs the latency chart names in its legend at most. */
const LEGEND_MAX = 16;

/** Points of a latency CDF at most, per run (quantiles of the messages' latencies). */
const CDF_POINTS = 120;

/**
 * The latency CDF of one run: for each of at most {@link CDF_POINTS} quantiles of the per-
 * message latencies (ms, > 0), the share of messages (%) answered within it; the last point
 * is the slowest message at 100 %.
 */
export function latencyCdf(run: Run): ChartPoint[] {
  const ms = run.results.map((r) => r.ms).filter((v) => Number.isFinite(v) && v > 0).sort((a, b) => a - b);
  if (ms.length === 0) return [];
  const n = ms.length;
  const steps = Math.min(n, CDF_POINTS);
  const out: ChartPoint[] = [];
  for (let k = 1; k <= steps; k++) {
    const i = Math.ceil((k * n) / steps) - 1;
    const point = { x: round(ms[i] as number), y: round(((i + 1) / n) * 100) };
    const last = out[out.length - 1];
    if (last !== undefined && last.x === point.x) last.y = point.y;
    else out.push(point);
  }
  return out;
}

/**
 * Latency per message as a cumulative distribution per run (a line per scanner · mode cell):
 * x the latency in ms on a logarithmic axis (so p50 at 0.1 ms and p99 at 40 ms both show),
 * y the share of messages answered within it.
 */
export function latencyChart(results: Results): LineChartSpec {
  const datasets = results.runs
    .map((r, i) => {
      const c = PALETTE[i % PALETTE.length] ?? '#2f6db5';
      return { label: runLabel(r, results), data: latencyCdf(r), backgroundColor: c, borderColor: c, borderWidth: 2 };
    })
    .filter((d) => d.data.length > 0);
  const opts = options('Latency per message: cumulative share of messages answered within x ms (log scale)', '% of messages', 'milliseconds per message (log scale)');
  const scales = opts['scales'] as { x: Record<string, unknown>; y: Record<string, unknown> };
  scales.x['type'] = 'logarithmic';
  scales.y['min'] = 0;
  scales.y['max'] = 100;
  opts['elements'] = { point: { radius: 0 }, line: { tension: 0 } };
  // A legend of dozens of runs would leave no room for the lines: past LEGEND_MAX runs the
  // page names a line on hover (tooltip) and the percentile table names the figures.
  if (datasets.length > LEGEND_MAX) (opts['plugins'] as Record<string, unknown>)['legend'] = { display: false };
  return { type: 'line', data: { labels: [], datasets }, options: opts };
}

/**
 * Mode overhead against direct: extra gateway milliseconds per message (1000 / msgs/s of
 * the mode minus that of direct, same scanner), modes on x, one dataset per scanner, each bar
 * with the 95 % interval of the difference (Welch's t over the repeats) as a whisker.
 * The baseline dataset ("no scan") is what the transport alone costs.
 */
export function overheadChart(results: Results): BarChartSpec {
  const rows = overheadRows(results);
  const modes = modesOf(results).filter((m) => m !== 'direct');
  const withC = concurrencyMatters(results);
  const keyOf = (r: Run): string => (withC ? `${scannerOf(r)} · c${r.concurrency}` : scannerOf(r));
  const keys = [...new Set(rows.map((o) => keyOf(o.run)))].sort((a, b) => {
    const ba = a.startsWith('no scan') ? 0 : 1;
    const bb = b.startsWith('no scan') ? 0 : 1;
    return ba - bb || compareStrings(a, b);
  });
  const datasets = keys.map((k, i) => {
    const b = bars(
      modes.map((m): Bar | null => {
        const hit = rows.filter((o) => o.run.mode === m && keyOf(o.run) === k && o.extraMs !== null);
        if (hit.length === 0) return null;
        const best = hit.reduce((x, y) => ((y.extraMs ?? 0) < (x.extraMs ?? 0) ? y : x));
        return { value: best.extraMs ?? 0, ci: best.extraCi };
      }),
    );
    return dataset(k, b.data, i, b.errorBars);
  });
  const opts = options('Mode overhead against direct (extra ms of gateway time per message; whiskers: 95 % interval)', 'extra ms per message (1000 / msgs/s)', 'mode');
  (opts['scales'] as { y: Record<string, unknown> }).y['beginAtZero'] = true;
  return fitErrorBars({ type: 'bar', data: { labels: modes, datasets }, options: opts });
}

/** Does the chart have anything to draw (a label and at least one value)? */
export function chartHasData(spec: ChartSpec): boolean {
  if (spec.type === 'line') return spec.data.datasets.some((d) => d.data.length > 0);
  return spec.data.labels.length > 0 && spec.data.datasets.some((d) => d.data.some((v) => v !== null));
}

/** All charts of a report. */
export function chartSet(results: Results): ChartSet {
  return { throughput: throughputChart(results), latency: latencyChart(results), overhead: overheadChart(results) };
}

/** Before/after throughput per run id (comparison reports). */
export function compareThroughputChart(pairs: { label: string; before: number | null; after: number | null }[], names: [string, string]): BarChartSpec {
  return {
    type: 'bar',
    data: {
      labels: pairs.map((p) => p.label),
      datasets: [dataset(names[0], pairs.map((p) => p.before), 0), dataset(names[1], pairs.map((p) => p.after), 1)],
    },
    options: options('Throughput before and after (msgs/s, median of repeats)', 'messages per second', 'scanner · mode'),
  };
}

/** Before/after p95 latency per run id (comparison reports). */
export function compareLatencyChart(pairs: { label: string; before: number | null; after: number | null }[], names: [string, string]): BarChartSpec {
  return {
    type: 'bar',
    data: {
      labels: pairs.map((p) => p.label),
      datasets: [dataset(names[0], pairs.map((p) => p.before), 0), dataset(names[1], pairs.map((p) => p.after), 1)],
    },
    options: options('p95 latency before and after (ms)', 'milliseconds', 'scanner · mode'),
  };
}
