/**
 * What every process-based adapter (clamscan, clamdscan, yara, cli) shares: the deadline
 * of one run, turning a failed run into error verdicts, and the batch frame (abort check,
 * private temp folder, removal on every path). Processes still go only through
 * src/core/exec.ts `run()`.
 */
import type { RunResult } from '../src/core/exec.js';
import type { Detection, ErrorCode, ScanContext, ScanUnit, Verdict } from '../src/core/types.js';
import { CLEAN, errorVerdict, infected } from '../src/core/verdict.js';
import { writeUnitFiles, type UnitFileOptions, type UnitFiles } from './tempdir.js';

/** Absolute deadline for one run: the caller's deadline, shortened by the adapter's own `timeoutMs`. */
export function deadlineFor(ctx: ScanContext, timeoutMs?: number): number {
  return timeoutMs === undefined ? ctx.deadline : Math.min(ctx.deadline, Date.now() + timeoutMs);
}

/** The last `max` characters of a program's output, on one line, for error messages. */
export function excerpt(text: string, max = 300): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length <= max ? t : `…${t.slice(t.length - max)}`;
}

/** Error code for a run that did not end in a normal exit. */
export function failureCode(r: Extract<RunResult, { ok: false }>): ErrorCode {
  return r.reason;
}

/** `count` copies of one error verdict. */
export function allError(count: number, code: ErrorCode, message: string): Verdict[] {
  return Array.from({ length: count }, () => errorVerdict(code, message));
}

/** Per-unit findings gathered from a scanner's output. */
export interface UnitFindings {
  detections: string[];
  /** The scanner said this file was fine (`PATH: OK`). */
  ok: boolean;
  /** Per-file error text the scanner printed (`PATH: ... ERROR`, `error scanning PATH`). */
  errors: string[];
}

/** Fresh, empty findings for `count` units. */
export function emptyFindings(count: number): UnitFindings[] {
  return Array.from({ length: count }, () => ({ detections: [], ok: false, errors: [] }));
}

/** The infected verdict for one unit's detection names (deduplicated, order kept). */
export function infectedVerdict(names: readonly string[], scanner: string, unit: ScanUnit): Verdict {
  const seen = new Set<string>();
  const detections: Detection[] = [];
  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    detections.push(unit.kind === 'part' ? { name, scanner, part: unit.location } : { name, scanner });
  }
  return infected(detections);
}

/** Re-export so adapters need one import for the verdict builders. */
export { CLEAN, errorVerdict };

/**
 * The frame of one batch: an already-aborted signal or a passed deadline gives error
 * verdicts without starting anything; the units are written to a private temp folder
 * (a write failure gives `IO` errors); `fn` runs; the folder is removed on every path.
 * `fn` must return one verdict per unit, in order.
 */
export async function runBatch(
  units: readonly ScanUnit[],
  ctx: ScanContext,
  fn: (files: UnitFiles) => Promise<Verdict[]>,
  opts: UnitFileOptions = {},
): Promise<Verdict[]> {
  if (units.length === 0) return [];
  if (ctx.signal.aborted) return allError(units.length, 'ABORTED', 'scan aborted before it started');
  if (Date.now() >= ctx.deadline) return allError(units.length, 'TIMEOUT', 'deadline passed before the scan started');
  let files: UnitFiles;
  try {
    files = await writeUnitFiles(units, opts);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return allError(units.length, 'IO', `could not write the units to a private temp folder: ${msg}`);
  }
  let verdicts: Verdict[];
  try {
    verdicts = await fn(files);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return allError(units.length, 'INTERNAL', `process adapter failed: ${msg}`);
  } finally {
    await files.remove().catch(() => undefined);
  }
  if (verdicts.length !== units.length) {
    return allError(units.length, 'INTERNAL', `adapter returned ${verdicts.length} verdicts for ${units.length} units`);
  }
  return verdicts;
}
