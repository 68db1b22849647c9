/**
 * Deterministic writers of the container formats beyond zip/gzip/tar, for the corpus's
 * format categories (issue 16: which scanner sees into which format) and the tests:
 *
 * - 7z, bzip2, xz and zip with 7-Zip-only methods: by 7-Zip itself (the `7z-wasm`
 *   package; its own instance, not the scanning core's), member times fixed, one thread;
 * - OLE2 compound files: by `cfb` (SheetJS), which writes no times;
 * - CAB (stored, no compression), cpio (newc), BinHex 4.0, PDF with a FlateDecode stream,
 *   RTF with an \objdata package, TNEF (winmail.dat), Symbian SIS, HTML with a data: URI:
 *   by the small writers below — no library writes them; each is the few fixed fields of
 *   its format that real readers (ClamAV's, 7-Zip's, ours) need.
 *
 * Same input, same bytes.
 */
import { deflateSync } from 'node:zlib';
import type { SevenZipModule, SevenZipModuleFactory } from '7z-wasm';
import type { Member } from './archive.js';

let sevenZip: Promise<SevenZipModule> | undefined;
let runs = 0;
/**
 * Runs on one 7-Zip instance before a fresh one: its main() is not made to run many times
 * in one process (measured: a trap, "memory access out of bounds", after ~110 runs).
 */
const RUNS_PER_INSTANCE = 40;

async function tool(): Promise<SevenZipModule> {
  if (++runs > RUNS_PER_INSTANCE) {
    runs = 1;
    sevenZip = undefined;
  }
  sevenZip ??= (async () => {
    const mod = (await import('7z-wasm')) as unknown as { default: SevenZipModuleFactory | { default: SevenZipModuleFactory } };
    const f = typeof mod.default === 'function' ? mod.default : mod.default.default;
    return f({ print: () => undefined, printErr: () => undefined, stdout: () => undefined, stderr: () => undefined });
  })();
  return sevenZip;
}

let seq = 0;
/** Member time written by 7-Zip (seconds since the epoch): 2024-01-15 12:00 UTC. */
const FIXED_TIME = Date.UTC(2024, 0, 15, 12, 0, 0) / 1000;

/**
 * Archive `members` with 7-Zip: `type` is its -t switch (7z, bzip2, xz, zip), `extra`
 * more switches (e.g. `-mm=BZip2`, `-psecret`). bzip2 and xz take one member.
 */
export async function sevenZipArchive(type: string, members: readonly Member[], extra: readonly string[] = []): Promise<Buffer> {
  const sz = await tool();
  const dir = `/w${++seq}`;
  sz.FS.mkdir(dir);
  const names: string[] = [];
  for (const m of members) {
    const parts = m.name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const sub = `${dir}/${parts.slice(0, i).join('/')}`;
      try {
        sz.FS.mkdir(sub);
      } catch {
        /* exists */
      }
    }
    sz.FS.writeFile(`${dir}/${m.name}`, m.data);
    (sz.FS as unknown as { utime(p: string, a: number, m: number): void }).utime(`${dir}/${m.name}`, FIXED_TIME * 1000, FIXED_TIME * 1000);
    names.push(m.name);
  }
  const out = `${dir}.out`;
  sz.FS.chdir(dir);
  try {
    sz.callMain(['a', `-t${type}`, '-bd', '-mmt=1', ...extra, out, ...names]);
  } catch (err) {
    // 7-Zip lets a C++ exception out as a bare number (e.g. two members of one name).
    throw new Error(`7-Zip could not write a ${type} archive of ${names.join(', ')}: ${typeof err === 'number' ? `exception ${err}` : String(err)}`);
  }
  sz.FS.chdir('/');
  const archive = Buffer.from(sz.FS.readFile(out));
  for (const name of names) sz.FS.unlink(`${dir}/${name}`);
  for (const name of names.map((n) => n.split('/').slice(0, -1)).filter((p) => p.length > 0).sort((a, b) => b.length - a.length)) {
    for (let i = name.length; i > 0; i--) {
      try {
        sz.FS.rmdir(`${dir}/${name.slice(0, i).join('/')}`);
      } catch {
        /* not empty yet, or gone */
      }
    }
  }
  sz.FS.rmdir(dir);
  sz.FS.unlink(out);
  return archive;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/**
 * A Microsoft Cabinet of `members`, stored (compression type 0: none), one folder, data
 * blocks of at most 32 KB without checksums (0 means "none" in the format), fixed dates.
 */
