import { constants as zconstants, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { AbortedError, LimitExceededError, type Budget } from '../limits.js';

/** One member read out of a container: its path inside the container and its bytes. */
export interface Member {
  /** Path inside the container (zip/tar entry name, or the gzip stream's name). */
  path: string;
  data: Buffer;
}

/** What reading one member's stream gave: the bytes read, and the error that cut it short. */
export interface Collected {
  data: Buffer;
  /** Set when the stream failed (corrupt or truncated data); `data` holds what came before. */
  error?: Error;
}

/** True for the errors that must stop the whole walk (limits, abort) rather than be noted. */
export function isFatal(err: unknown): boolean {
  return err instanceof LimitExceededError || err instanceof AbortedError;
}

/** Human-readable reason from anything thrown. */
export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Read a member's (inflating) stream to the end, counting as it goes: every chunk is
 * charged to the budget (maxExpandedBytes), the running ratio against `compressedSize`
 * is checked (maxCompressionRatio) and so is the clock. A limit throws at once; leaving
 * the loop destroys the stream, so no more than one chunk past the limit is ever held.
 * A stream error (corrupt data) is returned, not thrown, with the bytes read before it.
 * `precharged`: bytes of this member a previous pass already charged to the budget.
 */
export async function collectStream(
  stream: AsyncIterable<unknown>,
  where: string,
  compressedSize: number,
  budget: Budget,
  precharged = 0,
): Promise<Collected> {
  const chunks: Buffer[] = [];
  let total = 0;
  let charged = 0;
  try {
    for await (const raw of stream) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
      // A second pass over the same member (recovery) is only charged past the first.
      const charge = Math.max(0, total + chunk.length - precharged) - Math.max(0, total - precharged);
      total += chunk.length;
      charged += charge;
      if (charge > 0) budget.addBytes(charge, where);
      budget.checkRatio(total, compressedSize, where);
      budget.checkTime(where);
      chunks.push(chunk);
    }
  } catch (err) {
    // A member cut off at a limit is dropped, not kept: give its bytes back, so the rest
    // of the message can still be expanded and scanned (a bomb must not hide a virus).
    if (err instanceof LimitExceededError) budget.refundBytes(charged);
    if (isFatal(err)) throw err;
    return { data: concat(chunks, total), error: err instanceof Error ? err : new Error(String(err)) };
  }
  return { data: concat(chunks, total) };
}

/**
 * Join chunks once. A single chunk is kept as is unless it is a small view on a much
 * larger zlib output buffer, which it would keep alive: then it is copied.
 */
function concat(chunks: Buffer[], total: number): Buffer {
  const only = chunks.length === 1 ? chunks[0] : undefined;
  if (only !== undefined) return only.buffer.byteLength > 2 * only.length + 4096 ? Buffer.from(only) : only;
  return Buffer.concat(chunks, total);
}

const MIN_CHUNK = 16 * 1024;
const MAX_CHUNK = 1024 * 1024;

/**
 * zlib output chunk size for a member expected to inflate to `expected` bytes (a header's
 * word, so only a hint). node:zlib pays a thread-pool round trip per output chunk, so 16 KB
 * chunks make a 4 MB member ~20× slower than 1 MB ones; but every stream allocates one
 * chunk up front, so small members get small chunks. Capped at 1 MB: the most a limit
 * can be overshot by.
 */
export function inflateChunkSize(expected: number): number {
  if (!Number.isFinite(expected) || expected <= MIN_CHUNK) return MIN_CHUNK;
  let size = MIN_CHUNK;
  while (size < expected && size < MAX_CHUNK) size *= 2;
  return size;
}

/** Last path segment of a member path ("docs/a.txt" → "a.txt"); the path itself if none. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[/\\]+$/, '');
  const i = Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\'));
  const base = i >= 0 ? trimmed.slice(i + 1) : trimmed;
  return base === '' ? path : base;
}

/** Largest member inflated in one synchronous call (a few ms of CPU at most). */
const SYNC_MAX = 1024 * 1024;

/**
 * Fast path for small members: inflate in one synchronous call, with the output capped
 * (node:zlib `maxOutputLength`) at min(1 MB, bytes left in the budget) + 1, so a lying
 * header cannot make it allocate more. Most mail attachments take this path; the thread
 * pool round trips of a stream cost more than the inflating itself.
 * Returns undefined — and charges nothing — when the member is (said to be) big, when the
 * cap is hit, or when the data is corrupt: the streaming path then reads it, charges it
 * as it goes and says what is wrong.
 */
export function inflateSmall(
  format: 'raw' | 'gzip',
  input: Buffer,
  expected: number,
  where: string,
  budget: Budget,
): Buffer | undefined {
  if (!(expected <= SYNC_MAX) || input.length > SYNC_MAX) return undefined;
  const options = { maxOutputLength: Math.min(SYNC_MAX, budget.remainingBytes()) + 1 };
  let out: Buffer;
  try {
    out = format === 'raw' ? inflateRawSync(input, options) : gunzipSync(input, options);
  } catch {
    return undefined;
  }
  if (out.length > SYNC_MAX) return undefined;
  budget.addBytes(out.length, where);
  budget.checkRatio(out.length, input.length, where);
  return out;
}

/**
 * Inflate a zlib (or raw deflate) stream found inside a format we decode by hand (PDF
 * streams, PowerPoint objects, SIS files), in one synchronous call whose output is capped
 * at what the limits allow: the bytes left in the budget and, once past
 * ratioCheckMinBytes, maxCompressionRatio × the input. A bomb is cut at that cap — never
 * held past it — and throws LimitExceededError; corrupt or truncated data gives what
 * inflated before the fault (possibly nothing), never a throw.
 */
export function inflateBounded(input: Buffer, where: string, budget: Budget, format: 'zlib' | 'raw' = 'zlib'): Buffer {
  const byRatio = Math.max(budget.limits.ratioCheckMinBytes, input.length * budget.limits.maxCompressionRatio);
  const cap = Math.min(budget.remainingBytes(), byRatio) + 1;
  const options = { maxOutputLength: cap, finishFlush: zconstants.Z_SYNC_FLUSH };
  let out: Buffer | undefined;
  try {
    out = format === 'raw' ? inflateRawSync(input, options) : inflateSync(input, options);
  } catch (err) {
    // A capped call fails with RangeError ERR_BUFFER_TOO_LARGE: at least `cap` bytes would come.
    if (!(err instanceof RangeError)) return Buffer.alloc(0);
  }
  if (out === undefined || out.length >= cap) {
    if (cap - 1 < byRatio) throw new LimitExceededError('maxExpandedBytes', budget.expandedBytes + cap, budget.limits.maxExpandedBytes, where);
    throw new LimitExceededError('maxCompressionRatio', Math.round(cap / Math.max(1, input.length)), budget.limits.maxCompressionRatio, where);
  }
  budget.addBytes(out.length, where);
  budget.checkRatio(out.length, input.length, where);
  return out;
}
