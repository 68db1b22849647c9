/**
 * summary.md: the report in GitHub-flavoured Markdown for CI job summaries and pull-request
 * comments — the ranking table, missed / false-positive messages, an environment line.
 * Every value from a message or a scanner goes through escapeMarkdown.
 */
import { allCaughtNoFalsePositive, completedThroughput, runCounts } from '../results/counts.js';
import type { Results } from '../results/types.js';
import type { Comparison } from './compare.js';
import { escapeMarkdown as md } from './escape.js';
import { fmtAuto, fmtBytes, fmtChange, fmtNumber, fmtRate } from './format.js';
import { gatewayRows } from './gateways.js';
import { coldWarmRows, problemMessages, rankRuns, saidText, type ColumnKey, type RankRow } from './model.js';

/** Options of {@link renderMarkdown}. */
export interface MarkdownOptions {
  /** At most this many problem messages are listed (default 50). */
  maxMessages?: number;
}

const cell = (row: RankRow, key: ColumnKey, text: string): string => (row.best.includes(key) ? `**${text}** ★` : text);

/** The ranking table in Markdown. */
export function markdownRanking(results: Results): string {
  const rows = rankRuns(results);
  if (rows.length === 0) return '_No scanning runs._\n';
  const lines = [
    '| # | Scanner | Mode | Conc. | Detection | False pos. | Errors | Timeouts | Lost | msgs/s (range) | p95 ms | CPU s | Peak RSS | All caught, no FP |',
    '|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|',
  ];
  rows.forEach((row) => {
    const r = row.run;
    const sut = r.sut !== 'direct' && r.sut !== 'ours' ? ` (${md(r.sut)})` : '';
    const range = row.spread.n > 1 ? ` (${fmtAuto(row.spread.min)}–${fmtAuto(row.spread.max)})` : '';
    const ci = row.ci === null ? '' : ` CI ${fmtAuto(row.ci.low)}–${fmtAuto(row.ci.high)}`;
    const tie = row.tiedWithAbove ? ' ≈ above: no measurable difference' : '';
    const c = runCounts(r);
    const timeouts = c.timeouts === 0 ? '0' : `${c.timeouts} (${fmtNumber(c.timeoutSeconds, 1)} s)`;
    lines.push(
      `| ${row.tiedWithAbove ? `${row.rank}=` : row.rank} | ${md(r.scanner.name)} | ${md(r.mode)}${sut} | ${r.concurrency} | ${cell(row, 'detection', fmtRate(c.detectionRate))} | ${cell(row, 'fp', String(c.falsePositives))} | ${cell(row, 'errors', String(c.errors))} | ${cell(row, 'timeouts', timeouts)} | ${cell(row, 'lost', String(c.lost))} | ${cell(row, 'msgsPerSec', fmtAuto(completedThroughput(r).msgsPerSec))}${range}${ci}${tie} | ${cell(row, 'p95', fmtAuto(r.latencyMs.p95))} | ${cell(row, 'cpu', row.values.cpu === null ? 'n/a' : fmtNumber(row.values.cpu, 2))} | ${cell(row, 'rss', row.values.rss === null ? 'n/a' : fmtBytes(row.values.rss))} | ${allCaughtNoFalsePositive(r) ? 'yes' : 'no'} |`,
    );
  });
  return `${lines.join('\n')}\n\n★ best in its column. Errors: every error verdict, labelled or not. Timeouts: messages that ended at a deadline (the SUT's, the driver's or the scanner's), with the seconds they took; msgs/s counts completed messages only; median of the warm repeats (range), CI = 95 % interval of the mean (Student's t). A place such as “2=” is shared with the row above: same counts, and no measurable difference in speed (the interval of the difference holds 0).\n`;
}

