/**
 * report.html for one results.json: what a mail administrator reads to choose a scanner.
 * Every value from a message or a scanner goes through the `html` template (escaped).
 */
import { allCaughtNoFalsePositive, completedThroughput, runCounts as countsOf } from '../results/counts.js';
import type { Results, Run, ScannerInfo } from '../results/types.js';
import type { ManifestEntry } from '../corpus/manifest.js';
import { chartHasData, chartSet, CHART_SIZE, type ChartSpec } from './charts.js';
import { html, type SafeHtml } from './escape.js';
import { fmtAuto, fmtBytes, fmtNumber, fmtRate } from './format.js';
import {
  coldWarmRows,
  approachRows,
  categoryMatrix,
  cpuSeconds,
  overheadRows,
  peakRss,
  problemMessages,
  rankRuns,
  runLabel,
  saidText,
  scannerInventory,
  transportText,
  type ColumnKey,
  type RankRow,
  type RunSaid,
} from './model.js';
import { renderPage } from './page.js';
import { gatewayRows, type GatewayRow } from './gateways.js';

/** Options of {@link renderHtml}. */
export interface RenderOptions {
  /** The corpus manifest, for each problem message's encoding (results.json has no encoding). */
  manifest?: readonly ManifestEntry[];
  /** At most this many problem messages are listed (default 2000); the rest are counted. */
  maxMessages?: number;
  /** Page title (default: "avbench report — <corpus path>"). */
  title?: string;
}

/** A canvas for chart `name`, or a note when the chart has nothing to show. */
export function chartBlock(name: string, spec: ChartSpec, caption: string, empty: string): SafeHtml {
  if (!chartHasData(spec)) return html`<p class="note">${empty}</p>`;
  return html`<figure class="chart"><canvas data-chart="${name}" width="${CHART_SIZE.width}" height="${CHART_SIZE.height}" role="img" aria-label="${caption}"></canvas><figcaption class="muted">${caption}</figcaption></figure>`;
}

function bestCell(row: RankRow, key: ColumnKey, text: string | SafeHtml, title?: string): SafeHtml {
  const best = row.best.includes(key);
  return html`<td class="num${best ? ' best' : ''}"${title !== undefined ? html` title="${title}"` : ''}${best ? html` data-best="yes"` : ''}>${text}</td>`;
}

