/**
 * results.json — the contract between `avbench bench` and everything that reads a run:
 * the report, `avbench check`, and other tools (DESIGN.md "results.json"). Schema-versioned;
 * keep it stable. The JSON Schema lives in schema/results.schema.json.
 */
import type { Fate, ModeName } from '../modes/types.js';

export const SCHEMA_VERSION = 1;

/** Where the run was made. */
export interface HostInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  os: string;
  node: string;
  hostname?: string;
}

/** The corpus as measured. */
export interface CorpusSummary {
  path: string;
  messages: number;
  bytes: number;
  /** sha256 of manifest.json, absent when the corpus has none. */
  manifestSha256?: string;
  /** When only the first `messages` were benched (`--limit`): how many the corpus holds. */
  totalMessages?: number;
}

/** Which scanner a run measured. */
export interface ScannerInfo {
  name: string;
  type: string;
  version?: string;
  /** Signature information as the scanner reports it. */
  signatures?: string;
  /** What the scanning core hands the adapter: the raw message or each decoded part (absent for a SUT). */
  granularity?: 'message' | 'part';
}

/** Per-category or overall detection counts. Errors are counted apart, never as clean. */
export interface DetectionCounts {
  tp: number;
  fn: number;
  fp: number;
  tn: number;
  errors: number;
  /** tp / (tp + fn); null when no infected message was judged. */
  detectionRate: number | null;
  /** fp / (fp + tn); null when no clean message was judged. */
  falsePositiveRate: number | null;
}

export interface Detection extends DetectionCounts {
  byCategory: Record<string, DetectionCounts>;
  /**
   * Every message labelled infected found, no clean message flagged, no errors on either —
   * a check of the plumbing on a self-made corpus (is the scanner called, does its verdict
   * reach the MTA), not a certification. Absent in results written before it existed: read
   * `vb100` then.
   */
  allCaughtNoFalsePositive?: boolean;
  /**
   * @deprecated The same value as `allCaughtNoFalsePositive`, under a name it does not
   * deserve: Virus Bulletin's VB100 needs a certification set of real in-the-wild samples.
   * Still written so that tools reading results.json keep working.
   */
  vb100: boolean;
}

/** Fates: every message in exactly one. */
export type Fates = Record<Fate, number>;

/** Latency percentiles of one run (ms). */
export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Load on the gateway: CPU seconds and peak RSS where /proc shows them. `avbench bench`
 * samples over the measured repeats and reports CPU seconds per pass over the corpus (the
 * mean of the repeats) and the peak RSS seen in any of them.
 */
export interface ResourceUse {
  /** The scanner daemon or processes (clamd, clamsmtpd...), when a PID was known. */
  scanner?: { cpuSeconds: number; peakRssBytes: number; pids: number[] };
  /** avbench itself during the run. */
  avbench: { cpuSeconds: number; peakRssBytes: number };
  /**
   * CPU seconds of the processes avbench started and waited for during the run (clamscan,
   * `avbench deliver`, an lda SUT): /proc/self/stat cutime + cstime.
   */
  children?: { cpuSeconds: number };
}

/** One message in one run. */
export interface MessageResult {
  file: string;
  expected?: 'infected' | 'clean' | 'any';
  category?: string;
  verdict: 'infected' | 'clean' | 'error';
  names: string[];
  errorCode?: string;
  ms: number;
  fate: Fate;
  /** Where the detection was found (MIME part and archive path), when known. */
  part?: string;
  smtpReply?: string;
  milterAction?: string;
  exitCode?: number;
}

/**
 * How the SMTP driver loaded the system under test (smtp runs only; a run without it was
 * made before the field existed: kept-open sessions, flat out).
 */
export interface LoadShape {
  /** `per-message`: a new connection (EHLO ... QUIT) per message; `kept-open`: `concurrency` sessions reused. */
  connection: 'per-message' | 'kept-open';
  /** Target messages per second across all sessions (open-loop arrival schedule); absent: flat out. */
  rate?: number;
}

/** One cell of the matrix: scanner × mode × concurrency. */
export interface Run {
  /** Stable id, e.g. "embedded/direct/c1". */
  id: string;
  scanner: ScannerInfo;
  mode: ModeName;
  /** The system under test: "direct", "ours", or a --sut URL. */
  sut: string;
  /** True for the no-scan baseline of a mode (what the transport alone costs). */
  baseline?: boolean;
  concurrency: number;
  /** The load shape (smtp runs). */
  shape?: LoadShape;
  messages: number;
  durationMs: number;
  throughput: { msgsPerSec: number; mbPerSec: number };
  latencyMs: Latency;
  detection: Detection;
  fates: Fates;
  /** Each measured repeat's throughput, so spread is visible (the run's figures are the median). */
  repeats: { msgsPerSec: number; mbPerSec: number; durationMs: number }[];
  resources?: ResourceUse;
  results: MessageResult[];
}

/** The whole file. */
export interface Results {
  schemaVersion: typeof SCHEMA_VERSION;
  startedAt: string;
  finishedAt?: string;
  host: HostInfo;
  corpus: CorpusSummary;
  /** The command line that made it (for "how to reproduce"). */
  command?: string;
  /** Measured repeats and warm-up passes per run, as asked. */
  settings?: { repeats: number; warmup: number };
  /** Scanners or SUTs that were asked for (or found) but could not be benched, and why. */
  skipped?: { name: string; reason: string }[];
  runs: Run[];
}
