/**
 * report.html for two results files side by side (before → after), e.g. around a
 * signature update: scanner versions, per-run detection and speed changes, detection per
 * category, every message whose verdict changed, both environments.
 */
import { completedThroughput, runCounts } from '../results/counts.js';
import type { Results } from '../results/types.js';
import { CHART_SIZE, compareLatencyChart, compareThroughputChart } from './charts.js';
import type { Comparison } from './compare.js';
import { html, type SafeHtml } from './escape.js';
import { fmtAuto, fmtChange, fmtNumber, fmtRate } from './format.js';
import { chartBlock, environmentSection, rankingTable, reproduceSection } from './html.js';
import { saidText, transportText } from './model.js';
import { renderPage } from './page.js';

const NAMES: [string, string] = ['before', 'after'];

function tone(delta: number | null, higherIsBetter: boolean): string {
  if (delta === null || Math.abs(delta) < 1e-9) return '';
  return (delta > 0) === higherIsBetter ? 'up' : 'down';
}

function pairsTable(c: Comparison): SafeHtml {
  return html`<table class="pairs">
<thead><tr><th>Run</th><th class="num">Detection before</th><th class="num">after</th><th class="num">Δ points</th><th class="num">FP before → after</th><th class="num">Errors before → after</th><th class="num">msgs/s before</th><th class="num">after</th><th class="num">change</th><th class="num">p95 ms before → after</th><th class="num">change</th></tr></thead>
<tbody>
${c.pairs.map((p) => {
  const b = p.before;
  const a = p.after;
  return html`<tr data-key="${p.key}"><td class="d">${p.label}</td>
<td class="num">${b ? fmtRate(b.detection.detectionRate) : 'absent'}</td><td class="num">${a ? fmtRate(a.detection.detectionRate) : 'absent'}</td>
<td class="num ${tone(p.detectionDeltaPoints, true)}">${p.detectionDeltaPoints === null ? 'n/a' : fmtNumber(p.detectionDeltaPoints, 1)}</td>
<td class="num">${b ? runCounts(b).falsePositives : '–'} → ${a ? runCounts(a).falsePositives : '–'}</td>
<td class="num">${b ? runCounts(b).errors : '–'} → ${a ? runCounts(a).errors : '–'}</td>
<td class="num">${b ? fmtAuto(completedThroughput(b).msgsPerSec) : '–'}</td><td class="num">${a ? fmtAuto(completedThroughput(a).msgsPerSec) : '–'}</td>
${p.msgsPerSecMeasurable === false ? html`<td class="num" data-nmd="yes">no measurable difference<br><span class="muted">${fmtChange(p.msgsPerSecChangePct)}</span></td>` : html`<td class="num ${tone(p.msgsPerSecChangePct, true)}">${fmtChange(p.msgsPerSecChangePct)}</td>`}
<td class="num">${b ? fmtAuto(b.latencyMs.p95) : '–'} → ${a ? fmtAuto(a.latencyMs.p95) : '–'}</td>
<td class="num ${tone(p.p95ChangePct, false)}">${fmtChange(p.p95ChangePct)}</td></tr>\n`;
})}
</tbody>
</table>`;
}

function categoryDeltas(c: Comparison): SafeHtml {
  const rows = c.pairs.flatMap((p) => p.byCategory.map((d) => ({ p, d })));
  if (rows.length === 0) return html`<p class="note">No categorised detection figures.</p>`;
  return html`<table class="category-deltas">
<thead><tr><th>Run</th><th>Category</th><th class="num">Detection before</th><th class="num">after</th><th class="num">Δ points</th><th class="num">FP before → after</th></tr></thead>
<tbody>
${rows.map(({ p, d }) => {
  const worse = (d.deltaPoints !== null && d.deltaPoints < 0) || d.fpAfter > d.fpBefore;
  const better = (d.deltaPoints !== null && d.deltaPoints > 0) || d.fpAfter < d.fpBefore;
  const cls = worse ? 't-bad' : better ? 't-good' : '';
  return html`<tr class="${cls}"><td class="d">${p.label}</td><td class="d">${d.category}</td><td class="num">${fmtRate(d.before)}</td><td class="num">${fmtRate(d.after)}</td><td class="num">${d.deltaPoints === null ? 'n/a' : fmtNumber(d.deltaPoints, 1)}</td><td class="num">${d.fpBefore} → ${d.fpAfter}</td></tr>\n`;
})}
</tbody>
</table>`;
}

function changesTable(c: Comparison, max: number): SafeHtml {
  if (c.changes.length === 0) return html`<p class="note">No message changed its verdict in any matched run.</p>`;
  const shown = c.changes.slice(0, max);
  const counts = new Map<string, number>();
  for (const ch of c.changes) counts.set(ch.kind, (counts.get(ch.kind) ?? 0) + 1);
  return html`<p>${[...counts.entries()].map(([k, n]) => `${n} ${k}`).join(' · ')}${c.changes.length > shown.length ? ` — the first ${shown.length} are listed.` : ''}</p>
<table class="changes">
<thead><tr><th>Change</th><th>Message</th><th>Category</th><th>Run</th><th>Before</th><th>After</th></tr></thead>
<tbody>
${shown.map(
  (ch) => html`<tr><td class="k-${ch.kind === 'newly-missed' || ch.kind === 'newly-flagged' ? 'missed' : ch.kind === 'new-error' ? 'error' : 'ok'}">${ch.kind}</td><td class="d">${ch.file}</td><td class="d">${ch.category ?? '–'}</td><td class="d">${ch.key}</td><td class="d">${saidText(ch.before)}<br><span class="muted">${transportText(ch.before)}</span></td><td class="d">${saidText(ch.after)}<br><span class="muted">${transportText(ch.after)}</span></td></tr>\n`,
)}
</tbody>
</table>`;
}

