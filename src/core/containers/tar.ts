import tarStream from 'tar-stream';
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import { collectStream, isFatal, reason, type Member } from './member.js';

/** Tar entry types that carry file content worth scanning. */
const CONTENT_TYPES = new Set(['file', 'contiguous-file']);

/**
 * The regular-file members of a tar unit, read with tar-stream's extract(). Every header
 * counts toward maxArchiveEntries (a tar has no up-front count), every file member toward
 * maxParts and its bytes toward maxExpandedBytes as they stream. Directories, links and
 * devices are skipped. A bad header checksum or truncated data ends the walk with an
 * UNPARSEABLE note; members read before it (and a cut-off member's partial bytes) are yielded.
 */
export async function* tarMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  const extract = tarStream.extract();
  extract.on('error', () => undefined); // surfaced by the iterator; keeps late ones handled
  extract.end(unit.data);
  let entries = 0;
  const iterator = extract[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof iterator.next>>;
      try {
        next = await iterator.next();
      } catch (err) {
        if (isFatal(err)) throw err;
        budget.note('UNPARSEABLE', `tar archive at ${unit.location}: ${reason(err)}`);
        return;
      }
      if (next.done === true) return;
      const entry = next.value;
      entries += 1;
      budget.checkEntries(entries, unit.location);
      const path = entry.header.name;
      if (!CONTENT_TYPES.has(entry.header.type ?? 'file')) {
        entry.resume();
        continue;
      }
      const where = `${unit.location} > ${path}`;
      budget.checkTime(where);
      budget.addPart(where);
      // Tar members are stored, so "compressed" is the member's own size: ratio 1.
      const { data, error } = await collectStream(entry, where, Math.max(1, entry.header.size ?? 0), budget);
      if (error !== undefined) {
        budget.note('UNPARSEABLE', `tar entry at ${where}: ${error.message}`);
        if (data.length > 0) yield { path, data };
        continue;
      }
      yield { path, data };
    }
  } finally {
    await iterator.return?.().catch(() => undefined);
  }
}