/** The ranking table (scanning runs; best value of each column marked). */
export function rankingTable(results: Results): SafeHtml {
  const rows = rankRuns(results);
  if (rows.length === 0) return html`<p class="note">No scanning runs in this file.</p>`;
  const body = rows.map((row) => {
    const r = row.run;
    const cpu = cpuSeconds(r);
    const rss = peakRss(r);
    const cpuTitle =
      r.resources === undefined
        ? undefined
        : `scanner ${fmtNumber(r.resources.scanner?.cpuSeconds ?? 0, 2)} s + avbench ${fmtNumber(r.resources.avbench.cpuSeconds, 2)} s${r.resources.children !== undefined ? ` + child processes ${fmtNumber(r.resources.children.cpuSeconds, 2)} s` : ''}`;
    const rssTitle = r.resources === undefined ? undefined : `scanner ${fmtBytes(r.resources.scanner?.peakRssBytes ?? 0)} + avbench ${fmtBytes(r.resources.avbench.peakRssBytes)}`;
    const spread = row.spread.n > 1 ? html`<br><span class="muted">${fmtAuto(row.spread.min)}–${fmtAuto(row.spread.max)} (${row.spread.n} runs)</span>` : '';
    const ci = row.ci === null ? '' : html`<br><span class="muted" data-ci="yes">95 % CI ${fmtAuto(row.ci.low)}–${fmtAuto(row.ci.high)}</span>`;
    const tie = row.tiedWithAbove ? html`<br><span class="muted" data-tie="yes">no measurable difference from the row above</span>` : '';
    const c = countsOf(r);
    const done = completedThroughput(r);
    return html`<tr data-run="${r.id}">
<td class="num">${row.tiedWithAbove ? `${row.rank}=` : `${row.rank}`}</td>
<td class="d">${r.scanner.name}</td>
<td>${r.mode}${r.sut !== 'direct' && r.sut !== 'ours' ? html`<br><span class="d muted">${r.sut}</span>` : ''}</td>
<td class="num">${r.concurrency}</td>
${bestCell(row, 'detection', fmtRate(c.detectionRate), `${c.tp} of ${c.tp + c.fn} infected messages found`)}
${bestCell(row, 'fp', `${c.falsePositives}`, `false-positive rate ${fmtRate(c.falsePositiveRate, 2)} of ${c.fp + c.tn} clean`)}
${bestCell(row, 'errors', `${c.errors}`, `${c.errorsLabelled} on messages labelled infected or clean, ${c.errors - c.errorsLabelled} on messages labelled any or unlabelled`)}
${bestCell(row, 'timeouts', c.timeouts === 0 ? '0' : html`${c.timeouts}<br><span class="muted">${fmtNumber(c.timeoutSeconds, 1)} s</span>`, timeoutsTitle(r))}
${bestCell(row, 'lost', `${c.lost}`)}
${bestCell(row, 'msgsPerSec', html`${fmtAuto(done.msgsPerSec)}${spread}${ci}${tie}`, c.timeouts === 0 ? `${fmtAuto(done.mbPerSec)} MB/s` : `${fmtAuto(done.mbPerSec)} MB/s over ${c.messages - c.timeouts} completed messages; ${fmtAuto(r.throughput.msgsPerSec)} msgs/s with the ${c.timeouts} timed-out one(s) counted in`)}
${bestCell(row, 'p95', fmtAuto(r.latencyMs.p95), `p50 ${fmtAuto(r.latencyMs.p50)} · p99 ${fmtAuto(r.latencyMs.p99)} · max ${fmtAuto(r.latencyMs.max)} ms`)}
${bestCell(row, 'cpu', cpu === null ? 'n/a' : fmtNumber(cpu, 2), cpuTitle)}
${bestCell(row, 'rss', rss === null ? 'n/a' : fmtBytes(rss), rssTitle)}
<td>${allCaughtNoFalsePositive(r) ? 'yes' : 'no'}</td>
</tr>`;
  });
  return html`<table class="ranking">
<thead><tr><th class="num">#</th><th>Scanner</th><th>Mode</th><th class="num">Conc.</th><th class="num">Detection</th><th class="num">False pos.</th><th class="num">Errors</th><th class="num">Timeouts</th><th class="num">Lost</th><th class="num">msgs/s (median; range)</th><th class="num">p95 ms</th><th class="num">CPU s</th><th class="num">Peak RSS</th><th>All caught, no FP</th></tr></thead>
<tbody>
${body}
</tbody>
</table>
<p class="note">★ marks the best value of each column (all rows tied for it). Ordered by detection, then false positives, errors, lost messages and speed. Detection = found / infected messages; errors (every error verdict, on any message, labelled or not) are counted apart and never as clean. Timeouts: messages that ended at a deadline (the system under test's own, such as clamsmtpd's TimeOut, or the driver's or scanner's), with the seconds they took. msgs/s counts completed messages only — a deadline hit is not throughput: the time when only timed-out messages were in flight is left out (hover for the figure with them) — median over the repeats, with the range and the 95 % confidence interval of the mean (Student's t over the repeats). Two rows with the same counts whose speeds are within each other's uncertainty (the interval of their difference holds 0) share a place (“2=”) and are marked “no measurable difference” instead of being ranked on speed; the ★ for speed goes to every row not measurably slower than the fastest. CPU s (per pass over the corpus) adds the scanner processes (where /proc showed them), avbench itself and the child processes it ran; peak RSS adds the scanner's and avbench's peaks; hover a cell for the split. All caught, no FP: every message labelled infected found, no clean message flagged, no error on any message. On a self-made EICAR corpus this checks the plumbing (the scanner is called, its verdict reaches the MTA), not detection quality: it is no certification such as Virus Bulletin's VB100, which needs a set of real in-the-wild samples.</p>`;
}

function timeoutsTitle(r: Run): string | undefined {
  const t = r.timeouts;
  const c = countsOf(r);
  if (c.timeouts === 0) return t?.sutDeadlineMs === undefined ? undefined : `SUT deadline ${fmtNumber(t.sutDeadlineMs / 1000, 1)} s; none reached`;
  const deadline = t?.sutDeadlineMs === undefined ? '' : `SUT deadline ${fmtNumber(t.sutDeadlineMs / 1000, 1)} s; `;
  const stalled = t === undefined ? '' : `; ${fmtNumber(t.stalledSeconds, 1)} s of the pass with only these in flight`;
  return `${deadline}${c.timeouts} message(s) ended at a deadline, ${fmtNumber(c.timeoutSeconds, 1)} s in all${stalled}`;
}