function scannerChanges(c: Comparison): SafeHtml {
  if (c.scannerChanges.length === 0) return html`<p class="note">Same scanners, versions and signatures on both sides.</p>`;
  const v = (s: Results['runs'][number]['scanner'] | undefined): SafeHtml =>
    s === undefined ? html`<span class="muted">absent</span>` : html`${s.type} ${s.version ?? 'unknown version'}<br><span class="muted">${s.signatures ?? 'signatures unknown'}</span>`;
  return html`<table class="scanner-changes"><thead><tr><th>Scanner</th><th>Before</th><th>After</th></tr></thead><tbody>
${c.scannerChanges.map((s) => html`<tr><td class="d">${s.name}</td><td class="d">${v(s.before)}</td><td class="d">${v(s.after)}</td></tr>\n`)}
</tbody></table>`;
}

/** Options of {@link renderCompareHtml}. */
export interface CompareRenderOptions {
  /** At most this many changed messages are listed (default 2000). */
  maxMessages?: number;
}

/** Render the comparison page (deterministic, self-contained, like {@link renderHtml}). */
export function renderCompareHtml(c: Comparison, opts: CompareRenderOptions = {}): string {
  const pairs = c.pairs.filter((p) => p.before !== undefined || p.after !== undefined);
  const tp = pairs.map((p) => ({ label: p.label, before: p.before === undefined ? null : completedThroughput(p.before).msgsPerSec, after: p.after === undefined ? null : completedThroughput(p.after).msgsPerSec }));
  const lp = pairs.map((p) => ({ label: p.label, before: p.before?.latencyMs.p95 ?? null, after: p.after?.latencyMs.p95 ?? null }));
  const charts = { throughput: compareThroughputChart(tp, NAMES), latency: compareLatencyChart(lp, NAMES) };
  const bad = c.changes.filter((x) => x.kind === 'newly-missed' || x.kind === 'newly-flagged' || x.kind === 'new-error').length;
  const body = html`<header>
<h1>avbench: before → after</h1>
<p class="lead">Before: run started ${c.before.startedAt} over <span class="d">${c.before.corpus.path}</span>. After: run started ${c.after.startedAt} over <span class="d">${c.after.corpus.path}</span>.${c.before.corpus.manifestSha256 !== c.after.corpus.manifestSha256 ? ' The corpora differ (manifest hashes differ): compare with care.' : ''}</p>
<p><strong>${bad === 0 ? 'No message got worse.' : `${bad} message verdict(s) got worse (newly missed, newly flagged or new errors).`}</strong> ${c.unmatchedMessages > 0 ? `${c.unmatchedMessages} message(s) appear on one side only.` : ''}</p>
<nav><a href="#scanners">Scanners</a><a href="#runs">Runs</a><a href="#charts">Charts</a><a href="#categories">By category</a><a href="#changes">Changed messages</a><a href="#side-by-side">Side by side</a><a href="#environment">Environment</a></nav>
</header>
<main>
<section id="scanners"><h2>Scanner versions and signatures that changed</h2>
${scannerChanges(c)}
</section>
<section id="runs"><h2>Runs: detection and speed</h2>
${pairsTable(c)}
<p class="note">Runs are matched by scanner, mode, system under test and concurrency. msgs/s change is in % of before; Δ points is the change of the detection rate in percentage points.</p>
</section>
<section id="charts"><h2>Speed before and after</h2>
${chartBlock('throughput', charts.throughput, 'Messages per second (median of repeats), before and after.', 'No runs to chart.')}
${chartBlock('latency', charts.latency, 'p95 latency per message (ms), before and after.', 'No runs to chart.')}
</section>
<section id="categories"><h2>Detection per scanner × mode × category</h2>
${categoryDeltas(c)}
</section>
<section id="changes"><h2>Messages whose verdict changed</h2>
${changesTable(c, opts.maxMessages ?? 2000)}
</section>
<section id="side-by-side"><h2>Rankings side by side</h2>
<h3>Before</h3>
${rankingTable(c.before)}
<h3>After</h3>
${rankingTable(c.after)}
</section>
<section id="environment"><h2>Environment</h2>
<h3>Before</h3>
${environmentSection(c.before)}
${reproduceSection(c.before)}
<h3>After</h3>
${environmentSection(c.after)}
${reproduceSection(c.after)}
</section>
</main>`;
  return renderPage({
    title: `avbench: ${c.before.startedAt} → ${c.after.startedAt}`,
    body,
    data: { generator: 'avbench', comparison: true, before: c.before.startedAt, after: c.after.startedAt, charts },
  });
}
