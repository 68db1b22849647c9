/**
 * Archive builders for the container tests. Everything is built at run time from real
 * libraries (fflate, node:zlib, tar-stream); big zero-filled bombs are built streaming so
 * the test itself never holds their expanded size either.
 */
import { createGzip, gzipSync } from 'node:zlib';
import { Zip, ZipDeflate, zipSync, type Zippable } from 'fflate';
import tarStream from 'tar-stream';
import { Budget, resolveLimits, type Limits } from '../../../src/core/limits.js';
import type { ScanUnit } from '../../../src/core/types.js';
import { expandUnit } from '../../../src/core/containers/expand.js';

/** The EICAR test string, assembled so that this file never contains it whole. */
export const EICAR = Buffer.from(
  'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR' + '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*',
  'latin1',
);

/** A fixed date so builds are reproducible. */
const MTIME = new Date('2024-01-02T03:04:05Z');

/** Zip with fflate: level 0 = stored, 6 = deflated. Keys with a trailing "/" are folders. */
export function zip(files: Record<string, Buffer | Uint8Array>, level: 0 | 6 = 6): Buffer {
  const input: Zippable = {};
  for (const [name, data] of Object.entries(files)) input[name] = [new Uint8Array(data), { level, mtime: MTIME }];
  return Buffer.from(zipSync(input, { level, mtime: MTIME }));
}

/** A tar built with tar-stream pack(). */
export async function tar(
  entries: { name: string; data?: Buffer; type?: 'file' | 'directory' | 'symlink'; linkname?: string }[],
): Promise<Buffer> {
  const pack = tarStream.pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) out.push(Buffer.from(chunk as Uint8Array));
  })();
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? 'file', mtime: MTIME, mode: e.type === 'directory' ? 0o755 : 0o644 };
    if (e.linkname !== undefined) Object.assign(header, { linkname: e.linkname });
    await new Promise<void>((resolve, reject) =>
      pack.entry(header, e.data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(out);
}

/** gzip with node:zlib, optionally with an original name (FNAME) spliced into the header. */
export function gzip(data: Buffer, originalName?: string): Buffer {
  const plain = gzipSync(data);
  if (originalName === undefined) return plain;
  const header = Buffer.from(plain.subarray(0, 10));
  header[3] = (header[3] ?? 0) | 0x08;
  return Buffer.concat([header, Buffer.from(`${originalName}\0`, 'latin1'), plain.subarray(10)]);
}

const MB = 1024 * 1024;

/** A zip holding one member of `megabytes` MB of zeros, deflated streaming (never held). */
export function zeroZip(megabytes: number, name = 'zeros.bin'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    const archive = new Zip((err, data, final) => {
      if (err) return reject(err);
      chunks.push(data);
      if (final) resolve(Buffer.concat(chunks));
    });
    const file = new ZipDeflate(name, { level: 6 });
    file.mtime = MTIME;
    archive.add(file);
    const zeros = new Uint8Array(MB);
    for (let i = 0; i < megabytes; i += 1) file.push(zeros);
    file.push(new Uint8Array(0), true);
    archive.end();
  });
}

/** A zip written the streaming way (fflate Zip: data descriptors, sizes only at the end). */
export function streamedZip(files: Record<string, Buffer>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    const archive = new Zip((err, data, final) => {
      if (err) return reject(err);
      chunks.push(data);
      if (final) resolve(Buffer.concat(chunks));
    });
    for (const [name, data] of Object.entries(files)) {
      const file = new ZipDeflate(name, { level: 6 });
      file.mtime = MTIME;
      archive.add(file);
      file.push(new Uint8Array(data), true);
    }
    archive.end();
  });
}

/** A gzip of `megabytes` MB of zeros, compressed streaming (never held). */
export async function zeroGzip(megabytes: number): Promise<Buffer> {
  const gz = createGzip();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of gz) out.push(chunk as Buffer);
  })();
  const zeros = Buffer.alloc(MB);
  for (let i = 0; i < megabytes; i += 1) {
    if (!gz.write(zeros)) await new Promise((r) => gz.once('drain', r));
  }
  gz.end();
  await done;
  return Buffer.concat(out);
}

/** A MIME-part unit as the walker would hand it over. */
export function partUnit(data: Buffer, location: string, filename?: string): ScanUnit {
  const unit: ScanUnit = { kind: 'part', data, location, contentType: 'application/octet-stream', encoding: 'base64' };
  if (filename !== undefined) unit.filename = filename;
  return unit;
}

/** A fresh per-message budget. */
export function budget(limits?: Partial<Limits>): Budget {
  return new Budget(resolveLimits(limits));
}

/** Outcome of running expandUnit to the end. */
export interface Expansion {
  units: ScanUnit[];
  error?: unknown;
  budget: Budget;
}

/**
 * Run expandUnit to the end, keeping what was yielded and what (if anything) was thrown —
 * or, when nothing was, the first limit hit the expansion recorded and went on after
 * (a limit inside a container stops that container only, see expandUnit).
 */
export async function expandAll(unit: ScanUnit, b: Budget = budget(), depth = 1): Promise<Expansion> {
  const units: ScanUnit[] = [];
  try {
    for await (const u of expandUnit(unit, depth, b)) units.push(u);
  } catch (error) {
    return { units, error, budget: b };
  }
  const hit = b.limitHits[0];
  return hit === undefined ? { units, budget: b } : { units, error: hit, budget: b };
}

/** Locations in yield order. */
export function locations(e: Expansion): string[] {
  return e.units.map((u) => u.location);
}
