/**
 * Deterministic containers for the corpus: zip (fflate, fixed entry time), gzip
 * (node:zlib, header mtime 0 and a fixed OS byte) and tar (tar-stream, fixed mtime,
 * uid/gid 0). Same input, same bytes.
 */
import { gzipSync } from 'node:zlib';
import { zipSync, type Zippable } from 'fflate';
import { pack } from 'tar-stream';

/** One archive member. */
export interface Member {
  name: string;
  data: Buffer;
}

/**
 * Entry time written into zips. fflate writes DOS time from the *local* clock fields, so
 * the date is built from local fields too: the same DOS bytes in every time zone.
 */
function zipTime(): Date {
  return new Date(2024, 0, 15, 12, 0, 0);
}

/** Fixed tar member time (UTC seconds; tar stores an absolute time). */
const TAR_MTIME = new Date(Date.UTC(2024, 0, 15, 12, 0, 0));

/** A zip of `members`; `level` 0 stores, 1–9 deflates. */
export function makeZip(members: readonly Member[], level: 0 | 6 | 9 = 6): Buffer {
  const files: Zippable = {};
  const mtime = zipTime();
  for (const m of members) files[m.name] = [new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.length), { level, mtime }];
  const out = zipSync(files, { level, mtime });
  return Buffer.from(out.buffer, out.byteOffset, out.length);
}

/** gzip with header mtime 0 and OS byte 3 (Unix), whatever platform zlib was built for. */
export function makeGzip(data: Buffer): Buffer {
  const out = gzipSync(data, { level: 6 });
  out.writeUInt32LE(0, 4);
  out[9] = 3;
  return out;
}

/** A ustar archive of `members` (regular files, mode 0644, uid/gid 0, fixed mtime). */
export async function makeTar(members: readonly Member[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of p) chunks.push(Buffer.from(chunk as Uint8Array));
  })();
  for (const m of members) {
    await new Promise<void>((resolve, reject) => {
      p.entry({ name: m.name, size: m.data.length, mode: 0o644, mtime: TAR_MTIME, uid: 0, gid: 0, type: 'file' }, m.data, (err) => (err ? reject(err) : resolve()));
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}
