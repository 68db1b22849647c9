/**
 * Containers opened through 7-Zip (the `7z-wasm` package: 7-Zip 24.09 compiled to
 * WebAssembly, no native code, no process): 7z, bzip2, xz, ARJ, CAB, cpio, CHM, OLE2
 * compound files (.doc/.xls/.ppt/.msi streams), RAR, MS-LZ (SZDD), LZH, RPM, ar/deb, ISO,
 * NSIS installers, and zip members whose method our zip reader lacks (bzip2, deflate64,
 * implode, LZMA, PPMd...).
 *
 * Bounded without holding a bomb: the archive is listed first (`l -slt`: names, sizes,
 * encrypted flag, entry count checked against maxArchiveEntries), then members are
 * extracted (`e -so`) to 7-Zip's stdout, streamed back in chunks from the thread 7-Zip runs
 * in (sevenzip-thread.ts), each chunk charged to the budget (maxExpandedBytes,
 * maxCompressionRatio, time) as it comes. A limit, the message's deadline or an abort
 * terminates the thread at once, wherever 7-Zip is (a decoder spinning without output
 * included). Only the archive itself is copied into 7-Zip's in-memory file system, never
 * its expanded members.
 *
 * The module is loaded on first use, so messages without such a container never pay for it.
 * 7-Zip's own allocations (a dictionary an archive asks for) live in its WASM heap, which
 * can grow to 2 GB; the instance is replaced after a big archive so the memory is given back.
 */
import type { ScanUnit } from '../types.js';
import { LimitExceededError, AbortedError, type Budget } from '../limits.js';
import { isFatal, reason, type Member } from './member.js';
import { runSevenZip, SevenZipFailure, type StopWhen, type ThreadRun } from './sevenzip-thread.js';

/** One entry of a `7z l -slt` listing. */
export interface SevenZipEntry {
  path: string;
  size?: number;
  packedSize?: number;
  dir: boolean;
  encrypted: boolean;
  method?: string;
}

/** What 7-Zip said about an archive. */
export interface SevenZipListing {
  /** 7-Zip's name of the format (`7z`, `Cab`, `Compound`, `Nsis`...); undefined when it could not open it. */
  type?: string;
  entries: SevenZipEntry[];
  /** 7-Zip's exit code: 0 ok, 1 warning, 2 fatal. */
  code: number;
  /** What 7-Zip printed on stderr (and the listing's error lines), trimmed. */
  message: string;
}

/** Most listing text read (a listing is ~150 bytes an entry; maxArchiveEntries bounds it anyway). */
const MAX_LISTING = 16 * 1024 * 1024;
/** A password given so that 7-Zip never asks for one on stdin; wrong on purpose. */
const NO_PASSWORD = '-pavbench-no-password';
const INPUT = '/in';

/** Stop a run when the message's time is up or its caller aborted. */
function stopFor(budget: Budget, where: string): StopWhen {
  const stop: StopWhen = {
    deadline: budget.deadline,
    onDeadline: () => {
      try {
        budget.checkTime(where);
      } catch (err) {
        return err as Error;
      }
      return new LimitExceededError('timeoutMs', budget.limits.timeoutMs, budget.limits.timeoutMs, where);
    },
    onAbort: () => new AbortedError(),
  };
  if (budget.signal !== undefined) stop.signal = budget.signal;
  return stop;
}

/**
 * One 7-Zip run, tried again once when the WASM trapped ("memory access out of bounds"):
 * state left in an instance by earlier runs was seen to make a later one trap, and the
 * thread replaces its instance after a trap. A trap on a fresh instance is the data's own:
 * it is thrown. `reset` is called before the second try (drop what the first one gave).
 */
async function twice(attempt: () => Promise<ThreadRun>, reset: () => void): Promise<ThreadRun> {
  try {
    return await attempt();
  } catch (err) {
    if (!(err instanceof SevenZipFailure && err.thrownName === 'RuntimeError')) throw err;
    reset();
    return attempt();
  }
}

