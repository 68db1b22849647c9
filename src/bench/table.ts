/**
 * The terminal summary of a bench: one row per run (scanner, mode with the SMTP load shape, concurrency, detection,
 * false positives, errors, msgs/s over completed messages with its spread over repeats, p95 latency, deadline hits, lost).
 * Counts come from src/results/counts.ts, like the report's and `check`'s.
 */
import Table from 'cli-table3';
import { completedThroughput, runCounts } from '../results/counts.js';
import type { Results, Run } from '../results/types.js';
import { relativeSpread } from './stats.js';

function pct(x: number | null): string {
  return x === null ? '–' : `${(x * 100).toFixed(1)}%`;
}

function rate(run: Run): string {
  const r = completedThroughput(run).msgsPerSec;
  const shown = r >= 100 ? r.toFixed(0) : r.toFixed(1);
  if (run.repeats.length < 2) return shown;
  return `${shown} ±${(relativeSpread(run.repeats.map((x) => x.completedMsgsPerSec ?? x.msgsPerSec)) * 50).toFixed(0)}%`;
}

/** Deadline hits: `0`, or `4 (80.2 s)` (messages, and the seconds they took). */
export function timeoutsCell(run: Run): string {
  const c = runCounts(run);
  return c.timeouts === 0 ? '0' : `${c.timeouts} (${c.timeoutSeconds.toFixed(1)} s)`;
}

/** The mode cell: `smtp per-message 50/s`, `smtp (SUT) kept-open`, `direct`. */
export function modeCell(run: Run): string {
  const mode = run.sut === 'direct' || run.sut === 'ours' ? run.mode : `${run.mode} (SUT)`;
  if (run.shape === undefined) return mode;
  return `${mode} ${run.shape.connection}${run.shape.rate === undefined ? '' : ` ${run.shape.rate}/s`}`;
}

/** The table as text (no colours). */
export function formatTable(results: Results): string {
  const cold = results.runs.some((r) => r.cold !== undefined);
  const t = new Table({
    head: ['scanner', 'mode', 'conc', 'detection', 'FP', 'errors', cold ? 'warm msgs/s' : 'msgs/s', ...(cold ? ['cold msgs/s'] : []), 'p95 ms', 'timeouts', 'lost'],
    style: { head: [], border: [] },
  });
  for (const run of results.runs) {
    const d = runCounts(run);
    t.push([
      run.baseline === true ? `${run.scanner.name} (baseline)` : run.scanner.name,
      modeCell(run),
      run.concurrency,
      run.baseline === true || d.tp + d.fn === 0 ? '–' : `${pct(d.detectionRate)} (${d.tp}/${d.tp + d.fn})`,
      run.baseline === true || d.fp + d.tn === 0 ? '–' : `${d.fp}/${d.fp + d.tn}`,
      d.errors,
      rate(run),
      ...(cold ? [run.cold === undefined ? '–' : `${run.cold.msgsPerSec >= 100 ? run.cold.msgsPerSec.toFixed(0) : run.cold.msgsPerSec.toFixed(1)}${run.cold.reset === 'reload' ? ' (reload)' : ''}`] : []),
      run.latencyMs.p95.toFixed(1),
      timeoutsCell(run),
      d.lost,
    ]);
  }
  const of = results.corpus.totalMessages === undefined ? '' : ` (the first of ${results.corpus.totalMessages})`;
  const foot = `${results.corpus.messages} messages${of}, ${(results.corpus.bytes / 1e6).toFixed(1)} MB; median of ${results.settings?.repeats ?? '?'} repeat(s) after ${results.settings?.warmup ?? '?'} warm-up pass(es)${results.settings?.order === 'interleaved' ? ', rounds interleaved across runs' : ''}; ± is half the range over repeats;${cold ? ' cold: median of the cold passes (first sight of the bytes: unique X-Avbench-Pass header; (reload): clamd RELOADed first);' : ''} msgs/s counts completed messages only: timeouts (messages that ended at a deadline, and the seconds they took) are apart; errors count every error verdict, labelled or not`;
  return `${t.toString()}\n${foot}`;
}
