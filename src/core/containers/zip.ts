import { crc32 } from 'node:zlib';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import { collectStream, isFatal, reason, type Member } from './member.js';
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

function openEntry(zipfile: ZipFile, entry: Entry): Promise<Readable> {
  return new Promise((resolve, reject) => {
    try {
      zipfile.openReadStream(entry, (err, stream) => {
        if (err) return reject(err);
        // Errors reach us through the async iterator; this only catches a late one.
        stream.on('error', () => undefined);
        resolve(stream);
      });
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
 * The members of a zip unit, in central-directory order, each read through a streaming
 * inflate counted against the budget (maxArchiveEntries up front, then per member
 * maxParts, maxExpandedBytes, maxCompressionRatio, time). Directories are skipped.
 * Trouble that leaves the rest readable is noted as UNPARSEABLE and the walk goes on:
 * an unreadable central directory (then the local headers are walked instead, see
 * salvageZipMembers), encrypted entries, unknown compression methods, a
 * corrupt or truncated deflate stream (its partial output is still yielded), a size or
 * CRC-32 that does not match the header.
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
      if (entry === null) return;
      const path = entryName(entry);
      if (path.endsWith('/') || path.endsWith('\\')) continue;
      const where = `${unit.location} > ${path}`;
      budget.checkTime(where);
      budget.addPart(where);
      members += 1;
      const member = await readEntry(zipfile, entry, path, where, budget);
      if (member !== undefined) yield member;
    }
  } finally {
    zipfile.close();
  }
}

async function readEntry(
  zipfile: ZipFile,
  entry: Entry,
  path: string,
  where: string,
  budget: Budget,
): Promise<Member | undefined> {
  if (entry.isEncrypted()) {
    budget.note('UNPARSEABLE', `encrypted zip entry at ${where} cannot be scanned`);
    return undefined;
  }
  if (entry.compressionMethod !== STORED && entry.compressionMethod !== DEFLATED) {
    budget.note('UNPARSEABLE', `zip entry at ${where}: unsupported compression method ${entry.compressionMethod}`);
    return undefined;
  }
  // The declared sizes give the member's final ratio before a byte is inflated; an honest
  // bomb stops here. A lying header is caught by the running check while streaming.
  budget.checkRatio(entry.uncompressedSize, entry.compressedSize, where);
  let stream: Readable;
  try {
    stream = await openEntry(zipfile, entry);
  } catch (err) {
    if (isFatal(err)) throw err;
    budget.note('UNPARSEABLE', `zip entry at ${where}: ${reason(err)}`);
    return undefined;
  }
  const { data, error } = await collectStream(stream, where, entry.compressedSize, budget);
  if (error !== undefined) {
    budget.note('UNPARSEABLE', `zip entry at ${where}: ${error.message}`);
    return data.length > 0 ? { path, data } : undefined;
  }
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
