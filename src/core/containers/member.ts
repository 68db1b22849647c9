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
  try {
    for await (const raw of stream) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
      // A second pass over the same member (recovery) is only charged past the first.
      const charge = Math.max(0, total + chunk.length - precharged) - Math.max(0, total - precharged);
      total += chunk.length;
      if (charge > 0) budget.addBytes(charge, where);
      budget.checkRatio(total, compressedSize, where);
      budget.checkTime(where);
      chunks.push(chunk);
    }
  } catch (err) {
    if (isFatal(err)) throw err;
    return { data: concat(chunks, total), error: err instanceof Error ? err : new Error(String(err)) };
  }
  return { data: concat(chunks, total) };
}

/** Join chunks once (no copy for a single chunk). */
function concat(chunks: Buffer[], total: number): Buffer {
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0];
  return Buffer.concat(chunks, total);
}

/** Last path segment of a member path ("docs/a.txt" → "a.txt"); the path itself if none. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[/\\]+$/, '');
  const i = Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\'));
  const base = i >= 0 ? trimmed.slice(i + 1) : trimmed;
  return base === '' ? path : base;
}