/**
 * Run columns per category table: more runs are split into several tables of at most this
 * many (the category column repeated), so the matrix stays readable at 1,280 px without
 * scrolling sideways.
 */
export const CATEGORY_COLUMNS = 8;

function categoryTable(results: Results): SafeHtml {
  const m = categoryMatrix(results);
  if (m.categories.length === 0 || m.runs.length === 0) return html`<p class="note">No categorised, labelled messages (a corpus without manifest.json has no detection figures).</p>`;
  const groups: number[][] = [];
  for (let i = 0; i < m.runs.length; i += CATEGORY_COLUMNS) groups.push(m.runs.slice(i, i + CATEGORY_COLUMNS).map((_, k) => i + k));
  const tables = groups.map(
    (cols) => html`<table class="categories">
${groups.length > 1 ? html`<caption class="muted">Runs ${cols[0]! + 1}–${cols[cols.length - 1]! + 1} of ${m.runs.length}</caption>` : ''}
<thead><tr><th>Category</th>${cols.map((j) => html`<th class="d">${m.runs[j]!.label}</th>`)}</tr></thead>
<tbody>
${m.categories.map((cat, i) => html`<tr><th class="d">${cat}</th>${cols.map((j) => {
      const c = m.cells[i]?.[j];
      return c === undefined ? html`<td></td>` : html`<td class="t-${c.tone}">${c.text}</td>`;
    })}</tr>\n`)}
</tbody>
</table>
`,
  );
  return html`${tables}
<p class="legend muted">Errors include those on messages labelled <code>any</code> (same count as the ranking). <span class="t-good">all found, nothing wrong</span><span class="t-warn">≥ 80 % found, or errors</span><span class="t-bad">&lt; 80 % found, or false positives</span><span class="t-none">not judged</span> — infected categories show found/infected; clean categories show false positives over clean messages.</p>`;
}

function approachesTable(results: Results): SafeHtml {
  const rows = approachRows(results);
  return html`<table class="approaches">
<thead><tr><th>Point</th><th>Approach</th><th>Sees outgoing mail</th><th>Per-recipient policy</th><th>Where the load sits</th><th>On scanner failure</th><th class="num">Runs</th><th class="num">Best msgs/s</th><th class="num">Best p95 ms</th><th class="num">Detection</th><th class="num">Lost</th></tr></thead>
<tbody>
${rows.map(
  (a) => html`<tr data-mode="${a.mode}"><td>${a.point}</td><td><strong>${a.name}</strong><br><span class="muted">${a.examples}</span></td><td>${a.outgoing}</td><td>${a.perRecipient}</td><td>${a.load}</td><td>${a.onFailure}</td>
<td class="num">${a.measured.runs}</td>
<td class="num">${a.measured.bestMsgsPerSec === null ? 'not run' : html`${fmtAuto(a.measured.bestMsgsPerSec.value)}<br><span class="d muted">${a.measured.bestMsgsPerSec.label}</span>`}</td>
<td class="num">${a.measured.bestP95 === null ? 'not run' : html`${fmtAuto(a.measured.bestP95.value)}<br><span class="d muted">${a.measured.bestP95.label}</span>`}</td>
<td class="num">${a.measured.detection === null ? 'n/a' : a.measured.detection.min === a.measured.detection.max ? fmtRate(a.measured.detection.min) : `${fmtRate(a.measured.detection.min)} – ${fmtRate(a.measured.detection.max)}`}</td>
<td class="num">${a.measured.lost}</td></tr>
`,
)}
</tbody>
</table>
<p class="note">The points where a Unix mail gateway can call a virus scanner: A an SMTP proxy before the MTA, B a milter inside it, C the local delivery agent; direct is the scanner alone, with no mail transport. Measured columns come from this run: the fastest scanning run of the mode, its lowest p95 latency, the range of detection rates over its scanners, and messages lost over all its runs (baselines included).</p>`;
}

