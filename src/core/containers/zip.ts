import { constants, crc32, createInflateRaw } from 'node:zlib';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import type { ScanUnit } from '../types.js';
import { LimitExceededError, type Budget } from '../limits.js';
import { sevenZipMembers } from './sevenzip.js';
import { collectStream, inflateChunkSize, inflateSmall, isFatal, reason, type Member } from './member.js';
import { salvageZipMembers } from './zip-salvage.js';

/**
 * yauzl exports this (it honours the UTF-8 flag, CP437 and the Info-ZIP Unicode Path
 * field) but @types/yauzl does not declare it.
 */
const getFileNameLowLevel = (yauzl as unknown as {
  getFileNameLowLevel(flags: number, raw: Buffer, extra: Entry['extraFields'], strict: boolean): string;
}).getFileNameLowLevel;

/** With decodeStrings off, yauzl leaves the raw name bytes here. */
type RawEntry = Entry & { fileNameRaw?: Buffer };

const STORED = 0;
const DEFLATED = 8;

/**
 * Open a zip held in memory. `decodeStrings: false` keeps yauzl from refusing a whole
 * archive over a hostile entry name ("../x", "C:\x"): we never write to disk, and such an
 * archive is exactly one that must be scanned. `validateEntrySizes: false` because yauzl
 * would drop a member whose declared size is a lie; we read what is really there
 * (bounded by the budget) and note the mismatch ourselves.
 */
function openZip(data: Buffer): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    try {
      yauzl.fromBuffer(
        data,
        { lazyEntries: true, decodeStrings: false, validateEntrySizes: false, autoClose: false },
        (err, zipfile) => (err ? reject(err) : resolve(zipfile)),
      );
    } catch (err) {
      reject(err);
    }
  });
}

/** Pull entries one at a time from a lazyEntries ZipFile as promises (null at the end). */
class EntryReader {
  private pending: { resolve: (e: Entry | null) => void; reject: (err: Error) => void } | undefined;
  private failure: Error | undefined;
  private ended = false;

  constructor(private readonly zipfile: ZipFile) {
    zipfile.on('entry', (entry: Entry) => this.settle((p) => p.resolve(entry)));
    zipfile.on('end', () => {
      this.ended = true;
      this.settle((p) => p.resolve(null));
    });
    // Kept for the ZipFile's whole life: a late error must not be an unhandled event.
    zipfile.on('error', (err: Error) => {
      this.failure ??= err;
      this.settle((p) => p.reject(err));
    });
  }

  next(): Promise<Entry | null> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.zipfile.readEntry();
    });
  }

  private settle(action: (p: NonNullable<EntryReader['pending']>) => void): void {
    const p = this.pending;
    this.pending = undefined;
    if (p !== undefined) action(p);
  }
}

/** Where an entry's (compressed) data starts, from its local header (yauzl checks bounds). */
function fileDataStart(zipfile: ZipFile, entry: Entry): Promise<number> {
  const reader = zipfile as unknown as {
    readLocalFileHeader(e: Entry, o: { minimal: true }, cb: (err: Error | null, h: { fileDataStart: number }) => void): void;
  };
  return new Promise((resolve, reject) => {
    try {
      reader.readLocalFileHeader(entry, { minimal: true }, (err, header) => (err ? reject(err) : resolve(header.fileDataStart)));
    } catch (err) {
      reject(err);
    }
  });
}

/** Decode an entry name whatever yauzl left in it. */
function entryName(entry: RawEntry): string {
  const raw = entry.fileNameRaw ?? (entry.fileName as unknown);
  if (Buffer.isBuffer(raw)) {
    try {
      return getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, false);
    } catch {
      return raw.toString('latin1');
    }
  }
  return String(raw);
}

/**
 * The members of a zip unit, in central-directory order. yauzl reads the directory and
 * the local headers; stored data is a view on the archive, deflated data is inflated by
 * node:zlib (one capped call when small, else streamed). Everything is counted against
 * the budget: maxArchiveEntries up front, then per member maxParts, maxCompressionRatio
 * (from the declared sizes, then while inflating), maxExpandedBytes and time.
 * Directories are skipped. Trouble that leaves the rest readable is noted as UNPARSEABLE
 * and the walk goes on: an unreadable central directory (then the local headers are
 * walked instead, see salvageZipMembers), encrypted entries, unknown compression methods,
 * a corrupt or truncated deflate stream (its partial output is still yielded), a size or
 * CRC-32 that does not match the directory.
 */