/** List an archive (bounded text, parsed from `7z l -slt`), stopped at the message's deadline. */
export async function listArchive(data: Buffer, budget: Budget, where: string, type?: string): Promise<SevenZipListing> {
  let out: Buffer[] = [];
  let size = 0;
  const args = ['l', '-slt', '-bd', '-sccUTF-8', NO_PASSWORD, ...(type === undefined ? [] : [`-t${type}`]), INPUT];
  const keep = (chunk: Buffer): void => {
    if (size >= MAX_LISTING) return;
    out.push(chunk);
    size += chunk.length;
  };
  const { code, stderr } = await twice(
    () => runSevenZip(data, args, MAX_LISTING, keep, stopFor(budget, where)),
    () => {
      out = [];
      size = 0;
    },
  );
  return parseListing(Buffer.concat(out).subarray(0, MAX_LISTING).toString('utf8'), code, stderr);
}

/** Parse `7z l -slt` output: an archive block, a "----------" line, then one block per entry. */
export function parseListing(text: string, code: number, stderr: string): SevenZipListing {
  const lines = text.split(/\r?\n/);
  const sep = lines.findIndex((l) => l.startsWith('----------'));
  let type: string | undefined;
  const head = sep < 0 ? lines : lines.slice(0, sep);
  for (const l of head) {
    const m = /^Type = (.*)$/.exec(l);
    if (m) type = m[1];
  }
  const entries: SevenZipEntry[] = [];
  if (sep >= 0) {
    let cur: Record<string, string> | undefined;
    const flush = (): void => {
      if (cur === undefined) return;
      const path = cur['Path'] ?? '';
      const attrs = cur['Attributes'] ?? '';
      const entry: SevenZipEntry = {
        path,
        dir: cur['Folder'] === '+' || /^D/.test(attrs),
        encrypted: cur['Encrypted'] === '+',
      };
      const size = num(cur['Size']);
      const packed = num(cur['Packed Size']);
      if (size !== undefined) entry.size = size;
      if (packed !== undefined) entry.packedSize = packed;
      if (cur['Method']) entry.method = cur['Method'];
      entries.push(entry);
      cur = undefined;
    };
    for (const l of lines.slice(sep + 1)) {
      if (l.trim() === '') {
        flush();
        continue;
      }
      const m = /^([^=]+?) = ?(.*)$/.exec(l);
      if (!m) continue;
      cur ??= {};
      cur[m[1] as string] = m[2] as string;
    }
    flush();
  }
  const errors = lines.filter((l) => /^(ERROR|WARNING|Warnings|Errors|Open WARNING)/i.test(l)).join(' ');
  return { ...(type === undefined ? {} : { type }), entries, code, message: [stderr, errors].filter((s) => s !== '').join(' ').replace(/\s+/g, ' ').slice(0, 500) };
}

function num(s: string | undefined): number | undefined {
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** What extracting one member gave. */
export interface Extracted {
  data: Buffer;
  code: number;
  message: string;
}

/**
 * Extract one member (`name`; all of a single-stream archive when undefined), charging
 * `budget` for each chunk as it streams (bytes, ratio against `compressedSize`, time). A
 * limit throws (LimitExceededError) with 7-Zip stopped at that point, and the member's
 * bytes already charged given back (they are dropped, not held).
 */
export async function extractMember(
  data: Buffer,
  name: string | undefined,
  where: string,
  compressedSize: number,
  budget: Budget,
  type?: string,
): Promise<Extracted> {
  let chunks: Buffer[] = [];
  let total = 0;
  let charged = 0;
  const take = (chunk: Buffer): void => {
    charged += chunk.length;
    budget.addBytes(chunk.length, where);
    total += chunk.length;
    chunks.push(chunk);
    budget.checkRatio(total, compressedSize, where);
    budget.checkTime(where);
  };
  // Past this many bytes the charge above has thrown: the thread stops by itself there.
  const { limits } = budget;
  const ratioCap = Math.max(limits.ratioCheckMinBytes, Math.floor(limits.maxCompressionRatio * Math.max(1, compressedSize)) + 1);
  const cap = Math.min(budget.remainingBytes() + 1, ratioCap);
  const args = ['e', '-so', '-spd', '-bd', '-y', NO_PASSWORD, ...(type === undefined ? [] : [`-t${type}`]), INPUT];
  if (name !== undefined) args.push('--', name);
  try {
    const { code, stderr, capped } = await twice(
      () => runSevenZip(data, args, cap, take, stopFor(budget, where)),
      () => {
        budget.refundBytes(charged);
        chunks = [];
        total = 0;
        charged = 0;
      },
    );
    if (capped) throw new LimitExceededError('maxExpandedBytes', budget.expandedBytes, limits.maxExpandedBytes, where);
    return { data: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total), code, message: stderr.replace(/\s+/g, ' ').slice(0, 500) };
  } catch (err) {
    // What was charged is dropped: given back.
    budget.refundBytes(charged);
    throw err;
  }
}

