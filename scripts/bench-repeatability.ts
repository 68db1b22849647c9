/**
 * Do reruns agree? (issue 14.8) The same bench, run twice as whole CLI processes the way a
 * user runs it — `node dist/src/cli/bin.cjs bench --corpus C --lab -s embedded -s clamd -m
 * direct -m smtp --repeat R --warmup W --out DIR` — each writing its own results.json. Then,
 * per cell (the runs of the two files paired as src/results/pairing.ts pairs them, the same
 * rule as `avbench report A B` and `avbench check`):
 *
 *  - detection: every message's verdict and detection names equal in both files (and the
 *    same messages, the same cells). It must be: the script exits 1 when any cell differs.
 *  - throughput: the mean completed msgs/s of run 2's warm repeats minus run 1's, with its 95 %
 *    interval (Welch's t over the repeats, src/bench/stats.ts differenceInterval), and in % of
 *    run 1; "no measurable difference" when the interval holds 0. The same for the cold passes.
 *
 * The reference of this bench is run 1 itself: run 2 ÷ run 1 is the ratio printed. Host,
 * versions (in the results files) and the load average before and after each run are printed.
 *
 *   npm run bench:repeatability
 *   node dist/scripts/bench-repeatability.js [--corpus DIR] [--scanners embedded,clamd]
 *        [--modes direct,smtp] [--repeat 3] [--warmup 1] [--keep DIR]
 *
 * Without --corpus the quick corpus is generated (seed 1, `avbench corpus generate --profile
 * quick`) into a temporary folder. --keep DIR keeps both results folders (DIR/run1, DIR/run2,
 * each with its report). The bench runs a private copy of dist/ so a rebuild of the shared
 * tree meanwhile does not change it.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { differenceInterval, type MeanInterval } from '../src/bench/stats.js';
import { run } from '../src/core/exec.js';
import { pairMessages, pairRuns } from '../src/results/pairing.js';
import { runCounts } from '../src/results/counts.js';
import type { Results, Run } from '../src/results/types.js';
import { loadResultsFile } from '../src/report/load.js';
import { repeatRates, runLabel } from '../src/report/model.js';
import { opt, readOptions } from './lib/args.js';
import { hostLine, loadAverage } from './lib/host.js';
import { runMain, stopAll, wallTime, type Stops } from './lib/run.js';
import { privateDist } from './lib/sut.js';

const SCANNERS = ['embedded', 'clamd', 'clamscan', 'clamdscan', 'yara', 'icap'] as const;
const MODES = ['direct', 'smtp', 'milter', 'lda'] as const;
const USAGE = 'node dist/scripts/bench-repeatability.js [--corpus DIR] [--scanners embedded,clamd] [--modes direct,smtp] [--repeat 3] [--warmup 1] [--keep DIR]';
/** A whole bench may take this long before it is killed. */
const BENCH_DEADLINE_MS = 45 * 60_000;

/** Per cell: does detection agree, and by how much does throughput differ. */
interface CellRow {
  key: string;
  label: string;
  /** Counts as `tp/fn/fp/err` of run 1 (and of run 2 when they differ). */
  detection: string;
  identical: boolean;
  /** What differs, when detection is not identical. */
  why: string[];
  warm1: number[];
  warm2: number[];
  warmDiff: MeanInterval | null;
  cold1: number[];
  cold2: number[];
  coldDiff: MeanInterval | null;
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((s, x) => s + x, 0) / xs.length);

function coldRates(r: Run): number[] {
  return (r.cold?.repeats ?? []).map((x) => x.completedMsgsPerSec ?? x.msgsPerSec).filter((x) => Number.isFinite(x));
}

function countsText(r: Run): string {
  const c = runCounts(r);
  return `${c.tp}/${c.fn}/${c.fp}/${c.errors}`;
}

