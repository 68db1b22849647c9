/**
 * Containers of the formats added in issue 16, built at run time by the corpus's writers
 * (src/corpus/formats.ts: 7-Zip for 7z/bzip2/xz/zip methods, small writers for the rest),
 * in the shapes the tests use, plus bombs (made from zeros without the test holding their
 * expanded size more than once), mail in an attachment and a PE with an overlay.
 */
import { binhex, cabStored, cpioNewc as cpioOf, htmlWith, ole1Package, ole2With, pdfWith, rtfWith, sevenZipArchive as sevenZipOf, sisWith, tnefWith } from '../../../src/corpus/formats.js';

export { binhex, cabStored, htmlWith, ole1Package, ole2With, pdfWith, rtfWith, sisWith, tnefWith };

/** Archive `files` with 7-Zip: `type` is its -t switch (7z, bzip2, xz, zip), `extra` more switches. */
export function sevenZipArchive(type: string, files: Record<string, Buffer>, extra: string[] = []): Promise<Buffer> {
  return sevenZipOf(type, Object.entries(files).map(([name, data]) => ({ name, data })), extra);
}

/** A zeros-only file of `mb` MB compressed by 7-Zip as `type`. */
export function sevenZipBomb(type: string, mb: number, extra: string[] = []): Promise<Buffer> {
  return sevenZipArchive(type, { 'zeros.bin': Buffer.alloc(mb * 1024 * 1024) }, extra);
}

/** A "newc" cpio archive. */
export function cpioNewc(files: Record<string, Buffer>): Buffer {
  return cpioOf(Object.entries(files).map(([name, data]) => ({ name, data })));
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