/** Cold against warm passes in Markdown (empty when the file has no cold passes). */
export function markdownColdWarm(results: Results): string {
  const rows = coldWarmRows(results);
  if (rows.length === 0) return '';
  const ci = (c: { low: number; high: number } | null): string => (c === null ? '' : ` (${fmtAuto(c.low)}–${fmtAuto(c.high)})`);
  const lines = ['| Run | cold msgs/s | warm msgs/s | warm ÷ cold | cold p50 ms | warm p50 ms | cache emptied by |', '|---|--:|--:|--:|--:|--:|---|'];
  for (const r of rows) {
    const ratio = r.measurable === false ? 'no measurable difference' : r.ratio === null ? 'n/a' : `${fmtNumber(r.ratio, 2)}×`;
    lines.push(
      `| ${md(r.label)} | ${fmtAuto(r.coldMsgsPerSec)}${ci(r.coldCi)} | ${fmtAuto(r.warmMsgsPerSec)}${ci(r.warmCi)} | ${ratio} | ${fmtAuto(r.coldP50)} | ${fmtAuto(r.warmP50)} | ${r.reset === 'reload' ? 'clamd RELOAD + unique bytes' : 'unique bytes only'} |`,
    );
  }
  return `${lines.join('\n')}\n\nCold: first sight of the bytes (a unique X-Avbench-Pass header per message; clamd RELOADed first where the bench owns it). Warm: after a warm-up over the same bytes; every other figure is warm.\n`;
}

/** The gateways table in Markdown (empty when the file has no third-party system under test). */
export function markdownGateways(results: Results): string {
  const rows = gatewayRows(results);
  if (rows.length === 0) return '';
  const lines = ['| Gateway | Point | Conc. | Detection | False pos. | Errors | cold msgs/s | warm msgs/s | p95 ms | CPU s | Peak memory | Lost |', '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|'];
  for (const g of rows) {
    lines.push(
      `| ${md(g.gateway)}${g.kind === 'reference' ? ' (reference)' : ''} | ${g.point} | ${g.run.concurrency} | ${fmtRate(g.detectionRate)} | ${g.falsePositives} | ${g.errors} | ${g.coldMsgsPerSec === null ? 'n/a' : fmtAuto(g.coldMsgsPerSec)} | ${fmtAuto(g.warmMsgsPerSec)} | ${fmtAuto(g.p95)} | ${g.cpuSeconds === null ? 'n/a' : fmtNumber(g.cpuSeconds, 2)} | ${g.peakMemoryBytes === null ? 'n/a' : fmtBytes(g.peakMemoryBytes)} | ${g.lost} |`,
    );
  }
  return `${lines.join('\n')}\n\nPoint: A SMTP proxy, B milter, C local delivery, – the scanner alone, MTA a third-party gateway measured whole at its SMTP port (its msgs/s and p95 include the grace= wait for what it drops after the queue). CPU and memory of a third-party gateway: its processes listed by pid= on --sut (the gateway and its clamd) and all they forked; of avbench's front ends run by the bench: the bench process plus the scanner's; of avbench's front ends behind a Postfix (postfix+avbench-…): the processes its pid= lists.\n`;
}

/** The environment in one line. */
export function markdownEnvironment(results: Results): string {
  const h = results.host;
  const c = results.corpus;
  const scanners = [...new Map(results.runs.filter((r) => r.baseline !== true).map((r) => [r.scanner.name, r.scanner])).values()]
    .map((s) => `${md(s.name)} ${md(s.version ?? 'version unknown')}${s.signatures !== undefined ? ` (${md(s.signatures)})` : ''}`)
    .join('; ');
  const load = h.loadAverage === undefined ? '' : `, load ${h.loadAverage.join(' ')}`;
  const hash = c.contentSha256 !== undefined ? `, sha256 ${c.contentSha256.slice(0, 16)}…` : c.manifestSha256 !== undefined ? `, manifest sha256 ${c.manifestSha256.slice(0, 16)}…` : '';
  return `${md(results.startedAt)} on ${md(h.cpuModel)}, ${h.cores} cores, ${fmtBytes(h.memoryBytes)}, ${md(h.os)}, Node ${md(h.node)}${load} · corpus ${md(c.path)}: ${fmtNumber(c.messages)} messages, ${fmtBytes(c.bytes)}${hash} · scanners: ${scanners || 'none'}`;
}

/**
 * Render summary.md for one results.json. Deterministic, like the HTML.
 */
