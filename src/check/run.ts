/**
 * `avbench check` as a function: load and validate, compare or evaluate, write JUnit /
 * Markdown / GitHub output, print the text report; exit code 0 (no regression), 1 (a
 * regression), 2 (unusable input). `--update-baseline` writes a new baseline instead.
 *
 * `--update-baseline` keeps the baseline's kind: an existing results.json baseline is
 * replaced by a copy of the new results; an existing thresholds file by thresholds derived
 * from the new results (thresholdsFromResults: detection, false positives, errors — no
 * timing). A baseline that does not exist yet becomes a thresholds file when its name ends
 * in `.thresholds.json`, else a copy of the results.
 */
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Results } from '../results/types.js';
import { writeResultsFile } from '../bench/write.js';
import { checkAgainstBaseline, type TimingLimits } from './compare.js';
import { githubOutput, type GithubEnv } from './github.js';
import { toJunitXml } from './junit.js';
import { CheckInputError, guessKind, loadBaseline, loadResults } from './load.js';
import { toMarkdown } from './markdown.js';
import { regressions, type BaselineKind, type CheckReport } from './findings.js';
import { formatText, printable } from './text.js';
import { evaluateThresholds, thresholdsFromResults } from './thresholds.js';

/** Options of {@link runCheck}. */
export interface CheckOptions {
  /** The results.json to check. */
  results: string;
  /** An earlier results.json or a thresholds file. */
  baseline: string;
  /** Write JUnit XML here. */
  junit?: string;
  /** Write the Markdown summary here. */
  markdown?: string;
  /** Write a new baseline from the results instead of checking. */
  updateBaseline?: boolean;
  /** Timing limits for results-vs-results (off unless given). */
  timing?: TimingLimits;
  /** Environment for the GitHub output (default process.env). */
  env?: GithubEnv;
  /** Where the report goes (default stdout). */
  out?: (s: string) => void;
  /** Where problems go (default stderr). */
  err?: (s: string) => void;
}

/** What {@link runCheck} ended with. */
export interface CheckOutcome {
  exitCode: 0 | 1 | 2;
  report?: CheckReport;
  /** With --update-baseline: the kind written. */
  wrote?: BaselineKind;
}

async function kindToWrite(file: string): Promise<BaselineKind> {
  try {
    const kind = guessKind(JSON.parse(await readFile(file, 'utf8')) as unknown);
    if (kind !== undefined) return kind;
  } catch {
    /* missing or not JSON: decide by name */
  }
  return file.endsWith('.thresholds.json') ? 'thresholds' : 'results';
}

/** Write a new baseline from `results` (see the module comment for which kind). */
export async function updateBaseline(results: Results, resultsFile: string, file: string): Promise<BaselineKind> {
  const kind = await kindToWrite(file);
  await mkdir(dirname(file), { recursive: true });
  if (kind === 'results') await writeResultsFile(file, results);
  else await writeFile(file, `${JSON.stringify(thresholdsFromResults(results, resultsFile), null, 2)}\n`, { mode: 0o644 });
  return kind;
}

async function writeOut(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text, { mode: 0o644 });
}

/** Run a check; never throws for bad input (exit 2 with a message instead). */
export async function runCheck(o: CheckOptions): Promise<CheckOutcome> {
  const out = o.out ?? ((s: string) => void process.stdout.write(s));
  const err = o.err ?? ((s: string) => void process.stderr.write(s));
  const timing = o.timing ?? {};
  const timed = Object.values(timing).some((v) => v !== undefined);
  try {
    const results = await loadResults(o.results);
    if (o.updateBaseline === true) {
      const kind = await updateBaseline(results, o.results, o.baseline);
      out(`avbench check: wrote ${kind === 'results' ? 'a copy of the results' : 'a thresholds file derived from the results'} to ${printable(o.baseline)}\n`);
      return { exitCode: 0, wrote: kind };
    }
    const baseline = await loadBaseline(o.baseline);
    if (baseline.kind === 'thresholds' && timed) {
      throw new CheckInputError(`--max-throughput-drop-percent / --max-p95-rise-* compare two results files; baseline ${o.baseline} is a thresholds file: put baselineMsgsPerSec + maxThroughputDropPercent (or baselineP95Ms + maxP95RiseMs) in its rules instead`);
    }
    const { cases, notes } = baseline.kind === 'results' ? checkAgainstBaseline(baseline.doc, results, timing) : evaluateThresholds(results, baseline.doc);
    if (baseline.kind === 'thresholds' && !baseline.doc.rules.some((r) => r.maxThroughputDropPercent !== undefined || r.maxP95RiseMs !== undefined || r.maxP95RisePercent !== undefined)) {
      notes.unshift('throughput and latency are not checked: no rule of the thresholds file asks for them');
    }
    const report: CheckReport = { resultsFile: o.results, baselineFile: o.baseline, baselineKind: baseline.kind, host: results.host, corpus: results.corpus, notes, cases };
    if (o.junit !== undefined) await writeOut(o.junit, toJunitXml(report, results.startedAt));
    if (o.markdown !== undefined) await writeOut(o.markdown, toMarkdown(report));
    await githubOutput(report, o.env ?? process.env, out);
    out(formatText(report));
    return { exitCode: regressions(report).length > 0 ? 1 : 0, report };
  } catch (e) {
    if (e instanceof CheckInputError) {
      err(`avbench check: ${e.message.split('\n').map(printable).join('\n')}\n`);
      return { exitCode: 2 };
    }
    throw e;
  }
}