/** The gateways table: each gateway (third-party and avbench's own) beside its scanner alone. */
function gatewaysTable(results: Results): SafeHtml {
  const rows = gatewayRows(results);
  if (rows.length === 0) return html``;
  const kindText: Record<GatewayRow['kind'], string> = { 'third-party': 'third party', avbench: 'avbench', reference: 'scanner alone (reference)' };
  return html`<section id="gateways"><h2>Gateways, measured</h2>
<table class="gateways">
<thead><tr><th>Gateway</th><th>Point</th><th>Whose</th><th class="num">Conc.</th><th class="num">Detection</th><th class="num">False pos.</th><th class="num">Errors</th><th class="num">cold msgs/s</th><th class="num">warm msgs/s</th><th class="num">p95 ms</th><th class="num">CPU s</th><th class="num">Peak memory</th><th class="num">Lost</th></tr></thead>
<tbody>
${rows.map(
  (g) => html`<tr data-gateway-run="${g.run.id}" data-kind="${g.kind}"><td><strong>${g.gateway}</strong><br><span class="d muted">${g.label}</span></td><td>${g.point}</td><td>${kindText[g.kind]}</td><td class="num">${g.run.concurrency}</td><td class="num">${fmtRate(g.detectionRate)}</td><td class="num">${g.falsePositives}</td><td class="num">${g.errors}</td><td class="num">${g.coldMsgsPerSec === null ? 'n/a' : fmtAuto(g.coldMsgsPerSec)}</td><td class="num">${fmtAuto(g.warmMsgsPerSec)}</td><td class="num">${fmtAuto(g.p95)}</td><td class="num">${g.cpuSeconds === null ? 'n/a' : fmtNumber(g.cpuSeconds, 2)}</td><td class="num">${g.peakMemoryBytes === null ? 'n/a' : fmtBytes(g.peakMemoryBytes)}</td><td class="num">${g.lost}</td></tr>
`,
)}
</tbody>
</table>
<p class="note">Every mail gateway of this run with the scanner it calls; the scanner alone (direct) first, as the reference. Point: A SMTP proxy in front of the MTA, B milter, C local delivery; MTA: a third-party gateway measured whole at its SMTP port, whatever hook it uses inside (Exim's ACL, Haraka's plugin, Sendmail or Postfix with a milter, amavisd-new after the queue, clamsmtpd as a proxy). A gateway that accepts a message and only later drops it (after the queue) is waited for up to the grace= of its --sut URL, which its msgs/s and p95 include. Detection and false positives are over the labelled messages; msgs/s counts completed messages (median warm repeat; cold = first sight of the bytes). CPU s and peak memory: for a third-party gateway, its processes as listed by <code>pid=</code> on its <code>--sut</code> (as <code>avbench lab up</code> writes them: the gateway and its clamd) with every process they forked, memory as summed PSS; for avbench's own front ends run by the bench (a mode of a scanner), the bench process (front end and driver together) plus the scanner's processes; for avbench's front ends behind a Postfix (<code>postfix+avbench-…</code>, measured whole like a third-party gateway), the processes its <code>pid=</code> lists.</p>
</section>`;
}

/** A difference with its interval, or "no measurable difference" when the interval holds 0. */
function diffCell(value: number | null, ci: { low: number; high: number } | null, measurable: boolean | null): SafeHtml {
  if (value === null) return html`n/a`;
  const range = ci === null ? '' : html`<br><span class="muted">${fmtAuto(ci.low)} … ${fmtAuto(ci.high)}</span>`;
  if (measurable === false) return html`<span data-nmd="yes">no measurable difference</span><br><span class="muted">${fmtAuto(value)}</span>${range}`;
  return html`${fmtAuto(value)}${range}`;
}

