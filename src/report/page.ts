/**
 * The HTML page frame shared by the single-run and comparison reports: one self-contained
 * file, Chart.js inlined, the chart data as an escaped JSON block, and a Content-Security-
 * Policy that forbids every network fetch and every script but our own (by hash).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { html, jsonForScript, rawHtml, type SafeHtml } from './escape.js';
import { ERROR_BARS_PLUGIN_ID, ERROR_BARS_SOURCE } from './errorbars.js';

let chartJsCache: string | undefined;

/**
 * Chart.js's UMD build, read from node_modules at render time (cached per process), with
 * its sourceMappingURL comment removed (the page must not point anywhere).
 */
export function chartJsSource(): string {
  if (chartJsCache !== undefined) return chartJsCache;
  const require = createRequire(import.meta.url);
  const main = require.resolve('chart.js'); // .../chart.js/dist/chart.cjs (the UMD file is not exported)
  const src = readFileSync(join(dirname(main), 'chart.umd.js'), 'utf8');
  const cleaned = src.replace(/\n?\/\/# sourceMappingURL=[^\n]*\s*$/, '\n');
  if (/<\/script|<!--/i.test(cleaned)) throw new Error('chart.umd.js contains "</script" or "<!--": cannot inline it safely');
  chartJsCache = cleaned;
  return cleaned;
}

/**
 * The page's own script: parses the JSON block and draws every `<canvas data-chart=NAME>`
 * from it. It never writes markup: data only reaches the page through Chart.js's canvas
 * drawing and textContent. The error bars (src/report/errorbars.ts) are drawn by the same
 * source the PNG renderer runs.
 */
export const PAGE_SCRIPT = `(function () {
  'use strict';
  var block = document.getElementById('avbench-data');
  if (!block || typeof Chart === 'undefined') return;
  var errorBars = { id: '${ERROR_BARS_PLUGIN_ID}', afterDatasetsDraw: ${ERROR_BARS_SOURCE} };
  var data = JSON.parse(block.textContent || '{}');
  var charts = data.charts || {};
  var nodes = document.querySelectorAll('canvas[data-chart]');
  for (var i = 0; i < nodes.length; i++) {
    var canvas = nodes[i];
    var name = canvas.getAttribute('data-chart') || '';
    if (!Object.prototype.hasOwnProperty.call(charts, name)) continue;
    try {
      var config = charts[name];
      config.plugins = [errorBars];
      new Chart(canvas, config);
      canvas.setAttribute('data-drawn', 'yes');
    } catch (e) {
      var p = document.createElement('p');
      p.className = 'chart-error';
      p.textContent = 'This chart could not be drawn: ' + String(e);
      canvas.parentNode.insertBefore(p, canvas.nextSibling);
    }
  }
})();
`;

/** sha256 of a script's text, as a CSP source ('sha256-...'). */
export function cspHash(script: string): string {
  return `'sha256-${createHash('sha256').update(script, 'utf8').digest('base64')}'`;
}

const STYLE = `
:root { color-scheme: light; --fg: #1d232a; --muted: #5b6670; --line: #d6dbe0; --head: #eef1f4; --best: #fff3c4; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1280px; padding: 1.5rem; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg); background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p.lead, p.note, .muted { color: var(--muted); }
nav a { margin-right: .8rem; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; vertical-align: top; text-align: left; min-width: 2rem; }
th { background: var(--head); font-weight: 600; }
table.approaches, table.problems { width: 100%; }
table.approaches td:nth-child(2) { min-width: 9rem; }
table.approaches td:nth-child(n+3):nth-child(-n+6) { min-width: 7rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th.num, td.num .muted, td.num .d { white-space: normal; }
table.ranking td:nth-child(2) { min-width: 7rem; }
table.approaches td.num:nth-child(10) { white-space: normal; }
table.approaches td:nth-child(8), table.approaches td:nth-child(9) { min-width: 8rem; }
ul.said span { overflow-wrap: anywhere; }
caption { text-align: left; caption-side: top; padding: .2rem 0; }
td.best { background: var(--best); font-weight: 700; }
td.best::before { content: "\\2605\\00a0"; color: #b07d00; }
.d { unicode-bidi: isolate; overflow-wrap: anywhere; }
td.t-good { background: #d7f0dc; } td.t-warn { background: #fbe8c0; } td.t-bad { background: #f6ccc9; } td.t-none { background: #f3f4f6; color: var(--muted); }
.k-missed, .k-false-positive { color: #a32a22; } .k-error { color: #8a5a00; } .k-ok { color: #2d6a3a; }
ul.said { margin: 0; padding-left: 1rem; } ul.said li { margin: 0 0 .2rem; }
.chart { margin: 1rem 0 1.6rem; }
.chart canvas { max-width: 100%; height: auto; border: 1px solid var(--line); }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: .7rem; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
dl.env { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; } dl.env dt { font-weight: 600; } dl.env dd { margin: 0; }
.legend span { display: inline-block; padding: 0 .5rem; margin-right: .4rem; border: 1px solid var(--line); }
.up { color: #2d6a3a; } .down { color: #a32a22; }
`;

/** Options of {@link renderPage}. */
export interface PageParts {
  title: string;
  /** The page body (already escaped markup). */
  body: SafeHtml;
  /** Data for the JSON block (the page draws `data.charts[NAME]` into canvas NAME). */
  data: unknown;
}

/**
 * A complete report page. Deterministic: the same parts give the same bytes. The CSP allows
 * no network (`default-src 'none'`), only our two inline scripts by hash, inline styles and
 * data: images.
 */
export function renderPage(parts: PageParts): string {
  const chartJs = chartJsSource();
  const csp = [`default-src 'none'`, `script-src ${cspHash(chartJs)} ${cspHash(PAGE_SCRIPT)}`, `style-src 'unsafe-inline'`, `img-src data:`, `base-uri 'none'`, `form-action 'none'`].join('; ');
  const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="avbench">
<title>${parts.title}</title>
<style>${rawHtml(STYLE)}</style>
</head>
<body>
${parts.body}
<script type="application/json" id="avbench-data">${rawHtml(jsonForScript(parts.data))}</script>
<script>${rawHtml(chartJs)}</script>
<script>${rawHtml(PAGE_SCRIPT)}</script>
</body>
</html>
`;
  return page.value;
}