export function cabStored(members: readonly Member[]): Buffer {
  const data = Buffer.concat(members.map((m) => m.data));
  const blocks: Buffer[] = [];
  for (let at = 0; at < data.length || blocks.length === 0; at += 0x8000) {
    const chunk = data.subarray(at, at + 0x8000);
    blocks.push(Buffer.concat([u32(0), u16(chunk.length), u16(chunk.length), chunk]));
    if (data.length === 0) break;
  }
  const files: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    // uncompressed size, offset in the folder, folder 0, date (2024-01-15), time (12:00), attributes (archive)
    const date = ((2024 - 1980) << 9) | (1 << 5) | 15;
    const time = 12 << 11;
    files.push(Buffer.concat([u32(m.data.length), u32(offset), u16(0), u16(date), u16(time), u16(0x20), Buffer.from(`${m.name.replace(/\//g, '\\')}\0`, 'latin1')]));
    offset += m.data.length;
  }
  const headerSize = 36;
  const folderSize = 8;
  const filesSize = files.reduce((n, f) => n + f.length, 0);
  const firstData = headerSize + folderSize + filesSize;
  const total = firstData + blocks.reduce((n, b) => n + b.length, 0);
  const header = Buffer.concat([
    Buffer.from('MSCF', 'latin1'), u32(0), u32(total), u32(0), u32(headerSize + folderSize), u32(0),
    Buffer.from([3, 1]), u16(1), u16(members.length), u16(0), u16(0x1234), u16(0),
  ]);
  const folder = Buffer.concat([u32(firstData), u16(blocks.length), u16(0)]);
  return Buffer.concat([header, folder, ...files, ...blocks]);
}

/** A "newc" cpio archive. */
export function cpioNewc(members: readonly Member[]): Buffer {
  const parts: Buffer[] = [];
  const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  const entry = (name: string, data: Buffer, ino: number): void => {
    const hex = (n: number): string => n.toString(16).padStart(8, '0');
    const fields = [ino, name === 'TRAILER!!!' ? 0 : 0o100644, 0, 0, 1, FIXED_TIME, data.length, 0, 0, 0, 0, name.length + 1, 0];
    const header = Buffer.from('070701' + fields.map(hex).join(''), 'latin1');
    const nameBuf = Buffer.from(`${name}\0`, 'latin1');
    parts.push(header, nameBuf, pad(header.length + nameBuf.length), data, pad(data.length));
  };
  let ino = 1;
  for (const m of members) entry(m.name, m.data, ino++);
  entry('TRAILER!!!', Buffer.alloc(0), 0);
  return Buffer.concat(parts);
}

const BINHEX_ALPHABET = '!"#$%&\'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr';

/** BinHex 4.0's CRC: CRC-16/XMODEM (polynomial 0x1021, initial 0). */
function crcXmodem(data: Buffer): number {
  let crc = 0;
  for (const b of data) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function u16be(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/**
 * BinHex 4.0 text of one file (type and creator APPL, data fork only, header and fork
 * CRCs computed); `rle` replaces the RLE-encoded stream (for bombs in tests).
 */
export function binhex(name: string, data: Buffer, rle?: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const header = Buffer.concat([Buffer.from([name.length]), Buffer.from(name, 'latin1'), Buffer.alloc(1), Buffer.from('APPLAPPL', 'latin1'), Buffer.alloc(2), len, Buffer.alloc(4)]);
  const raw = Buffer.concat([header, u16be(crcXmodem(header)), data, u16be(crcXmodem(data)), u16be(0)]);
  const escaped: number[] = [];
  for (const b of raw) {
    escaped.push(b);
    if (b === 0x90) escaped.push(0);
  }
  const stream = rle ?? Buffer.from(escaped);
  let bits = 0;
  let acc = 0;
  let text = '';
  for (const b of stream) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      text += BINHEX_ALPHABET[(acc >> bits) & 63];
    }
  }
  if (bits > 0) text += BINHEX_ALPHABET[(acc << (6 - bits)) & 63];
  const lines = (':' + text + ':').replace(/.{64}/g, '$&\r\n');
  return Buffer.from(`(This file must be converted with BinHex 4.0)\r\n${lines}\r\n`, 'latin1');
}

/** A PDF whose one stream holds `data`, FlateDecode-compressed. */
export function pdfWith(data: Buffer): Buffer {
  const body = deflateSync(data);
  return Buffer.concat([
    Buffer.from(`%PDF-1.4\n1 0 obj\n<< /Length ${body.length} /Filter /FlateDecode >>\nstream\n`, 'latin1'),
    body,
    Buffer.from('\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n', 'latin1'),
  ]);
}

