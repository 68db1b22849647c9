/**
 * Objects embedded in Office files, decoded by hand where 7-Zip (which opens the OLE2
 * compound file itself, see sevenzip.ts) stops:
 * - `[1]Ole10Native` streams: an OLE1 "Package" (a file dropped into a document), whose
 *   layout [MS-OLEDS 2.3.6] no npm package reads (cfb reads compound files, not packages);
 * - `PowerPoint Document` streams: embedded objects are ExOleObjStg records (type 0x1011),
 *   zlib-compressed when the record instance is 1 [MS-PPT 2.10.34] — no npm package
 *   extracts them;
 * - OLE1 native objects as found in RTF `\objdata` (see rtf.ts).
 * All lengths are checked against the data; inflating goes through inflateBounded.
 */
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import { inflateBounded, type Member } from './member.js';

/** Read a NUL-terminated string at `pos` (at most 4 KB); undefined when there is none. */
function cstring(data: Buffer, pos: number): { s: string; next: number } | undefined {
  const end = data.indexOf(0, pos);
  if (end < 0 || end - pos > 4096) return undefined;
  return { s: data.toString('latin1', pos, end), next: end + 1 };
}

/**
 * The file inside an OLE1 Package body (after the Ole10Native size word): u16 type, label,
 * original path, u16 u16, u32 + temp path, u32 size, data.
 */
export function packageFile(data: Buffer, pos = 0): { name: string; data: Buffer } | undefined {
  if (data.length < pos + 2) return undefined;
  pos += 2;
  const label = cstring(data, pos);
  if (label === undefined) return undefined;
  const path = cstring(data, label.next);
  if (path === undefined) return undefined;
  pos = path.next + 4;
  if (data.length < pos + 4) return undefined;
  const tlen = data.readUInt32LE(pos);
  pos += 4 + tlen;
  if (data.length < pos + 4) return undefined;
  const size = data.readUInt32LE(pos);
  pos += 4;
  const body = data.subarray(pos, Math.min(data.length, pos + size));
  const base = (path.s.split(/[\\/]/).pop() ?? '') || label.s || 'package';
  return { name: base.replace(/[\x00-\x1f]/g, '_'), data: body };
}

/** The file packaged in an `[1]Ole10Native` stream (u32 size, then a Package). */
export async function* ole10NativeMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  budget.checkTime(unit.location);
  const file = unit.data.length >= 4 ? packageFile(unit.data, 4) : undefined;
  if (file === undefined || file.data.length === 0) {
    // Not a Package (another class's native data): scanned as it is, nothing inside.
    return;
  }
  const where = `${unit.location} > ${file.name}`;
  budget.addPart(where);
  yield { path: file.name, data: file.data };
}

const EX_OLE_OBJ_STG = 0x1011;

/**
 * The embedded objects of a PowerPoint Document stream: every ExOleObjStg record, found
 * by walking the record tree (containers have version 0xF), inflated when compressed.
 */
export async function* pptMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  const data = unit.data;
  const stack: [number, number][] = [[0, data.length]];
  let n = 0;
  let records = 0;
  while (stack.length > 0) {
    const [start, end] = stack.pop() as [number, number];
    let pos = start;
    while (pos + 8 <= end) {
      if (++records % 4096 === 0) budget.checkTime(unit.location);
      const verInst = data.readUInt16LE(pos);
      const type = data.readUInt16LE(pos + 2);
      const len = data.readUInt32LE(pos + 4);
      const bodyStart = pos + 8;
      const bodyEnd = Math.min(end, bodyStart + len);
      if ((verInst & 0x0f) === 0x0f && stack.length < 64) {
        stack.push([bodyStart, bodyEnd]);
      } else if (type === EX_OLE_OBJ_STG && bodyEnd > bodyStart) {
        n += 1;
        const path = `object${n}`;
        const where = `${unit.location} > ${path}`;
        budget.addPart(where);
        const instance = verInst >> 4;
        let obj: Buffer;
        if (instance === 1 && bodyEnd - bodyStart > 4) obj = inflateBounded(data.subarray(bodyStart + 4, bodyEnd), where, budget);
        else obj = data.subarray(bodyStart, bodyEnd);
        if (obj.length > 0) yield { path, data: obj };
      }
      if (len > end - bodyStart) break;
      pos = bodyEnd;
    }
  }
}

/**
 * An OLE1 native object (RTF `\objdata`): u32 version, u32 format (2 = embedded), class
 * name, topic and item (u32-length strings), u32 size, native data. A "Package" class holds
 * a file (packageFile); other classes hold an OLE2 compound file, yielded as it is.
 */
export function ole1Object(data: Buffer): { name: string; data: Buffer } | undefined {
  if (data.length < 12) return undefined;
  let pos = 4;
  const format = data.readUInt32LE(pos);
  pos += 4;
  if (format !== 2) return undefined;
  const strings: string[] = [];
  for (let i = 0; i < 3; i++) {
    if (data.length < pos + 4) return undefined;
    const len = data.readUInt32LE(pos);
    pos += 4;
    if (len > 4096 || data.length < pos + len) return undefined;
    strings.push(data.toString('latin1', pos, Math.max(pos, pos + len - 1)));
    pos += len;
  }
  if (data.length < pos + 4) return undefined;
  const size = data.readUInt32LE(pos);
  pos += 4;
  const native = data.subarray(pos, Math.min(data.length, pos + size));
  const cls = strings[0] ?? '';
  if (/^package$/i.test(cls)) {
    const file = packageFile(native);
    if (file !== undefined) return file;
  }
  return { name: cls.replace(/[^\w.-]/g, '_') || 'object', data: native };
}
