/**
 * Interception modes (the paper's points A, B, C, plus `direct` as the baseline).
 * Each mode has a server side (our front end, wrapping the scanning core) and a driver
 * side (the client that replays messages into any server of that mode, ours or a
 * third party's) which records every message's fate.
 */

/** The interception modes. */
export type ModeName = 'direct' | 'smtp' | 'milter' | 'lda';

/**
 * What happened to one message (results.json `fate`; every message has exactly one).
 * - scanned: direct mode's only fate
 * - delivered: reached the next hop unchanged (no virus header saying infected)
 * - tagged: reached the next hop marked infected (X-Virus-Status: Infected ...) or otherwise changed by the filter to say so
 * - rejected: refused with a permanent error (SMTP 5xx, milter reject/reply 5xx, LDA non-tempfail failure)
 * - tempfailed: refused with a temporary error (SMTP 4xx, milter tempfail, EX_TEMPFAIL 75)
 * - dropped: accepted (250 / accept+discard) and never delivered on purpose (discard, blackhole, quarantine)
 * - lost: sent and never accounted for (accepted but never arrived, connection died with no answer)
 */
export type Fate = 'scanned' | 'delivered' | 'tagged' | 'rejected' | 'tempfailed' | 'dropped' | 'lost';

/** One message through one driver (a results.json per-message record, less file labels). */
export interface MessageOutcome {
  fate: Fate;
  /** The detection verdict this fate means (see docs/modes.md for the mapping). */
  verdict: 'infected' | 'clean' | 'error';
  /** Virus names, when the reply/header/exit carried them. */
  names: string[];
  errorCode?: string;
  /** Wall time from first byte sent to the final answer (and arrival at the sink, for smtp). */
  ms: number;
  smtpReply?: string;
  milterAction?: string;
  exitCode?: number;
}

/** A message handed to a driver. */
export interface OutgoingMessage {
  /** Corpus file name (for the record and for matching at the sink). */
  file: string;
  raw: Buffer;
}

/**
 * The harness side of a mode. `send` never throws for trouble in the system under test:
 * trouble is a fate (tempfailed, lost) with an errorCode. `open` / `close` bracket a run.
 */
export interface ModeDriver {
  readonly mode: ModeName;
  /** What it talks to, e.g. "smtp://127.0.0.1:10025" (for results.json `sut`). */
  readonly sut: string;
  open(): Promise<void>;
  send(msg: OutgoingMessage): Promise<MessageOutcome>;
  close(): Promise<void>;
}
