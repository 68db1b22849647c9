/**
 * results.json — the contract between `avbench bench` and everything that reads a run:
 * the report, `avbench check`, and other tools (DESIGN.md "results.json"). Schema-versioned;
 * keep it stable. The JSON Schema lives in schema/results.schema.json.
 */
import type { Fate, ModeName } from '../modes/types.js';

/**
 * The schema version `avbench bench` writes. 2 (issue 14): what version 1 had as optional
 * additions is always written — `settings` with `cold` and `order`, every run's `completed`,
 * `timeouts` and `counts`, `detection.allCaughtNoFalsePositive`, and every repeat's `pass`
 * and `round`. Nothing was removed or renamed: a v2 file is a v1 file with those present.
 */
export const SCHEMA_VERSION = 2;

/** Every schema version the report and `check` read: 1 (before issue 14) and {@link SCHEMA_VERSION}. */
export const READABLE_SCHEMA_VERSIONS = [1, SCHEMA_VERSION] as const;

/** A schema version this avbench reads. */
export type SchemaVersion = (typeof READABLE_SCHEMA_VERSIONS)[number];

/** Where the run was made. */
export interface HostInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  os: string;
  node: string;
  hostname?: string;
  /** The 1, 5 and 15 minute load averages when the bench started (the machine may be shared). */
  loadAverage?: [number, number, number];
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
  /**
   * sha256 over every benched message in corpus order (its corpus-relative name, a NUL, the
   * sha256 of its bytes, a newline): the same bytes give the same hash, with or without a manifest.
   */
  contentSha256?: string;
}

/** A program of a scanner or system under test, with the version it reports. */
export interface ProgramVersion {
  /** Program name, e.g. `clamsmtpd`, `clamav-milter`, `clamd`. */
  name: string;
  /** The version as the program reports it (`1.10`, `ClamAV 1.4.6`); absent when it could not be asked. */
  version?: string;
  /** How it was asked: `clamsmtpd -v`, `clamd VERSION`, `ICAP OPTIONS ISTag`... */
  source: string;
  /** The program's file, when known (from /proc/PID/exe or PATH). */
  path?: string;
  /** The process it was found as (a SUT's or lab daemon's pid). */
  pid?: number;
}