export function renderMarkdown(results: Results, opts: MarkdownOptions = {}): string {
  const out: string[] = ['## avbench results', '', markdownRanking(results)];
  const coldWarm = markdownColdWarm(results);
  if (coldWarm !== '') out.push('### Cold and warm passes', '', coldWarm);
  const gateways = markdownGateways(results);
  if (gateways !== '') out.push('### Gateways', '', gateways);
  const { scanners, messages } = problemMessages(results);
  out.push('### Missed, false positives and errors', '');
  if (messages.length === 0) {
    out.push('None: every labelled infected message was found, no clean message was flagged, no scan failed.', '');
  } else {
    const max = opts.maxMessages ?? 50;
    out.push(`| Message | Category | Part | Problem | ${scanners.map(md).join(' | ')} |`, `|---|---|---|---|${scanners.map(() => '---|').join('')}`);
    for (const m of messages.slice(0, max)) {
      const cells = scanners.map((s) =>
        (m.byScanner.get(s) ?? [])
          .map((x) => `${md(x.run.mode)}: ${md(saidText(x.result))}`)
          .join('<br>') || 'not run',
      );
      out.push(`| ${md(m.file)} | ${md(m.category ?? '–')} | ${md(m.part ?? '–')} | ${m.kinds.join(', ')} | ${cells.join(' | ')} |`);
    }
    if (messages.length > max) out.push('', `…and ${messages.length - max} more in report.html / results.json.`);
    out.push('');
  }
  out.push('### Environment', '', markdownEnvironment(results), '');
  if (results.skipped !== undefined && results.skipped.length > 0) out.push(`Not benched: ${results.skipped.map((s) => `${md(s.name)} (${md(s.reason)})`).join('; ')}`, '');
  if (results.command !== undefined) out.push(`Reproduce: <code>${md(results.command)}</code>`, '');
  return `${out.join('\n')}`;
}

/** summary.md for a comparison (before → after). */
export function renderCompareMarkdown(c: Comparison, opts: MarkdownOptions = {}): string {
  const out: string[] = ['## avbench: before → after', '', `Before: ${md(c.before.startedAt)} · after: ${md(c.after.startedAt)}`, ''];
  if (c.scannerChanges.length > 0) {
    out.push('| Scanner | Before | After |', '|---|---|---|');
    for (const s of c.scannerChanges) {
      const v = (x: typeof s.before): string => (x === undefined ? 'absent' : `${md(x.version ?? '?')}${x.signatures !== undefined ? ` (${md(x.signatures)})` : ''}`);
      out.push(`| ${md(s.name)} | ${v(s.before)} | ${v(s.after)} |`);
    }
    out.push('');
  }
  out.push('| Run | Detection before → after | Δ points | FP before → after | msgs/s before → after | msgs/s change |', '|---|---|--:|---|---|--:|');
  for (const p of c.pairs) {
    const b = p.before;
    const a = p.after;
    out.push(
      `| ${md(p.label)} | ${b ? fmtRate(b.detection.detectionRate) : 'absent'} → ${a ? fmtRate(a.detection.detectionRate) : 'absent'} | ${p.detectionDeltaPoints === null ? 'n/a' : fmtNumber(p.detectionDeltaPoints, 1)} | ${b ? b.detection.fp : '–'} → ${a ? a.detection.fp : '–'} | ${b ? fmtAuto(b.throughput.msgsPerSec) : '–'} → ${a ? fmtAuto(a.throughput.msgsPerSec) : '–'} | ${p.msgsPerSecMeasurable === false ? `no measurable difference (${fmtChange(p.msgsPerSecChangePct)})` : fmtChange(p.msgsPerSecChangePct)} |`,
    );
  }
  out.push('', '### Messages whose verdict changed', '');
  if (c.changes.length === 0) out.push('None.', '');
  else {
    const max = opts.maxMessages ?? 50;
    out.push('| Change | Message | Category | Run | Before | After |', '|---|---|---|---|---|---|');
    for (const ch of c.changes.slice(0, max)) out.push(`| ${ch.kind} | ${md(ch.file)} | ${md(ch.category ?? '–')} | ${md(ch.key)} | ${md(saidText(ch.before))} | ${md(saidText(ch.after))} |`);
    if (c.changes.length > max) out.push('', `…and ${c.changes.length - max} more in report.html.`);
    out.push('');
  }
  out.push('### Environment', '', `Before: ${markdownEnvironment(c.before)}`, '', `After: ${markdownEnvironment(c.after)}`, '');
  return out.join('\n');
}