export async function* zipMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  let zipfile: ZipFile;
  try {
    zipfile = await openZip(unit.data);
  } catch (err) {
    budget.note('UNPARSEABLE', `zip archive at ${unit.location}: ${reason(err)}`);
    yield* salvageZipMembers(unit, budget);
    return;
  }
  try {
    budget.checkEntries(zipfile.entryCount, unit.location);
    const entries = new EntryReader(zipfile);
    let members = 0;
    /** Entries whose compression method only 7-Zip knows (bzip2, deflate64, implode, LZMA...). */
    const deferred = new Map<string, string>();
    for (;;) {
      let entry: RawEntry | null;
      try {
        entry = await entries.next();
      } catch (err) {
        budget.note('UNPARSEABLE', `zip central directory at ${unit.location}: ${reason(err)}`);
        // Nothing read yet: the local headers may still tell the members (see salvage).
        if (members === 0) yield* salvageZipMembers(unit, budget);
        return;
      }
      if (entry === null) break;
      const path = entryName(entry);
      if (path.endsWith('/') || path.endsWith('\\')) continue;
      const where = `${unit.location} > ${path}`;
      budget.checkTime(where);
      budget.addPart(where);
      members += 1;
      if (!entry.isEncrypted() && entry.compressionMethod !== STORED && entry.compressionMethod !== DEFLATED) {
        deferred.set(path, where);
        continue;
      }
      let member: Member | undefined;
      try {
        member = await readEntry(zipfile, unit.data, entry, path, where, budget);
      } catch (err) {
        // A bomb member stops itself only: the other members are still read and scanned.
        if (!(err instanceof LimitExceededError) || (err.limit !== 'maxCompressionRatio' && err.limit !== 'maxExpandedBytes')) throw err;
        budget.recordLimit(err);
        continue;
      }
      if (member !== undefined) yield member;
    }
    if (deferred.size > 0) yield* deferredMembers(unit, budget, deferred);
  } finally {
    zipfile.close();
  }
}

async function readEntry(
  zipfile: ZipFile,
  archive: Buffer,
  entry: Entry,
  path: string,
  where: string,
  budget: Budget,
): Promise<Member | undefined> {
  if (entry.isEncrypted()) {
    budget.markUnchecked(where, 'ENCRYPTED', `encrypted zip entry (method ${entry.compressionMethod})`);
    return undefined;
  }
  // The declared sizes give the member's final ratio before a byte is inflated; an honest
  // bomb stops here. A lying header is caught by the running check while streaming.
  budget.checkRatio(entry.uncompressedSize, entry.compressedSize, where);
  let start: number;
  try {
    start = await fileDataStart(zipfile, entry);
  } catch (err) {
    if (isFatal(err)) throw err;
    budget.note('UNPARSEABLE', `zip entry at ${where}: ${reason(err)}`);
    return undefined;
  }
  const compressed = archive.subarray(start, start + entry.compressedSize);
  let data: Buffer;
  if (entry.compressionMethod === STORED) {
    // A view on the archive, which is in memory anyway: no copy, no stream.
    data = compressed;
    budget.addBytes(data.length, where);
  } else {
    const small = inflateSmall('raw', compressed, entry.uncompressedSize, where, budget);
    if (small !== undefined) return checked(small, entry, path, where, budget);
    // Z_SYNC_FLUSH keeps the output of a cut-off stream; the size/CRC checks below note it.
    const inflate = createInflateRaw({
      finishFlush: constants.Z_SYNC_FLUSH,
      chunkSize: inflateChunkSize(entry.uncompressedSize),
    });
    inflate.on('error', () => undefined); // surfaced by the iterator; keeps late ones handled
    inflate.end(compressed);
    const collected = await collectStream(inflate, where, entry.compressedSize, budget);
    data = collected.data;
    if (collected.error !== undefined) {
      budget.note('UNPARSEABLE', `zip entry at ${where}: ${collected.error.message}`);
      return data.length > 0 ? { path, data } : undefined;
    }
  }
  return checked(data, entry, path, where, budget);
}

/** Note a member whose size or CRC-32 is not what the central directory says; keep it. */
function checked(data: Buffer, entry: Entry, path: string, where: string, budget: Budget): Member {
  if (data.length !== entry.uncompressedSize) {
    budget.note(
      'UNPARSEABLE',
      `zip entry at ${where}: declared size ${entry.uncompressedSize} but ${data.length} bytes inflated`,
    );
  } else if (crc32(data) !== entry.crc32) {
    budget.note('UNPARSEABLE', `zip entry at ${where}: CRC-32 mismatch`);
  }
  return { path, data };
}

/**
 * The members whose method our reader lacks, read by 7-Zip (bzip2, deflate64, implode,
 * LZMA, PPMd, XZ, Zstandard...) under the same budget; those 7-Zip cannot read either are
 * marked unchecked (UNSUPPORTED_METHOD). Their maxParts were charged by the caller already;
 * 7-Zip's reader charges them again (a member counted twice, never zero times).
 */
async function* deferredMembers(unit: ScanUnit, budget: Budget, deferred: Map<string, string>): AsyncGenerator<Member> {
  const seen = new Set<string>();
  for await (const m of sevenZipMembers(unit, budget, { type: 'zip', only: new Set(deferred.keys()) })) {
    seen.add(m.path);
    yield m;
  }
  for (const [path, where] of deferred) {
    if (!seen.has(path)) budget.markUnchecked(where, 'UNSUPPORTED_METHOD', 'zip compression method no decoder reads');
  }
}