/** Cold passes (first sight of the bytes) against warm ones, per run. */
function coldWarmTable(results: Results): SafeHtml {
  const rows = coldWarmRows(results);
  if (rows.length === 0) return html`<p class="note">No cold passes in this file (made with --no-cold, or before the bench measured them): every figure is a warm pass.</p>`;
  const ci = (c: { low: number; high: number } | null): SafeHtml | string => (c === null ? '' : html`<br><span class="muted">${fmtAuto(c.low)}–${fmtAuto(c.high)}</span>`);
  return html`<table class="coldwarm">
<thead><tr><th>Run</th><th class="num">cold msgs/s (95 % CI)</th><th class="num">warm msgs/s (95 % CI)</th><th class="num">warm ÷ cold</th><th class="num">cold p50 ms</th><th class="num">warm p50 ms</th><th>Cache emptied by</th></tr></thead>
<tbody>
${rows.map(
  (r) => html`<tr data-coldwarm-run="${r.run.id}"><td class="d">${r.label}</td><td class="num" data-pass="cold">${fmtAuto(r.coldMsgsPerSec)}${ci(r.coldCi)}</td><td class="num" data-pass="warm">${fmtAuto(r.warmMsgsPerSec)}${ci(r.warmCi)}</td><td class="num">${r.measurable === false ? html`<span data-nmd="yes">no measurable difference</span>` : r.ratio === null ? 'n/a' : `${fmtNumber(r.ratio, 2)}×`}</td><td class="num">${fmtAuto(r.coldP50)}</td><td class="num">${fmtAuto(r.warmP50)}</td><td>${r.reset === 'reload' ? 'clamd RELOAD + unique bytes' : 'unique bytes only'}</td></tr>\n`,
)}
</tbody>
</table>
<p class="note">Cold: the first sight of the bytes — each message carries a unique <code>X-Avbench-Pass</code> header line, and where the bench owns clamd (<code>--lab</code>) clamd is RELOADed first, which gives it a new engine with an empty cache. “Unique bytes only” empties whole-message caches; a scanner that caches per part (clamd caches clean results by MD5 of every file it scans, attachments and decoded parts included) still hits for parts it saw before. Warm: after a warm-up pass over the same bytes; every other figure of this report is warm. Rounds are interleaved: round 1 of every run, then round 2, so load drift spreads over all runs.</p>`;
}

function overheadTable(results: Results): SafeHtml {
  const rows = overheadRows(results);
  if (rows.length === 0) return html`<p class="note">Only direct runs: no transport to compare.</p>`;
  return html`<table class="overhead">
<thead><tr><th>Run</th><th class="num">ms per message</th><th>Compared with</th><th class="num">direct ms per message</th><th class="num">extra ms (95 % CI)</th><th class="num">slower than direct</th><th class="num">over no scan, ms (95 % CI)</th></tr></thead>
<tbody>
${rows.map(
  (o) => html`<tr data-overhead-run="${o.run.id}"><td class="d">${o.label}</td><td class="num">${fmtAuto(o.msPerMsg)}</td><td class="d">${o.direct === undefined ? 'no direct run' : runLabel(o.direct, results)}</td><td class="num">${o.directMsPerMsg === null ? 'n/a' : fmtAuto(o.directMsPerMsg)}</td><td class="num">${diffCell(o.extraMs, o.extraCi, o.extraMeasurable)}</td><td class="num">${o.slowerPct === null ? 'n/a' : `${fmtNumber(o.slowerPct, 1)} %`}</td><td class="num">${o.run.baseline === true ? '–' : diffCell(o.overBaselineMs, o.overBaselineCi, o.overBaselineMeasurable)}</td></tr>\n`,
)}
</tbody>
</table>
<p class="note">ms per message = 1000 / msgs/s at the run's concurrency (gateway time per message). No-scan baseline runs show what the transport alone costs (the front end with a no-op scanner that is handed the raw message: no MIME walk). “Over no scan” is what scanning adds in the same mode. The 95 % interval is Welch's t over the repeats' ms per message; a difference whose interval holds 0 reads “no measurable difference” and should not be read as a cost or a gain.</p>`;
}

function modeOf(s: RunSaid, results: Results): string {
  const concurrencies = new Set(results.runs.map((r) => r.concurrency));
  let t: string = s.run.mode;
  if (s.run.sut !== 'direct' && s.run.sut !== 'ours') t += ` (${s.run.sut})`;
  if (concurrencies.size > 1) t += ` · c${s.run.concurrency}`;
  return t;
}

