/**
 * Thresholds files: a small hand-written baseline for `avbench check` (JSON, validated by
 * schema/thresholds.schema.json). Rules per scanner × mode — `*` matches any — optionally
 * narrowed to a concurrency or SUT, with limits on the whole run and per category:
 *
 * ```json
 * { "kind": "avbench-thresholds", "version": 1,
 *   "rules": [
 *     { "scanner": "*", "mode": "*", "maxFalsePositives": 0, "maxErrors": 0 },
 *     { "scanner": "clamd", "mode": "direct", "minDetectionRate": 0.95,
 *       "categories": { "zip": { "minDetectionRate": 1 } } },
 *     { "scanner": "clamd", "mode": "smtp", "baselineMsgsPerSec": 800, "maxThroughputDropPercent": 30,
 *       "baselineP95Ms": 4, "maxP95RiseMs": 10 } ] }
 * ```
 *
 * Every rule that matches a run applies to it (a wildcard rule and a specific one both
 * hold). A rule that matches no run fails (a scanner that silently dropped out of the bench
 * must not pass) unless it says `"optional": true`. Timing limits apply only when a rule
 * asks for them, against the figure the rule records (`baselineMsgsPerSec`, `baselineP95Ms`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { packageRoot } from '../core/package-root.js';
import { completedThroughput, detectionCounts, isLabelled, problemOf, runCounts } from '../results/counts.js';
import type { DetectionCounts, MessageResult, Results, Run } from '../results/types.js';
import { ALL, num, pct, sutKind, type CheckCase, type Finding, type NamedMessage } from './findings.js';

/** The value of a thresholds file's `kind`. */
export const THRESHOLDS_KIND = 'avbench-thresholds';

/** Limits that apply to a whole run or to one category. */
export interface CategoryRule {
  /** Lowest acceptable tp / (tp + fn), 0..1. */
  minDetectionRate?: number;
  /** Most clean messages flagged. */
  maxFalsePositives?: number;
  /** Most labelled messages with an error verdict. */
  maxErrors?: number;
}

/** One rule of a thresholds file. */
export interface ThresholdRule extends CategoryRule {
  /** Scanner (or SUT) name, or `*`. */
  scanner: string;
  /** Mode, or `*`. */
  mode: '*' | 'direct' | 'smtp' | 'milter' | 'lda';
  /** Only runs at this concurrency. */
  concurrency?: number;
  /** Only runs whose SUT is this: `direct`, `ours`, a URL scheme (`smtp`, `milter`, `lda`) or a whole URL. */
  sut?: string;
  /** True: matching no run is not a failure. */
  optional?: boolean;
  description?: string;
  /** The throughput the drop is measured from (msgs/s; required with maxThroughputDropPercent). */
  baselineMsgsPerSec?: number;
  /** Largest acceptable throughput drop below baselineMsgsPerSec, in percent. */
  maxThroughputDropPercent?: number;
  /** The p95 latency a rise is measured from (ms; required with maxP95Rise*). */
  baselineP95Ms?: number;
  /** Largest acceptable p95 rise above baselineP95Ms, in ms. */
  maxP95RiseMs?: number;
  /** Largest acceptable p95 rise above baselineP95Ms, in percent. */
  maxP95RisePercent?: number;
  /** Per category; the key `*` applies to every category of the run. */
  categories?: Record<string, CategoryRule>;
}

/** A thresholds file. */
export interface Thresholds {
  $schema?: string;
  kind: typeof THRESHOLDS_KIND;
  version: 1;
  description?: string;
  /** Set by `--update-baseline`: where the figures came from. */
  generatedFrom?: { results?: string; startedAt?: string; host?: string; corpus?: string; manifestSha256?: string };
  rules: ThresholdRule[];
}

/** Where the schema lives in the package. */
export function thresholdsSchemaPath(): string {
  return join(packageRoot(), 'schema', 'thresholds.schema.json');
}

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (compiled !== undefined) return compiled;
  const schema = JSON.parse(readFileSync(thresholdsSchemaPath(), 'utf8')) as object;
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
  compiled = ajv.compile(schema);
  return compiled;
}

const CHECK_KEYS = ['minDetectionRate', 'maxFalsePositives', 'maxErrors', 'maxThroughputDropPercent', 'maxP95RiseMs', 'maxP95RisePercent', 'categories'] as const;

