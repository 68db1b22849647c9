import { crc32 } from 'node:zlib';
import type { ScanUnit } from '../types.js';
import { LimitExceededError, type Budget } from '../limits.js';
import { detectContainer, type ContainerKind } from './detect.js';
import { baseName, type Member } from './member.js';
import { gzipMembers } from './gzip.js';
import { sevenZipMembers } from './sevenzip.js';
import { binhexMembers } from './binhex.js';
import { rtfMembers } from './rtf.js';
import { pdfMembers } from './pdf.js';
import { tnefMembers } from './tnef.js';
import { mailMembers } from './mail.js';
import { htmlMembers } from './html.js';
import { sisMembers } from './sis.js';
import { ole10NativeMembers, pptMembers } from './ole.js';
import { peMembers } from './pe.js';

export { detectContainer, type ContainerKind } from './detect.js';

/**
 * How many times byte-identical containers are expanded in one message. Past that, the
 * container unit is still yielded (its raw bytes get scanned) but its members are not
 * read again: they were already yielded, twice, under the earlier copies' locations.
 * This is what keeps a 42.zip-style archive (16 identical copies per level) cheap.
 */
const MAX_IDENTICAL_EXPANSIONS = 2;

/** Bytes at each end of a big container that make its dedup key. */
const KEY_SPAN = 64 * 1024;

/** Containers already expanded in each message (a Budget is one message). */
const seenByBudget = new WeakMap<Budget, Map<string, { data: Buffer; count: number }[]>>();

/**
 * Count one more expansion of `data` and say whether it is still allowed. Keyed by
 * length + CRC-32 (cheap), confirmed by comparing bytes, so a forged CRC cannot make a
 * different archive skip its expansion.
 */
function allowExpansion(data: Buffer, budget: Budget): boolean {
  let seen = seenByBudget.get(budget);
  if (seen === undefined) {
    seen = new Map();
    seenByBudget.set(budget, seen);
  }
  // Big containers are keyed by their first and last 64 KB (a whole-file CRC was a pass
  // over every big PDF and executable); equal keys are still confirmed byte for byte.
  const key = data.length <= 2 * KEY_SPAN ? `${data.length}:${crc32(data)}` : `${data.length}:${crc32(data.subarray(0, KEY_SPAN))}:${crc32(data.subarray(data.length - KEY_SPAN))}`;
  const bucket = seen.get(key);
  if (bucket === undefined) {
    seen.set(key, [{ data, count: 1 }]);
    return true;
  }
  const same = bucket.find((s) => s.data === data || s.data.equals(data));
  if (same === undefined) {
    bucket.push({ data, count: 1 });
    return true;
  }
  same.count += 1;
  return same.count <= MAX_IDENTICAL_EXPANSIONS;
}

/** 7-Zip's name (its -t switch) of each format it opens for us. */
const SEVENZIP_TYPES = { '7z': '7z', arj: 'Arj', cab: 'Cab', cpio: 'Cpio', chm: 'Chm', ole2: 'Compound', lzh: 'Lzh', rpm: 'Rpm', ar: 'Ar', iso: 'Iso' } as const;

/** Name of the one stream of a single-stream format: the file name without its extension. */
function streamName(unit: ScanUnit, ext: RegExp, fallback: string): string {
  const f = unit.filename;
  if (f !== undefined) {
    const m = ext.exec(f);
    if (m && m.index > 0) return f.slice(0, m.index) + (/^\.t/i.test(m[0]) ? '.tar' : '');
  }
  return fallback;
}

/**
 * The members of a format whose reader is loaded on its first container: zip (yauzl) and
 * tar (tar-stream, streamx) cost a per-message process — `avbench deliver`, one per
 * message under the MTA — their module set-up on every message otherwise, container or not.
 */
async function* loadedMembers(start: () => Promise<AsyncGenerator<Member>>): AsyncGenerator<Member> {
  yield* await start();
}