function problemsTable(results: Results, opts: RenderOptions): SafeHtml {
  const { scanners, messages } = problemMessages(results, opts.manifest);
  if (messages.length === 0) return html`<p class="note">No scanning run missed a labelled infected message, flagged a clean one, or failed on one.</p>`;
  const max = opts.maxMessages ?? 2000;
  const shown = messages.slice(0, max);
  const rest = messages.length - shown.length;
  const groups: string[][] = [];
  for (let i = 0; i < scanners.length; i += PROBLEM_SCANNER_COLUMNS) groups.push(scanners.slice(i, i + PROBLEM_SCANNER_COLUMNS));
  const tables = groups.map(
    (group, g) => html`<table class="problems">
${groups.length > 1 ? html`<caption class="muted">Scanners ${g * PROBLEM_SCANNER_COLUMNS + 1}–${g * PROBLEM_SCANNER_COLUMNS + group.length} of ${scanners.length}: ${group.join(', ')}</caption>` : ''}
<thead><tr><th>Message</th><th>Category</th><th>Expected</th><th>Part</th><th>Encoding</th><th>Problem</th>${group.map((s) => html`<th class="d">${s}</th>`)}</tr></thead>
<tbody>
${shown.map(
  (m) => html`<tr><td class="d">${m.file}</td><td class="d">${m.category ?? '–'}</td><td>${m.expected ?? '–'}</td><td class="d">${m.part ?? '–'}</td><td class="d">${m.encoding ?? '–'}</td><td>${m.kinds.map((k) => html`<span class="k-${k}">${k}</span> `)}</td>${group.map((s) => {
    const said = m.byScanner.get(s) ?? [];
    if (said.length === 0) return html`<td class="muted">not run</td>`;
    return html`<td><ul class="said">${said.map((x) => html`<li class="k-${x.kind}"><span class="muted">${modeOf(x, results)}:</span> <span class="d">${saidText(x.result)}</span>${x.result.part !== undefined && x.result.verdict === 'infected' ? html` <span class="muted d">in ${x.result.part}</span>` : ''}<br><span class="muted d">${transportText(x.result)}</span></li>`)}</ul></td>`;
  })}</tr>\n`,
)}
</tbody>
</table>
`,
  );
  return html`<p>${messages.length} message${messages.length === 1 ? '' : 's'} missed, wrongly flagged or failed on by at least one scanning run.${rest > 0 ? ` The first ${shown.length} are listed; results.json holds the rest.` : ''}${groups.length > 1 ? ` ${scanners.length} scanners: ${groups.length} tables of at most ${PROBLEM_SCANNER_COLUMNS}, the same messages in each.` : ''}</p>
${tables}`;
}

/** Scanner columns per problem-message table: more scanners are split into several tables (the same rows), readable at 1,280 px. */
export const PROBLEM_SCANNER_COLUMNS = 4;

function fatesTable(results: Results): SafeHtml {
  const fates = ['scanned', 'delivered', 'tagged', 'rejected', 'tempfailed', 'dropped', 'lost'] as const;
  return html`<table class="fates">
<thead><tr><th>Run</th><th class="num">Messages</th>${fates.map((f) => html`<th class="num">${f}</th>`)}<th class="num">Duration s</th><th class="num">MB/s</th></tr></thead>
<tbody>
${results.runs.map((r) => html`<tr><td class="d">${runLabel(r, results)}</td><td class="num">${r.messages}</td>${fates.map((f) => html`<td class="num${f === 'lost' && r.fates.lost > 0 ? ' t-bad' : ''}">${r.fates[f]}</td>`)}<td class="num">${fmtNumber(r.durationMs / 1000, 2)}</td><td class="num">${fmtAuto(r.throughput.mbPerSec)}</td></tr>\n`)}
</tbody>
</table>
<p class="note">Every message has exactly one fate. scanned: direct mode; delivered / tagged: reached the next hop (tagged = marked infected); rejected / tempfailed: refused with a 5xx / 4xx (or exit code); dropped: accepted and discarded on purpose; lost: sent and never accounted for.</p>`;
}

