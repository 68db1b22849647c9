/**
 * The bench's second step: what to bench and in which order. Scanners are opened and
 * probed (one lifecycle, adapters/open.ts) and described into {@link Plan}s, `--sut`s
 * likewise, the no-scan baseline put first; the plans flattened into {@link Cell}s (plan ×
 * mode × concurrency), and the cells' passes ordered by {@link planSchedule}.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listScanners, resolveScanner } from '../../adapters/index.js';
import { createNoopAdapter } from '../../adapters/noop.js';
import { openScanners, type OpenedScanners } from '../../adapters/open.js';
import type { AvbenchConfig } from '../config/config.js';
import type { Adapter, ProbeResult } from '../core/types.js';
import type { ModeName } from '../modes/types.js';
import type { ScannerInfo } from '../results/types.js';
import type { SutSpec } from './sut.js';
import { BenchInputError, MODES, type BenchSettings, type RunBenchOptions } from './validate.js';
import { describeAdapter, describeCommand, describeProcesses, withDescription, type ScannerOptionsSeen } from './versions.js';

/** One thing to bench: an adapter in some modes, or a SUT. */
export type Plan =
  | { kind: 'adapter'; adapter: Adapter; info: ScannerInfo; modes: readonly ModeName[]; baseline: boolean; pids: readonly number[] }
  | { kind: 'sut'; spec: SutSpec; info: ScannerInfo; deadlineMs?: number };

/** One cell of the matrix: a plan in one mode at one concurrency level. */
export interface Cell {
  plan: Plan;
  mode: ModeName;
  concurrency: number;
  /** `NAME/MODE/cN` (`baseline/MODE/cN` for the no-scan baseline). */
  id: string;
}

/** A skipped scanner or cell and why (listed in results.json `skipped[]`, told as an event). */
export type Skip = (name: string, reason: string) => void;

/** What planning opens and the bench must give back at its end, whether it ran or threw. */
export class PlanResources {
  /** Every adapter opened (available or not), the baseline's noop included. */
  readonly adapters: Adapter[] = [];
  /** lda baseline: the temporary folder of the config naming noop for `avbench deliver`. */
  baselineConfigDir: string | undefined;
  /** lda baseline: that config file. */
  baselineConfigPath: string | undefined;

  /** Close every adapter (errors ignored) and remove the baseline's config folder. */
  async release(): Promise<void> {
    await Promise.all(this.adapters.map((a) => a.close().catch(() => undefined)));
    if (this.baselineConfigDir !== undefined) await rm(this.baselineConfigDir, { recursive: true, force: true });
  }
}

/** results.json's `scanner` of an adapter from its probe (version and signatures when it told them). */
export function scannerInfo(a: Adapter, p: ProbeResult): ScannerInfo {
  return {
    name: a.name,
    type: a.type,
    granularity: a.granularity,
    ...(p.version === undefined ? {} : { version: p.version }),
    ...(p.signatures === undefined ? {} : { signatures: p.signatures }),
  };
}

/** One step of the bench's schedule. */
export interface Step {
  /** 1-based round: every cell's round 1 runs before any cell's round 2. */
  round: number;
  /** Index into the cells. */
  cell: number;
  /** `cold` (measured, first sight of the bytes), `warmup` (not measured), `warm` (measured). */
  kind: 'cold' | 'warmup' | 'warm';
}

/**
 * The order of every pass: rounds outermost (repeat 1 of every cell, then repeat 2...), so
 * drift in the machine's load spreads over all cells instead of favouring the first; within
 * a round each cell gets its cold pass (when asked), its warm-up passes, then its measured
 * warm pass — every cell is warmed right before it is measured.
 */
export function planSchedule(cells: number, repeat: number, warmup: number, cold: boolean): Step[] {
  const steps: Step[] = [];
  for (let round = 1; round <= repeat; round++) {
    for (let cell = 0; cell < cells; cell++) {
      if (cold) steps.push({ round, cell, kind: 'cold' });
      for (let k = 0; k < warmup; k++) steps.push({ round, cell, kind: 'warmup' });
      steps.push({ round, cell, kind: 'warm' });
    }
  }
  return steps;
}

/** A SUT's programs and databases: through its PIDs, and for `lda:` the command it runs. */
async function describeSut(spec: SutSpec): Promise<Awaited<ReturnType<typeof describeProcesses>>> {
  const d = await describeProcesses(spec.pids).catch(() => ({ programs: [], databases: [] }) as Awaited<ReturnType<typeof describeProcesses>>);
  if (spec.kind === 'lda') {
    const program = await describeCommand(spec.command[0] as string).catch(() => undefined);
    if (program !== undefined && !d.programs.some((p) => p.name === program.name)) d.programs.unshift(program);
  }
  return d;
}

