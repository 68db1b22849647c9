/**
 * The terminal output of `avbench check`: what regressed and by how much, naming the
 * messages, then a one-line verdict. File names and categories come from the corpus and
 * may be hostile: control characters (ESC sequences included) are printed as `\xNN`.
 */
import { caseLabel, regressions, type CheckReport, type NamedMessage } from './findings.js';

/** `s` with C0/C1 control characters and DEL shown as `\xNN` (no terminal escapes get through). */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** At most this many messages are listed per finding in the terminal (all of them go to JUnit). */
const MAX_LISTED = 20;

function listMessages(list: readonly NamedMessage[], indent: string): string[] {
  const lines = list.slice(0, MAX_LISTED).map((m) => `${indent}${printable(m.file)}${m.category !== undefined ? ` [${printable(m.category)}]` : ''}: ${printable(m.detail)}`);
  if (list.length > MAX_LISTED) lines.push(`${indent}... and ${list.length - MAX_LISTED} more (see --junit / --markdown)`);
  return lines;
}

/** The whole text report. */
export function formatText(report: CheckReport): string {
  const lines: string[] = [];
  lines.push(`avbench check: ${printable(report.resultsFile)} against ${report.baselineKind === 'results' ? 'the earlier results' : 'the thresholds'} in ${printable(report.baselineFile)}`);
  for (const n of report.notes) lines.push(`note: ${printable(n)}`);
  const bad = regressions(report);
  for (const { c, f } of bad) {
    lines.push(`REGRESSION ${printable(caseLabel(c))}: ${printable(f.message)}`);
    if (f.messages !== undefined && f.messages.length > 0) lines.push(...listMessages(f.messages, '    '));
  }
  const checks = report.cases.reduce((n, c) => n + c.findings.length, 0);
  const cells = new Set(bad.map(({ c }) => `${c.scanner}\0${c.mode}\0${c.concurrency ?? ''}\0${c.sut ?? ''}`));
  lines.push(
    bad.length === 0
      ? `ok: ${checks} check(s) passed over ${report.cases.length} case(s)`
      : `FAILED: ${bad.length} regression(s) in ${cells.size} scanner × mode cell(s); ${checks - bad.length} of ${checks} check(s) passed`,
  );
  return `${lines.join('\n')}\n`;
}
