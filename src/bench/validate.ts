/**
 * The bench's first step: its options (the public {@link RunBenchOptions}), checked and
 * given their defaults once ({@link validateOptions}), and the corpus and `--sut` URLs opened
 * ({@link openInputs}). Everything unusable is a {@link BenchInputError} here, before any
 * scanner is opened.
 */
import type { AvbenchConfig } from '../config/config.js';
import { openCorpus, type OpenedCorpus } from '../corpus/read.js';
import type { ModeName } from '../modes/types.js';
import type { LoadShape, Run } from '../results/types.js';
import { parseSut, type SutSpec } from './sut.js';

/** Every mode, in run order. */
export const MODES: readonly ModeName[] = ['direct', 'smtp', 'milter', 'lda'];

/** What the runner tells while it works (for progress lines). */
export type BenchEvent =
  | { type: 'skip'; name: string; reason: string }
  | { type: 'run-start'; id: string; index: number; total: number; passes: number; messages: number; round?: number; rounds?: number }
  | { type: 'pass'; id: string; pass: number; passes: number; warmup: boolean; cold?: boolean; done: number; messages: number }
  | { type: 'run-end'; run: Run }
  | { type: 'run-failed'; id: string; reason: string };

/** Options of {@link runBench}. */
export interface RunBenchOptions {
  /** Corpus folder (with manifest.json for detection figures), mbox, Maildir or file. */
  corpus: string;
  /** Scanner names; default: every available scanner (config entries and built-in types, not presets or noop). With `suts` and no scanners: none. */
  scanners?: readonly string[];
  /** Modes for the scanners; default all four. */
  modes?: readonly ModeName[];
  /** Third-party systems under test (`--sut` URLs, see sut.ts). */
  suts?: readonly string[];
  /** Concurrency levels (messages in flight); default [1]. */
  concurrency?: readonly number[];
  /** Measured repeats per run (default 3). */
  repeat?: number;
  /** Bench only the first N messages of the corpus (default: all). */
  limit?: number;
  /** Per mode, bench only the first N messages (e.g. `{ lda: 30 }`: a process per message is slow). */
  modeLimits?: Partial<Record<ModeName, number>>;
  /** Warm-up passes before each measured warm pass, not measured (default 1). */
  warmup?: number;
  /**
   * A cold pass per round before the warm-up (default true): every message carries a unique
   * `X-Avbench-Pass` header line (new whole-message bytes), and a scanner named in
   * `coldReset.scanners` has its caches emptied first.
   */
  cold?: boolean;
  /**
   * Where the bench may empty the scanner daemon's caches (`--lab`, `--lab-dir`): the scanners
   * behind it, how (clamd RELOAD), and its PIDs — a system under test whose `pid=` lists one
   * of them scans through it, so its cold passes get the reset too.
   */
  coldReset?: { scanners: readonly string[]; pids?: readonly number[]; reset(): Promise<void> };
  /** The no-scan baseline per mode and concurrency (default true). */
  baseline?: boolean;
  /** Loaded config (scanner definitions, limits). */
  config?: AvbenchConfig;
  /** The config file's path, handed to `avbench deliver` in lda mode. */
  configPath?: string;
  /** argv that runs `avbench deliver` (default: this Node and dist/src/cli/bin.js). */
  deliverCommand?: readonly string[];
  /** PIDs whose CPU and RSS are sampled per scanner name (e.g. a lab clamd for clamd, clamdscan, icap). */
  scannerPids?: Readonly<Record<string, readonly number[]>>;
  /** Per-message deadline in the drivers (ms, default 60 000). */
  timeoutMs?: number;
  /**
   * SMTP runs (ours and `--sut smtp://`): a new connection per message (default, what an
   * MTA on port 25 sees) or `concurrency` sessions kept open and reused.
   */
  connection?: LoadShape['connection'];
  /** SMTP runs: target messages per second across all sessions (open-loop schedule); absent or 0: flat out. */
  rate?: number;
  /** The command line, recorded for "how to reproduce". */
  command?: string;
  /** Progress and notices. */
  onEvent?: (e: BenchEvent) => void;
}

