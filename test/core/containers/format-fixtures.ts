/**
 * Containers of the formats added in issue 16, built at run time: 7z, bzip2, xz and zip
 * with 7-Zip-only methods by 7-Zip itself (7z-wasm, its own instance, not the core's);
 * cpio, BinHex, PDF, RTF, TNEF, SIS, HTML and mail by the small writers below. Bombs are
 * made from zeros without the test holding their expanded size more than once.
 */
import { deflateSync } from 'node:zlib';
import type { SevenZipModule, SevenZipModuleFactory } from '7z-wasm';

let sevenZip: Promise<SevenZipModule> | undefined;

async function tool(): Promise<SevenZipModule> {
  sevenZip ??= (async () => {
    const mod = (await import('7z-wasm')) as unknown as { default: SevenZipModuleFactory | { default: SevenZipModuleFactory } };
    const f = typeof mod.default === 'function' ? mod.default : mod.default.default;
    return f({ print: () => undefined, printErr: () => undefined, stdout: () => undefined, stderr: () => undefined });
  })();
  return sevenZip;
}

let seq = 0;

/** Archive `files` with 7-Zip: `type` is its -t switch (7z, bzip2, xz, zip), `extra` more switches. */
export async function sevenZipArchive(type: string, files: Record<string, Buffer>, extra: string[] = []): Promise<Buffer> {
  const sz = await tool();
  const dir = `/w${++seq}`;
  sz.FS.mkdir(dir);
  const names: string[] = [];
  for (const [name, data] of Object.entries(files)) {
    sz.FS.writeFile(`${dir}/${name}`, data);
    names.push(name);
  }
  const out = `${dir}.out`;
  sz.FS.chdir(dir);
  sz.callMain(['a', `-t${type}`, '-bd', ...extra, out, ...names]);
  sz.FS.chdir('/');
  const archive = Buffer.from(sz.FS.readFile(out));
  for (const name of names) sz.FS.unlink(`${dir}/${name}`);
  sz.FS.rmdir(dir);
  sz.FS.unlink(out);
  return archive;
}

/** A zeros-only file of `mb` MB compressed by 7-Zip as `type`. */
export function sevenZipBomb(type: string, mb: number, extra: string[] = []): Promise<Buffer> {
  return sevenZipArchive(type, { 'zeros.bin': Buffer.alloc(mb * 1024 * 1024) }, extra);
}

/** A "newc" cpio archive. */
export function cpioNewc(files: Record<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  const entry = (name: string, data: Buffer, ino: number): void => {
    const hex = (n: number): string => n.toString(16).padStart(8, '0');
    const fields = [ino, 0o100644, 0, 0, 1, 0, data.length, 0, 0, 0, 0, name.length + 1, 0];
    const header = Buffer.from('070701' + fields.map(hex).join(''), 'latin1');
    const nameBuf = Buffer.from(`${name}\0`, 'latin1');
    parts.push(header, nameBuf, pad(header.length + nameBuf.length), data, pad(data.length));
  };
  let ino = 1;
  for (const [name, data] of Object.entries(files)) entry(name, data, ino++);
  entry('TRAILER!!!', Buffer.alloc(0), 0);
  return Buffer.concat(parts);
}

const BINHEX_ALPHABET = '!"#$%&\'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr';

