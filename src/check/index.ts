/**
 * `avbench check` as a library: compare results.json against an earlier one or a
 * thresholds file, and render the outcome as text, JUnit XML, Markdown or GitHub
 * workflow commands. docs/ci.md describes the behaviour.
 */
export { runCheck, updateBaseline, type CheckOptions, type CheckOutcome } from './run.js';
export { checkAgainstBaseline, type TimingLimits } from './compare.js';
export { evaluateThresholds, thresholdsFromResults, validateThresholds, thresholdsSchemaPath, THRESHOLDS_KIND, type Thresholds, type ThresholdRule, type CategoryRule } from './thresholds.js';
export { loadBaseline, loadResults, guessKind, CheckInputError, type Baseline } from './load.js';
export { regressions, ALL, type CheckReport, type CheckCase, type Finding, type Metric, type NamedMessage, type BaselineKind } from './findings.js';
export { formatText } from './text.js';
export { toJunitXml } from './junit.js';
export { toMarkdown } from './markdown.js';
export { annotations, githubOutput, escapeCommandData, escapeCommandProperty } from './github.js';
