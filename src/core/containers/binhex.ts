/**
 * BinHex 4.0 (RFC 1741, classic Mac mail attachments): 6-bit text → RLE90 → header, data
 * fork, resource fork. Written by hand: no maintained npm package decodes BinHex 4 (the
 * few that exist are unmaintained browser snippets without size checks), and the format
 * is ~60 lines. The RLE expansion is charged to the budget as it grows, so a run-length
 * bomb stops at maxExpandedBytes / maxCompressionRatio without being held past it.
 */
import type { ScanUnit } from '../types.js';
import { LimitExceededError, type Budget } from '../limits.js';
import type { Member } from './member.js';

const ALPHABET = '!"#$%&\'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr';
const DECODE = new Int16Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

const MARK = Buffer.from('(This file must be converted with BinHex', 'latin1');

/** The 6-bit text between the ':' after the banner and the closing ':', decoded to bytes. */
function sixToEight(data: Buffer): Buffer | undefined {
  const mark = data.indexOf(MARK);
  if (mark < 0) return undefined;
  const start = data.indexOf(0x3a, data.indexOf(0x0a, mark)); // ':' on a following line
  if (start < 0) return undefined;
  const out = Buffer.allocUnsafe(Math.floor(((data.length - start) * 3) / 4) + 3);
  let n = 0;
  let acc = 0;
  let bits = 0;
  for (let i = start + 1; i < data.length; i++) {
    const c = data[i] as number;
    if (c === 0x3a) break;
    const v = DECODE[c] as number;
    if (v < 0) continue; // line breaks, spaces
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, n);
}

/** Undo RLE90 (0x90 n: repeat the previous byte n-1 more times; 0x90 0 is a literal 0x90). */
function unRle(data: Buffer, where: string, budget: Budget): Buffer {
  const byRatio = Math.max(budget.limits.ratioCheckMinBytes, data.length * budget.limits.maxCompressionRatio);
  const cap = Math.min(budget.remainingBytes(), byRatio);
  const chunks: Buffer[] = [];
  let buf = Buffer.allocUnsafe(Math.min(cap + 1, Math.max(1024, data.length * 2)));
  let n = 0;
  let total = 0;
  let last = 0;
  const push = (b: number): void => {
    if (n === buf.length) {
      chunks.push(buf);
      total += n;
      if (total > cap) {
        if (cap < byRatio) throw new LimitExceededError('maxExpandedBytes', budget.expandedBytes + total, budget.limits.maxExpandedBytes, where);
        throw new LimitExceededError('maxCompressionRatio', Math.round(total / Math.max(1, data.length)), budget.limits.maxCompressionRatio, where);
      }
      buf = Buffer.allocUnsafe(Math.min(cap + 1 - total, 1024 * 1024) || 1);
      n = 0;
    }
    buf[n++] = b;
  };
  for (let i = 0; i < data.length; i++) {
    const c = data[i] as number;
    if (c === 0x90 && i + 1 < data.length) {
      const count = data[++i] as number;
      if (count === 0) {
        push(0x90);
        last = 0x90;
      } else {
        for (let k = 1; k < count; k++) push(last);
      }
    } else {
      push(c);
      last = c;
    }
  }
  chunks.push(buf.subarray(0, n));
  total += n;
  if (total > cap) throw new LimitExceededError('maxExpandedBytes', budget.expandedBytes + total, budget.limits.maxExpandedBytes, where);
  return Buffer.concat(chunks, total);
}

/**
 * The forks of a BinHex 4.0 unit: the data fork (named by the header's file name) and the
 * resource fork when not empty. A cut-off file is noted UNPARSEABLE; what is there is yielded.
 */
export async function* binhexMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  const where = `${unit.location} > binhex`;
  budget.checkTime(where);
  const six = sixToEight(unit.data);
  if (six === undefined || six.length < 22) {
    budget.note('UNPARSEABLE', `BinHex at ${unit.location}: no BinHex data`);
    return;
  }
  const raw = unRle(six, where, budget);
  const nameLen = raw[0] as number;
  const h = 1 + nameLen + 1 + 4 + 4 + 2;
  if (raw.length < h + 8) {
    budget.note('UNPARSEABLE', `BinHex at ${unit.location}: header cut short`);
    return;
  }
  const name = raw.toString('latin1', 1, 1 + nameLen).replace(/[\x00-\x1f/]/g, '_') || 'binhex';
  const dlen = raw.readUInt32BE(h);
  const rlen = raw.readUInt32BE(h + 4);
  const dstart = h + 8 + 2; // header CRC
  const data = raw.subarray(dstart, Math.min(raw.length, dstart + dlen));
  const rstart = dstart + dlen + 2;
  const res = rstart < raw.length ? raw.subarray(rstart, Math.min(raw.length, rstart + rlen)) : Buffer.alloc(0);
  if (data.length < dlen || res.length < rlen) budget.note('UNPARSEABLE', `BinHex at ${unit.location}: forks cut short`);
  budget.addBytes(data.length + res.length, where);
  if (data.length > 0) {
    budget.addPart(`${unit.location} > ${name}`);
    yield { path: name, data };
  }
  if (res.length > 0) {
    budget.addPart(`${unit.location} > ${name}/rsrc`);
    yield { path: `${name}/rsrc`, data: res };
  }
}