function membersOf(kind: ContainerKind, unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  switch (kind) {
    case 'zip':
      return loadedMembers(async () => (await import('./zip.js')).zipMembers(unit, budget));
    case 'gzip':
      return gzipMembers(unit, budget);
    case 'tar':
      return loadedMembers(async () => (await import('./tar.js')).tarMembers(unit, budget));
    case 'bzip2':
      return sevenZipMembers(unit, budget, { type: 'bzip2', fallbackName: streamName(unit, /\.(bz2|bz|tbz2?)$/i, 'bunzip2') });
    case 'xz':
      return sevenZipMembers(unit, budget, { type: 'xz', fallbackName: streamName(unit, /\.(xz|txz)$/i, 'unxz') });
    case 'mslz':
      return sevenZipMembers(unit, budget, { type: 'MsLZ', fallbackName: streamName(unit, /_$|\.\w+$/, 'expanded') });
    case '7z':
    case 'arj':
    case 'cab':
    case 'cpio':
    case 'chm':
    case 'ole2':
    case 'lzh':
    case 'rpm':
    case 'ar':
    case 'iso':
      // Naming the format spares 7-Zip trying each of its handlers on the data.
      return sevenZipMembers(unit, budget, { type: SEVENZIP_TYPES[kind] });
    case 'rar': // RAR 4 or 5: 7-Zip tells them apart itself
      return sevenZipMembers(unit, budget);
    case 'binhex':
      return binhexMembers(unit, budget);
    case 'rtf':
      return rtfMembers(unit, budget);
    case 'pdf':
      return pdfMembers(unit, budget);
    case 'tnef':
      return tnefMembers(unit, budget);
    case 'mail':
      return mailMembers(unit, budget);
    case 'html':
      return htmlMembers(unit, budget);
    case 'sis':
      return sisMembers(unit, budget);
    case 'ole10native':
      return ole10NativeMembers(unit, budget);
    case 'ppt':
      return pptMembers(unit, budget);
    case 'pe':
      return peMembers(unit, budget);
  }
}

function memberUnit(parent: ScanUnit, member: Member): ScanUnit {
  const unit: ScanUnit = {
    kind: 'part',
    data: member.data,
    location: `${parent.location} > ${member.path}`,
    filename: baseName(member.path),
  };
  if (parent.contentType !== undefined) unit.contentType = parent.contentType;
  if (parent.encoding !== undefined) unit.encoding = parent.encoding;
  return unit;
}

/**
 * Yield `unit` itself first, then — if its magic bytes name a container the core opens
 * (detect.ts: zip, gzip, tar, the 7-Zip formats, and the formats decoded by hand) — every
 * member, recursively (a zip in a tar.gz in a zip...). Members are `kind: 'part'` units
 * located at `${parent.location} > ${memberPath}`, named by the member's base name, with
 * the parent's contentType/encoding. `depth` is the unit's own nesting depth; its members
 * sit at depth + 1 (checked against maxDepth).
 *
 * Every limit is charged to the shared `budget` while data streams (parts, expanded
 * bytes, compression ratio, archive entries, depth, time). A limit hit inside a container
 * stops that container only: it is recorded on the budget (`limitHits`), the bytes of the
 * member cut off are given back, and the walk goes on with the next part, so a bomb does
 * not hide a virus beside it. The message's time limit and an abort still throw (let them
 * propagate: the units already yielded can still be scanned). Corrupt or truncated
 * containers never throw: they are noted on the budget as UNPARSEABLE and whatever could
 * be read is yielded; parts that cannot be opened (encrypted, unknown method, packed
 * programs) are marked unchecked on the budget.
 */
export async function* expandUnit(unit: ScanUnit, depth: number, budget: Budget): AsyncGenerator<ScanUnit> {
  yield unit;
  const kind = detectContainer(unit.data, unit.filename);
  if (kind === undefined) return;
  budget.checkTime(unit.location);
  try {
    budget.checkDepth(depth + 1, unit.location);
    if (!allowExpansion(unit.data, budget)) return;
    for await (const member of membersOf(kind, unit, budget)) {
      yield* expandUnit(memberUnit(unit, member), depth + 1, budget);
    }
  } catch (err) {
    if (!(err instanceof LimitExceededError) || err.limit === 'timeoutMs') throw err;
    budget.recordLimit(err);
  }
}