/** Every way the two runs' detection differs (empty: identical). */
function detectionDifferences(a: Run, b: Run): string[] {
  const why: string[] = [];
  const m = pairMessages(a, b);
  if (m.onlyBefore.length > 0) why.push(`${m.onlyBefore.length} message(s) only in run 1`);
  if (m.onlyAfter.length > 0) why.push(`${m.onlyAfter.length} message(s) only in run 2`);
  for (const { file, before, after } of m.pairs) {
    const nb = [...before.names].sort().join(',');
    const na = [...after.names].sort().join(',');
    if (before.verdict !== after.verdict || nb !== na || before.errorCode !== after.errorCode) {
      why.push(`${file}: ${before.verdict}${before.errorCode === undefined ? '' : ` ${before.errorCode}`}${nb === '' ? '' : ` ${nb}`} → ${after.verdict}${after.errorCode === undefined ? '' : ` ${after.errorCode}`}${na === '' ? '' : ` ${na}`}`);
    }
  }
  if (countsText(a) !== countsText(b)) why.push(`counts ${countsText(a)} → ${countsText(b)}`);
  return why;
}

/** Pair the two files' cells and compare each. */
function compareReruns(r1: Results, r2: Results): CellRow[] {
  return pairRuns(r1, r2).map(({ key, before, after }): CellRow => {
    const any = (before ?? after) as Run;
    const label = runLabel(any, before !== undefined ? r1 : r2);
    if (before === undefined || after === undefined) {
      return { key, label, detection: countsText(any), identical: false, why: [before === undefined ? 'only in run 2' : 'only in run 1'], warm1: [], warm2: [], warmDiff: null, cold1: [], cold2: [], coldDiff: null };
    }
    const why = detectionDifferences(before, after);
    const warm1 = repeatRates(before);
    const warm2 = repeatRates(after);
    const cold1 = coldRates(before);
    const cold2 = coldRates(after);
    return {
      key,
      label,
      detection: why.length === 0 ? countsText(before) : `${countsText(before)} → ${countsText(after)}`,
      identical: why.length === 0,
      why,
      warm1,
      warm2,
      warmDiff: differenceInterval(warm2, warm1),
      cold1,
      cold2,
      coldDiff: differenceInterval(cold2, cold1),
    };
  });
}

const f0 = (x: number): string => (Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2)) : 'n/a');
const signed = (x: number): string => (x > 0 ? `+${f0(x)}` : f0(x));

