/**
 * Content-Transfer-Encoding decoders working on Buffers. None of them throws; each is
 * linear in its input. The base64 hot path is Node's native decoder (it skips white space
 * and bytes outside the alphabet by itself); a JS slow path handles only what the native
 * decoder gets wrong for mail (padding in the middle, URL-safe `-`/`_` taken as data).
 */
import { firstUuBlock } from './uuencode.js';

const LF = 0x0a;
const CR = 0x0d;
const EQ = 0x3d;

/** base64 alphabet value of each byte, -1 for bytes outside the (standard) alphabet. */
const B64 = new Int8Array(256).fill(-1);
{
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) B64[alphabet.charCodeAt(i)] = i;
}

/** True when a base64 alphabet byte appears at or after `from`. */
function alphabetFrom(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (B64[buf[i]!]! >= 0) return true;
  return false;
}

/**
 * Decode base64 as mail clients do: white space and junk bytes skipped, missing padding
 * tolerated (a trailing partial group yields the whole bytes it holds), padding in the middle
 * (separately padded chunks) ends a group and decoding goes on.
 */
export function decodeBase64(buf: Buffer): Buffer {
  if (buf.length === 0) return Buffer.alloc(0);
  // Fast path: Node's decoder is right unless '-'/'_' occur (it reads them as URL-safe
  // base64) or data follows a '=' (it stops at the first padding).
  if (buf.indexOf(0x2d) < 0 && buf.indexOf(0x5f) < 0) {
    const eq = buf.indexOf(EQ);
    if (eq < 0 || !alphabetFrom(buf, eq)) return Buffer.from(buf.toString('latin1'), 'base64');
  }
  return decodeBase64Slow(buf);
}

/** Byte-by-byte base64 decoder for the odd cases (see decodeBase64). */
export function decodeBase64Slow(buf: Buffer): Buffer {
  const out = Buffer.allocUnsafe(Math.floor((buf.length * 3) / 4) + 3);
  let o = 0;
  let acc = 0;
  let n = 0;
  const flush = (): void => {
    if (n === 2) out[o++] = (acc >> 4) & 0xff;
    else if (n === 3) {
      out[o++] = (acc >> 10) & 0xff;
      out[o++] = (acc >> 2) & 0xff;
    }
    n = 0;
    acc = 0;
  };
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === EQ) {
      flush();
      continue;
    }
    const v = B64[c]!;
    if (v < 0) continue;
    acc = (acc << 6) | v;
    if (++n === 4) {
      out[o++] = (acc >> 16) & 0xff;
      out[o++] = (acc >> 8) & 0xff;
      out[o++] = acc & 0xff;
      n = 0;
      acc = 0;
    }
  }
  flush();
  return Buffer.from(out.subarray(0, o));
}

/** Value of one hex digit (either case), or -1. */
function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Decode quoted-printable: `=XX` in either case, soft line breaks (`=` then optional
 * spaces/tabs then CRLF, LF or the end), anything else after `=` kept literally.
 * Returns the input itself when it has no `=` at all.
 */
export function decodeQuotedPrintable(buf: Buffer): Buffer {
  let eq = buf.indexOf(EQ);
  if (eq < 0) return buf;
  const n = buf.length;
  const out = Buffer.allocUnsafe(n);
  let o = 0;
  let i = 0;
  while (eq >= 0) {
    o += buf.copy(out, o, i, eq);
    const h1 = hexValue(buf[eq + 1]);
    const h2 = h1 >= 0 ? hexValue(buf[eq + 2]) : -1;
    if (h2 >= 0) {
      out[o++] = h1 * 16 + h2;
      i = eq + 3;
    } else {
      let j = eq + 1;
      while (j < n && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
      if (j >= n) i = n;
      else if (buf[j] === LF) i = j + 1;
      else if (buf[j] === CR && (j + 1 >= n || buf[j + 1] === LF)) i = Math.min(n, j + 2);
      else {
        out[o++] = EQ;
        i = eq + 1;
      }
    }
    eq = i < n ? buf.indexOf(EQ, i) : -1;
  }
  o += buf.copy(out, o, i, n);
  return Buffer.from(out.subarray(0, o));
}

/** Normalize a Content-Transfer-Encoding header value: first token, lower case, '7bit' when absent. */
export function normalizeEncoding(v: string | undefined): string {
  if (v === undefined) return '7bit';
  const token = v.trim().toLowerCase().split(/[\s;(]/, 1)[0] ?? '';
  return token === '' ? '7bit' : token;
}

/** The kind of decoding a (normalized) Content-Transfer-Encoding calls for. */
export type TransferKind = 'base64' | 'quoted-printable' | 'uuencode' | 'identity';

/** Map an encoding name (any case, x- variants) to the decoder to use; unknown ones are identity. */
export function transferKind(encoding: string): TransferKind {
  const e = encoding.toLowerCase();
  if (e.includes('base64')) return 'base64';
  if (e.includes('quoted-printable') || e === 'qp') return 'quoted-printable';
  if (e === 'x-uuencode' || e === 'uuencode' || e === 'x-uue' || e === 'uue') return 'uuencode';
  return 'identity';
}

/**
 * Decode a body by its Content-Transfer-Encoding. 7bit/8bit/binary/unknown are returned as
 * they are (a view, no copy). A uuencode-encoded body yields its first block (or the body when
 * it has none).
 */
export function decodeTransfer(body: Buffer, encoding: string): Buffer {
  switch (transferKind(encoding)) {
    case 'base64':
      return decodeBase64(body);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    case 'uuencode':
      return firstUuBlock(body)?.data ?? body;
    case 'identity':
      return body;
  }
}