/** True when 7-Zip's message says the data is encrypted or the password is wrong. */
function saysEncrypted(s: string): boolean {
  return /wrong password|encrypted|can ?not open encrypted/i.test(s);
}

/** True when 7-Zip's message says a method is not supported. */
function saysUnsupported(s: string): boolean {
  return /unsupported method|unsupported (compression|feature)/i.test(s);
}

/** The listing of an archive; undefined, with the trouble noted on the budget, when 7-Zip failed. */
async function listOrNote(unit: ScanUnit, budget: Budget, type: string | undefined): Promise<SevenZipListing | undefined> {
  try {
    return await listArchive(unit.data, budget, unit.location, type);
  } catch (err) {
    if (isFatal(err)) throw err;
    // 7-Zip lets a C++ exception out (a bare number) when a 7z's headers are encrypted.
    if (hasEncryptedHeader(unit.data)) budget.markUnchecked(unit.location, 'ENCRYPTED', '7z archive with encrypted headers (names and contents)');
    else budget.note('UNPARSEABLE', `archive at ${unit.location}: 7-Zip failed: ${reason(err)}`);
    return undefined;
  }
}

/**
 * The members of a unit 7-Zip can open. Each member is charged maxParts; encrypted ones
 * and ones with a method 7-Zip lacks are marked unchecked (ENCRYPTED / UNSUPPORTED_METHOD);
 * an archive 7-Zip cannot open at all, or a member that fails with a data error, is noted
 * UNPARSEABLE (what came out before the error is still yielded).
 * `only`: extract just these member names (the zip members our own reader lacks a method for).
 * `fallbackName`: the name of a single unnamed stream (bzip2, xz...).
 */
