/**
 * What `avbench check` found, independent of how it is printed: one {@link CheckCase} per
 * scanner × mode × category of a checked run (category `(all)` for the run as a whole),
 * each with the {@link Finding}s of the checks that applied to it. The text output, the
 * JUnit XML, the GitHub annotations and the Markdown summary all render from this.
 */
import type { CorpusSummary, HostInfo, Run } from '../results/types.js';

/** The category name of the case that covers a whole run. */
export const ALL = '(all)';

/** What a finding measured (stable strings: they appear in JUnit failure types). */
export type Metric =
  | 'missing-run'
  | 'missing-category'
  | 'detection'
  | 'false-positives'
  | 'errors'
  | 'throughput'
  | 'p95';

/** A file named by a finding: the message, its category and what the scanner said. */
export interface NamedMessage {
  file: string;
  category?: string;
  /** What changed or what was seen, e.g. `infected → clean`, `error TIMEOUT`, `flagged as X`. */
  detail: string;
}

/** One check on one case. */
export interface Finding {
  metric: Metric;
  /** True when the check passed. */
  ok: boolean;
  /** One line, human: what was compared and by how much it moved. */
  message: string;
  /** The baseline figure (an earlier run's, or the figure recorded in a thresholds file). */
  baseline?: number;
  /** This run's figure. */
  actual?: number;
  /** The limit it was held to. */
  limit?: number;
  /** Messages behind the finding: newly missed, newly flagged, newly failing. */
  messages?: NamedMessage[];
}

/** One scanner × mode × (concurrency, SUT) × category. */
export interface CheckCase {
  scanner: string;
  mode: string;
  concurrency?: number;
  /** "direct", "ours", or a SUT URL's scheme (the port of a lab SUT changes every time). */
  sut?: string;
  category: string;
  findings: Finding[];
  /** Counts of this case in the checked run, for the record (src/results/counts.ts: errors on every message; lost; deadline hits). */
  counts?: { tp: number; fn: number; fp: number; tn: number; errors: number; lost?: number; timeouts?: number };
}

/** Which kind of file the baseline was. */
export type BaselineKind = 'results' | 'thresholds';

/** Everything check found. */
export interface CheckReport {
  resultsFile: string;
  baselineFile: string;
  baselineKind: BaselineKind;
  host: HostInfo;
  corpus: CorpusSummary;
  /** Things the reader should know that are not regressions (e.g. timing not compared). */
  notes: string[];
  cases: CheckCase[];
}

export { runKey, sutKind } from '../results/pairing.js';

/** The failed findings of a report, with their case. */
export function regressions(report: CheckReport): { c: CheckCase; f: Finding }[] {
  const out: { c: CheckCase; f: Finding }[] = [];
  for (const c of report.cases) for (const f of c.findings) if (!f.ok) out.push({ c, f });
  return out;
}

/** A case's label: `scanner/mode[/cN][ sut] category`. */
export function caseLabel(c: CheckCase): string {
  const conc = c.concurrency !== undefined && c.concurrency !== 1 ? `/c${c.concurrency}` : '';
  const sut = c.sut !== undefined && c.sut !== 'direct' && c.sut !== 'ours' ? ` (${c.sut})` : '';
  return `${c.scanner}/${c.mode}${conc}${sut} ${c.category}`;
}

/** Percent with one decimal, or `n/a`. */
export function pct(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? 'n/a' : `${(rate * 100).toFixed(1)}%`;
}

/** A number without float noise (up to 3 decimals). */
export function num(x: number): string {
  return String(Math.round(x * 1000) / 1000);
}
