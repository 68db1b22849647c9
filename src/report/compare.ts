/**
 * Two results files side by side — typically before and after a signature update: runs
 * matched by scanner × mode × SUT × concurrency, detection per category, msgs/s change,
 * and every message whose verdict changed.
 */
import type { MessageResult, Results, Run } from '../bench/results.js';
import { compareStrings } from './model.js';

/** How one message's verdict changed from A (before) to B (after). */
export type ChangeKind =
  /** Expected infected: found before, not found now (clean). */
  | 'newly-missed'
  /** Expected infected: not found before, found now. */
  | 'newly-detected'
  /** Not expected infected (clean, any, unlabelled): not flagged before, flagged now. */
  | 'newly-flagged'
  /** Not expected infected: flagged before, not now. */
  | 'no-longer-flagged'
  /** An error now where there was a verdict before. */
  | 'new-error'
  /** A verdict now where there was an error before (not counted above). */
  | 'error-fixed'
  /** Infected both times, under other names. */
  | 'renamed';

/** One message whose verdict changed in one matched run. */
export interface MessageChange {
  kind: ChangeKind;
  key: string;
  file: string;
  category: string | undefined;
  expected: MessageResult['expected'];
  before: MessageResult;
  after: MessageResult;
}

/** Per-category detection rate before and after. */
export interface CategoryDelta {
  category: string;
  before: number | null;
  after: number | null;
  /** after − before in percentage points; null when either is missing. */
  deltaPoints: number | null;
  fpBefore: number;
  fpAfter: number;
}

/** One run key present in A, B or both. */
export interface RunPair {
  /** "scanner/mode/sut/cN" (baselines "baseline/mode/sut/cN"). */
  key: string;
  label: string;
  before: Run | undefined;
  after: Run | undefined;
  /** Change of msgs/s in % of before; null unless both exist. */
  msgsPerSecChangePct: number | null;
  /** Change of p95 latency in % of before. */
  p95ChangePct: number | null;
  detectionDeltaPoints: number | null;
  byCategory: CategoryDelta[];
}

/** Everything that differs between two results files. */
export interface Comparison {
  before: Results;
  after: Results;
  pairs: RunPair[];
  changes: MessageChange[];
  /** Scanner versions and signatures that changed, per scanner name. */
  scannerChanges: { name: string; before: Run['scanner'] | undefined; after: Run['scanner'] | undefined }[];
  /** Files present in one side's run and not the other (per key), counted. */
  unmatchedMessages: number;
}

/** The key two runs are matched by. */
export function runKey(r: Run): string {
  return `${r.baseline === true ? 'baseline' : r.scanner.name}/${r.mode}/${r.sut}/c${r.concurrency}`;
}

function pairLabel(r: Run): string {
  const who = r.baseline === true ? 'no scan (baseline)' : r.scanner.name;
  const sut = r.sut !== 'direct' && r.sut !== 'ours' ? ` (${r.sut})` : '';
  return `${who} · ${r.mode}${sut} · c${r.concurrency}`;
}

const pct = (before: number, after: number): number | null => (before > 0 && Number.isFinite(before) && Number.isFinite(after) ? (after / before - 1) * 100 : null);

function classify(a: MessageResult, b: MessageResult): ChangeKind | undefined {
  const expInf = (b.expected ?? a.expected) === 'infected';
  if (b.verdict === 'error' && a.verdict !== 'error') return 'new-error';
  if (a.verdict === 'infected' && b.verdict !== 'infected') return expInf ? 'newly-missed' : 'no-longer-flagged';
  if (a.verdict !== 'infected' && b.verdict === 'infected') return expInf ? 'newly-detected' : 'newly-flagged';
  if (a.verdict === 'error' && b.verdict !== 'error') return 'error-fixed';
  if (a.verdict === 'infected' && b.verdict === 'infected') {
    const na = [...a.names].sort(compareStrings).join('\n');
    const nb = [...b.names].sort(compareStrings).join('\n');
    if (na !== nb) return 'renamed';
  }
  return undefined;
}

