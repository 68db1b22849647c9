/**
 * The bench's third step: one step of the schedule for one cell. A cell's front end (or
 * SUT driver) is started at its round's first step and closed after its measured warm pass,
 * so each round starts it afresh and warms it; a cold step empties the scanner's caches
 * when the bench owns its daemon and sends new bytes; a warm step is sampled for CPU and
 * RSS. A cell that cannot start or whose pass throws is marked failed and skipped from then on.
 */
import type { OpenedCorpus } from '../corpus/read.js';
import type { LoadShape, ResourceUse } from '../results/types.js';
import { startFrontEnd, startSut, type Target } from './frontends.js';
import { LoadSampler } from './host.js';
import { runPass, type Pass } from './pass.js';
import type { Cell, Skip, Step } from './plan.js';
import { limitFor, type BenchEvent, type BenchSettings, type RunBenchOptions } from './validate.js';

/** A cell's measured passes so far, its resource use, its running target, and why it stopped (a start failure ends it). */
export interface CellState {
  warm: Pass[];
  cold: Pass[];
  use: ResourceUse[];
  target?: Target | undefined;
  /** results.json `sut`, once a target ran. */
  sut?: string;
  shape?: LoadShape;
  failed?: string;
  /** How its cold passes emptied the caches. */
  reset: 'reload' | 'unique-bytes';
  resetFailed?: boolean;
}

/** A fresh state per cell. */
export function newCellStates(n: number): CellState[] {
  return Array.from({ length: n }, () => ({ warm: [], cold: [], use: [], reset: 'unique-bytes' }));
}

/** What every step of the bench shares. */
export interface StepContext {
  o: RunBenchOptions;
  settings: BenchSettings;
  corpus: OpenedCorpus;
  /** Cells in the bench (for progress events). */
  total: number;
  /** Passes per cell and round: cold (when asked), warm-ups, the measured warm pass. */
  passes: number;
  /** Makes each cold pass's header line unique to this bench. */
  nonceBase: string;
  /** Scanners whose caches `o.coldReset` empties. */
  resets: ReadonlySet<string>;
  /** The lda baseline's config (see planBaseline). */
  baselineConfigPath: string | undefined;
  emit: (e: BenchEvent) => void;
  skip: Skip;
}

/** Start the cell's system: our front end around its adapter, or the SUT's driver. */
function startTarget(cell: Cell, ctx: StepContext): Promise<Target> {
  const { plan, mode, concurrency } = cell;
  const { o, settings, baselineConfigPath } = ctx;
  const { config, shape } = settings;
  return plan.kind === 'adapter'
    ? startFrontEnd({
        adapter: plan.adapter,
        mode,
        concurrency,
        ...(config.limits === undefined ? {} : { limits: config.limits }),
        ...(o.deliverCommand === undefined ? {} : { deliverCommand: o.deliverCommand }),
        ...(plan.baseline && baselineConfigPath !== undefined ? { configPath: baselineConfigPath } : o.configPath === undefined ? {} : { configPath: o.configPath }),
        ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
        shape,
      })
    : startSut(plan.spec, concurrency, o.timeoutMs, shape);
}

/** Before a cold pass: empty the caches of the daemon behind a scanner or SUT, where the bench may (once it failed, never again). */
async function resetCaches(cell: Cell, st: CellState, ctx: StepContext): Promise<void> {
  const { plan, id } = cell;
  const { coldReset } = ctx.o;
  if (coldReset === undefined || st.resetFailed === true) return;
  // A scanner behind the daemon, or a system under test that scans through it (its pid= lists the daemon's).
  const behind = plan.kind === 'adapter' ? !plan.baseline && ctx.resets.has(plan.info.name) : (coldReset.pids ?? []).some((p) => plan.spec.pids.includes(p));
  if (!behind) return;
  try {
    await coldReset.reset();
    st.reset = 'reload';
  } catch (err) {
    // The pass still runs on new bytes; the cell says only that (conservative label).
    st.resetFailed = true;
    st.reset = 'unique-bytes';
    ctx.skip(`${id} (cold reset)`, `clamd RELOAD failed, cold passes on unique bytes only: ${(err as Error).message}`);
  }
}

/** Mark the cell failed: skipped and told, never run again. */
function fail(cell: Cell, st: CellState, ctx: StepContext, reason: string): void {
  st.failed = reason;
  ctx.skip(cell.id, reason);
  ctx.emit({ type: 'run-failed', id: cell.id, reason });
}

/** Run one step of the schedule for its cell, recording measured passes in `st`. */
export async function runStep(step: Step, cell: Cell, st: CellState, ctx: StepContext): Promise<void> {
  if (st.failed !== undefined) return;
  const { plan, mode, id } = cell;
  const { settings, emit, passes } = ctx;
  const { cold, warmup } = settings;
  const cellLimit = limitFor(settings, ctx.o, mode);
  const messages = Math.min(ctx.corpus.info.messages, cellLimit);
  if (st.target === undefined) {
    emit({ type: 'run-start', id, index: step.cell, total: ctx.total, passes, messages, round: step.round, rounds: settings.repeat });
    try {
      st.target = await startTarget(cell, ctx);
    } catch (err) {
      fail(cell, st, ctx, `could not start: ${(err as Error).message}`);
      return;
    }
  }
  const target = st.target;
  st.sut = plan.kind === 'sut' ? plan.spec.url : target.sut;
  if (target.shape !== undefined) st.shape = target.shape;
  const stepNo = (step.kind === 'cold' ? 0 : (cold ? 1 : 0) + (step.kind === 'warmup' ? 0 : warmup)) + 1;
  // Progress every 16 messages (and the last): no event per message on the fast path.
  const tick = (done: number): void => {
    if ((done & 15) === 0 || done === messages) emit({ type: 'pass', id, pass: stepNo, passes, warmup: step.kind === 'warmup', cold: step.kind === 'cold', done, messages });
  };
  try {
    if (step.kind === 'cold') {
      await resetCaches(cell, st, ctx);
      st.cold.push(await runPass(ctx.corpus, target, tick, cellLimit, `${ctx.nonceBase}.${id}.${step.round}`));
    } else if (step.kind === 'warmup') {
      await runPass(ctx.corpus, target, tick, cellLimit);
    } else {
      const sampler = new LoadSampler([...(plan.kind === 'adapter' ? plan.pids : []), ...target.pids]);
      sampler.start();
      st.warm.push(await runPass(ctx.corpus, target, tick, cellLimit));
      st.use.push(sampler.stop());
    }
  } catch (err) {
    const reason = `failed: ${(err as Error).message}`;
    st.failed = reason;
    await target.close();
    st.target = undefined;
    fail(cell, st, ctx, reason);
    return;
  }
  // The front end lives for one round of a cell: each round starts it afresh and warms it.
  if (step.kind === 'warm') {
    await target.close();
    st.target = undefined;
  }
}

/** Close the cell's target if one is still running (after the last step, or a failure in between). */
export async function closeCell(st: CellState): Promise<void> {
  if (st.target !== undefined) await st.target.close();
}