/** A signature database as found: version, build time and signature count where it says them. */
export interface SignatureDatabase {
  /** File or database name (`daily.cvd`, `avbench.ndb`, `daily` from clamd's VERSION reply). */
  name: string;
  /** Full path of the file, when read from disk. */
  path?: string;
  /** Database version (a CVD's version, clamd's daily number). */
  version?: string;
  /** Build time as the database says it (a CVD header's), else the file's modification time, ISO 8601. */
  buildTime?: string;
  /** Number of signatures (a CVD header's, else counted lines / rules). */
  signatures?: number;
  /** How it was read: `sigtool --info`, `CVD header`, `clamd VERSION`, `counted lines`, `counted rules`. */
  source: string;
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
  /** Every program of the scanner or system under test and its version (clamsmtpd and its clamd...). */
  programs?: ProgramVersion[];
  /** The signature databases it scans with, as far as they could be found. */
  databases?: SignatureDatabase[];
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
   * Every message labelled infected found, no clean message flagged, no error on any message —
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
  /**
   * True when the message ended at a deadline: the SUT's own (e.g. clamsmtpd's TimeOut: an
   * error after at least its TimeOut), the driver's or the scanner's (errorCode TIMEOUT).
   * Such messages are left out of `completed` throughput and counted in `timeouts`.
   */
  deadline?: boolean;
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

/** Every count of one run (or of one category of it). */
export interface RunCounts {
  /** Messages counted. */
  messages: number;
  /** Verdict infected (any label). */
  infected: number;
  /** Verdict clean (any label). */
  clean: number;
  /** Verdict error (any label: `any` and unlabelled messages included). */
  errors: number;
  /** Of `errors`, those on messages labelled infected or clean (what detection judges). */
  errorsLabelled: number;
  /** Labelled infected, said clean (= fn). */
  missed: number;
  /** Labelled clean, said infected (= fp). */
  falsePositives: number;
  tp: number;
  fn: number;
  fp: number;
  tn: number;
  /** tp / (tp + fn); null when no infected message was judged. */
  detectionRate: number | null;
  /** fp / (fp + tn); null when no clean message was judged. */
  falsePositiveRate: number | null;
  /** Fate lost. */
  lost: number;
  /** Messages that ended at a deadline (the SUT's, the driver's or the scanner's). */
  timeouts: number;
  /** Seconds those messages took, added up. */
  timeoutSeconds: number;
}

/**
 * Messages and time lost to deadlines in a run's median repeat (issue 14.3: a timeout is not
 * throughput): what `completed` leaves out.
 */
export interface DeadlineLoss {
  /** Messages that ended at a deadline (MessageResult.deadline or errorCode TIMEOUT). */
  messages: number;
  /** Seconds those messages took, added up. */
  seconds: number;
  /** Wall-clock seconds of the pass when only such messages were in flight (left out of `completed`). */
  stalledSeconds: number;
  /** The SUT's own deadline when known (`deadline=` on --sut, or clamsmtpd's TimeOut from its config), ms. */
  sutDeadlineMs?: number;
}

/** Throughput over the messages that completed (did not end at a deadline). */
export interface CompletedThroughput {
  messages: number;
  /** The pass's duration less the time only deadline-bound messages were in flight. */
  durationMs: number;
  msgsPerSec: number;
  mbPerSec: number;
}

/** A 95 % confidence interval of a mean over repeats. */
export interface Interval {
  low: number;
  high: number;
  /** Confidence level (0.95). */
  level: number;
  /** `t`: Student's t over the repeats. */
  method: 't';
  /** Repeats it rests on. */
  n: number;
}

/** One measured pass's figures. */
export interface RepeatFigures {
  msgsPerSec: number;
  mbPerSec: number;
  durationMs: number;
  completedMsgsPerSec?: number;
  timeouts?: number;
  /**
   * `cold`: the first sight of these bytes (unique per pass; clamd RELOADed before it where the
   * bench owns clamd); `warm`: bytes the system under test has just seen in a warm-up pass
   * (caches filled). Absent in files written before the bench told them apart (warm then).
   */
  pass?: 'cold' | 'warm';
  /** The round it was measured in (1-based): the bench runs round 1 of every cell, then round 2... */
  round?: number;
  /** Median latency of the pass's messages, ms. */
  p50Ms?: number;
}

/** The cold passes of a run: figures of the median one, every one listed. */
export interface ColdSummary {
  /** Each cold pass's figures (pass `cold`). */
  repeats: RepeatFigures[];
  /** Completed msgs/s of the median cold pass. */
  msgsPerSec: number;
  mbPerSec: number;
  /** Latency of the median cold pass. */
  latencyMs: Latency;
  /** 95 % interval of the mean completed msgs/s over the cold passes (absent for fewer than two). */
  throughputCi?: Interval;
  /**
   * How the caches were emptied: `reload` (clamd RELOADed before the pass, unique bytes too)
   * or `unique-bytes` (only the whole message is new: a scanner that caches per part may
   * still hit its cache for attachments it saw before).
   */
  reset: 'reload' | 'unique-bytes';
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
  /**
   * Each measured warm repeat's throughput, so spread is visible (the run's figures are the
   * median). Cold passes are listed apart, in `cold.repeats`.
   */
  repeats: RepeatFigures[];
  /**
   * 95 % confidence interval of the mean completed msgs/s over the warm repeats (Student's t);
   * absent with fewer than two repeats or in files written before it existed.
   */
  throughputCi?: Interval;
  /**
   * The cold passes (issue 14.1): each the cell's first sight of the bytes in its round — every
   * message carries a unique `X-Avbench-Pass` header line, and where the bench owns the clamd
   * (`--lab`) clamd is RELOADed first (an empty cache). Absent with `--no-cold` and in files
   * written before it existed: the run's figures are then warm passes only.
   */
  cold?: ColdSummary;
  /**
   * Throughput over completed messages (median repeat): equal to `throughput` when no message
   * hit a deadline. Absent in files written before it existed: read `throughput` then.
   */
  completed?: CompletedThroughput;
  /** Messages and seconds lost to deadlines (median repeat). */
  timeouts?: DeadlineLoss;
  /** Every count as src/results/counts.ts defines it (median repeat), for tools reading results.json. */
  counts?: RunCounts;
  resources?: ResourceUse;
  results: MessageResult[];
}

/** The whole file. */
export interface Results {
  /**
   * 2 for what this avbench writes; 1 for files written before issue 14, where the fields
   * version 2 always writes may be absent (see {@link SCHEMA_VERSION} and docs/results.md).
   */
  schemaVersion: SchemaVersion;
  startedAt: string;
  finishedAt?: string;
  host: HostInfo;
  corpus: CorpusSummary;
  /** The command line that made it (for "how to reproduce"). */
  command?: string;
  /**
   * Measured repeats and warm-up passes per run, as asked; `cold`: a cold pass per round;
   * `order`: `interleaved` when round 1 of every cell ran before round 2 of any (absent:
   * written before, each cell's repeats back to back).
   */
  settings?: { repeats: number; warmup: number; cold?: boolean; order?: 'interleaved' | 'sequential' };
  /** Scanners or SUTs that were asked for (or found) but could not be benched, and why. */
  skipped?: { name: string; reason: string }[];
  runs: Run[];
}