/** Order of change kinds in reports: bad news first. */
export const CHANGE_ORDER: readonly ChangeKind[] = ['newly-missed', 'newly-flagged', 'new-error', 'renamed', 'newly-detected', 'no-longer-flagged', 'error-fixed'];

/**
 * Compare two results files (A before, B after): runs matched by {@link runKey}, per-run
 * detection and speed changes, per-category detection deltas, and every changed message.
 */
export function compareResults(a: Results, b: Results): Comparison {
  const mapA = new Map(a.runs.map((r) => [runKey(r), r]));
  const mapB = new Map(b.runs.map((r) => [runKey(r), r]));
  const keys = [...new Set([...mapA.keys(), ...mapB.keys()])];
  const pairs: RunPair[] = [];
  const changes: MessageChange[] = [];
  let unmatched = 0;
  for (const key of keys) {
    const before = mapA.get(key);
    const after = mapB.get(key);
    const any = (after ?? before) as Run;
    const cats = [...new Set([...Object.keys(before?.detection.byCategory ?? {}), ...Object.keys(after?.detection.byCategory ?? {})])].sort(compareStrings);
    const byCategory = cats.map((category): CategoryDelta => {
      const cb = before?.detection.byCategory[category];
      const ca = after?.detection.byCategory[category];
      const rb = cb?.detectionRate ?? null;
      const ra = ca?.detectionRate ?? null;
      return { category, before: rb, after: ra, deltaPoints: rb !== null && ra !== null ? (ra - rb) * 100 : null, fpBefore: cb?.fp ?? 0, fpAfter: ca?.fp ?? 0 };
    });
    const db = before?.detection.detectionRate ?? null;
    const da = after?.detection.detectionRate ?? null;
    pairs.push({
      key,
      label: pairLabel(any),
      before,
      after,
      msgsPerSecChangePct: before !== undefined && after !== undefined ? pct(before.throughput.msgsPerSec, after.throughput.msgsPerSec) : null,
      p95ChangePct: before !== undefined && after !== undefined ? pct(before.latencyMs.p95, after.latencyMs.p95) : null,
      detectionDeltaPoints: db !== null && da !== null ? (da - db) * 100 : null,
      byCategory,
    });
    if (before === undefined || after === undefined || any.baseline === true) continue;
    const resA = new Map<string, MessageResult>();
    for (const m of before.results) if (!resA.has(m.file)) resA.set(m.file, m);
    const seen = new Set<string>();
    for (const mb of after.results) {
      if (seen.has(mb.file)) continue;
      seen.add(mb.file);
      const ma = resA.get(mb.file);
      if (ma === undefined) {
        unmatched++;
        continue;
      }
      const kind = classify(ma, mb);
      if (kind !== undefined) changes.push({ kind, key, file: mb.file, category: mb.category ?? ma.category, expected: mb.expected ?? ma.expected, before: ma, after: mb });
    }
    for (const f of resA.keys()) if (!seen.has(f)) unmatched++;
  }
  changes.sort((x, y) => CHANGE_ORDER.indexOf(x.kind) - CHANGE_ORDER.indexOf(y.kind) || compareStrings(x.file, y.file) || compareStrings(x.key, y.key));
  const scanners = (r: Results): Map<string, Run['scanner']> => {
    const m = new Map<string, Run['scanner']>();
    for (const run of r.runs) if (run.baseline !== true && !m.has(run.scanner.name)) m.set(run.scanner.name, run.scanner);
    return m;
  };
  const sa = scanners(a);
  const sb = scanners(b);
  const scannerChanges = [...new Set([...sa.keys(), ...sb.keys()])]
    .map((name) => ({ name, before: sa.get(name), after: sb.get(name) }))
    .filter((s) => s.before?.version !== s.after?.version || s.before?.signatures !== s.after?.signatures || s.before?.type !== s.after?.type);
  return { before: a, after: b, pairs, changes, scannerChanges, unmatchedMessages: unmatched };
}