/** BinHex 4.0 text of one file; `rle` replaces the RLE-encoded stream (for bombs). CRCs are left 0. */
export function binhex(name: string, data: Buffer, rle?: Buffer): Buffer {
  const header = Buffer.concat([Buffer.from([name.length]), Buffer.from(name, 'latin1'), Buffer.alloc(1), Buffer.from('APPLAPPL', 'latin1'), Buffer.alloc(2), Buffer.alloc(8), Buffer.alloc(2)]);
  header.writeUInt32BE(data.length, header.length - 10);
  const raw = Buffer.concat([header, data, Buffer.alloc(2), Buffer.alloc(2)]);
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
    acc = (acc << 8) | b;
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

/** A BinHex whose RLE stream is a zero byte followed by `runs` runs of 254 more zeros. */
export function binhexBomb(runs: number): Buffer {
  const rle = Buffer.alloc(1 + runs * 2);
  for (let i = 0; i < runs; i++) {
    rle[1 + i * 2] = 0x90;
    rle[2 + i * 2] = 0xff;
  }
  return binhex('bomb', Buffer.alloc(0), rle);
}

/** A PDF with one stream, FlateDecode-compressed. */
export function pdfWith(data: Buffer): Buffer {
  const body = deflateSync(data);
  return Buffer.concat([
    Buffer.from(`%PDF-1.4\n1 0 obj\n<< /Length ${body.length} /Filter /FlateDecode >>\nstream\n`, 'latin1'),
    body,
    Buffer.from('\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n', 'latin1'),
  ]);
}

/** An OLE1 "Package" object holding one file (as RTF \objdata carries it). */
export function ole1Package(name: string, data: Buffer): Buffer {
  const z = (s: string): Buffer => Buffer.from(`${s}\0`, 'latin1');
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const tmp = z(`C:\\tmp\\${name}`);
  const pkg = Buffer.concat([Buffer.from([2, 0]), z(name), z(`C:\\${name}`), Buffer.from([0, 0, 3, 0]), u32(tmp.length), tmp, u32(data.length), data]);
  const lp = (s: string): Buffer => Buffer.concat([u32(s.length + 1), z(s)]);
  return Buffer.concat([u32(0x0501), u32(2), lp('Package'), lp(''), lp(''), u32(pkg.length), pkg]);
}

/** An RTF document embedding one file as a packaged object. */
export function rtfWith(name: string, data: Buffer): Buffer {
  const hex = ole1Package(name, data).toString('hex').replace(/.{64}/g, '$&\r\n');
  return Buffer.from(`{\\rtf1\\ansi{\\object\\objemb{\\*\\objclass Package}{\\*\\objdata ${hex}}}}`, 'latin1');
}

/** A TNEF stream with one attachment (attAttachRendData, attAttachTitle, attAttachData). */
export function tnefWith(name: string, data: Buffer): Buffer {
  const attr = (level: number, id: number, type: number, body: Buffer): Buffer => {
    const h = Buffer.alloc(9);
    h[0] = level;
    h.writeUInt16LE(id, 1);
    h.writeUInt16LE(type, 3);
    h.writeUInt32LE(body.length, 5);
    return Buffer.concat([h, body, Buffer.alloc(2)]);
  };
  const head = Buffer.alloc(6);
  head.writeUInt32LE(0x223e9f78);
  head.writeUInt16LE(1, 4);
  return Buffer.concat([head, attr(2, 0x9002, 0x0006, Buffer.alloc(14)), attr(2, 0x8010, 0x0001, Buffer.from(`${name}\0`, 'latin1')), attr(2, 0x800f, 0x0006, data)]);
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

/** A mail message with one base64 attachment, to be carried as a plain file (an .eml in an attachment). */
export function emlWith(name: string, data: Buffer): Buffer {
  return Buffer.from(
    `From: a@example.org\r\nTo: b@example.net\r\nSubject: saved\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="s"\r\n\r\n--s\r\nContent-Type: text/plain\r\n\r\nsee\r\n--s\r\nContent-Type: application/octet-stream; name="${name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${data.toString('base64')}\r\n--s--\r\n`,
    'latin1',
  );
}

/** A minimal PE (headers and one section of 512 bytes) followed by `overlay`. */
export function peWithOverlay(overlay: Buffer): Buffer {
  const pe = Buffer.alloc(0x400);
  pe.write('MZ', 0, 'latin1');
  pe.writeUInt32LE(0x80, 0x3c);
  pe.write('PE\0\0', 0x80, 'latin1');
  pe.writeUInt16LE(1, 0x86);
  pe.writeUInt16LE(0xe0, 0x94);
  pe.writeUInt32LE(0x1000, 0x80 + 40); // entry point
  const sec = 0x80 + 24 + 0xe0;
  pe.write('.text', sec, 'latin1');
  pe.writeUInt32LE(0x200, sec + 8);
  pe.writeUInt32LE(0x1000, sec + 12);
  pe.writeUInt32LE(0x200, sec + 16);
  pe.writeUInt32LE(0x200, sec + 20);
  pe.writeUInt32LE(0x60000020, sec + 36); // code, execute, read
  return Buffer.concat([pe, overlay]);
}
