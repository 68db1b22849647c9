/**
 * Container detection by magic bytes (never by file name: attachments lie about names).
 * The only names looked at are the fixed stream names inside an OLE2 compound file
 * (`[1]Ole10Native`, `PowerPoint Document`), which the core itself produced.
 */

/** Formats 7-Zip opens for us (see sevenzip.ts). */
export type SevenZipKind = '7z' | 'bzip2' | 'xz' | 'arj' | 'cab' | 'cpio' | 'chm' | 'ole2' | 'rar' | 'mslz' | 'lzh' | 'rpm' | 'ar' | 'iso';

/** Formats decoded by our own code (each file says why no library does it). */
export type OwnKind = 'binhex' | 'rtf' | 'pdf' | 'tnef' | 'mail' | 'html' | 'sis' | 'ole10native' | 'ppt' | 'pe';

/** The container formats the scanning core opens. */
export type ContainerKind = 'zip' | 'gzip' | 'tar' | SevenZipKind | OwnKind;

/** Offset of the "ustar" magic in a POSIX / GNU tar header block. */
const TAR_MAGIC_OFFSET = 257;

const OLE2_MAGIC = Buffer.from('d0cf11e0a1b11ae1', 'hex');
const SEVENZIP_MAGIC = Buffer.from('377abcaf271c', 'hex');
const XZ_MAGIC = Buffer.from('fd377a585a00', 'hex');
const RAR_MAGIC = Buffer.from('Rar!\x1a\x07', 'latin1');
const SZDD_MAGIC = Buffer.from('535a444488f02733', 'hex');
const KWAJ_MAGIC = Buffer.from('4b57414a88f027d1', 'hex');
const BINHEX_MARK = Buffer.from('(This file must be converted with BinHex', 'latin1');

/** Mail header names that make a text look like a message when it starts with header lines. */
const MAIL_HEADERS = /^(from|to|subject|date|received|return-path|message-id|mime-version|content-type|reply-to|x-[a-z0-9-]+):/i;

function startsWith(data: Buffer, magic: Buffer, at = 0): boolean {
  return data.length >= at + magic.length && data.compare(magic, 0, magic.length, at, at + magic.length) === 0;
}

function ascii(data: Buffer, from: number, to: number): string {
  return data.toString('latin1', from, Math.min(to, data.length));
}

/**
 * Identify a container by its magic bytes: zip (PK\x03\x04 / PK\x05\x06), gzip, tar
 * ("ustar" at 257), the 7-Zip formats, and the formats decoded by hand (BinHex, RTF, PDF,
 * TNEF, a mail message or mbox, HTML with data: URIs, Symbian SIS, OLE1 packages, PowerPoint
 * streams, Windows executables); else undefined. `name`: the unit's file name, used only for
 * the OLE2 stream names above.
 */