/** Thrown for input the bench cannot use (no corpus, nothing to run, bad SUT). */
export class BenchInputError extends Error {
  override readonly name = 'BenchInputError';
}

function checkPositiveInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0) throw new BenchInputError(`${what} must be a whole number ≥ 0, got ${v}`);
}

/** The options a bench runs with: checked, defaults filled in. */
export interface BenchSettings {
  config: AvbenchConfig;
  /** Measured rounds (warm passes per cell). */
  repeat: number;
  /** Warm-up passes before each measured warm pass. */
  warmup: number;
  /** A cold pass per round. */
  cold: boolean;
  /** Messages benched (Infinity: all). */
  limit: number;
  /** Concurrency levels, each once. */
  levels: number[];
  /** Modes for the scanners, each once. */
  modes: ModeName[];
  /** SMTP load shape. */
  shape: LoadShape;
}

/** Check `o` and fill in its defaults; throws BenchInputError for a value the bench cannot use. */
export function validateOptions(o: RunBenchOptions): BenchSettings {
  const config: AvbenchConfig = o.config ?? { scanners: {} };
  const repeat = o.repeat ?? 3;
  const warmup = o.warmup ?? 1;
  checkPositiveInt(repeat, 'repeat');
  checkPositiveInt(warmup, 'warmup');
  const limit = o.limit ?? Infinity;
  for (const [m, n] of Object.entries(o.modeLimits ?? {})) {
    if (!MODES.includes(m as ModeName)) throw new BenchInputError(`mode limit for unknown mode "${m}"`);
    if (!Number.isInteger(n) || (n as number) < 1) throw new BenchInputError(`mode limit ${m} must be a whole number ≥ 1, got ${n}`);
  }
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 1)) throw new BenchInputError(`limit must be a whole number ≥ 1, got ${o.limit}`);
  if (repeat < 1) throw new BenchInputError('repeat must be at least 1');
  const levels = [...new Set(o.concurrency ?? [1])];
  for (const c of levels) if (!Number.isInteger(c) || c < 1) throw new BenchInputError(`concurrency must be a whole number ≥ 1, got ${c}`);
  const connection = o.connection ?? 'per-message';
  if (connection !== 'per-message' && connection !== 'kept-open') throw new BenchInputError(`connection must be per-message or kept-open, got ${JSON.stringify(connection)}`);
  if (o.rate !== undefined && !(Number.isFinite(o.rate) && o.rate >= 0)) throw new BenchInputError(`rate must be messages per second ≥ 0 (0 = flat out), got ${o.rate}`);
  const shape: LoadShape = { connection, ...(o.rate === undefined || o.rate === 0 ? {} : { rate: o.rate }) };
  const modes = [...new Set(o.modes ?? MODES)];
  for (const m of modes) if (!MODES.includes(m)) throw new BenchInputError(`unknown mode "${m}" (known: ${MODES.join(', ')})`);
  return { config, repeat, warmup, cold: o.cold !== false, limit, levels, modes, shape };
}

/** A cell's message limit: the bench's, lowered by its mode's `modeLimits` entry. */
export function limitFor(settings: BenchSettings, o: RunBenchOptions, mode: ModeName): number {
  return Math.min(settings.limit, o.modeLimits?.[mode] ?? Infinity);
}

/** Open the corpus and parse the `--sut` URLs; either failing is a BenchInputError. */
export async function openInputs(o: RunBenchOptions): Promise<{ corpus: OpenedCorpus; suts: SutSpec[] }> {
  let corpus: OpenedCorpus;
  try {
    corpus = await openCorpus(o.corpus);
  } catch (err) {
    throw new BenchInputError((err as Error).message);
  }
  let suts: SutSpec[];
  try {
    suts = (o.suts ?? []).map(parseSut);
  } catch (err) {
    throw new BenchInputError((err as Error).message);
  }
  return { corpus, suts };
}