/** Names benched when none are given: config entries and built-in types, not presets, cli or noop. */
function defaultScannerNames(config: AvbenchConfig): string[] {
  return listScanners(config)
    .filter((e) => e.source !== 'preset' && e.type !== 'noop' && !(e.source === 'builtin' && e.type === 'cli'))
    .map((e) => e.name);
}

/** The scanners to bench: the named ones, else every available one (none when only SUTs were given). */
export function scannerNames(o: RunBenchOptions, suts: readonly SutSpec[], config: AvbenchConfig): string[] {
  return o.scanners !== undefined && o.scanners.length > 0 ? [...new Set(o.scanners)] : suts.length > 0 ? [] : defaultScannerNames(config);
}

/**
 * A plan per available scanner, in the order named: each built by name and probed with a
 * deadline (not required); one that is not available or badly configured is skipped (a bad
 * configuration of a scanner named in `o.scanners` throws BenchInputError instead).
 */
export async function planScanners(names: readonly string[], o: RunBenchOptions, settings: BenchSettings, owned: PlanResources, skip: Skip): Promise<Plan[]> {
  const plans: Plan[] = [];
  const { config } = settings;
  for (const name of names) {
    // One lifecycle (adapters/open.ts): built by name, probed with a deadline, not required.
    let opened: OpenedScanners;
    try {
      opened = await openScanners([name], config, { require: false });
    } catch (err) {
      if (o.scanners !== undefined && o.scanners.length > 0) throw new BenchInputError((err as Error).message);
      skip(name, `bad configuration: ${(err as Error).message}`);
      continue;
    }
    const adapter = opened.adapters[0] as Adapter;
    owned.adapters.push(adapter);
    const p = (opened.probes[0] as OpenedScanners['probes'][number]).probe;
    if (!p.available) {
      skip(name, p.reason ?? 'not available');
      continue;
    }
    const pids = o.scannerPids?.[name] ?? [];
    let info = scannerInfo(adapter, p);
    try {
      info = withDescription(info, await describeAdapter(adapter.type, resolveScanner(name, config).options as ScannerOptionsSeen, pids, p));
    } catch {
      /* versions are best effort: the probe's figures stay */
    }
    plans.push({ kind: 'adapter', adapter, info, modes: settings.modes, baseline: false, pids });
  }
  return plans;
}

/** A plan per `--sut`, described through its PIDs (programs, databases, its own deadline). */
export async function planSuts(suts: readonly SutSpec[]): Promise<Plan[]> {
  const plans: Plan[] = [];
  for (const spec of suts) {
    const d = await describeSut(spec);
    const deadlineMs = spec.deadlineMs ?? d.deadlineMs;
    plans.push({ kind: 'sut', spec, info: withDescription({ name: spec.name, type: 'sut' }, d), ...(deadlineMs === undefined ? {} : { deadlineMs }) });
  }
  return plans;
}

/**
 * The no-scan baseline of every mode in play: the transport alone, through the same front
 * ends. Its noop adapter has granularity message, so the core hands it the raw message and
 * never walks its MIME tree (a message the walker would refuse passes). In lda mode the
 * `avbench deliver` child builds its scanner from a config: a temporary one naming noop
 * (the rest as given) is written and recorded in `owned`.
 */
export async function planBaseline(plans: readonly Plan[], config: AvbenchConfig, owned: PlanResources): Promise<Plan> {
  const inPlay = new Set<ModeName>();
  for (const p of plans) {
    if (p.kind === 'adapter') for (const m of p.modes) inPlay.add(m);
    else inPlay.add(p.spec.kind);
  }
  const noop = createNoopAdapter({ granularity: 'message' });
  if (inPlay.has('lda')) {
    owned.baselineConfigDir = await mkdtemp(join(tmpdir(), 'avbench-baseline-'));
    owned.baselineConfigPath = join(owned.baselineConfigDir, 'avbench.config.json');
    const withNoop: AvbenchConfig = { ...config, scanners: { ...config.scanners, [noop.name]: { type: 'noop', granularity: 'message' } } };
    await writeFile(owned.baselineConfigPath, JSON.stringify(withNoop, null, 2), { mode: 0o600 });
  }
  owned.adapters.push(noop);
  return { kind: 'adapter', adapter: noop, info: scannerInfo(noop, await noop.probe()), modes: MODES.filter((m) => inPlay.has(m)), baseline: true, pids: [] };
}

/** Flatten plans into cells: each plan's modes × the concurrency levels, in plan order. */
export function planCells(plans: readonly Plan[], levels: readonly number[]): Cell[] {
  const cells: Cell[] = [];
  for (const plan of plans) {
    const planModes = plan.kind === 'adapter' ? plan.modes : [plan.spec.kind];
    for (const mode of planModes) {
      for (const c of levels) {
        const who = plan.kind === 'adapter' && plan.baseline ? 'baseline' : plan.info.name;
        cells.push({ plan, mode, concurrency: c, id: `${who}/${mode}/c${c}` });
      }
    }
  }
  return cells;
}