/** The environment section: host, corpus, scanners, when. */
export function environmentSection(results: Results): SafeHtml {
  const h = results.host;
  const c = results.corpus;
  return html`<dl class="env">
<dt>Started</dt><dd>${results.startedAt}${results.finishedAt !== undefined ? ` — finished ${results.finishedAt}` : ''}</dd>
<dt>Host</dt><dd class="d">${h.hostname !== undefined ? `${h.hostname}: ` : ''}${h.cpuModel}, ${h.cores} cores, ${fmtBytes(h.memoryBytes)} memory${h.loadAverage !== undefined ? `; load average ${h.loadAverage.join(', ')} at start` : ''}</dd>
<dt>System</dt><dd class="d">${h.os}; Node ${h.node}</dd>
<dt>Corpus</dt><dd class="d">${c.path} — ${fmtNumber(c.messages)} messages, ${fmtBytes(c.bytes)}${c.manifestSha256 !== undefined ? `; manifest sha256 ${c.manifestSha256}` : '; no manifest (no detection figures)'}${c.contentSha256 !== undefined ? `; content sha256 ${c.contentSha256}` : ''}</dd>
<dt>Measured</dt><dd>${results.settings !== undefined ? `${results.settings.repeats} measured warm repeat(s) per run, each after ${results.settings.warmup} warm-up pass(es)${results.settings.cold === true ? ' and a measured cold pass' : ''}${results.settings.order === 'interleaved' ? '; rounds interleaved (round 1 of every run, then round 2…)' : ''}; figures are the median warm repeat's` : 'repeats per run: see each run\'s range'}</dd>
<dt>Schema</dt><dd>results.json schema version ${results.schemaVersion}${results.schemaVersion === 1 ? ' (written before cold passes, intervals and deadlines were recorded: every figure is a warm pass, intervals and counts are computed here from its repeats and message records)' : ''}</dd>
</dl>
${
  results.skipped !== undefined && results.skipped.length > 0
    ? html`<h3>Not benched</h3><table class="skipped"><thead><tr><th>Scanner or SUT</th><th>Why</th></tr></thead><tbody>
${results.skipped.map((s) => html`<tr><td class="d">${s.name}</td><td class="d">${s.reason}</td></tr>\n`)}
</tbody></table>`
    : ''
}
<table class="scanners">
<thead><tr><th>Scanner</th><th>Type</th><th>Version</th><th>Signatures</th><th>Programs</th><th>Databases</th></tr></thead>
<tbody>
${scannerInventory(results).map((s) => html`<tr><td class="d">${s.name}</td><td class="d">${s.type}</td><td class="d">${s.version ?? 'unknown'}</td><td class="d">${s.signatures ?? 'unknown'}</td><td class="d">${programsCell(s)}</td><td class="d">${databasesCell(s)}</td></tr>\n`)}
</tbody>
</table>
<p class="note">Programs: each program of the scanner or system under test with the version it reports and how it was asked (e.g. <code>clamsmtpd -v</code>, clamd's <code>VERSION</code> command). Databases: version, build time and signature count as <code>sigtool --info</code> or the file's header says them, else counted signature lines or rules with the file's modification time.</p>`;
}

function programsCell(s: ScannerInfo): SafeHtml | string {
  if (s.programs === undefined || s.programs.length === 0) return '–';
  return html`${s.programs.map((p, i) => html`${i > 0 ? html`<br>` : ''}${p.name} ${p.version ?? 'unknown'} <span class="muted">(${p.source}${p.pid !== undefined ? `, pid ${p.pid}` : ''})</span>`)}`;
}

function databasesCell(s: ScannerInfo): SafeHtml | string {
  if (s.databases === undefined || s.databases.length === 0) return '–';
  return html`${s.databases.map(
    (d, i) =>
      html`${i > 0 ? html`<br>` : ''}${d.name}${d.version !== undefined ? ` v${d.version}` : ''}${d.signatures !== undefined ? ` · ${fmtNumber(d.signatures)} signature${d.signatures === 1 ? '' : 's'}` : ''}${d.buildTime !== undefined ? ` · ${d.buildTime}` : ''} <span class="muted">(${d.source})</span>`,
  )}`;
}

/** The "how to reproduce" section. */
export function reproduceSection(results: Results): SafeHtml {
  return html`${results.command !== undefined ? html`<p>This run was made with:</p><pre><code class="d">${results.command}</code></pre>` : html`<p class="note">results.json does not record the command that made it.</p>`}
<p>Re-render this page (same bytes) from the results file alone: <code>avbench report --results results.json --out DIR</code>. Compare with a later run (for example after a signature update): <code>avbench report --results before.json --results after.json --out DIR</code>.</p>`;
}