export async function* sevenZipMembers(
  unit: ScanUnit,
  budget: Budget,
  opts: { type?: string; fallbackName?: string; only?: ReadonlySet<string> } = {},
): AsyncGenerator<Member> {
  budget.checkTime(unit.location);
  // A single-stream format (bzip2, xz, MS-LZ) has nothing to list: one run extracts it.
  const listing =
    opts.fallbackName !== undefined && opts.only === undefined
      ? { type: opts.type ?? 'stream', entries: [{ path: '', dir: false, encrypted: false }], code: 0, message: '' }
      : await listOrNote(unit, budget, opts.type);
  if (listing === undefined) return;
  if (listing.type === undefined) {
    if (saysEncrypted(listing.message)) budget.markUnchecked(unit.location, 'ENCRYPTED', `7-Zip: ${listing.message}`);
    else budget.note('UNPARSEABLE', `archive at ${unit.location}: ${listing.message || '7-Zip cannot open it'}`);
    return;
  }
  // In a multi-entry listing, an entry with neither size nor packed size is a folder
  // (OLE2 storages are listed that way, without a folder flag).
  const multi = listing.entries.length > 1;
  const files = listing.entries.filter((e) => !e.dir && !(multi && e.size === undefined && e.packedSize === undefined) && (opts.only === undefined || opts.only.has(e.path)));
  budget.checkEntries(listing.entries.length, unit.location);
  const single = listing.entries.length === 1;
  // Several members of known sizes: one 7-Zip run extracts them all, in listing order, and
  // the output is cut by the listed sizes (one run per member re-opens the archive each
  // time: measured ~13 ms for a 13-stream .doc against ~2 ms). Anything unexpected (a size
  // that does not add up, an error) falls back to one run per member.
  if (opts.only === undefined && files.length > 1 && files.every((e) => e.size !== undefined && !e.encrypted && e.path !== '')) {
    const whole = await extractAll(unit, files, budget);
    if (whole !== undefined) {
      yield* whole;
      return;
    }
  }
  for (const entry of files) {
    const path = entry.path !== '' ? entry.path : (opts.fallbackName ?? 'unpacked');
    const where = `${unit.location} > ${path}`;
    budget.checkTime(where);
    budget.addPart(where);
    if (entry.encrypted) {
      budget.markUnchecked(where, 'ENCRYPTED', `${listing.type} member${entry.method ? ` (${entry.method})` : ''}`);
      continue;
    }
    // The declared sizes give the ratio before anything is extracted (an honest bomb stops here).
    if (entry.size !== undefined && entry.packedSize !== undefined && entry.packedSize > 0) {
      budget.checkRatio(entry.size, entry.packedSize, where);
    }
    const compressed = entry.packedSize !== undefined && entry.packedSize > 0 ? entry.packedSize : unit.data.length;
    let got: Extracted;
    try {
      got = await extractMember(unit.data, single && entry.path === '' ? undefined : entry.path, where, compressed, budget, opts.type);
    } catch (err) {
      if (isFatal(err)) throw err;
      budget.note('UNPARSEABLE', `${listing.type} member at ${where}: 7-Zip failed: ${reason(err)}`);
      continue;
    }
    if (got.code !== 0) {
      if (saysEncrypted(got.message)) budget.markUnchecked(where, 'ENCRYPTED', `${listing.type}: ${got.message}`);
      else if (saysUnsupported(got.message)) budget.markUnchecked(where, 'UNSUPPORTED_METHOD', `${listing.type}${entry.method ? ` ${entry.method}` : ''}: ${got.message}`);
      else budget.note('UNPARSEABLE', `${listing.type} member at ${where}: ${got.message || `7-Zip exit ${got.code}`}`);
    }
    if (got.data.length > 0) yield { path, data: got.data };
  }
}

/** AES-256 + SHA-256 coder id of the 7z format. */
const SEVENZIP_AES = Buffer.from('06f10701', 'hex');

/**
 * True for a 7z archive whose header is stored encoded (kEncodedHeader, 0x17) through the
 * AES coder: `7z a -mhe=on -p...`. The start header gives the next header's offset and size.
 */
export function hasEncryptedHeader(data: Buffer): boolean {
  if (data.length < 32 || data.readUInt32BE(0) !== 0x377abcaf) return false;
  const offset = Number(data.readBigUInt64LE(12));
  const size = Number(data.readBigUInt64LE(20));
  const start = 32 + offset;
  if (!Number.isSafeInteger(start) || start >= data.length || size <= 0) return false;
  const header = data.subarray(start, Math.min(data.length, start + size));
  return header[0] === 0x17 && header.indexOf(SEVENZIP_AES) >= 0;
}

/**
 * All `files` of an archive from one 7-Zip run, cut by their listed sizes; undefined (and
 * nothing charged) when the run failed or the sizes do not add up. Each member is charged
 * maxParts; the bytes were charged as they streamed (ratio against the whole archive).
 */
async function extractAll(unit: ScanUnit, files: SevenZipEntry[], budget: Budget): Promise<Member[] | undefined> {
  const expected = files.reduce((n, e) => n + (e.size ?? 0), 0);
  if (expected > budget.remainingBytes()) return undefined; // per member: the limit names the member
  let got: Extracted;
  try {
    got = await extractMember(unit.data, undefined, unit.location, unit.data.length, budget);
  } catch (err) {
    if (isFatal(err)) throw err;
    return undefined;
  }
  if (got.code !== 0 || got.data.length !== expected) {
    budget.refundBytes(got.data.length);
    return undefined;
  }
  const members: Member[] = [];
  let at = 0;
  for (const e of files) {
    const size = e.size ?? 0;
    budget.addPart(`${unit.location} > ${e.path}`);
    if (size > 0) members.push({ path: e.path, data: got.data.subarray(at, at + size) });
    at += size;
  }
  return members;
}