/** Every problem with `doc` as a thresholds file: `{ path: JSON Pointer, message }` (empty when valid). */
export function validateThresholds(doc: unknown): { path: string; message: string }[] {
  const validate = validator();
  if (!validate(doc)) {
    return (validate.errors ?? []).map((e) => {
      const params = e.params as { additionalProperty?: string; allowedValues?: unknown[] };
      let message = e.message ?? 'invalid';
      if (e.keyword === 'additionalProperties') message += `: ${String(params.additionalProperty)}`;
      if (e.keyword === 'enum') message += `: ${JSON.stringify(params.allowedValues)}`;
      return { path: e.instancePath === '' ? '/' : e.instancePath, message };
    });
  }
  const problems: { path: string; message: string }[] = [];
  for (const [i, rule] of (doc as Thresholds).rules.entries()) {
    if (!CHECK_KEYS.some((k) => rule[k] !== undefined)) {
      problems.push({ path: `/rules/${i}`, message: `the rule checks nothing: give at least one of ${CHECK_KEYS.join(', ')}` });
    }
  }
  return problems;
}

function matches(rule: ThresholdRule, run: Run): boolean {
  if (rule.scanner !== '*' && rule.scanner !== run.scanner.name) return false;
  if (rule.mode !== '*' && rule.mode !== run.mode) return false;
  if (rule.concurrency !== undefined && rule.concurrency !== run.concurrency) return false;
  if (rule.sut !== undefined && rule.sut !== run.sut && rule.sut !== sutKind(run.sut)) return false;
  return true;
}

/**
 * The messages of a run behind a count (src/results/counts.ts's definitions): missed and
 * flagged among labelled messages, errors on every message (`any` and unlabelled included).
 */
export function messagesOf(run: Run, kind: 'missed' | 'flagged' | 'errors', category?: string): NamedMessage[] {
  const out: NamedMessage[] = [];
  for (const r of run.results) {
    if (category !== undefined && (r.category ?? '(none)') !== category) continue;
    const p = problemOf(r);
    if (kind === 'errors' && p === 'error') out.push(named(r, `error${r.errorCode !== undefined ? ` ${r.errorCode}` : ''}${isLabelled(r) ? '' : ` (labelled ${r.expected ?? 'nothing'})`}`));
    else if (kind === 'missed' && p === 'missed') out.push(named(r, 'infected, said clean'));
    else if (kind === 'flagged' && p === 'false-positive') out.push(named(r, `clean, flagged${r.names.length > 0 ? ` as ${r.names.join(', ')}` : ''}`));
  }
  return out;
}

function named(r: MessageResult, detail: string): NamedMessage {
  return r.category === undefined ? { file: r.file, detail } : { file: r.file, category: r.category, detail };
}

const EPS = 1e-9;

/** Findings of the count limits of `rule` on `counts` (the run, or one of its categories). */
function countFindings(rule: CategoryRule, counts: DetectionCounts, run: Run, category: string | undefined, wildcard: boolean): Finding[] {
  const out: Finding[] = [];
  if (rule.minDetectionRate !== undefined) {
    const rate = counts.detectionRate;
    if (rate === null) {
      if (!wildcard) out.push({ metric: 'detection', ok: false, limit: rule.minDetectionRate, message: `no infected message was judged (detection rate n/a), at least ${pct(rule.minDetectionRate)} required` });
    } else {
      const ok = rate + EPS >= rule.minDetectionRate;
      const missed = messagesOf(run, 'missed', category);
      out.push({
        metric: 'detection',
        ok,
        actual: rate,
        limit: rule.minDetectionRate,
        message: `detection rate ${pct(rate)} (${counts.tp}/${counts.tp + counts.fn}) ${ok ? '≥' : 'is below'} the minimum ${pct(rule.minDetectionRate)}${missed.length > 0 ? `; ${missed.length} missed` : ''}`,
        ...(missed.length > 0 ? { messages: missed } : {}),
      });
    }
  }
  if (rule.maxFalsePositives !== undefined) {
    const ok = counts.fp <= rule.maxFalsePositives;
    const flagged = messagesOf(run, 'flagged', category);
    out.push({
      metric: 'false-positives',
      ok,
      actual: counts.fp,
      limit: rule.maxFalsePositives,
      message: `${counts.fp} clean message(s) flagged, at most ${rule.maxFalsePositives} allowed`,
      ...(flagged.length > 0 ? { messages: flagged } : {}),
    });
  }
  if (rule.maxErrors !== undefined) {
    const ok = counts.errors <= rule.maxErrors;
    const failed = messagesOf(run, 'errors', category);
    out.push({
      metric: 'errors',
      ok,
      actual: counts.errors,
      limit: rule.maxErrors,
      message: `${counts.errors} error verdict(s), at most ${rule.maxErrors} allowed`,
      ...(failed.length > 0 ? { messages: failed } : {}),
    });
  }
  return out;
}