/** `+12.3 (−40.1 to +64.7) +2.1 %` and whether the interval holds 0. */
function diffText(d: MeanInterval | null, base: readonly number[]): string {
  if (d === null) return 'n/a (fewer than 2 passes a side)';
  const pct = (d.mean / mean(base)) * 100;
  const verdict = d.low <= 0 && d.high >= 0 ? 'no measurable difference' : 'differs';
  return `${signed(d.mean)} (${signed(d.low)} to ${signed(d.high)}) ${Number.isFinite(pct) ? `${pct >= 0 ? '+' : ''}${pct.toFixed(1)} %` : ''} ${verdict}`;
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** The printed table: one line per cell. */
function formatRows(rows: readonly CellRow[]): string {
  const head = ['cell', 'detection tp/fn/fp/err', 'identical', 'warm msgs/s run 1', 'run 2', 'run 2 − run 1, 95 % CI', 'cold msgs/s run 1', 'run 2', 'cold run 2 − run 1, 95 % CI'];
  const body = rows.map((r) => [
    r.label,
    r.detection,
    r.identical ? 'yes' : 'NO',
    f0(mean(r.warm1)),
    f0(mean(r.warm2)),
    diffText(r.warmDiff, r.warm1),
    r.cold1.length === 0 ? '-' : f0(mean(r.cold1)),
    r.cold2.length === 0 ? '-' : f0(mean(r.cold2)),
    r.cold1.length === 0 ? '-' : diffText(r.coldDiff, r.cold1),
  ]);
  return table([head, ...body]);
}

async function main(): Promise<void> {
  const a = readOptions(
    'bench-repeatability',
    process.argv.slice(2),
    {
      corpus: opt.optionalString(),
      scanners: opt.list(['embedded', 'clamd'], SCANNERS),
      modes: opt.list(['direct', 'smtp'], MODES),
      repeat: opt.whole(3, 2),
      warmup: opt.whole(1, 0),
      keep: opt.optionalString(),
    },
    USAGE,
  );
  const started = performance.now();
  const stops: Stops = [];
  const work = await mkdtemp(join(tmpdir(), 'avbench-repeatability-'));
  stops.push(() => rm(work, { recursive: true, force: true }));
  try {
    console.log(hostLine());
    const app = await privateDist(work);
    const bin = join(app, 'dist/src/cli/bin.cjs');
    const cli = async (args: string[], what: string): Promise<void> => {
      const r = await run(process.execPath, [bin, ...args], { deadline: Date.now() + BENCH_DEADLINE_MS, maxBuffer: 64 * 2 ** 20 });
      if (!r.ok || r.exitCode !== 0) {
        const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-15).join('\n');
        throw new Error(`${what} failed (${r.ok ? `exit ${r.exitCode}` : `${r.reason}: ${r.message}`}):\n${tail}`);
      }
    };
    let corpus = a.corpus === undefined ? undefined : resolve(a.corpus);
    if (corpus === undefined) {
      corpus = join(work, 'quick');
      await cli(['corpus', 'generate', '--out', corpus, '--profile', 'quick', '--seed', '1'], 'corpus generate');
    }
    const out = a.keep === undefined ? work : resolve(a.keep);
    await mkdir(out, { recursive: true });
    const benchArgs = (dir: string): string[] => ['bench', '--corpus', corpus, '--lab', ...a.scanners.flatMap((s) => ['-s', s]), ...a.modes.flatMap((m) => ['-m', m]), '--repeat', String(a.repeat), '--warmup', String(a.warmup), '--out', dir];
    console.log(`corpus: ${a.corpus ?? 'quick (generated, seed 1)'}; scanners ${a.scanners.join(', ')}; modes ${a.modes.join(', ')}; ${a.repeat} repeats, ${a.warmup} warm-up, cold pass per round, no-scan baselines`);
    console.log(`each run: node dist/src/cli/bin.cjs ${benchArgs('OUT').join(' ').replace(corpus, a.corpus ?? '<quick corpus>')}`);
    const files: Results[] = [];
    for (const n of [1, 2]) {
      const dir = join(out, `run${n}`);
      const t0 = performance.now();
      const before = loadAverage(2);
      await cli(benchArgs(dir), `bench run ${n}`);
      console.log(`run ${n}: ${((performance.now() - t0) / 1000).toFixed(0)} s, load average before ${before}, after ${loadAverage(2)}${a.keep === undefined ? '' : `, ${join(dir, 'results.json')}`}`);
      const loaded = await loadResultsFile(join(dir, 'results.json'));
      if (!loaded.ok) throw new Error(loaded.message);
      files.push(loaded.results);
    }
    const [r1, r2] = files as [Results, Results];
    const rows = compareReruns(r1, r2);
    console.log('');
    console.log(formatRows(rows));
    console.log('');
    console.log('msgs/s: completed messages, mean of the warm repeats (cold: of the cold passes) of each run; the difference is run 2 − run 1 with its 95 % interval (Welch\'s t over the passes) and in % of run 1; "no measurable difference" when the interval holds 0.');
    const differing = rows.filter((r) => !r.identical);
    const measurable = rows.filter((r) => r.warmDiff !== null && !(r.warmDiff.low <= 0 && r.warmDiff.high >= 0));
    const ratios = rows.filter((r) => r.warm1.length > 0 && r.warm2.length > 0).map((r) => mean(r.warm2) / mean(r.warm1));
    console.log(`detection identical in ${rows.length - differing.length} of ${rows.length} cells; warm throughput differs measurably in ${measurable.length} of ${rows.length}; run 2 ÷ run 1 warm msgs/s from ${f0(Math.min(...ratios))} to ${f0(Math.max(...ratios))}`);
    for (const r of differing) console.log(`DETECTION DIFFERS in ${r.label}:\n  ${r.why.slice(0, 20).join('\n  ')}${r.why.length > 20 ? `\n  ...and ${r.why.length - 20} more` : ''}`);
    console.log(`load average at the end ${loadAverage(2)}; ${wallTime(started)}`);
    if (differing.length > 0) process.exitCode = 1;
  } finally {
    await stopAll(stops);
  }
}

runMain('bench-repeatability', main);
