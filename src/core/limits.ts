import type { ErrorCode, ScanError, UncheckedPart, UncheckedReason } from './types.js';

/**
 * Scan limits: each configurable, each with a sane default, each hit reported as an
 * `error` verdict with code LIMIT_EXCEEDED naming the limit (never as clean).
 */

export interface Limits {
  /** Nesting depth of multiparts, message/rfc822 attachments and archives together. */
  maxDepth: number;
  /** Number of MIME parts plus archive members in one message. */
  maxParts: number;
  /** Decoded + expanded bytes in one message (all parts and members together). */
  maxExpandedBytes: number;
  /** Expanded/compressed ratio of one archive member or gzip stream... */
  maxCompressionRatio: number;
  /** ...checked only once the member's expanded size passes this many bytes. */
  ratioCheckMinBytes: number;
  /** Entries in one archive. */
  maxArchiveEntries: number;
  /** Wall-clock time for one message, all scanners included (ms). */
  timeoutMs: number;
}

export type LimitName = keyof Limits;

/** Defaults, chosen near ClamAV's own (MaxRecursion 17, MaxFiles 10000, MaxScanSize 400M). */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxDepth: 20,
  maxParts: 2_000,
  maxExpandedBytes: 100 * 1024 * 1024,
  maxCompressionRatio: 250,
  ratioCheckMinBytes: 1024 * 1024,
  maxArchiveEntries: 10_000,
  timeoutMs: 30_000,
});

/** Fill in defaults and reject nonsense (bad config throws: it is not scanner failure). */
export function resolveLimits(partial: Partial<Limits> | undefined): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS, ...(partial ?? {}) };
  for (const [k, v] of Object.entries(limits)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new TypeError(`limit ${k} must be a positive number, got ${String(v)}`);
    }
  }
  return limits;
}

/** Thrown inside the core when a limit is hit; turned into a LIMIT_EXCEEDED verdict. */
export class LimitExceededError extends Error {
  override readonly name = 'LimitExceededError';
  constructor(
    readonly limit: LimitName,
    readonly value: number,
    readonly max: number,
    readonly where: string,
  ) {
    super(`limit ${limit} exceeded: ${value} > ${max} at ${where}`);
  }
}

/**
 * What one message has used so far. The MIME walker and container expansion share one
 * Budget per message, so the limits hold across nesting.
 */
export class Budget {
  parts = 0;
  expandedBytes = 0;
  /**
   * Non-fatal trouble met while walking (a corrupt zip, an unreadable gzip...): the walk
   * goes on, and the message's verdict is this error unless a scanner found something.
   */
  readonly problems: ScanError[] = [];
  /** Parts the core could not look into (encrypted, unknown format or method): see UncheckedPart. */
  readonly unchecked: UncheckedPart[] = [];
  /**
   * Limits hit inside one container that did not stop the walk: the container's rest was
   * skipped, the other parts were still expanded and scanned (a bomb does not hide a virus).
   */
  readonly limitHits: LimitExceededError[] = [];
  readonly deadline: number;

  constructor(
    readonly limits: Limits,
    readonly signal?: AbortSignal,
    start = Date.now(),
  ) {
    this.deadline = start + limits.timeoutMs;
  }

  /** Count one more part or member. */
  addPart(where: string): void {
    this.parts += 1;
    if (this.parts > this.limits.maxParts) {
      throw new LimitExceededError('maxParts', this.parts, this.limits.maxParts, where);
    }
  }

  /** Count decoded or expanded bytes. */
  addBytes(n: number, where: string): void {
    this.expandedBytes += n;
    if (this.expandedBytes > this.limits.maxExpandedBytes) {
      throw new LimitExceededError('maxExpandedBytes', this.expandedBytes, this.limits.maxExpandedBytes, where);
    }
  }

  /** Bytes still allowed before maxExpandedBytes is hit (use as an inflate output cap). */
  remainingBytes(): number {
    return Math.max(0, this.limits.maxExpandedBytes - this.expandedBytes);
  }

  checkDepth(depth: number, where: string): void {
    if (depth > this.limits.maxDepth) {
      throw new LimitExceededError('maxDepth', depth, this.limits.maxDepth, where);
    }
  }

  checkEntries(entries: number, where: string): void {
    if (entries > this.limits.maxArchiveEntries) {
      throw new LimitExceededError('maxArchiveEntries', entries, this.limits.maxArchiveEntries, where);
    }
  }

  /** Check expanded/compressed ratio of one member once it is big enough to matter. */
  checkRatio(expanded: number, compressed: number, where: string): void {
    if (expanded < this.limits.ratioCheckMinBytes) return;
    const ratio = expanded / Math.max(1, compressed);
    if (ratio > this.limits.maxCompressionRatio) {
      throw new LimitExceededError('maxCompressionRatio', Math.round(ratio), this.limits.maxCompressionRatio, where);
    }
  }

  /** Give back bytes charged for data that was dropped, not kept (a bomb member cut off at a limit). */
  refundBytes(n: number): void {
    this.expandedBytes = Math.max(0, this.expandedBytes - Math.max(0, n));
  }

  /** Record a part the core could not look into (see `unchecked`); one entry per part. */
  markUnchecked(part: string, reason: UncheckedReason, detail?: string): void {
    if (this.unchecked.length >= 100 || this.unchecked.some((u) => u.part === part)) return;
    this.unchecked.push(detail === undefined ? { part, reason } : { part, reason, detail });
  }

  /** Record a limit hit the walk went on after (see `limitHits`). */
  recordLimit(err: LimitExceededError): void {
    if (this.limitHits.length < 100) this.limitHits.push(err);
  }

  /** Record non-fatal trouble (see `problems`). */
  note(code: ErrorCode, message: string): void {
    if (this.problems.length < 100) this.problems.push({ code, message });
  }

  /** Throw when the per-message time is up (LimitExceeded timeoutMs) or the caller aborted. */
  checkTime(where: string): void {
    if (this.signal?.aborted) throw new AbortedError();
    const now = Date.now();
    if (now > this.deadline) {
      throw new LimitExceededError('timeoutMs', now - (this.deadline - this.limits.timeoutMs), this.limits.timeoutMs, where);
    }
  }
}

/** Thrown when the caller's AbortSignal fired. */
export class AbortedError extends Error {
  override readonly name = 'AbortedError';
  constructor() {
    super('scan aborted by the caller');
  }
}
