/**
 * The report: everything renders from results.json alone (DESIGN.md "Report") —
 * report.html (self-contained, Chart.js inlined, no network), PNG charts, summary.md —
 * and the before/after comparison of two results files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Results } from '../results/types.js';
import { compareLatencyChart, compareThroughputChart } from './charts.js';
import { compareResults, type Comparison } from './compare.js';
import { renderCompareHtml } from './compare-html.js';
import { renderHtml, type RenderOptions } from './html.js';
import { renderCompareMarkdown, renderMarkdown } from './markdown.js';
import { renderPngs, writeChartPngs } from './png.js';

export { renderHtml, type RenderOptions } from './html.js';
export { renderMarkdown, renderCompareMarkdown, type MarkdownOptions } from './markdown.js';
export { renderPngs, chartToPng } from './png.js';
export { compareResults, runKey, CHANGE_ORDER, type Comparison, type ChangeKind, type MessageChange, type RunPair, type CategoryDelta } from './compare.js';
export { renderCompareHtml, type CompareRenderOptions } from './compare-html.js';
export { escapeHtml, escapeMarkdown, jsonForScript, html, rawHtml, SafeHtml } from './escape.js';
export { chartSet, CHART_NAMES, type ChartSpec, type ChartSet } from './charts.js';
export { rankRuns, categoryMatrix, problemMessages, approachRows, overheadRows, type RankRow, type ColumnKey, type ProblemMessage } from './model.js';

/** The files a report run wrote. */
export interface WrittenReport {
  /** report.html */
  html: string;
  /** throughput.png, latency.png, overhead.png (those with data). */
  pngs: string[];
  /** summary.md */
  markdown: string;
}

/** Options of {@link writeReport}. */
export interface WriteReportOptions extends RenderOptions {
  /** Skip the PNG charts. */
  noPng?: boolean;
}

/**
 * Write report.html, summary.md and the PNG charts for `results` into `outDir` (created if
 * missing). The same results (and manifest) give byte-identical files.
 */
export async function writeReport(results: Results, outDir: string, opts: WriteReportOptions = {}): Promise<WrittenReport> {
  await mkdir(outDir, { recursive: true });
  const htmlPath = join(outDir, 'report.html');
  const mdPath = join(outDir, 'summary.md');
  await writeFile(htmlPath, renderHtml(results, opts));
  await writeFile(mdPath, renderMarkdown(results));
  const pngs = opts.noPng === true ? [] : await renderPngs(results, outDir);
  return { html: htmlPath, pngs, markdown: mdPath };
}

/**
 * Write the before → after comparison of two results files into `outDir`: report.html,
 * summary.md, throughput.png and latency.png (before/after bars). Returns the paths and
 * the comparison itself.
 */
export async function writeComparison(before: Results, after: Results, outDir: string, opts: { noPng?: boolean } = {}): Promise<WrittenReport & { comparison: Comparison }> {
  await mkdir(outDir, { recursive: true });
  const c = compareResults(before, after);
  const htmlPath = join(outDir, 'report.html');
  const mdPath = join(outDir, 'summary.md');
  await writeFile(htmlPath, renderCompareHtml(c));
  await writeFile(mdPath, renderCompareMarkdown(c));
  let pngs: string[] = [];
  if (opts.noPng !== true) {
    const tp = c.pairs.map((p) => ({ label: p.label, before: p.before?.throughput.msgsPerSec ?? null, after: p.after?.throughput.msgsPerSec ?? null }));
    const lp = c.pairs.map((p) => ({ label: p.label, before: p.before?.latencyMs.p95 ?? null, after: p.after?.latencyMs.p95 ?? null }));
    pngs = await writeChartPngs({ throughput: compareThroughputChart(tp, ['before', 'after']), latency: compareLatencyChart(lp, ['before', 'after']) }, outDir);
  }
  return { html: htmlPath, pngs, markdown: mdPath, comparison: c };
}
