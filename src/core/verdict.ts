import type { Budget } from './limits.js';
import type { Detection, ErrorCode, ScanError, UncheckedPart, Verdict } from './types.js';

/** The clean verdict. */
export const CLEAN: Verdict = Object.freeze({ status: 'clean' }) as Verdict;

/** Build an infected verdict. */
export function infected(detections: Detection[]): Verdict {
  return { status: 'infected', detections };
}

/** Build an error verdict with a stable code. */
export function errorVerdict(code: ErrorCode, message: string): Verdict {
  return { status: 'error', error: { code, message } };
}

/**
 * A clean verdict that names the parts it could not look into; the verdict as it is when
 * it is not clean or there are none (an infected or error verdict says more already).
 */
export function withUnchecked(v: Verdict, unchecked: readonly UncheckedPart[]): Verdict {
  if (v.status !== 'clean' || unchecked.length === 0) return v;
  return { status: 'clean', unchecked: mergeUnchecked(v.unchecked ?? [], unchecked) };
}

/** An infected verdict that also reports the scan limits hit on the way; others as they are. */
export function withLimits(v: Verdict, limits: readonly ScanError[]): Verdict {
  if (v.status !== 'infected' || limits.length === 0) return v;
  return { status: 'infected', detections: v.detections, limits: [...(v.limits ?? []), ...limits] };
}

function mergeUnchecked(a: readonly UncheckedPart[], b: readonly UncheckedPart[]): UncheckedPart[] {
  const out = [...a];
  for (const u of b) if (!out.some((o) => o.part === u.part && o.reason === u.reason)) out.push(u);
  return out;
}

/**
 * Combine verdicts of several units (or scanners) into one: any detection wins (all
 * detections kept, with every limit any of them reported), else any error (the first
 * one), else clean (with every part any of them left unchecked). An error never becomes clean.
 */
export function mergeVerdicts(verdicts: Iterable<Verdict>): Verdict {
  const detections: Detection[] = [];
  let limits: ScanError[] | undefined;
  let unchecked: UncheckedPart[] | undefined;
  let firstError: Verdict | undefined;
  for (const v of verdicts) {
    if (v.status === 'infected') {
      detections.push(...v.detections);
      if (v.limits !== undefined) (limits ??= []).push(...v.limits.filter((l) => !limits?.some((k) => k.message === l.message)));
    } else if (v.status === 'error') {
      if (firstError === undefined) firstError = v;
    } else if (v.unchecked !== undefined) {
      unchecked = mergeUnchecked(unchecked ?? [], v.unchecked);
    }
  }
  if (detections.length > 0) return limits === undefined ? infected(detections) : { status: 'infected', detections, limits };
  return firstError ?? (unchecked === undefined ? CLEAN : { status: 'clean', unchecked });
}

/** Exit code convention of `avbench scan`: 0 all clean, 1 something infected, 2 an error. */
export function exitCodeFor(verdicts: Iterable<Verdict>): 0 | 1 | 2 {
  let code: 0 | 1 | 2 = 0;
  for (const v of verdicts) {
    if (v.status === 'error') return 2;
    if (v.status === 'infected') code = 1;
  }
  return code;
}

/**
 * A per-part scanner's verdict for one message, given what the walk met (`walkError`: the
 * limit or failure that stopped the MIME walk, if any; `budget`: the message's notes).
 * Infected outranks everything, and still reports every limit hit (the parts within the
 * limits were scanned). Otherwise: the walk's error, the scanner's error, a limit hit inside
 * a container (LIMIT_EXCEEDED), then other trouble noted (UNPARSEABLE...), else clean —
 * naming the parts it could not look into.
 */
export function partVerdict(v: Verdict, walkError: Verdict | undefined, budget: Budget): Verdict {
  if (v.status === 'infected') {
    const limits: ScanError[] = budget.limitHits.map((e) => ({ code: 'LIMIT_EXCEEDED', message: e.message }));
    if (walkError?.status === 'error' && walkError.error.code === 'LIMIT_EXCEEDED') limits.push(walkError.error);
    return withLimits(v, limits);
  }
  if (walkError !== undefined) return walkError;
  if (v.status === 'error') return v;
  const hit = budget.limitHits[0];
  if (hit !== undefined) return errorVerdict('LIMIT_EXCEEDED', hit.message);
  const problem = budget.problems[0];
  if (problem !== undefined) return errorVerdict(problem.code, problem.message);
  return withUnchecked(v, budget.unchecked);
}
