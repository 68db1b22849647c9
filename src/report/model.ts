/**
 * What the report shows, computed from results.json alone (plus, optionally, the corpus
 * manifest for the encoding of each message). The HTML page, the PNG charts and the
 * Markdown summary all render from these shapes, so they always agree.
 */
import type { ManifestEntry } from '../corpus/manifest.js';
import type { ModeName } from '../modes/types.js';
import { completedThroughput, detectionCounts, problemOf, runCounts } from '../results/counts.js';
import type { DetectionCounts, Interval, MessageResult, Results, Run } from '../results/types.js';
import { differenceInterval, meanInterval, measurable } from '../bench/stats.js';

/** The ranking table's columns that get a "best" mark. */
export type ColumnKey = 'detection' | 'fp' | 'errors' | 'timeouts' | 'lost' | 'msgsPerSec' | 'p95' | 'cpu' | 'rss';

/** Which way is better for each ranked column. */
export const COLUMN_BETTER: Record<ColumnKey, 'higher' | 'lower'> = {
  detection: 'higher',
  fp: 'lower',
  errors: 'lower',
  timeouts: 'lower',
  lost: 'lower',
  msgsPerSec: 'higher',
  p95: 'lower',
  cpu: 'lower',
  rss: 'lower',
};

/** One line of the ranking table (a scanner × mode × concurrency run, baselines excluded). */
export interface RankRow {
  run: Run;
  label: string;
  /** Column values; null where the run has no figure (no labelled messages, no /proc data). */
  values: Record<ColumnKey, number | null>;
  /** Repeats' msgs/s range. */
  spread: { min: number; max: number; n: number };
  /** 95 % interval of the mean msgs/s over the warm repeats (null for fewer than two). */
  ci: Interval | null;
  /**
   * Place in the ranking (1-based). A row that ties the one above on every count and whose
   * msgs/s is not measurably different from it (the interval of the difference holds 0)
   * shares its place: it is not ranked below it on speed.
   */
  rank: number;
  /** True when this row shares the place of the row above (no measurable difference in speed). */
  tiedWithAbove: boolean;
  /** Columns where this row holds the best value (ties all marked; only with ≥ 2 values that differ). */
  best: ColumnKey[];
}

/** Completed msgs/s of each warm repeat of a run. */
export function repeatRates(run: Run): number[] {
  return run.repeats.filter((r) => r.pass !== 'cold').map((r) => r.completedMsgsPerSec ?? r.msgsPerSec).filter((x) => Number.isFinite(x));
}

/** The run's msgs/s interval: as results.json recorded it, else computed from its repeats (null for fewer than two). */
export function throughputInterval(run: Run): Interval | null {
  if (run.throughputCi !== undefined) return run.throughputCi;
  const ci = meanInterval(repeatRates(run));
  return ci === null ? null : { low: Math.max(0, ci.low), high: ci.high, level: ci.level, method: 't', n: ci.n };
}

/**
 * Whether two runs' msgs/s differ measurably: the 95 % interval (Welch's t) of the difference
 * of their mean repeat rates does not hold 0. Null with fewer than two repeats on a side.
 */
export function speedDiffers(a: Run, b: Run): boolean | null {
  return measurable(differenceInterval(repeatRates(a), repeatRates(b)));
}

/** Human label of a run: "clamd · smtp", with the SUT, the SMTP load shape, and concurrency when they tell runs apart. */
export function runLabel(run: Run, results: Results): string {
  const concurrencies = new Set(results.runs.map((r) => r.concurrency));
  const who = run.baseline === true ? 'no scan (baseline)' : run.scanner.name;
  let label = `${who} · ${run.mode}`;
  if (run.sut !== 'direct' && run.sut !== 'ours') label += ` (${run.sut})`;
  // How the SMTP driver loaded it (a connection per message or kept open, a rate): part of what the figure means.
  if (run.shape !== undefined) label += ` · ${run.shape.connection}${run.shape.rate === undefined ? '' : ` ${run.shape.rate}/s`}`;
  if (concurrencies.size > 1) label += ` · c${run.concurrency}`;
  return label;
}

/** The runs that scanned (not the no-scan baselines), in results order. */
export function scanningRuns(results: Results): Run[] {
  return results.runs.filter((r) => r.baseline !== true);
}

/** The no-scan baseline runs. */
export function baselineRuns(results: Results): Run[] {
  return results.runs.filter((r) => r.baseline === true);
}

