import { constants, createInflateRaw } from 'node:zlib';
import yauzl from 'yauzl';
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import { collectStream, inflateChunkSize, inflateSmall, type Member } from './member.js';

/** yauzl's name decoder (UTF-8 flag, else CP437); exported but not in @types/yauzl. */
const getFileNameLowLevel = (yauzl as unknown as {
  getFileNameLowLevel(flags: number, raw: Buffer, extra: { id: number; data: Buffer }[], strict: boolean): string;
}).getFileNameLowLevel;

const LOCAL_HEADER = Buffer.from('PK\x03\x04', 'latin1');
const LOCAL_HEADER_SIZE = 30;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_DATA_DESCRIPTOR = 0x0008;
/** A zip64 size placeholder: the real size is elsewhere. */
const UNKNOWN_SIZE = 0xffffffff;

function decodeName(flags: number, raw: Buffer): string {
  try {
    return getFileNameLowLevel(flags, raw, [], false);
  } catch {
    return raw.toString('latin1');
  }
}

/**
 * Members of a zip whose central directory is missing or unreadable (a truncated
 * attachment, a damaged archive), found by walking its local file headers the way a
 * streaming unzip does. Deflated data is inflated by node:zlib (raw, partial output kept
 * at a cut); since deflate ends itself, a member with unknown sizes (data descriptor)
 * still ends where zlib stops. Stored members need a size: without one they are noted
 * and skipped. Same budget charges as the central-directory path; every problem noted.
 */
export async function* salvageZipMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  const data = unit.data;
  let pos = 0;
  let entries = 0;
  for (;;) {
    pos = data.indexOf(LOCAL_HEADER, pos);
    if (pos < 0 || pos + LOCAL_HEADER_SIZE > data.length) return;
    const flags = data.readUInt16LE(pos + 6);
    const method = data.readUInt16LE(pos + 8);
    const declaredCompressed = data.readUInt32LE(pos + 18);
    const declaredSize = data.readUInt32LE(pos + 22);
    const nameStart = pos + LOCAL_HEADER_SIZE;
    const dataStart = nameStart + data.readUInt16LE(pos + 26) + data.readUInt16LE(pos + 28);
    if (dataStart > data.length) {
      budget.note('UNPARSEABLE', `zip local header at ${unit.location} (offset ${pos}) is cut short`);
      return;
    }
    entries += 1;
    budget.checkEntries(entries, unit.location);
    const path = decodeName(flags, data.subarray(nameStart, nameStart + data.readUInt16LE(pos + 26)));
    const sizesKnown = (flags & FLAG_DATA_DESCRIPTOR) === 0 && declaredCompressed !== UNKNOWN_SIZE;
    const dataEnd = sizesKnown ? Math.min(data.length, dataStart + declaredCompressed) : data.length;
    // Resume the header search after this member's data when its size is known.
    pos = sizesKnown ? dataEnd : dataStart;
    if (path.endsWith('/') || path.endsWith('\\')) continue;
    const where = `${unit.location} > ${path}`;
    budget.checkTime(where);
    budget.addPart(where);
    if (flags & FLAG_ENCRYPTED) {
      budget.note('UNPARSEABLE', `encrypted zip entry at ${where} cannot be scanned`);
      continue;
    }
    if (method === 0) {
      if (!sizesKnown) {
        budget.note('UNPARSEABLE', `zip entry at ${where}: stored with no size in its local header`);
        continue;
      }
      const member = data.subarray(dataStart, dataEnd);
      budget.addBytes(member.length, where);
      if (member.length < declaredCompressed) {
        budget.note('UNPARSEABLE', `zip entry at ${where}: cut short (${member.length} of ${declaredCompressed} bytes)`);
      }
      yield { path, data: member };
      continue;
    }
    if (method !== 8) {
      budget.note('UNPARSEABLE', `zip entry at ${where}: unsupported compression method ${method}`);
      continue;
    }
    if (sizesKnown && declaredSize !== UNKNOWN_SIZE) budget.checkRatio(declaredSize, declaredCompressed, where);
    const hint = sizesKnown && declaredSize !== UNKNOWN_SIZE ? declaredSize : Infinity;
    if (sizesKnown) {
      const small = inflateSmall('raw', data.subarray(dataStart, dataEnd), hint, where, budget);
      if (small !== undefined) {
        if (small.length !== declaredSize) {
          budget.note('UNPARSEABLE', `zip entry at ${where}: declared size ${declaredSize} but ${small.length} bytes inflated`);
        }
        yield { path, data: small };
        continue;
      }
    }
    const inflate = createInflateRaw({ finishFlush: constants.Z_SYNC_FLUSH, chunkSize: inflateChunkSize(hint) });
    inflate.on('error', () => undefined);
    const input = data.subarray(dataStart, dataEnd);
    inflate.end(input);
    const { data: out, error } = await collectStream(inflate, where, input.length, budget);
    if (error !== undefined) budget.note('UNPARSEABLE', `zip entry at ${where}: ${error.message}`);
    else if (sizesKnown && out.length !== declaredSize) {
      budget.note('UNPARSEABLE', `zip entry at ${where}: declared size ${declaredSize} but ${out.length} bytes inflated`);
    }
    if (!sizesKnown) pos = dataStart + Math.max(inflate.bytesWritten, 0);
    if (out.length > 0 || error === undefined) yield { path, data: out };
  }
}