/** The native data of an OLE1 "Package" object holding one file (what an Ole10Native stream and RTF \objdata carry). */
export function packageNative(name: string, data: Buffer): Buffer {
  const z = (s: string): Buffer => Buffer.from(`${s}\0`, 'latin1');
  const tmp = z(`C:\\tmp\\${name}`);
  return Buffer.concat([Buffer.from([2, 0]), z(name), z(`C:\\${name}`), Buffer.from([0, 0, 3, 0]), u32(tmp.length), tmp, u32(data.length), data]);
}

/** An OLE1 "Package" object holding one file (as RTF \objdata carries it). */
export function ole1Package(name: string, data: Buffer): Buffer {
  const z = (s: string): Buffer => Buffer.from(`${s}\0`, 'latin1');
  const pkg = packageNative(name, data);
  // Length-prefixed strings; an empty one is a zero length and no bytes (as Word writes it).
  const lp = (s: string): Buffer => (s === '' ? u32(0) : Buffer.concat([u32(s.length + 1), z(s)]));
  return Buffer.concat([u32(0x0501), u32(2), lp('Package'), lp(''), lp(''), u32(pkg.length), pkg]);
}

/** An RTF document embedding one file as a packaged object (\objdata, hex). */
export function rtfWith(name: string, data: Buffer): Buffer {
  const hex = ole1Package(name, data).toString('hex').replace(/.{64}/g, '$&\r\n');
  return Buffer.from(`{\\rtf1\\ansi{\\object\\objemb{\\*\\objclass Package}{\\*\\objdata ${hex}}}}`, 'latin1');
}

/** A TNEF stream (winmail.dat) with one attachment (attAttachRendData, attAttachTitle, attAttachData). */
export function tnefWith(name: string, data: Buffer): Buffer {
  const attr = (level: number, id: number, type: number, body: Buffer): Buffer => {
    const h = Buffer.alloc(9);
    h[0] = level;
    h.writeUInt16LE(id, 1);
    h.writeUInt16LE(type, 3);
    h.writeUInt32LE(body.length, 5);
    let sum = 0;
    for (const b of body) sum = (sum + b) & 0xffff;
    return Buffer.concat([h, body, u16(sum)]);
  };
  const head = Buffer.concat([u32(0x223e9f78), u16(1)]);
  return Buffer.concat([head, attr(2, 0x9002, 0x0006, Buffer.alloc(14)), attr(2, 0x8010, 0x0001, Buffer.from(`${name}\0`, 'latin1')), attr(2, 0x800f, 0x0006, data)]);
}

/**
 * An OLE2 compound file (a Word-like document: a WordDocument stream of `filler`) with
 * `name` embedded: as an Ole10Native package object under ObjectPool (`embed: 'package'`,
 * what Office writes for an inserted file), or as a plain stream of its own (`'stream'`).
 */
export async function ole2With(name: string, data: Buffer, embed: 'package' | 'stream', filler: Buffer): Promise<Buffer> {
  const CFB = (await import('cfb')).default;
  const doc = CFB.utils.cfb_new();
  CFB.utils.cfb_add(doc, '/WordDocument', filler);
  if (embed === 'package') {
    const pkg = packageNative(name, data);
    CFB.utils.cfb_add(doc, '/ObjectPool/_1279313719/\u0001Ole10Native', Buffer.concat([u32(pkg.length), pkg]));
  } else {
    CFB.utils.cfb_add(doc, `/${name}`, data);
  }
  // cfb_new adds a placeholder stream ("\u0001Sh33tJ5") that readers ignore; it is left as is.
  const out = CFB.write(doc, { type: 'buffer' }) as Buffer;
  return Buffer.from(out);
}

/** A Symbian SIS (EPOC release 6 UIDs) with one zlib-compressed file. */
export function sisWith(data: Buffer): Buffer {
  const head = Buffer.alloc(0x40);
  head.writeUInt32LE(0x10000001, 0);
  head.writeUInt32LE(0x10003a12, 4);
  head.writeUInt32LE(0x10000419, 8);
  return Buffer.concat([head, deflateSync(data)]);
}

/** An HTML page linking a file as a base64 data: URI. */
export function htmlWith(data: Buffer): Buffer {
  return Buffer.from(`<html><body><a href="data:application/octet-stream;base64,${data.toString('base64')}">get it</a></body></html>\n`, 'latin1');
}
