/**
 * Two results files side by side — typically before and after a signature update: runs
 * paired as src/results/pairing.ts pairs them (the same rule as `avbench check`), detection
 * per category, msgs/s change (only between runs loaded alike), and every message whose
 * verdict changed.
 */
import { CHANGE_ORDER, classifyChange, pairMessages, pairRuns, type ChangeKind } from '../results/pairing.js';
import { completedThroughput } from '../results/counts.js';
import type { MessageResult, Results, Run } from '../results/types.js';
import { compareStrings, speedDiffers } from './model.js';

export { CHANGE_ORDER, runKey, type ChangeKind } from '../results/pairing.js';

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
  /** Both exist but were loaded differently (smtp per-message vs kept-open): no speed change is given. */
  shapeDiffers: boolean;
  /** Change of msgs/s in % of before; null unless both exist and were loaded alike. */
  msgsPerSecChangePct: number | null;
  /**
   * False when the change is within the uncertainty (the 95 % Welch interval of the
   * difference of the two runs' mean repeat rates holds 0): no measurable difference. Null
   * without a change or with fewer than two repeats on a side.
   */
  msgsPerSecMeasurable: boolean | null;
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


function pairLabel(r: Run): string {
  const who = r.baseline === true ? 'no scan (baseline)' : r.scanner.name;
  const sut = r.sut !== 'direct' && r.sut !== 'ours' ? ` (${r.sut})` : '';
  return `${who} · ${r.mode}${sut} · c${r.concurrency}`;
}

const pct = (before: number, after: number): number | null => (before > 0 && Number.isFinite(before) && Number.isFinite(after) ? (after / before - 1) * 100 : null);


/**
 * Compare two results files (A before, B after): runs paired by `pairRuns`, per-run
 * detection and speed changes, per-category detection deltas, and every changed message.
 */
export function compareResults(a: Results, b: Results): Comparison {
  const pairs: RunPair[] = [];
  const changes: MessageChange[] = [];
  let unmatched = 0;
  for (const { key, before, after, shapeDiffers } of pairRuns(a, b)) {
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
    const timed = before !== undefined && after !== undefined && !shapeDiffers;
    pairs.push({
      key,
      label: pairLabel(any),
      before,
      after,
      shapeDiffers,
      msgsPerSecChangePct: timed ? pct(completedThroughput(before).msgsPerSec, completedThroughput(after).msgsPerSec) : null,
      msgsPerSecMeasurable: timed ? speedDiffers(after, before) : null,
      p95ChangePct: timed ? pct(before.latencyMs.p95, after.latencyMs.p95) : null,
      detectionDeltaPoints: db !== null && da !== null ? (da - db) * 100 : null,
      byCategory,
    });
    if (before === undefined || after === undefined || any.baseline === true) continue;
    const matched = pairMessages(before, after);
    unmatched += matched.onlyBefore.length + matched.onlyAfter.length;
    for (const { file, before: ma, after: mb } of matched.pairs) {
      const kind = classifyChange(ma, mb);
      if (kind !== undefined) changes.push({ kind, key, file, category: mb.category ?? ma.category, expected: mb.expected ?? ma.expected, before: ma, after: mb });
    }
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
