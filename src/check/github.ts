/**
 * GitHub Actions output of a check: `::error title=...::...` workflow commands (one per
 * regression, when GITHUB_ACTIONS=true) and the Markdown job summary appended to the file
 * named by $GITHUB_STEP_SUMMARY. Workflow-command escaping: in the message `%`, CR and LF
 * become `%25`, `%0D`, `%0A`; in a property value `:` and `,` also become `%3A`, `%2C` —
 * so a file name cannot end the command early or inject a second one.
 */
import { appendFile } from 'node:fs/promises';
import { caseLabel, regressions, type CheckReport } from './findings.js';
import { toMarkdown } from './markdown.js';

/** Escape the data part of a workflow command. */
export function escapeCommandData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escape a property value of a workflow command. */
export function escapeCommandProperty(s: string): string {
  return escapeCommandData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** At most this many messages are named in one annotation. */
const MAX_NAMED = 10;

/** The `::error` lines of `report` (empty when nothing regressed). */
export function annotations(report: CheckReport): string[] {
  return regressions(report).map(({ c, f }) => {
    const files = f.messages ?? [];
    const named = files.slice(0, MAX_NAMED).map((m) => `${m.file}: ${m.detail}`);
    if (files.length > MAX_NAMED) named.push(`... and ${files.length - MAX_NAMED} more`);
    const body = [f.message, ...named].join('\n');
    return `::error title=${escapeCommandProperty(`avbench check: ${caseLabel(c)} ${f.metric}`)}::${escapeCommandData(body)}`;
  });
}

/** Where check writes when it runs under GitHub Actions. */
export interface GithubEnv {
  GITHUB_ACTIONS?: string | undefined;
  GITHUB_STEP_SUMMARY?: string | undefined;
}

/**
 * Under GitHub Actions: write the annotations through `write` and append the Markdown
 * summary to $GITHUB_STEP_SUMMARY when set. Returns what it did (for the log).
 */
export async function githubOutput(report: CheckReport, env: GithubEnv, write: (s: string) => void): Promise<{ annotations: number; summary?: string }> {
  let n = 0;
  if (env.GITHUB_ACTIONS === 'true') {
    for (const line of annotations(report)) {
      write(`${line}\n`);
      n++;
    }
  }
  const file = env.GITHUB_STEP_SUMMARY;
  if (file !== undefined && file !== '') {
    await appendFile(file, toMarkdown(report));
    return { annotations: n, summary: file };
  }
  return { annotations: n };
}
