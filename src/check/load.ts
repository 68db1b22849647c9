/**
 * Reading the two inputs of `avbench check`: a results.json (validated with
 * validateResults) and a baseline that is either an earlier results.json or a thresholds
 * file (validated with schema/thresholds.schema.json). Anything unusable throws a
 * {@link CheckInputError} whose message names the file, what it looked like, and the
 * JSON Pointer of each problem — `avbench check` prints it and exits 2.
 */
import { readFile } from 'node:fs/promises';
import type { Results } from '../results/types.js';
import { validateResults } from '../results/schema.js';
import type { BaselineKind } from './findings.js';
import { THRESHOLDS_KIND, validateThresholds, type Thresholds } from './thresholds.js';

/** Unusable input: a missing file, not JSON, or a document that does not validate. */
export class CheckInputError extends Error {
  override readonly name = 'CheckInputError';
}

/** A loaded baseline, by kind. */
export type Baseline = { kind: 'results'; doc: Results } | { kind: 'thresholds'; doc: Thresholds };

/** At most this many problems are listed in one message. */
const MAX_PROBLEMS = 12;

async function readJson(file: string, role: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CheckInputError(`${role} ${file}: cannot read it (${code === 'ENOENT' ? 'no such file' : (err as Error).message})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CheckInputError(`${role} ${file}: not JSON: ${(err as Error).message}`);
  }
}

/** Which kind a parsed document looks like, from its top-level keys; undefined: neither. */
export function guessKind(doc: unknown): BaselineKind | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const o = doc as Record<string, unknown>;
  if (o['kind'] === THRESHOLDS_KIND || 'rules' in o) return 'thresholds';
  if ('schemaVersion' in o || 'runs' in o) return 'results';
  return undefined;
}

function problemText(problems: readonly { path: string; message: string }[]): string {
  const shown = problems.slice(0, MAX_PROBLEMS).map((p) => `  at ${p.path}: ${p.message}`);
  if (problems.length > MAX_PROBLEMS) shown.push(`  ... and ${problems.length - MAX_PROBLEMS} more`);
  return shown.join('\n');
}

function asResults(doc: unknown, file: string, role: string): Results {
  const problems = validateResults(doc);
  if (problems.length > 0) {
    throw new CheckInputError(`${role} ${file} looks like a results.json but does not validate against schema/results.schema.json:\n${problemText(problems)}`);
  }
  return doc as Results;
}

function asThresholds(doc: unknown, file: string, role: string): Thresholds {
  const problems = validateThresholds(doc);
  if (problems.length > 0) {
    throw new CheckInputError(`${role} ${file} looks like a thresholds file but does not validate against schema/thresholds.schema.json:\n${problemText(problems)}`);
  }
  return doc as Thresholds;
}

/** Read and validate the results to check. */
export async function loadResults(file: string): Promise<Results> {
  const doc = await readJson(file, 'results');
  const kind = guessKind(doc);
  if (kind === 'thresholds') throw new CheckInputError(`results ${file} is a thresholds file; --results wants a results.json written by \`avbench bench\``);
  return asResults(doc, file, 'results');
}

/** Read and validate a baseline: an earlier results.json or a thresholds file. */
export async function loadBaseline(file: string): Promise<Baseline> {
  const doc = await readJson(file, 'baseline');
  const kind = guessKind(doc);
  if (kind === undefined) {
    throw new CheckInputError(
      `baseline ${file} looks like neither a results.json (top-level "schemaVersion" and "runs") nor a thresholds file (top-level "kind": "${THRESHOLDS_KIND}" and "rules")`,
    );
  }
  return kind === 'results' ? { kind, doc: asResults(doc, file, 'baseline') } : { kind, doc: asThresholds(doc, file, 'baseline') };
}