export function detectContainer(data: Buffer, name?: string): ContainerKind | undefined {
  if (data.length < 2) return undefined;
  const b0 = data[0] as number;
  const b1 = data[1] as number;
  if (b0 === 0x50 && b1 === 0x4b && data.length >= 4) {
    if ((data[2] === 0x03 && data[3] === 0x04) || (data[2] === 0x05 && data[3] === 0x06)) return 'zip';
  }
  if (b0 === 0x1f && b1 === 0x8b) return 'gzip';
  if (data.length >= TAR_MAGIC_OFFSET + 5 && ascii(data, TAR_MAGIC_OFFSET, TAR_MAGIC_OFFSET + 5) === 'ustar') return 'tar';
  if (name !== undefined) {
    if (/^(\[1\]|\x01)Ole10Native$/.test(name)) return 'ole10native';
    if (name === 'PowerPoint Document') return 'ppt';
  }
  switch (b0) {
    case 0x4d: // MZ, MSCF
      if (b1 === 0x5a) return 'pe';
      if (data.length >= 8 && ascii(data, 0, 4) === 'MSCF' && data.readUInt32LE(4) === 0) return 'cab';
      break;
    case 0xd0:
      if (startsWith(data, OLE2_MAGIC)) return 'ole2';
      break;
    case 0x37:
      if (startsWith(data, SEVENZIP_MAGIC)) return '7z';
      break;
    case 0x42: // BZh1-9 + block magic
      if (data.length >= 10 && b1 === 0x5a && data[2] === 0x68 && (data[3] as number) >= 0x31 && (data[3] as number) <= 0x39) {
        if (data.readUIntBE(4, 6) === 0x314159265359 || data.readUIntBE(4, 6) === 0x177245385090) return 'bzip2';
      }
      break;
    case 0xfd:
      if (startsWith(data, XZ_MAGIC)) return 'xz';
      break;
    case 0x60:
      if (b1 === 0xea && data.length >= 8) return 'arj';
      break;
    case 0x52: // Rar!
      if (startsWith(data, RAR_MAGIC)) return 'rar';
      break;
    case 0x53: // SZDD
      if (startsWith(data, SZDD_MAGIC)) return 'mslz';
      break;
    case 0x4b: // KWAJ
      if (startsWith(data, KWAJ_MAGIC)) return 'mslz';
      break;
    case 0x30: // 070707 / 070701 / 070702
      if (data.length >= 6) {
        const m = ascii(data, 0, 6);
        if (m === '070707' || m === '070701' || m === '070702') return 'cpio';
      }
      break;
    case 0xc7:
      if (b1 === 0x71) return 'cpio'; // binary cpio, little-endian
      break;
    case 0x71:
      if (b1 === 0xc7) return 'cpio'; // binary cpio, big-endian
      break;
    case 0x49: // ITSF
      if (ascii(data, 0, 4) === 'ITSF') return 'chm';
      break;
    case 0xed:
      if (b1 === 0xab && data[2] === 0xee && data[3] === 0xdb) return 'rpm';
      break;
    case 0x21:
      if (ascii(data, 0, 8) === '!<arch>\n') return 'ar';
      break;
    case 0x78:
      if (b1 === 0x9f && data.length >= 6 && data.readUInt32LE(0) === 0x223e9f78) return 'tnef';
      break;
    case 0x7b: // {\rtf
      if (ascii(data, 0, 5) === '{\\rtf') return 'rtf';
      break;
  }
  if (data.length >= 7 && data[2] === 0x2d && data[3] === 0x6c && (data[4] === 0x68 || data[4] === 0x7a) && data[6] === 0x2d) return 'lzh';
  if (data.length >= 12 && data.readUInt32LE(8) === 0x10000419) {
    const uid2 = data.readUInt32LE(4);
    if (uid2 === 0x1000006d || uid2 === 0x10003a12) return 'sis';
  }
  if (data.length >= 0x8006 && ascii(data, 0x8001, 0x8006) === 'CD001') return 'iso';
  // Text formats: looked for near the start only.
  const head = data.subarray(0, 1024);
  if (head.indexOf('%PDF-') >= 0) return 'pdf';
  if (data.subarray(0, 4096).indexOf(BINHEX_MARK) >= 0) return 'binhex';
  if (looksLikeMail(head)) return 'mail';
  if (looksLikeHtmlWithData(data, head)) return 'html';
  return undefined;
}

/**
 * A mail message or an mbox: a "From " envelope line followed by a header, or at least two
 * header lines, one of them a usual mail header, starting the data.
 */
function looksLikeMail(head: Buffer): boolean {
  const c = head[0];
  if (c === undefined || c < 0x21 || c > 0x7e) return false;
  // Cheap first: the first line is "From ..." or holds a colon before any space.
  const colon = head.indexOf(0x3a);
  const space = head.indexOf(0x20);
  if (!(c === 0x46 && head.subarray(0, 5).toString('latin1') === 'From ') && (colon < 0 || (space >= 0 && space < colon))) return false;
  const text = head.toString('latin1');
  const lines = text.split(/\r?\n/, 6);
  let i = 0;
  if (lines[0]?.startsWith('From ')) i = 1;
  let fields = 0;
  let known = 0;
  for (; i < lines.length - 1; i++) {
    const line = lines[i] as string;
    if (line === '') break;
    if (/^[ \t]/.test(line)) continue;
    if (!/^[!-9;-~]+:/.test(line)) return false;
    fields += 1;
    if (MAIL_HEADERS.test(line)) known += 1;
  }
  return fields >= 2 && known >= 1;
}

/** HTML (or any markup) carrying base64 data: URIs. */
function looksLikeHtmlWithData(data: Buffer, head: Buffer): boolean {
  let i = 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0xef || head[i] === 0xbb || head[i] === 0xbf)) i++;
  if (head[i] !== 0x3c) return false; // <
  return data.indexOf(';base64,') >= 0;
}
