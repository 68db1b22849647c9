/**
 * Test helpers for the MIME walker: the EICAR marker (assembled at run time), small
 * independent encoders (base64 wrapping, quoted-printable, uuencode) and a collector.
 */
import { Budget, resolveLimits, type Limits } from '../../../src/core/limits.js';
import { walkMime, type MimeLeaf } from '../../../src/core/mime/walk.js';

/** The EICAR test string, assembled so the file never holds it whole. */
export function eicar(): Buffer {
  return Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR' + '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');
}

/** base64 in 76-character lines joined by `eol`. */
export function b64(data: Buffer | string, eol = '\r\n'): string {
  const s = Buffer.from(data).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < s.length; i += 76) lines.push(s.slice(i, i + 76));
  return lines.join(eol);
}

/** A plain quoted-printable encoder: every byte outside printable ASCII (and '=') as =XX, soft breaks at 72. */
export function qp(data: Buffer | string, eol = '\r\n'): string {
  const buf = Buffer.from(data);
  let out = '';
  let line = 0;
  for (const byte of buf) {
    const tok = byte >= 0x21 && byte <= 0x7e && byte !== 0x3d ? String.fromCharCode(byte) : '=' + byte.toString(16).toUpperCase().padStart(2, '0');
    if (line + tok.length > 72) {
      out += '=' + eol;
      line = 0;
    }
    out += tok;
    line += tok.length;
  }
  return out;
}

/** Classic uuencode: lines of up to 45 bytes, a "`" line, then "end". */
export function uuencode(data: Buffer, name: string, eol = '\n'): string {
  const ch = (v: number): string => (v === 0 ? '`' : String.fromCharCode(v + 0x20));
  let out = `begin 644 ${name}${eol}`;
  for (let i = 0; i < data.length; i += 45) {
    const chunk = data.subarray(i, i + 45);
    let line = ch(chunk.length);
    for (let j = 0; j < chunk.length; j += 3) {
      const a = chunk[j] ?? 0;
      const b = chunk[j + 1] ?? 0;
      const c = chunk[j + 2] ?? 0;
      line += ch(a >> 2) + ch(((a << 4) | (b >> 4)) & 63) + ch(((b << 2) | (c >> 6)) & 63) + ch(c & 63);
    }
    out += line + eol;
  }
  return out + '`' + eol + 'end' + eol;
}

/** Walk a message (string as latin1, or bytes) and collect every leaf. */
export function walk(raw: Buffer | string, limits?: Partial<Limits>): MimeLeaf[] {
  const budget = new Budget(resolveLimits(limits));
  return [...walkMime(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw, budget)];
}

/** Compact view of leaves for exact comparisons. */
export function brief(leaves: MimeLeaf[]): Array<Record<string, unknown>> {
  return leaves.map((l) => ({
    location: l.location,
    mimePath: l.mimePath,
    filename: l.filename,
    contentType: l.contentType,
    encoding: l.encoding,
    depth: l.depth,
    data: l.data.toString('latin1'),
  }));
}

/** Join lines with an end-of-line sequence. */
export function lines(eol: string, ...ls: string[]): string {
  return ls.join(eol);
}
