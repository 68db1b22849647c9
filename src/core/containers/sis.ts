/**
 * Symbian installation files (.sis, EPOC releases 3 to 6): the files they install are
 * zlib streams. Written by hand: no npm package reads SIS. Rather than trusting the file
 * records' offsets, every zlib stream header in the file is tried (a few bytes each;
 * inflateBounded caps each output at the limits), which also finds files whose record is
 * damaged.
 */
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import { inflateBounded, type Member } from './member.js';

/** The zlib-compressed files of a SIS unit. */
export async function* sisMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  const data = unit.data;
  let n = 0;
  let tried = 0;
  for (let pos = data.indexOf(0x78, 0x10); pos >= 0 && pos + 2 < data.length; pos = data.indexOf(0x78, pos + 1)) {
    const flg = data[pos + 1] as number;
    if (((0x78 << 8) | flg) % 31 !== 0 || (flg & 0x20) !== 0) continue;
    if (++tried > 256) break;
    budget.checkTime(unit.location);
    const where = `${unit.location} > file${n + 1}`;
    const out = inflateBounded(data.subarray(pos), where, budget);
    if (out.length < 16) {
      budget.refundBytes(out.length);
      continue;
    }
    n += 1;
    budget.addPart(where);
    yield { path: `file${n}`, data: out };
  }
}