/** Timing findings: throughput drop and p95 rise against the figures the rule records. */
function timingFindings(rule: ThresholdRule, run: Run): Finding[] {
  const out: Finding[] = [];
  if (rule.maxThroughputDropPercent !== undefined && rule.baselineMsgsPerSec !== undefined) {
    const base = rule.baselineMsgsPerSec;
    const now = completedThroughput(run).msgsPerSec;
    const drop = ((base - now) / base) * 100;
    const ok = drop <= rule.maxThroughputDropPercent + EPS;
    out.push({
      metric: 'throughput',
      ok,
      baseline: base,
      actual: now,
      limit: rule.maxThroughputDropPercent,
      message: `throughput ${num(now)} msg/s vs ${num(base)} recorded: ${drop >= 0 ? `${num(drop)}% lower` : `${num(-drop)}% higher`} (at most ${num(rule.maxThroughputDropPercent)}% lower allowed)`,
    });
  }
  if (rule.baselineP95Ms !== undefined && (rule.maxP95RiseMs !== undefined || rule.maxP95RisePercent !== undefined)) {
    out.push(p95Finding(rule.baselineP95Ms, run.latencyMs.p95, rule.maxP95RiseMs, rule.maxP95RisePercent, 'recorded'));
  }
  return out;
}

/** p95 latency rise against a baseline figure, in ms and/or percent. */
export function p95Finding(base: number, now: number, maxMs: number | undefined, maxPercent: number | undefined, what: string): Finding {
  const rise = now - base;
  const risePct = base > 0 ? (rise / base) * 100 : rise > 0 ? Infinity : 0;
  const okMs = maxMs === undefined || rise <= maxMs + EPS;
  const okPct = maxPercent === undefined || risePct <= maxPercent + EPS;
  const limits = [maxMs === undefined ? '' : `${num(maxMs)} ms`, maxPercent === undefined ? '' : `${num(maxPercent)}%`].filter((s) => s !== '').join(' and ');
  return {
    metric: 'p95',
    ok: okMs && okPct,
    baseline: base,
    actual: now,
    ...(maxMs !== undefined ? { limit: maxMs } : maxPercent !== undefined ? { limit: maxPercent } : {}),
    message: `p95 latency ${num(now)} ms vs ${num(base)} ms ${what}: ${rise >= 0 ? `+${num(rise)} ms` : `${num(rise)} ms`}${Number.isFinite(risePct) ? ` (${risePct >= 0 ? '+' : ''}${num(risePct)}%)` : ''} (rise of at most ${limits} allowed)`,
  };
}

function counts(run: Run, category?: string): NonNullable<CheckCase['counts']> {
  const c = runCounts(run, category);
  return { tp: c.tp, fn: c.fn, fp: c.fp, tn: c.tn, errors: c.errors, lost: c.lost, timeouts: c.timeouts };
}

/** The cases of one run: `(all)` first, then each of its categories (counts from src/results/counts.ts). */
export function casesOfRun(run: Run): Map<string, CheckCase> {
  const base = { scanner: run.scanner.name, mode: run.mode, concurrency: run.concurrency, sut: sutKind(run.sut) };
  const cases = new Map<string, CheckCase>();
  cases.set(ALL, { ...base, category: ALL, findings: [], counts: counts(run) });
  for (const cat of Object.keys(run.detection.byCategory)) cases.set(cat, { ...base, category: cat, findings: [], counts: counts(run, cat) });
  return cases;
}