/** Total CPU seconds of a run (scanner processes + avbench + the children it ran), null without figures. */
export function cpuSeconds(run: Run): number | null {
  if (run.resources === undefined) return null;
  return (run.resources.scanner?.cpuSeconds ?? 0) + run.resources.avbench.cpuSeconds + (run.resources.children?.cpuSeconds ?? 0);
}

/** Peak RSS of a run: scanner peak + avbench peak (an upper bound of the combined peak). */
export function peakRss(run: Run): number | null {
  if (run.resources === undefined) return null;
  return (run.resources.scanner?.peakRssBytes ?? 0) + run.resources.avbench.peakRssBytes;
}

function spreadOf(run: Run): { min: number; max: number; n: number } {
  const xs = run.repeats.map((r) => r.completedMsgsPerSec ?? r.msgsPerSec).filter((x) => Number.isFinite(x));
  const med = completedThroughput(run).msgsPerSec;
  if (xs.length === 0) return { min: med, max: med, n: 0 };
  return { min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/**
 * The ranking table: scanning runs ordered by detection rate (desc), false positives,
 * errors, lost (asc), then msgs/s over completed messages (desc); each column's best value
 * marked. Every count is src/results/counts.ts's (errors: every error verdict, `any` and
 * unlabelled messages included; timeouts: messages that ended at a deadline).
 */
export function rankRuns(results: Results): RankRow[] {
  const rows: RankRow[] = scanningRuns(results).map((run) => ({
    run,
    label: runLabel(run, results),
    values: {
      detection: runCounts(run).detectionRate,
      fp: runCounts(run).falsePositives,
      errors: runCounts(run).errors,
      timeouts: runCounts(run).timeouts,
      lost: runCounts(run).lost,
      msgsPerSec: completedThroughput(run).msgsPerSec,
      p95: run.latencyMs.p95,
      cpu: cpuSeconds(run),
      rss: peakRss(run),
    },
    spread: spreadOf(run),
    ci: throughputInterval(run),
    rank: 0,
    tiedWithAbove: false,
    best: [],
  }));
  markBest(rows);
  // Rows as fast as the fastest within the uncertainty share its ★.
  const fastest = rows.filter((r) => r.best.includes('msgsPerSec'));
  if (fastest.length > 0) {
    for (const r of rows) {
      if (r.best.includes('msgsPerSec') || r.values.msgsPerSec === null) continue;
      if (fastest.some((f) => speedDiffers(f.run, r.run) === false)) r.best.push('msgsPerSec');
    }
  }
  const idx = new Map(rows.map((r, i) => [r, i]));
  const sorted = rows.sort(
    (a, b) =>
      (b.values.detection ?? -1) - (a.values.detection ?? -1) ||
      (a.values.fp ?? 0) - (b.values.fp ?? 0) ||
      (a.values.errors ?? 0) - (b.values.errors ?? 0) ||
      (a.values.lost ?? 0) - (b.values.lost ?? 0) ||
      (b.values.msgsPerSec ?? 0) - (a.values.msgsPerSec ?? 0) ||
      (idx.get(a) ?? 0) - (idx.get(b) ?? 0),
  );
  sorted.forEach((row, i) => {
    const above = sorted[i - 1];
    const sameCounts =
      above !== undefined &&
      (['detection', 'fp', 'errors', 'lost'] as const).every((k) => (above.values[k] ?? null) === (row.values[k] ?? null));
    row.tiedWithAbove = above !== undefined && sameCounts && speedDiffers(above.run, row.run) === false;
    row.rank = above !== undefined && row.tiedWithAbove ? above.rank : i + 1;
  });
  return sorted;
}

/** Mark, per column, every row tied for the best value (when at least two rows have one and they are not all equal). */
export function markBest(rows: Pick<RankRow, 'values' | 'best'>[]): void {
  for (const key of Object.keys(COLUMN_BETTER) as ColumnKey[]) {
    const vals = rows.map((r) => r.values[key]).filter((v): v is number => v !== null && Number.isFinite(v));
    if (vals.length < 2 || vals.every((v) => v === vals[0])) continue;
    const best = COLUMN_BETTER[key] === 'higher' ? Math.max(...vals) : Math.min(...vals);
    for (const r of rows) if (r.values[key] === best) r.best.push(key);
  }
}

/** One cell of the detection-by-category colour table. */
export interface CategoryCell {
  counts: DetectionCounts | undefined;
  /** Colour class: good / warn / bad for detection (or false positives), none without data. */
  tone: 'good' | 'warn' | 'bad' | 'none';
  /** Short text: "12/12 · 100 %", "0 FP / 20", "2 err". */
  text: string;
}

/** Detection per category (rows) and scanning run (columns). */
export interface CategoryMatrix {
  categories: string[];
  runs: { run: Run; label: string }[];
  /** cells[category][run] */
  cells: CategoryCell[][];
}

function cellOf(c: DetectionCounts | undefined): CategoryCell {
  if (c === undefined) return { counts: c, tone: 'none', text: '–' };
  const err = c.errors > 0 ? ` · ${c.errors} err` : '';
  const infectedJudged = c.tp + c.fn;
  const cleanJudged = c.fp + c.tn;
  if (infectedJudged > 0) {
    const rate = c.tp / infectedJudged;
    const fp = c.fp > 0 ? ` · ${c.fp} FP` : '';
    const tone = rate >= 0.995 && c.fp === 0 && c.errors === 0 ? 'good' : rate >= 0.8 ? 'warn' : 'bad';
    return { counts: c, tone, text: `${c.tp}/${infectedJudged} · ${(rate * 100).toFixed(rate === 1 ? 0 : 1)} %${fp}${err}` };
  }
  if (cleanJudged > 0) {
    const tone = c.fp === 0 && c.errors === 0 ? 'good' : c.fp === 0 ? 'warn' : 'bad';
    return { counts: c, tone, text: `${c.fp} FP / ${cleanJudged} clean${err}` };
  }
  if (c.errors > 0) return { counts: c, tone: 'bad', text: `${c.errors} err` };
  return { counts: c, tone: 'none', text: 'not judged' };
}

/**
 * The detection-by-category colour table (categories sorted by name): a category appears when
 * it has labelled messages or an error in some run; counts from src/results/counts.ts (errors
 * on `any` messages included).
 */
export function categoryMatrix(results: Results): CategoryMatrix {
  const runs = scanningRuns(results);
  const cats = new Set<string>();
  for (const r of runs) {
    for (const m of r.results) {
      const cat = m.category ?? '(none)';
      if (m.expected === 'infected' || m.expected === 'clean' || m.verdict === 'error') cats.add(cat);
    }
  }
  const categories = [...cats].sort(compareStrings);
  const cell = (run: Run, cat: string): CategoryCell => {
    const c = detectionCounts(run, cat);
    return cellOf(c.tp + c.fn + c.fp + c.tn + c.errors === 0 ? undefined : c);
  };
  return {
    categories,
    runs: runs.map((run) => ({ run, label: runLabel(run, results) })),
    cells: categories.map((cat) => runs.map((run) => cell(run, cat))),
  };
}

/** Code-point string order (locale-independent, so output is the same everywhere). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What a mode costs against direct for the same scanner (or the transport alone, for baselines). */
export interface OverheadRow {
  run: Run;
  label: string;
  /** Gateway time per message: 1000 / msgs/s (at the run's concurrency). */
  msPerMsg: number;
  /** The direct run compared with, if any. */
  direct: Run | undefined;
  directMsPerMsg: number | null;
  /** msPerMsg − directMsPerMsg (or msPerMsg itself for a baseline with no direct baseline). */
  extraMs: number | null;
  /** How much slower than direct, in % of direct's msgs/s. */
  slowerPct: number | null;
  /** 95 % interval (Welch's t over the repeats' ms per message) of extraMs; null with fewer than two repeats a side. */
  extraCi: { low: number; high: number } | null;
  /** False when extraMs's interval holds 0: no measurable difference from direct. Null without an interval. */
  extraMeasurable: boolean | null;
  /** The no-scan baseline of the same mode (same concurrency when there is one), for a scanning run. */
  baseline: Run | undefined;
  /** msPerMsg − the baseline's: what scanning adds in this mode. */
  overBaselineMs: number | null;
  /** 95 % interval of overBaselineMs (Welch's t); null with fewer than two repeats a side. */
  overBaselineCi: { low: number; high: number } | null;
  /** False when overBaselineMs's interval holds 0: no measurable difference from the transport alone. */
  overBaselineMeasurable: boolean | null;
}

/** ms of gateway time per message of each warm repeat (1000 / completed msgs/s). */
function repeatMs(run: Run): number[] {
  return repeatRates(run)
    .filter((x) => x > 0)
    .map((x) => 1000 / x);
}

function baselinePartner(run: Run, results: Results): Run | undefined {
  if (run.baseline === true) return undefined;
  const candidates = results.runs.filter((r) => r.baseline === true && r.mode === run.mode);
  return candidates.find((r) => r.concurrency === run.concurrency) ?? candidates.find((r) => r.concurrency === 1) ?? candidates[0];
}

function interval(a: Run, b: Run | undefined): { ci: { low: number; high: number } | null; measurable: boolean | null } {
  if (b === undefined) return { ci: null, measurable: null };
  const d = differenceInterval(repeatMs(a), repeatMs(b));
  return { ci: d === null ? null : { low: d.low, high: d.high }, measurable: measurable(d) };
}

const msPer = (r: Run): number => (completedThroughput(r).msgsPerSec > 0 ? 1000 / completedThroughput(r).msgsPerSec : Number.POSITIVE_INFINITY);

function directPartner(run: Run, results: Results): Run | undefined {
  const candidates = results.runs.filter(
    (r) => r.mode === 'direct' && (r.baseline === true) === (run.baseline === true) && (run.baseline === true || r.scanner.name === run.scanner.name),
  );
  return candidates.find((r) => r.concurrency === run.concurrency) ?? candidates.find((r) => r.concurrency === 1) ?? candidates[0];
}

/**
 * Mode overhead: every non-direct run against the direct run of the same scanner (same
 * concurrency if there is one). Baseline runs (no scan) show what the transport alone costs.
 */
export function overheadRows(results: Results): OverheadRow[] {
  return results.runs
    .filter((r) => r.mode !== 'direct')
    .map((run) => {
      const direct = directPartner(run, results);
      const ms = msPer(run);
      const dms = direct === undefined ? null : msPer(direct);
      let extra: number | null = dms === null ? null : ms - dms;
      if (extra === null && run.baseline === true) extra = ms;
      const slower = direct === undefined || completedThroughput(run).msgsPerSec <= 0 ? null : (completedThroughput(direct).msgsPerSec / completedThroughput(run).msgsPerSec - 1) * 100;
      const vsDirect = interval(run, direct);
      const base = baselinePartner(run, results);
      const vsBase = interval(run, base);
      const over = base === undefined ? null : ms - msPer(base);
      return {
        run,
        label: runLabel(run, results),
        msPerMsg: ms,
        direct,
        directMsPerMsg: dms,
        extraMs: extra !== null && Number.isFinite(extra) ? extra : null,
        slowerPct: slower !== null && Number.isFinite(slower) ? slower : null,
        extraCi: vsDirect.ci,
        extraMeasurable: vsDirect.measurable,
        baseline: base,
        overBaselineMs: over !== null && Number.isFinite(over) ? over : null,
        overBaselineCi: vsBase.ci,
        overBaselineMeasurable: vsBase.measurable,
      };
    });
}

/** Table 1 (the interception approaches compared): one approach, what it can see, and measured figures. */
export interface ApproachRow {
  mode: ModeName;
  point: string;
  name: string;
  examples: string;
  outgoing: string;
  perRecipient: string;
  load: string;
  onFailure: string;
  measured: {
    runs: number;
    bestMsgsPerSec: { value: number; label: string } | null;
    bestP95: { value: number; label: string } | null;
    /** Lowest and highest detection rate over the mode's scanning runs. */
    detection: { min: number; max: number } | null;
    /** Messages lost over every run of the mode (baselines included). */
    lost: number;
  };
}

const APPROACHES: Omit<ApproachRow, 'measured'>[] = [
  {
    mode: 'smtp',
    point: 'A',
    name: 'SMTP proxy in front of the MTA',
    examples: 'avbench serve smtp, clamsmtpd, InterScan VirusWall',
    outgoing: 'Yes, if outgoing mail is relayed through the proxy too',
    perRecipient: 'No: one DATA for all recipients, one answer for all',
    load: 'In front of the MTA (own process or host), during the SMTP session',
    onFailure: 'Rejects in session (5xx) or tempfails (4xx); the sender keeps the mail',
  },
  {
    mode: 'milter',
    point: 'B',
    name: 'Milter inside the MTA',
    examples: 'avbench serve milter, clamav-milter (Postfix, Sendmail)',
    outgoing: 'Yes, when the MTA applies the milter to submitted mail (non_smtpd_milters)',
    perRecipient: 'No: the verdict comes at end of message, for every recipient',
    load: 'On the MTA host, inside the SMTP session',
    onFailure: 'milter_default_action: tempfail (4xx) or accept (fail-open)',
  },
  {
    mode: 'lda',
    point: 'C',
    name: 'Local delivery agent',
    examples: 'avbench deliver, procmail recipe with clamdscan',
    outgoing: 'No: only mail delivered to local mailboxes',
    perRecipient: 'Yes: runs per mailbox, each user can have a policy',
    load: 'At delivery, after the queue, off the SMTP session',
    onFailure: 'EX_TEMPFAIL (75) keeps the mail queued; a reject becomes a bounce',
  },
  {
    mode: 'direct',
    point: '–',
    name: 'Direct (no transport; the baseline)',
    examples: 'avbench scan, the library',
    outgoing: 'n/a',
    perRecipient: 'n/a',
    load: 'Wherever the scanner runs; no mail flow',
    onFailure: 'An error verdict, never clean',
  },
];

/** Table 1 (the interception approaches compared) with measured columns from the runs. */
export function approachRows(results: Results): ApproachRow[] {
  return APPROACHES.map((a) => {
    const all = results.runs.filter((r) => r.mode === a.mode);
    const scanning = all.filter((r) => r.baseline !== true);
    let bestMsgs: { value: number; label: string } | null = null;
    let bestP95: { value: number; label: string } | null = null;
    let detection: { min: number; max: number } | null = null;
    for (const r of scanning) {
      const msgs = completedThroughput(r).msgsPerSec;
      if (bestMsgs === null || msgs > bestMsgs.value) bestMsgs = { value: msgs, label: runLabel(r, results) };
      if (bestP95 === null || r.latencyMs.p95 < bestP95.value) bestP95 = { value: r.latencyMs.p95, label: runLabel(r, results) };
      const d = r.detection.detectionRate;
      if (d !== null) detection = detection === null ? { min: d, max: d } : { min: Math.min(detection.min, d), max: Math.max(detection.max, d) };
    }
    return { ...a, measured: { runs: scanning.length, bestMsgsPerSec: bestMsgs, bestP95, detection, lost: all.reduce((s, r) => s + runCounts(r).lost, 0) } };
  });
}

/** Why a message is listed among the problems. */
export type ProblemKind = 'missed' | 'false-positive' | 'error';

/** What one run said about one problem message. */
export interface RunSaid {
  run: Run;
  label: string;
  result: MessageResult;
  kind: ProblemKind | 'ok';
}

/** A message some scanner missed, flagged wrongly, or failed on. */
export interface ProblemMessage {
  file: string;
  category: string | undefined;
  expected: MessageResult['expected'];
  /** Where the payload sits (from the results, else the manifest). */
  part: string | undefined;
  /** The transfer encoding or container (from the manifest, when it was given). */
  encoding: string | undefined;
  kinds: ProblemKind[];
  /** Per scanner name (columns), what each of its runs said. */
  byScanner: Map<string, RunSaid[]>;
}

/** Classify one message result against its label (src/results/counts.ts's problemOf). */
export function problemKind(m: MessageResult): ProblemKind | 'ok' {
  return problemOf(m);
}

/**
 * Every message that a scanning run missed, flagged though clean, or failed on, sorted by
 * file name, with what every scanner said about it. `manifest` (optional) adds encodings.
 */
export function problemMessages(results: Results, manifest?: readonly ManifestEntry[]): { scanners: string[]; messages: ProblemMessage[] } {
  const runs = scanningRuns(results);
  const scanners = [...new Set(runs.map((r) => r.scanner.name))];
  const byFile = new Map<string, ManifestEntry>();
  for (const e of manifest ?? []) byFile.set(e.file, e);
  const perRun = runs.map((run) => {
    const m = new Map<string, MessageResult>();
    for (const res of run.results) if (!m.has(res.file)) m.set(res.file, res);
    return { run, label: runLabel(run, results), m };
  });
  const problemFiles = new Set<string>();
  for (const { m } of perRun) for (const res of m.values()) if (problemKind(res) !== 'ok') problemFiles.add(res.file);
  const messages: ProblemMessage[] = [...problemFiles].sort(compareStrings).map((file) => {
    const kinds = new Set<ProblemKind>();
    const byScanner = new Map<string, RunSaid[]>();
    let category: string | undefined;
    let expected: MessageResult['expected'];
    let part: string | undefined;
    for (const { run, label, m } of perRun) {
      const res = m.get(file);
      if (res === undefined) continue;
      const kind = problemKind(res);
      if (kind !== 'ok') kinds.add(kind);
      category ??= res.category;
      expected ??= res.expected;
      part ??= res.part;
      const list = byScanner.get(run.scanner.name) ?? [];
      list.push({ run, label, result: res, kind });
      byScanner.set(run.scanner.name, list);
    }
    const entry = byFile.get(file);
    return {
      file,
      category: category ?? entry?.category,
      expected: expected ?? entry?.expected,
      part: part ?? entry?.part,
      encoding: entry?.encoding,
      kinds: (['missed', 'false-positive', 'error'] as const).filter((k) => kinds.has(k)),
      byScanner,
    };
  });
  return { scanners, messages };
}

/** One line of what a run said: "infected: Name1, Name2", "clean", "error: TIMEOUT". */
export function saidText(r: MessageResult): string {
  let s: string = r.verdict;
  if (r.verdict === 'infected' && r.names.length > 0) s += `: ${r.names.join(', ')}`;
  if (r.verdict === 'error' && r.errorCode !== undefined) s += `: ${r.errorCode}`;
  return s;
}

/** Transport details of one result: fate, SMTP reply, milter action, exit code. */
export function transportText(r: MessageResult): string {
  const bits: string[] = [r.fate];
  if (r.smtpReply !== undefined) bits.push(`SMTP ${r.smtpReply}`);
  if (r.milterAction !== undefined) bits.push(`milter ${r.milterAction}`);
  if (r.exitCode !== undefined) bits.push(`exit ${r.exitCode}`);
  return bits.join(' · ');
}

/** Scanners as measured, one line per scanner name (first run's info). */
export function scannerInventory(results: Results): Run['scanner'][] {
  const seen = new Map<string, Run['scanner']>();
  for (const r of scanningRuns(results)) if (!seen.has(r.scanner.name)) seen.set(r.scanner.name, r.scanner);
  return [...seen.values()];
}

/** The modes present, in Table 1's order (direct, A smtp, B milter, C lda). */
export function modesOf(results: Results): ModeName[] {
  const order: ModeName[] = ['direct', 'smtp', 'milter', 'lda'];
  const present = new Set(results.runs.map((r) => r.mode));
  return order.filter((m) => present.has(m));
}

/** A run's cold and warm passes side by side (issue 14.1). */
export interface ColdWarmRow {
  run: Run;
  label: string;
  /** Completed msgs/s: warm = the run's figure (median warm repeat), cold = the median cold pass. */
  warmMsgsPerSec: number;
  coldMsgsPerSec: number;
  warmCi: Interval | null;
  coldCi: Interval | null;
  /** Median latency, ms. */
  warmP50: number;
  coldP50: number;
  /** warm / cold msgs/s (how much the caches and warm-up give); null when cold is 0. */
  ratio: number | null;
  /** False when the interval of the difference holds 0: no measurable difference between cold and warm. */
  measurable: boolean | null;
  /** How the cold passes emptied caches: clamd RELOADed, or only new whole-message bytes. */
  reset: 'reload' | 'unique-bytes';
}

/** Every run with cold passes: cold against warm. */
export function coldWarmRows(results: Results): ColdWarmRow[] {
  return results.runs.flatMap((run) => {
    const cold = run.cold;
    if (cold === undefined) return [];
    const coldRates = cold.repeats.map((r) => r.completedMsgsPerSec ?? r.msgsPerSec);
    const ci = meanInterval(coldRates);
    const warm = completedThroughput(run).msgsPerSec;
    return [
      {
        run,
        label: runLabel(run, results),
        warmMsgsPerSec: warm,
        coldMsgsPerSec: cold.msgsPerSec,
        warmCi: throughputInterval(run),
        coldCi: cold.throughputCi ?? (ci === null ? null : { low: Math.max(0, ci.low), high: ci.high, level: ci.level, method: 't' as const, n: ci.n }),
        warmP50: run.latencyMs.p50,
        coldP50: cold.latencyMs.p50,
        ratio: cold.msgsPerSec > 0 ? warm / cold.msgsPerSec : null,
        measurable: measurable(differenceInterval(repeatRates(run), coldRates)),
        reset: cold.reset,
      },
    ];
  });
}
