/**
 * The contracts every part of avbench shares: verdicts, scan units and the adapter
 * interface. See DESIGN.md ("Verdict") — keep these shapes stable, other tools read them.
 */

/**
 * Stable error codes. An error verdict is never a clean one.
 * - NOT_AVAILABLE: the scanner is not installed / not configured / not reachable at probe
 * - CONNECT_FAILED: could not connect to a scanner daemon (or it went away)
 * - TIMEOUT: the absolute deadline passed
 * - SCANNER_EXIT: a scanner process crashed or exited with a code meaning "error"
 * - PROTOCOL: a peer said something we could not understand, or said ERROR
 * - SIZE_LIMIT: a scanner refused the data as too large (clamd StreamMaxLength)
 * - LIMIT_EXCEEDED: one of our own scan limits was hit (the message names the limit)
 * - UNPARSEABLE: input we could not parse at all
 * - ABORTED: the caller aborted the scan
 * - IO: reading the input failed
 * - INTERNAL: a bug; should never be seen
 */
export type ErrorCode =
  | 'NOT_AVAILABLE'
  | 'CONNECT_FAILED'
  | 'TIMEOUT'
  | 'SCANNER_EXIT'
  | 'PROTOCOL'
  | 'SIZE_LIMIT'
  | 'LIMIT_EXCEEDED'
  | 'UNPARSEABLE'
  | 'ABORTED'
  | 'IO'
  | 'INTERNAL';

/** One thing a scanner found. `part` names where: MIME path and filename, then archive path. */
export interface Detection {
  name: string;
  scanner: string;
  part?: string;
}

/**
 * Why a part was not looked into (amavisd-new's UNCHECKED):
 * - ENCRYPTED: an encrypted archive or member (zip, 7z, rar...)
 * - UNSUPPORTED_FORMAT: a container or packed/self-extracting program the core cannot open
 * - UNSUPPORTED_METHOD: a known container with a compression method no decoder handles
 */
export type UncheckedReason = 'ENCRYPTED' | 'UNSUPPORTED_FORMAT' | 'UNSUPPORTED_METHOD';

/** A part the core saw but could not look into; it was still scanned as it is. */
export interface UncheckedPart {
  /** Where, as in ScanUnit.location (`1.2:setup.exe`, `1.2:a.zip > secret.doc`). */
  part: string;
  reason: UncheckedReason;
  /** What exactly (the format or method), for people. */
  detail?: string;
}

/**
 * The answer for one message (or one unit). Discriminated on `status`.
 * Optional, additive fields: a clean verdict lists the parts it could not look into
 * (`unchecked`, never silent); an infected one lists the scan limits hit on the way
 * (`limits`, LIMIT_EXCEEDED errors: the parts within limits were still scanned).
 */
export type Verdict =
  | { status: 'clean'; unchecked?: UncheckedPart[] }
  | { status: 'infected'; detections: Detection[]; limits?: ScanError[] }
  | { status: 'error'; error: ScanError };

export interface ScanError {
  code: ErrorCode;
  message: string;
}

export type VerdictStatus = Verdict['status'];

/**
 * What an adapter is handed: either the whole raw message (`kind: 'message'`) or one
 * decoded MIME part / archive member (`kind: 'part'`).
 */
export interface ScanUnit {
  kind: 'message' | 'part';
  data: Buffer;
  /**
   * Where the bytes came from. Segments are joined with " > ": first the MIME part
   * ("1.2" plus ":filename" when it has one), then each archive member path.
   * Example: `1.2:invoice.zip > docs/eicar.com`. The whole message is `message`.
   */
  location: string;
  /** Best file name known for the unit (decoded from RFC 2231 / encoded words). */
  filename?: string;
  /** MIME content type of the part it came from, lower case. */
  contentType?: string;
  /** Content-Transfer-Encoding of the MIME part it came from, lower case. */
  encoding?: string;
  /**
   * When the unit is an unmodified file on the local disk (the whole message read from a
   * corpus file), its absolute path; adapters of a local scanner may scan it in place
   * instead of streaming the bytes. `data` still holds the bytes. Never set for decoded
   * parts, and only ever from a path the caller named, never from message content.
   */
  path?: string;
}

/** Given to every adapter call. `deadline` is absolute (Date.now() based), not an idle timer. */
export interface ScanContext {
  signal: AbortSignal;
  deadline: number;
}

/** What `probe()` tells about a scanner. */
export interface ProbeResult {
  available: boolean;
  version?: string;
  /** Signature information, e.g. "2 signatures from /tmp/db" or daily.cvd version/date. */
  signatures?: string;
  /** Why it is not available (when available is false), phrased as what to do. */
  reason?: string;
}

/**
 * One scanner behind one contract (the hono adapter/ pattern).
 * `scan` must never throw for scanner trouble: it returns an error verdict.
 */
export interface Adapter {
  /** Name the user selects it by (`--scanner NAME`). */
  readonly name: string;
  /** Adapter family: embedded, clamd, clamscan, clamdscan, yara, icap, cli, ... */
  readonly type: string;
  /** Hand it the raw message, or the core's decoded parts and archive members. */
  readonly granularity: 'message' | 'part';
  probe(): Promise<ProbeResult>;
  scan(unit: ScanUnit, ctx: ScanContext): Promise<Verdict>;
  /** Optional: scan many units in one go (clamscan pays its signature load once). */
  scanBatch?(units: ScanUnit[], ctx: ScanContext): Promise<Verdict[]>;
  close(): Promise<void>;
}
