/**
 * The one definition of every count a reader sees (issue 14.4): infected, clean, errors,
 * missed, false positives, lost, deadline hits ("timeouts") — and of the throughput over
 * completed messages (issue 14.3). The terminal table, report.html (ranking, category table,
 * charts), summary.md, `avbench check` (text, Markdown, JUnit) all read their counts here,
 * computed from the per-message records of results.json, so they cannot disagree.
 *
 * Definitions (each message of a run's median repeat counted once):
 * - infected / clean / errors: its verdict, whatever its label (`any` and unlabelled
 *   messages included — an error is an error wherever it happens);
 * - missed: labelled infected, said clean; falsePositives: labelled clean, said infected;
 * - tp / fn / fp / tn and the rates: labelled messages only (`any` is excluded from
 *   detection and false-positive rates, DESIGN.md "Corpus");
 * - lost: fate `lost` (sent and never accounted for);
 * - timeouts: messages that ended at a deadline — the SUT's own (e.g. clamsmtpd's TimeOut,
 *   flagged `deadline` by the bench), the driver's or the scanner's (`errorCode` TIMEOUT) —
 *   and timeoutSeconds the time they took.
 */
import type { DetectionCounts, MessageResult, Run, RunCounts } from './types.js';

export type { RunCounts } from './types.js';

/** The record fields counting needs. */
export type Countable = Pick<MessageResult, 'expected' | 'verdict' | 'fate' | 'ms'> & Partial<Pick<MessageResult, 'errorCode' | 'deadline' | 'category'>>;

/** True when a message ended at a deadline: flagged by the bench, or an error with code TIMEOUT. */
export function hitDeadline(r: Countable): boolean {
  return r.deadline === true || (r.verdict === 'error' && r.errorCode === 'TIMEOUT');
}

/** Is the message labelled (judged by detection)? */
export function isLabelled(r: Pick<MessageResult, 'expected'>): boolean {
  return r.expected === 'infected' || r.expected === 'clean';
}

/**
 * How a labelled message's verdict is judged: found (tp), missed (fn), a false positive (fp),
 * rightly clean (tn), or an error; undefined for a message labelled neither infected nor clean
 * (timed, not judged). The one judgement behind every detection count.
 */
export function judge(r: Pick<MessageResult, 'expected' | 'verdict'>): 'tp' | 'fn' | 'fp' | 'tn' | 'error' | undefined {
  if (!isLabelled(r)) return undefined;
  if (r.verdict === 'error') return 'error';
  if (r.expected === 'infected') return r.verdict === 'infected' ? 'tp' : 'fn';
  return r.verdict === 'infected' ? 'fp' : 'tn';
}

/** Why a message is a problem, or 'ok' — the classification the report's problem list and `check` use. */
export function problemOf(r: Pick<MessageResult, 'expected' | 'verdict'>): 'missed' | 'false-positive' | 'error' | 'ok' {
  if (r.verdict === 'error') return 'error';
  if (r.expected === 'infected' && r.verdict === 'clean') return 'missed';
  if (r.expected === 'clean' && r.verdict === 'infected') return 'false-positive';
  return 'ok';
}

/** Count `records` (optionally only those of `category`; `(none)` is the category of uncategorised ones). */
export function countRecords(records: Iterable<Countable>, category?: string): RunCounts {
  const c: RunCounts = {
    messages: 0,
    infected: 0,
    clean: 0,
    errors: 0,
    errorsLabelled: 0,
    missed: 0,
    falsePositives: 0,
    tp: 0,
    fn: 0,
    fp: 0,
    tn: 0,
    detectionRate: null,
    falsePositiveRate: null,
    lost: 0,
    timeouts: 0,
    timeoutSeconds: 0,
  };
  let timeoutMs = 0;
  for (const r of records) {
    if (category !== undefined && (r.category ?? '(none)') !== category) continue;
    c.messages++;
    if (r.verdict === 'infected') c.infected++;
    else if (r.verdict === 'clean') c.clean++;
    else c.errors++;
    if (r.fate === 'lost') c.lost++;
    if (hitDeadline(r)) {
      c.timeouts++;
      timeoutMs += r.ms;
    }
    const j = judge(r);
    if (j === 'error') c.errorsLabelled++;
    else if (j !== undefined) c[j]++;
  }
  c.missed = c.fn;
  c.falsePositives = c.fp;
  c.detectionRate = c.tp + c.fn === 0 ? null : c.tp / (c.tp + c.fn);
  c.falsePositiveRate = c.fp + c.tn === 0 ? null : c.fp / (c.fp + c.tn);
  c.timeoutSeconds = Math.round(timeoutMs) / 1000;
  return c;
}

const cache = new WeakMap<Run, Map<string, RunCounts>>();

/**
 * The counts of a run (or of one category of it) from its per-message records. Memoised per
 * run object: call it as often as needed.
 */
export function runCounts(run: Run, category?: string): RunCounts {
  let m = cache.get(run);
  if (m === undefined) cache.set(run, (m = new Map()));
  const key = category ?? '\0all';
  let c = m.get(key);
  if (c === undefined) m.set(key, (c = countRecords(run.results, category)));
  return c;
}

/**
 * The counts in the shape of results.json's DetectionCounts, with `errors` counted as
 * defined here (every error verdict, labelled or not): what the ranking, the category
 * table and `check` compare.
 */
export function detectionCounts(run: Run, category?: string): DetectionCounts {
  const c = runCounts(run, category);
  return { tp: c.tp, fn: c.fn, fp: c.fp, tn: c.tn, errors: c.errors, detectionRate: c.detectionRate, falsePositiveRate: c.falsePositiveRate };
}

/** The categories of a run's messages, sorted (labelled or not). */
export function categoriesOf(run: Run): string[] {
  const s = new Set<string>();
  for (const r of run.results) s.add(r.category ?? '(none)');
  return [...s].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * "All caught, no FP": at least one message labelled infected judged, every one found, no
 * clean one flagged, and no error on any message (an error on an `any` message — mail a
 * front end altered or gave up on — is a plumbing failure too).
 */
export function allCaughtNoFalsePositive(run: Run): boolean {
  const c = runCounts(run);
  return c.tp + c.fn > 0 && c.fn === 0 && c.fp === 0 && c.errors === 0;
}

/**
 * Throughput a reader should compare: over completed messages when the run records it
 * (messages that hit a deadline and the time only they held are left out), else the run's
 * throughput (older files; runs with no deadline hit, where both are the same).
 */
export function completedThroughput(run: Run): { msgsPerSec: number; mbPerSec: number } {
  return run.completed === undefined ? run.throughput : { msgsPerSec: run.completed.msgsPerSec, mbPerSec: run.completed.mbPerSec };
}

/** Deadline hits of a run: from the record when the bench wrote it, else counted from the messages. */
export function deadlineHits(run: Run): { messages: number; seconds: number } {
  const c = runCounts(run);
  return { messages: c.timeouts, seconds: c.timeoutSeconds };
}