function highlights(results: Results): SafeHtml {
  const rows = rankRuns(results);
  if (rows.length === 0) return html``;
  const pick = (key: ColumnKey): string[] => rows.filter((r) => r.best.includes(key)).map((r) => r.label);
  const top = rows[0] as RankRow;
  const items: SafeHtml[] = [html`<li>Top of the ranking: <strong class="d">${top.label}</strong> — detection ${fmtRate(countsOf(top.run).detectionRate)}, ${countsOf(top.run).falsePositives} false positives, ${fmtAuto(completedThroughput(top.run).msgsPerSec)} msgs/s.</li>`];
  const fastest = pick('msgsPerSec');
  if (fastest.length > 0) items.push(html`<li>Fastest${fastest.length > 1 ? ' (no measurable difference between them)' : ''}: <span class="d">${fastest.join(', ')}</span>.</li>`);
  const lowP95 = pick('p95');
  if (lowP95.length > 0) items.push(html`<li>Lowest p95 latency: <span class="d">${lowP95.join(', ')}</span>.</li>`);
  const lost = results.runs.reduce((s, r) => s + countsOf(r).lost, 0);
  items.push(html`<li>${lost === 0 ? 'No message was lost in any run.' : `${lost} message(s) lost over all runs — see the fates table.`}</li>`);
  const timedOut = results.runs.filter((r) => countsOf(r).timeouts > 0);
  if (timedOut.length > 0) {
    items.push(
      html`<li>Deadlines reached: ${timedOut.map((r, i) => html`${i > 0 ? '; ' : ''}<span class="d">${runLabel(r, results)}</span> ${countsOf(r).timeouts} message(s), ${fmtNumber(countsOf(r).timeoutSeconds, 1)} s`)} — counted apart, not in msgs/s.</li>`,
    );
  }
  return html`<ul class="highlights">${items}</ul>`;
}

function runCounts(results: Results): string {
  const scanning = results.runs.filter((r) => r.baseline !== true).length;
  const base = results.runs.length - scanning;
  return `${scanning} scanning run${scanning === 1 ? '' : 's'}${base > 0 ? ` and ${base} no-scan baseline${base === 1 ? '' : 's'}` : ''}`;
}

/**
 * Render report.html for one results.json (a complete, self-contained page). Deterministic:
 * the same results (and manifest) give the same bytes; the only date in it is the run's.
 */
export function renderHtml(results: Results, opts: RenderOptions = {}): string {
  const charts = chartSet(results);
  const body = html`<header>
<h1>avbench report</h1>
<p class="lead">${runCounts(results)} over <span class="d">${results.corpus.path}</span> (${fmtNumber(results.corpus.messages)} messages, ${fmtBytes(results.corpus.bytes)}), started ${results.startedAt}.</p>
<nav><a href="#ranking">Ranking</a><a href="#charts">Charts</a><a href="#categories">By category</a><a href="#approaches">Approaches</a><a href="#problems">Missed &amp; false positives</a><a href="#fates">Fates</a><a href="#environment">Environment</a><a href="#reproduce">Reproduce</a></nav>
${highlights(results)}
</header>
<main>
<section id="ranking"><h2>Ranking: scanner × mode</h2>
${rankingTable(results)}
</section>
<section id="charts"><h2>Speed</h2>
${chartBlock('throughput', charts.throughput, 'Messages per second, median of the repeats, by scanner and mode.', 'No runs to chart.')}
${chartBlock('latency', charts.latency, 'Latency per message, one line per run: the share of messages answered within x ms, on a logarithmic axis (read p50 at 50 %, p95 at 95 %). With more than 16 runs the legend is left out: hover a line to name its run; the ranking table gives each run’s p50, p95 and p99.', 'No runs to chart.')}
<h3>Mode overhead against direct</h3>
${chartBlock('overhead', charts.overhead, 'Extra gateway milliseconds per message each mode adds to direct scanning; "no scan" is the transport alone.', 'Only direct runs: no mode overhead to chart.')}
${overheadTable(results)}
<h3 id="coldwarm">Cold and warm passes</h3>
${coldWarmTable(results)}
</section>
<section id="categories"><h2>Detection by category</h2>
${categoryTable(results)}
</section>
<section id="approaches"><h2>Interception approaches (Table 1), measured</h2>
${approachesTable(results)}
</section>
${gatewaysTable(results)}
<section id="problems"><h2>Missed, false positives and errors, message by message</h2>
${problemsTable(results, opts)}
</section>
<section id="fates"><h2>What happened to every message</h2>
${fatesTable(results)}
</section>
<section id="environment"><h2>Environment</h2>
${environmentSection(results)}
</section>
<section id="reproduce"><h2>How to reproduce</h2>
${reproduceSection(results)}
</section>
</main>`;
  return renderPage({
    title: opts.title ?? `avbench report — ${results.corpus.path} — ${results.startedAt}`,
    body,
    data: { generator: 'avbench', schemaVersion: results.schemaVersion, startedAt: results.startedAt, charts },
  });
}

