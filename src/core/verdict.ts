import type { Detection, ErrorCode, Verdict } from './types.js';

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
 * Combine verdicts of several units (or scanners) into one: any detection wins (all
 * detections kept), else any error (the first one), else clean. An error never becomes clean.
 */
export function mergeVerdicts(verdicts: Iterable<Verdict>): Verdict {
  const detections: Detection[] = [];
  let firstError: Verdict | undefined;
  for (const v of verdicts) {
    if (v.status === 'infected') detections.push(...v.detections);
    else if (v.status === 'error' && firstError === undefined) firstError = v;
  }
  if (detections.length > 0) return infected(detections);
  return firstError ?? CLEAN;
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
