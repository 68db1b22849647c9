/**
 * The matrix runner behind `avbench bench`: corpus × scanners × modes × concurrency levels
 * (plus third-party SUTs and a no-scan baseline per mode), each run one warm-up pass and N
 * measured repeats; the run's figures are those of the median repeat (by msgs/s) and
 * `repeats[]` lists every repeat so the spread is visible.
 *
 * {@link runBench} is four steps, each in its own file:
 *   validate.ts  — the options checked, defaults filled in, the corpus and `--sut`s opened;
 *   plan.ts      — scanners opened and described, the baseline, cells, the schedule;
 *   cell.ts      — one step of the schedule for one cell (passes in pass.ts);
 *   assemble.ts  — figures, runs and results.json's content.
 *
 * The corpus is streamed on every pass (one message read at a time, never all held); only
 * the per-message records of the current run's repeats are kept.
 */
import type { Results, Run } from '../results/types.js';
import { assembleRun, assembleResults } from './assemble.js';
import { closeCell, newCellStates, runStep, type CellState, type StepContext } from './cell.js';
import { hostInfo } from './host.js';
import { hashCorpus } from './pass.js';
import { PlanResources, planBaseline, planCells, planSchedule, planScanners, planSuts, scannerNames, type Cell, type Plan } from './plan.js';
import { BenchInputError, limitFor, openInputs, validateOptions, type RunBenchOptions } from './validate.js';

export { buildRun, markDeadlines, stalledMs, sumUse, throughputInterval, type PassKinds } from './assemble.js';
export { PASS_HEADER, withPassHeader, type Pass } from './pass.js';
export { planSchedule, type Step } from './plan.js';
export { BenchInputError, MODES, type BenchEvent, type RunBenchOptions } from './validate.js';

/**
 * Run the bench and return results.json's content. Throws BenchInputError for unusable
 * input (corpus missing, bad SUT, nothing to run); a scanner that is not available is
 * skipped (an event and `skipped[]` say why); scanner trouble during a run is data.
 */
export async function runBench(o: RunBenchOptions): Promise<Results> {
  const startedAt = new Date().toISOString();
  const emit = o.onEvent ?? (() => undefined);
  const settings = validateOptions(o);
  const { corpus, suts } = await openInputs(o);

  const skipped: { name: string; reason: string }[] = [];
  const skip = (name: string, reason: string): void => {
    skipped.push({ name, reason });
    emit({ type: 'skip', name, reason });
  };

  const owned = new PlanResources();
  try {
    const plans: Plan[] = await planScanners(scannerNames(o, suts, settings.config), o, settings, owned, skip);
    plans.push(...(await planSuts(suts)));
    if (plans.length === 0) throw new BenchInputError(`nothing to bench: ${skipped.length > 0 ? skipped.map((s) => `${s.name} (${s.reason})`).join('; ') : 'no scanner or SUT given'}`);
    // The no-scan baseline of every mode in play, first.
    if (o.baseline !== false) plans.unshift(await planBaseline(plans, settings.config, owned));
    const cells: Cell[] = planCells(plans, settings.levels);

    const host = hostInfo();
    const contentSha256 = await hashCorpus(corpus, settings.limit);
    const ctx: StepContext = {
      o,
      settings,
      corpus,
      total: cells.length,
      passes: (settings.cold ? 1 : 0) + settings.warmup + 1,
      nonceBase: `${Date.now().toString(36)}.${process.pid}`,
      resets: new Set(o.coldReset?.scanners ?? []),
      baselineConfigPath: owned.baselineConfigPath,
      emit,
      skip,
    };
    const states: CellState[] = newCellStates(cells.length);
    for (const step of planSchedule(cells.length, settings.repeat, settings.warmup, settings.cold)) {
      await runStep(step, cells[step.cell] as Cell, states[step.cell] as CellState, ctx);
    }

    const runs: Run[] = [];
    let benchedBytes = 0;
    for (const [index, cell] of cells.entries()) {
      const st = states[index] as CellState;
      await closeCell(st);
      const run = assembleRun(cell, st, settings.cold);
      if (run === undefined) continue;
      if (limitFor(settings, o, cell.mode) === settings.limit) benchedBytes = st.warm[0]?.bytes ?? benchedBytes;
      runs.push(run);
      emit({ type: 'run-end', run });
    }
    return assembleResults({ startedAt, host, corpus, contentSha256, benchedBytes, command: o.command, skipped }, settings, runs);
  } finally {
    await owned.release();
  }
}
