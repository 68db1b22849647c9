/**
 * RTF documents: the objects embedded with `{\object ... {\*\objdata <hex>}}`, decoded
 * from hex and unwrapped from their OLE1 header (ole1Object: a packaged file, or an OLE2
 * compound file that is expanded in turn). Written by hand: the npm RTF parsers render
 * text and drop objects; object extraction is what ClamAV and oletools' rtfobj do, and
 * the part needed is ~50 lines. Hex halves the size, so nothing here can expand; control
 * words inside the hex (an obfuscation trick) are skipped, as Word does.
 */
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import type { Member } from './member.js';
import { ole1Object } from './ole.js';

const OBJDATA = Buffer.from('\\objdata', 'latin1');

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Hex digits from `pos` to the end of the group, as bytes. */
function hexGroup(data: Buffer, pos: number): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil((data.length - pos) / 2));
  let n = 0;
  let hi = -1;
  let depth = 0;
  for (let i = pos; i < data.length; i++) {
    const c = data[i] as number;
    if (c === 0x7d) {
      if (depth === 0) break;
      depth--;
      continue;
    }
    if (c === 0x7b) {
      depth++;
      continue;
    }
    if (c === 0x5c) {
      // a control word (\word123 ) or symbol: skip it
      let j = i + 1;
      while (j < data.length && (((data[j] as number) | 0x20) >= 0x61 && ((data[j] as number) | 0x20) <= 0x7a)) j++;
      if (j === i + 1) j++;
      while (j < data.length && (data[j] === 0x2d || ((data[j] as number) >= 0x30 && (data[j] as number) <= 0x39))) j++;
      if (data[j] === 0x20) j++;
      i = j - 1;
      continue;
    }
    const v = hexValue(c);
    if (v < 0) continue;
    if (hi < 0) hi = v;
    else {
      out[n++] = (hi << 4) | v;
      hi = -1;
    }
  }
  return out.subarray(0, n);
}

/** The objects embedded in an RTF unit (each `\objdata`), unwrapped from OLE1. */
export async function* rtfMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  const data = unit.data;
  let pos = 0;
  let n = 0;
  for (;;) {
    const at = data.indexOf(OBJDATA, pos);
    if (at < 0) return;
    pos = at + OBJDATA.length;
    budget.checkTime(unit.location);
    const bytes = hexGroup(data, pos);
    if (bytes.length === 0) continue;
    n += 1;
    const obj = ole1Object(bytes);
    const path = obj !== undefined ? obj.name : `objdata${n}`;
    const where = `${unit.location} > ${path}`;
    budget.addPart(where);
    budget.addBytes(bytes.length, where);
    yield { path, data: obj !== undefined ? obj.data : bytes };
  }
}
