/**
 * Validating a results.json document against schema/results.schema.json (JSON Schema
 * 2020-12, strict) plus the rules a schema cannot say: every run's fates add up to its
 * messages, and it holds one record per message. `avbench check` and `avbench report` use it.
 * Schema versions 1 and 2 are read (types.ts SCHEMA_VERSION says what each holds).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { packageRoot } from '../core/package-root.js';
import { READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION } from './types.js';

/** One problem: a JSON Pointer to where (`/runs/0/fates`), and what is wrong. */
export interface SchemaProblem {
  path: string;
  message: string;
}

/** Where the schema lives in the package. */
export function resultsSchemaPath(): string {
  return join(packageRoot(), 'schema', 'results.schema.json');
}

let compiled: ValidateFunction | undefined;

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function validator(): ValidateFunction {
  if (compiled !== undefined) return compiled;
  const schema = JSON.parse(readFileSync(resultsSchemaPath(), 'utf8')) as object;
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true, allowUnionTypes: true });
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)) });
  compiled = ajv.compile(schema);
  return compiled;
}

/**
 * Every problem with `doc` as a results.json (empty when it is valid). Both readable schema
 * versions validate: 2 (what `bench` writes now) and 1 (older files, where what version 2
 * always writes may be absent); a later version is named as such.
 */
export function validateResults(doc: unknown): SchemaProblem[] {
  const version = typeof doc === 'object' && doc !== null ? (doc as { schemaVersion?: unknown }).schemaVersion : undefined;
  if (typeof version === 'number' && Number.isInteger(version) && version > SCHEMA_VERSION) {
    return [{ path: '/schemaVersion', message: `schema version ${version} is newer than this avbench reads (${READABLE_SCHEMA_VERSIONS.join(', ')}): written by a later avbench` }];
  }
  const validate = validator();
  if (!validate(doc)) {
    return (validate.errors ?? []).map((e) => ({
      path: e.instancePath === '' ? '/' : e.instancePath,
      message: `${e.message ?? 'invalid'}${e.keyword === 'additionalProperties' ? `: ${String((e.params as { additionalProperty?: string }).additionalProperty)}` : ''}`,
    }));
  }
  const problems: SchemaProblem[] = [];
  const runs = (doc as { runs: Array<{ messages: number; fates: Record<string, number>; results: unknown[] }> }).runs;
  for (const [i, run] of runs.entries()) {
    const sum = Object.values(run.fates).reduce((s, n) => s + n, 0);
    if (sum !== run.messages) problems.push({ path: `/runs/${i}/fates`, message: `fates add up to ${sum}, but the run has ${run.messages} messages` });
    if (run.results.length !== run.messages) problems.push({ path: `/runs/${i}/results`, message: `${run.results.length} records for ${run.messages} messages` });
  }
  return problems;
}
