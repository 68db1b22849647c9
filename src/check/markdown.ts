/**
 * The check as GitHub-flavoured Markdown (`--markdown FILE`, and the job summary appended
 * to $GITHUB_STEP_SUMMARY): verdict, notes, a table of regressions with their figures, and
 * the messages behind each. Every value from the corpus or a scanner goes through
 * escapeMarkdown (src/report/escape.ts).
 */
import { escapeMarkdown as md } from '../report/escape.js';
import { caseLabel, regressions, type CheckReport } from './findings.js';

/** At most this many messages per finding are listed. */
const MAX_LISTED = 50;

/** The Markdown of `report`. */
export function toMarkdown(report: CheckReport): string {
  const bad = regressions(report);
  const checks = report.cases.reduce((n, c) => n + c.findings.length, 0);
  const lines: string[] = [];
  lines.push(bad.length === 0 ? `## avbench check: passed (${checks} checks)` : `## avbench check: ${bad.length} regression(s)`, '');
  lines.push(`Results ${md(report.resultsFile)} against ${report.baselineKind === 'results' ? 'earlier results' : 'thresholds'} ${md(report.baselineFile)}; corpus ${md(report.corpus.path)} (${report.corpus.messages} messages); host ${md(report.host.cpuModel)} ×${report.host.cores}, ${md(report.host.os)}.`, '');
  for (const n of report.notes) lines.push(`> ${md(n)}`, '');
  if (bad.length > 0) {
    lines.push('| Scanner | Mode | Category | Check | Baseline | Now | Limit | What |', '|---|---|---|---|--:|--:|--:|---|');
    for (const { c, f } of bad) {
      const fig = (x: number | undefined): string => (x === undefined ? '' : md(String(Math.round(x * 10000) / 10000)));
      const mode = `${md(c.mode)}${c.concurrency !== undefined && c.concurrency !== 1 ? ` c${c.concurrency}` : ''}${c.sut !== undefined && c.sut !== 'direct' && c.sut !== 'ours' ? ` (${md(c.sut)})` : ''}`;
      lines.push(`| ${md(c.scanner)} | ${mode} | ${md(c.category)} | ${f.metric} | ${fig(f.baseline)} | ${fig(f.actual)} | ${fig(f.limit)} | ${md(f.message)} |`);
    }
    lines.push('');
    for (const { c, f } of bad) {
      if (f.messages === undefined || f.messages.length === 0) continue;
      lines.push(`**${md(caseLabel(c))}** — ${f.metric}:`, '');
      for (const m of f.messages.slice(0, MAX_LISTED)) lines.push(`- ${md(m.file)}${m.category !== undefined ? ` \\[${md(m.category)}\\]` : ''}: ${md(m.detail)}`);
      if (f.messages.length > MAX_LISTED) lines.push(`- … and ${f.messages.length - MAX_LISTED} more`);
      lines.push('');
    }
  }
  return `${lines.join('\n')}\n`;
}
