/**
 * Windows executables (PE): what the core can open inside them, and a clear "unchecked"
 * for what it cannot. Written by hand: the PE header walk needed here (section table,
 * entry point, overlay) is ~40 lines, and the npm PE parsers (pe-library, pe-parser) are
 * thin, rarely updated, and do not cover packer tells.
 * - NSIS installers: opened by 7-Zip (sevenzip.ts);
 * - an archive appended to the program (self-extractors: zip, 7z, RAR, CAB, OLE2/MSI): the
 *   overlay is yielded and expanded by its own decoder;
 * - programs stored inside the program (installers that carry a PE as is): carved out by
 *   their own headers (at most 16);
 * - packed programs (UPX, ASPack, PECompact, FSG, MEW, Upack, PESpin, Petite, WWPack,
 *   yC...) and AutoIt scripts, which only an unpacker/emulator would open, and overlays
 *   no decoder knows: marked unchecked (UNSUPPORTED_FORMAT) with what was seen.
 */
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import { detectContainer } from './detect.js';
import type { Member } from './member.js';
import { sevenZipMembers } from './sevenzip.js';

interface Section {
  name: string;
  vsize: number;
  va: number;
  rawSize: number;
  rawPtr: number;
  flags: number;
}

interface PeInfo {
  peOffset: number;
  entry: number;
  sections: Section[];
  /** End of the last section's raw data (where an overlay starts). */
  end: number;
}

const WRITE = 0x80000000;
const EXEC = 0x20000000;

/** Parse the headers of a PE at `base`; undefined when it is not one. */
export function parsePe(data: Buffer, base = 0): PeInfo | undefined {
  if (data.length < base + 0x40 || data[base] !== 0x4d || data[base + 1] !== 0x5a) return undefined;
  const peOffset = data.readUInt32LE(base + 0x3c);
  const pe = base + peOffset;
  if (peOffset < 4 || pe + 24 > data.length || data.readUInt32LE(pe) !== 0x00004550) return undefined;
  const count = data.readUInt16LE(pe + 6);
  const optSize = data.readUInt16LE(pe + 20);
  const entry = pe + 44 <= data.length ? data.readUInt32LE(pe + 40) : 0;
  const table = pe + 24 + optSize;
  const sections: Section[] = [];
  let end = Math.min(data.length - base, table + count * 40 - base);
  for (let i = 0; i < count && i < 96; i++) {
    const s = table + i * 40;
    if (s + 40 > data.length) break;
    const sec: Section = {
      name: data.toString('latin1', s, s + 8).replace(/\0.*$/s, ''),
      vsize: data.readUInt32LE(s + 8),
      va: data.readUInt32LE(s + 12),
      rawSize: data.readUInt32LE(s + 16),
      rawPtr: data.readUInt32LE(s + 20),
      flags: data.readUInt32LE(s + 36),
    };
    sections.push(sec);
    if (sec.rawSize > 0 && sec.rawPtr + sec.rawSize > end) end = sec.rawPtr + sec.rawSize;
  }
  return { peOffset, entry, sections, end };
}

const PACKER_SECTIONS: [RegExp, string][] = [
  [/^UPX\d$|^\.UPX/, 'UPX'],
  [/^\.aspack$|^\.adata$/, 'ASPack'],
  [/^\.petite$/, 'Petite'],
  [/^\.WWP32$/, 'WWPack32'],
  [/^yC$/, 'yC'],
  [/KuNgBiM/, 'PESpin'],
  [/^\.?MEW|^MEW/, 'MEW'],
  [/^pec\d$|^PEC2/, 'PECompact'],
  [/^\.MPRESS\d$/, 'MPRESS'],
  [/^\.nsp\d$/, 'NsPack'],
  [/^\.RLPack$/, 'RLPack'],
  [/^\.themida$|^\.winlice/, 'Themida'],
  [/^\.vmp\d$/, 'VMProtect'],
  [/^FSG!/, 'FSG'],
];

const NSIS_MAGIC = Buffer.from('efbeadde4e756c6c736f6674496e7374', 'hex');
const AUTOIT_MAGIC = Buffer.from('AU3!EA0', 'latin1');
const MAX_EMBEDDED = 16;

/** Why a PE looks packed, or undefined. */
function packedBy(data: Buffer, info: PeInfo): string | undefined {
  for (const s of info.sections) {
    for (const [re, packer] of PACKER_SECTIONS) if (re.test(s.name.trim())) return `packed executable (${packer})`;
  }
  if (info.peOffset < 0x40) return 'packed executable (PE header inside the DOS header: MEW, Upack...)';
  const ep = info.sections.find((s) => info.entry >= s.va && info.entry < s.va + Math.max(s.vsize, s.rawSize));
  if (ep !== undefined && (ep.flags & WRITE) !== 0 && (ep.flags & EXEC) !== 0) return `packed executable (entry point in writable section "${ep.name}")`;
  if (info.sections.some((s) => s.rawSize === 0 && s.vsize > 0 && (s.flags & EXEC) !== 0)) return 'packed executable (executable section with no data on disk)';
  if (ep === undefined && info.sections.length > 0 && info.entry !== 0) return 'packed executable (entry point outside every section)';
  return undefined;
}

/** Members of a PE unit (see the file comment); marks it unchecked when it cannot be opened. */
export async function* peMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  const data = unit.data;
  const info = parsePe(data);
  if (info === undefined) return; // a DOS program or not an executable: scanned as it is
  budget.checkTime(unit.location);
  let opened = false;
  // NSIS appends its data after the program's sections: only the overlay is searched.
  if (info.end < data.length && data.indexOf(NSIS_MAGIC, info.end) >= 0) {
    for await (const m of sevenZipMembers(unit, budget, { type: 'Nsis' })) {
      opened = true;
      yield m;
    }
  }
  const overlay = info.end < data.length ? data.subarray(info.end) : undefined;
  if (!opened && overlay !== undefined && overlay.length >= 64) {
    const kind = detectContainer(overlay);
    if (kind !== undefined && kind !== 'pe' && kind !== 'mail' && kind !== 'html' && kind !== 'pdf') {
      opened = true;
      const where = `${unit.location} > overlay`;
      budget.addPart(where);
      yield { path: 'overlay', data: overlay };
    }
  }
  // Programs carried as they are inside this one.
  let found = 0;
  for (let at = data.indexOf('MZ', 2); at > 0 && found < MAX_EMBEDDED; at = data.indexOf('MZ', at + 2)) {
    const inner = parsePe(data, at);
    if (inner === undefined || inner.sections.length === 0) continue;
    found += 1;
    const path = `embedded-pe@${at}`;
    budget.addPart(`${unit.location} > ${path}`);
    yield { path, data: data.subarray(at, Math.min(data.length, at + inner.end)) };
  }
  if (data.indexOf(AUTOIT_MAGIC) >= 0) {
    budget.markUnchecked(unit.location, 'UNSUPPORTED_FORMAT', 'AutoIt compiled script');
    return;
  }
  const packed = packedBy(data, info);
  if (packed !== undefined) {
    budget.markUnchecked(unit.location, 'UNSUPPORTED_FORMAT', packed);
    return;
  }
  if (!opened && overlay !== undefined && overlay.length > 512) {
    budget.markUnchecked(unit.location, 'UNSUPPORTED_FORMAT', `${overlay.length} bytes appended to the executable (installer or self-extractor no decoder knows)`);
  }
}
