import { constants, createGunzip, createInflateRaw } from 'node:zlib';
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import { collectStream, inflateChunkSize, inflateSmall, type Member } from './member.js';

/** gzip header flag bits (RFC 1952 section 2.3.1). */
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;

/** Length of the first gzip member's header, or undefined when it is cut short. */
export function gzipHeaderLength(data: Buffer): number | undefined {
  if (data.length < 10) return undefined;
  const flags = data[3] ?? 0;
  let pos = 10;
  if (flags & FEXTRA) {
    if (data.length < pos + 2) return undefined;
    pos += 2 + data.readUInt16LE(pos);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (flags & flag) {
      const end = data.indexOf(0, pos);
      if (end < 0) return undefined;
      pos = end + 1;
    }
  }
  if (flags & FHCRC) pos += 2;
  return pos <= data.length ? pos : undefined;
}

/**
 * The original file name stored in a gzip header (FNAME, ISO 8859-1), if there is one.
 * Only the header is read here; inflating is node:zlib's job.
 */
export function gzipOriginalName(data: Buffer): string | undefined {
  if (data.length < 10 || data[0] !== 0x1f || data[1] !== 0x8b) return undefined;
  const flags = data[3] ?? 0;
  if ((flags & FNAME) === 0) return undefined;
  let pos = 10;
  if (flags & FEXTRA) {
    if (data.length < pos + 2) return undefined;
    pos += 2 + data.readUInt16LE(pos);
  }
  if (pos >= data.length) return undefined;
  const end = data.indexOf(0, pos);
  if (end < 0) return undefined;
  const name = data.toString('latin1', pos, end);
  return name === '' ? undefined : name;
}

/**
 * Name of the stream inside a gzip unit: the header's original name, else the unit's file
 * name without ".gz" (".tgz" becomes ".tar"), else "gunzip".
 */
export function gzipMemberName(unit: ScanUnit): string {
  const original = gzipOriginalName(unit.data);
  if (original !== undefined) return original;
  const filename = unit.filename;
  if (filename !== undefined) {
    const tgz = /\.tgz$/i.exec(filename);
    if (tgz && tgz.index > 0) return `${filename.slice(0, tgz.index)}.tar`;
    const gz = /\.gz$/i.exec(filename);
    if (gz && gz.index > 0) return filename.slice(0, gz.index);
  }
  return 'gunzip';
}

/**
 * The one member of a gzip unit (all concatenated gzip members inflated as one stream,
 * the way gunzip does). Inflation streams through node:zlib with the budget counting each
 * chunk, so a gzip bomb is cut off at the limit without being held. A truncated stream or
 * a bad CRC/trailer is noted as UNPARSEABLE and whatever could be inflated is still yielded.
 */
export async function* gzipMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  const path = gzipMemberName(unit);
  const where = `${unit.location} > ${path}`;
  budget.checkTime(where);
  budget.addPart(where);
  // ISIZE (last 4 bytes) is the size mod 2^32 of the last member: a hint, nothing more.
  const hint = unit.data.length >= 18 ? unit.data.readUInt32LE(unit.data.length - 4) : Infinity;
  const small = inflateSmall('gzip', unit.data, hint, where, budget);
  if (small !== undefined) {
    yield { path, data: small };
    return;
  }
  const gunzip = createGunzip({ chunkSize: inflateChunkSize(hint) });
  // Errors surface through the async iterator; this listener only keeps a late one
  // (after the iterator was left) from being an unhandled 'error' event.
  gunzip.on('error', () => undefined);
  gunzip.end(unit.data);
  const first = await collectStream(gunzip, where, unit.data.length, budget);
  if (first.error === undefined) {
    yield { path, data: first.data };
    return;
  }
  budget.note('UNPARSEABLE', `gzip stream at ${where}: ${first.error.message}`);
  const recovered = await recoverFirstMember(unit.data, where, budget, first.data.length);
  const data = recovered.length > first.data.length ? recovered : first.data;
  if (data.length > 0) yield { path, data };
}

/**
 * Second chance after gunzip failed: zlib drops the output of the call that met a bad
 * CRC or trailer, so a small member would vanish. Inflate the first member's deflate
 * data raw (no trailer check, partial output kept at a cut) so its bytes still get scanned.
 * Only bytes past what the first pass produced are charged to the budget.
 */
async function recoverFirstMember(data: Buffer, where: string, budget: Budget, precharged: number): Promise<Buffer> {
  const start = gzipHeaderLength(data);
  if (start === undefined || start >= data.length) return Buffer.alloc(0);
  const inflate = createInflateRaw({ finishFlush: constants.Z_SYNC_FLUSH, chunkSize: inflateChunkSize(precharged) });
  inflate.on('error', () => undefined);
  inflate.end(data.subarray(start));
  const { data: out } = await collectStream(inflate, where, data.length, budget, precharged);
  return out;
}
