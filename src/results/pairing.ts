/**
 * How two results files are put side by side — one rule, used by `avbench report A B` and
 * by `avbench check` alike:
 *
 * - {@link runKey}: runs are the same cell when scanner (or `baseline`), mode, kind of
 *   system under test and concurrency agree. The SUT counts by its kind (`direct`, `ours`,
 *   `smtp`, `milter`, `milter+unix`, `lda`), not its address: lab daemons get new ports
 *   every run; a third-party SUT is told apart by its name, which is the run's scanner name.
 * - {@link pairRuns}: every key of either file, with the run on each side, and whether the
 *   two were loaded alike ({@link shapeKey}: a bench makes all its smtp runs in one load
 *   shape). Detection compares across shapes; speed does not.
 * - {@link pairMessages}: the messages of two paired runs, matched by corpus file name.
 * - {@link classifyChange}: what changed for one message, as one {@link ChangeKind}.
 */
import type { MessageResult, Results, Run } from './types.js';

/** The kind of a run's system under test: `direct`, `ours`, or the --sut URL's scheme. */
export function sutKind(sut: string): string {
  if (sut === 'direct' || sut === 'ours') return sut;
  const i = sut.indexOf(':');
  return i > 0 ? sut.slice(0, i) : sut;
}

/** The SMTP load shape (`per-message`, `kept-open`, `per-message@50/s`; a run recorded before shapes existed was kept-open); '' for other modes. */
export function shapeKey(run: Pick<Run, 'mode' | 'shape'>): string {
  if (run.mode !== 'smtp') return '';
  const s = run.shape ?? { connection: 'kept-open' as const };
  return `${s.connection}${s.rate === undefined ? '' : `@${s.rate}/s`}`;
}

/** The key two runs are matched by: `scanner/mode/sutKind/cN` (`baseline/...` for no-scan baselines). */
export function runKey(run: Pick<Run, 'scanner' | 'mode' | 'concurrency' | 'sut' | 'baseline'>): string {
  return `${run.baseline === true ? 'baseline' : run.scanner.name}/${run.mode}/${sutKind(run.sut)}/c${run.concurrency}`;
}

/** One key present in A, B or both. */
export interface RunMatch {
  key: string;
  before: Run | undefined;
  after: Run | undefined;
  /** Both present and loaded differently (an smtp run per-message on one side, kept-open on the other): speed figures do not compare. */
  shapeDiffers: boolean;
}

/** Every run key of `a` and `b` (A's order first, then B's new ones), each with its runs. */
export function pairRuns(a: Results, b: Results, include: (r: Run) => boolean = () => true): RunMatch[] {
  const mapA = new Map<string, Run>();
  const mapB = new Map<string, Run>();
  for (const r of a.runs) if (include(r) && !mapA.has(runKey(r))) mapA.set(runKey(r), r);
  for (const r of b.runs) if (include(r) && !mapB.has(runKey(r))) mapB.set(runKey(r), r);
  return [...new Set([...mapA.keys(), ...mapB.keys()])].map((key) => {
    const before = mapA.get(key);
    const after = mapB.get(key);
    return { key, before, after, shapeDiffers: before !== undefined && after !== undefined && shapeKey(before) !== shapeKey(after) };
  });
}

/** Messages of two paired runs, matched by file (the first record of a file counts). */
export interface MessagePairs {
  pairs: { file: string; before: MessageResult; after: MessageResult }[];
  /** In the run before only. */
  onlyBefore: MessageResult[];
  /** In the run after only. */
  onlyAfter: MessageResult[];
}

/** Match the messages of `before` and `after` by file name, in `after`'s order. */
export function pairMessages(before: Run, after: Run): MessagePairs {
  const a = new Map<string, MessageResult>();
  for (const m of before.results) if (!a.has(m.file)) a.set(m.file, m);
  const seen = new Set<string>();
  const out: MessagePairs = { pairs: [], onlyBefore: [], onlyAfter: [] };
  for (const m of after.results) {
    if (seen.has(m.file)) continue;
    seen.add(m.file);
    const old = a.get(m.file);
    if (old === undefined) out.onlyAfter.push(m);
    else out.pairs.push({ file: m.file, before: old, after: m });
  }
  for (const [file, m] of a) if (!seen.has(file)) out.onlyBefore.push(m);
  return out;
}

/** How one message's verdict changed from before to after. */
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
  /** A verdict now where there was an error before: found, or (expected infected) still not found. */
  | 'error-fixed'
  /** Infected both times, under other names. */
  | 'renamed';

const byCodeUnit = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);

/** What changed for one message (undefined: nothing that matters). The label of `after` wins, else `before`'s. */
export function classifyChange(before: MessageResult, after: MessageResult): ChangeKind | undefined {
  const expInf = (after.expected ?? before.expected) === 'infected';
  if (after.verdict === 'error' && before.verdict !== 'error') return 'new-error';
  if (before.verdict === 'infected' && after.verdict !== 'infected') return expInf ? 'newly-missed' : 'no-longer-flagged';
  if (before.verdict !== 'infected' && after.verdict === 'infected') {
    return expInf ? 'newly-detected' : 'newly-flagged';
  }
  if (before.verdict === 'error' && after.verdict !== 'error') return 'error-fixed';
  if (before.verdict === 'infected' && after.verdict === 'infected') {
    const na = [...before.names].sort(byCodeUnit).join('\n');
    const nb = [...after.names].sort(byCodeUnit).join('\n');
    if (na !== nb) return 'renamed';
  }
  return undefined;
}

/** Order of change kinds in reports: bad news first. */
export const CHANGE_ORDER: readonly ChangeKind[] = ['newly-missed', 'newly-flagged', 'new-error', 'renamed', 'newly-detected', 'no-longer-flagged', 'error-fixed'];