/** Hold every checked run of `results` to the rules of `t`. */
export function evaluateThresholds(results: Results, t: Thresholds): { cases: CheckCase[]; notes: string[] } {
  const runs = results.runs.filter((r) => r.baseline !== true);
  const cases: CheckCase[] = [];
  const notes: string[] = [];
  const used = new Set<number>();
  for (const run of runs) {
    const rules = t.rules.map((r, i) => ({ r, i })).filter(({ r }) => matches(r, run));
    if (rules.length === 0) {
      notes.push(`run ${run.id} matches no rule: not checked`);
      continue;
    }
    const byCat = casesOfRun(run);
    const all = byCat.get(ALL) as CheckCase;
    for (const { r, i } of rules) {
      used.add(i);
      all.findings.push(...countFindings(r, detectionCounts(run), run, undefined, false), ...timingFindings(r, run));
      for (const [cat, rule] of Object.entries(r.categories ?? {})) {
        if (cat === '*') {
          for (const name of Object.keys(run.detection.byCategory)) (byCat.get(name) as CheckCase).findings.push(...countFindings(rule, detectionCounts(run, name), run, name, true));
          continue;
        }
        const c = run.detection.byCategory[cat] === undefined ? undefined : detectionCounts(run, cat);
        if (c === undefined) {
          const missing: CheckCase = { scanner: run.scanner.name, mode: run.mode, concurrency: run.concurrency, sut: sutKind(run.sut), category: cat, findings: [] };
          missing.findings.push({ metric: 'missing-category', ok: false, message: `category ${JSON.stringify(cat)} has no labelled message in this run (rule ${i + 1} checks it)` });
          byCat.set(cat, missing);
          continue;
        }
        (byCat.get(cat) as CheckCase).findings.push(...countFindings(rule, c, run, cat, false));
      }
    }
    cases.push(...byCat.values());
  }
  for (const [i, r] of t.rules.entries()) {
    if (used.has(i) || r.optional === true) continue;
    cases.push({
      scanner: r.scanner,
      mode: r.mode,
      ...(r.concurrency !== undefined ? { concurrency: r.concurrency } : {}),
      ...(r.sut !== undefined ? { sut: r.sut } : {}),
      category: ALL,
      findings: [{ metric: 'missing-run', ok: false, message: `rule ${i + 1} (${r.scanner} × ${r.mode}) matches no run in the results: was the scanner skipped or not asked for? (mark the rule "optional": true to allow that)` }],
    });
  }
  const skipped = results.skipped ?? [];
  for (const s of skipped) notes.push(`the bench skipped ${s.name}: ${s.reason}`);
  return { cases, notes };
}

/** Round down to 4 decimals (a measured rate as a minimum must not exceed the measurement). */
function floor4(x: number): number {
  return Math.floor(x * 10000 + EPS) / 10000;
}

/**
 * A thresholds file from measured results (`--update-baseline`): per scanner × mode (and SUT
 * kind when not ours), the lowest detection rate of its runs as the minimum, the most false
 * positives and errors as the maximums, and each category's lowest detection rate. No timing
 * limits: those are for a machine whose figures you trust, written by hand.
 */
export function thresholdsFromResults(results: Results, source: string): Thresholds {
  const groups = new Map<string, Run[]>();
  for (const run of results.runs) {
    if (run.baseline === true) continue;
    const key = `${run.scanner.name}\0${run.mode}\0${sutKind(run.sut)}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  const rules: ThresholdRule[] = [];
  for (const runs of groups.values()) {
    const first = runs[0] as Run;
    const sut = sutKind(first.sut);
    const rule: ThresholdRule = { scanner: first.scanner.name, mode: first.mode, ...(sut !== 'direct' && sut !== 'ours' ? { sut } : {}) };
    const rates = runs.map((r) => r.detection.detectionRate).filter((x): x is number => x !== null);
    if (rates.length > 0) rule.minDetectionRate = floor4(Math.min(...rates));
    rule.maxFalsePositives = Math.max(...runs.map((r) => runCounts(r).falsePositives));
    rule.maxErrors = Math.max(...runs.map((r) => runCounts(r).errors));
    const cats: Record<string, CategoryRule> = {};
    for (const cat of [...new Set(runs.flatMap((r) => Object.keys(r.detection.byCategory)))].sort()) {
      const catRates = runs.map((r) => r.detection.byCategory[cat]?.detectionRate).filter((x): x is number => typeof x === 'number');
      if (catRates.length > 0) cats[cat] = { minDetectionRate: floor4(Math.min(...catRates)) };
    }
    if (Object.keys(cats).length > 0) rule.categories = cats;
    rules.push(rule);
  }
  return {
    kind: THRESHOLDS_KIND,
    version: 1,
    description: 'Written by `avbench check --update-baseline` from measured results: detection, false positives and errors only (add timing limits by hand, for a machine whose figures you trust).',
    generatedFrom: {
      results: source,
      startedAt: results.startedAt,
      host: `${results.host.cpuModel} ×${results.host.cores}, ${results.host.os}`,
      corpus: results.corpus.path,
      ...(results.corpus.manifestSha256 !== undefined ? { manifestSha256: results.corpus.manifestSha256 } : {}),
    },
    rules,
  };
}
