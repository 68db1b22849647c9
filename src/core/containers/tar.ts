import tarStream from 'tar-stream';
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import { isFatal, reason, type Member } from './member.js';

/** Tar entry types that carry file content worth scanning. */
const CONTENT_TYPES = new Set(['file', 'contiguous-file']);

/** What one pass of tar-stream over a tar gave. */
interface TarRead {
  members: Member[];
  /** Why the archive could not be read to its end (bad checksum, cut short...). */
  problem?: string;
  /** A limit (or abort) hit while reading: rethrown once the members before it are out. */
  fatal?: unknown;
}

/** Copy-free when a member arrived in one chunk (the usual case for an in-memory tar). */
function join(chunks: Buffer[], total: number): Buffer {
  return chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, total);
}

/**
 * Read a whole tar with tar-stream's extract(), event-driven so that a member cut short by
 * a truncated archive keeps the bytes that did arrive (the iterator API drops it). A tar
 * is stored, not compressed: its members never add up to more than the tar itself, so
 * reading them in one pass holds nothing a bomb could blow up; the budget is still
 * charged as bytes arrive and a limit stops the pass at once.
 */
function readTar(unit: ScanUnit, budget: Budget): Promise<TarRead> {
  return new Promise((resolve) => {
    const result: TarRead = { members: [] };
    const extract = tarStream.extract({ highWaterMark: 1 });
    let entries = 0;
    /** The content member being read, until its stream ends. */
    let current: { path: string; chunks: Buffer[]; total: number } | undefined;

    const stop = (fatal: unknown): void => {
      result.fatal ??= fatal;
      extract.destroy();
    };

    extract.on('entry', (header, stream, next) => {
      stream.on('error', () => undefined); // the archive's own 'error' tells why
      try {
        entries += 1;
        budget.checkEntries(entries, unit.location);
        if (!CONTENT_TYPES.has(header.type)) {
          stream.on('end', () => next());
          stream.resume();
          return;
        }
        const where = `${unit.location} > ${header.name}`;
        budget.checkTime(where);
        budget.addPart(where);
        const member = { path: header.name, chunks: [] as Buffer[], total: 0 };
        current = member;
        stream.on('data', (chunk: unknown) => {
          if (!Buffer.isBuffer(chunk)) return;
          if (result.fatal !== undefined) return;
          try {
            member.total += chunk.length;
            budget.addBytes(chunk.length, where);
            member.chunks.push(chunk);
          } catch (err) {
            stop(err);
          }
        });
        stream.on('end', () => {
          current = undefined;
          result.members.push({ path: member.path, data: join(member.chunks, member.total) });
          next();
        });
      } catch (err) {
        stop(err);
      }
    });
    extract.on('error', (err: unknown) => {
      result.problem ??= reason(err);
    });
    extract.on('close', () => {
      if (current !== undefined && result.fatal === undefined) {
        const cut = current;
        current = undefined;
        result.problem ??= 'archive ended inside a member';
        if (cut.total > 0) result.members.push({ path: cut.path, data: join(cut.chunks, cut.total) });
      }
      resolve(result);
    });
    // Ending at once would let tar-stream's end-of-data check destroy a cut-off member
    // before its bytes reach us. So: write, wait until the parser took it all ('drain';
    // highWaterMark 1 makes sure one comes), let pushed data flow out, then end.
    extract.on('drain', () =>
      setImmediate(() => {
        if (!extract.destroying) extract.end(undefined);
      }),
    );
    extract.write(unit.data);
  });
}

/**
 * The regular-file members of a tar unit. Every header counts toward maxArchiveEntries (a
 * tar has no up-front count), every file member toward maxParts and its bytes toward
 * maxExpandedBytes. Directories, links and devices are skipped. A bad header checksum or
 * truncated data ends the walk with an UNPARSEABLE note; members read before it (and a
 * cut-off member's partial bytes) are yielded. A limit is thrown after the members read
 * before it were yielded.
 */
export async function* tarMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  const read = await readTar(unit, budget);
  yield* read.members;
  if (read.fatal !== undefined) {
    if (isFatal(read.fatal)) throw read.fatal;
    read.problem ??= reason(read.fatal);
  }
  if (read.problem !== undefined) budget.note('UNPARSEABLE', `tar archive at ${unit.location}: ${read.problem}`);
}
