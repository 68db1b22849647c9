/**
 * Structured header values (`Content-Type`, `Content-Disposition`): the main value and its
 * parameters, with RFC 2231 extended parameters (charset, continuations) and RFC 2047
 * encoded words in parameter values decoded. Tolerant: never throws, linear time.
 */
import { decodeHeaderValue } from './headers.js';

/** A structured header value: lower-case main value plus decoded parameters (lower-case names). */
export interface StructuredValue {
  value: string;
  params: Map<string, string>;
}

/** Continuation index above which pieces are ignored (keeps a hostile header cheap). */
const MAX_CONTINUATIONS = 1000;

/**
 * Split a structured header value at `;` outside quoted strings (a backslash escapes the
 * next character inside them); the pieces keep their text as written, quotes included.
 */
export function splitParams(s: string): string[] {
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inQuote = false;
    } else if (c === 0x22) {
      inQuote = true;
    } else if (c === 0x3b /* ; */) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

/** Remove surrounding quotes and backslash escapes; an unclosed quote runs to the end. */
function unquote(v: string): { text: string; quoted: boolean } {
  if (v.charCodeAt(0) !== 0x22) return { text: v, quoted: false };
  let out = '';
  for (let i = 1; i < v.length; i++) {
    const ch = v[i]!;
    if (ch === '\\' && i + 1 < v.length) {
      out += v[i + 1];
      i++;
    } else if (ch === '"') {
      break;
    } else {
      out += ch;
    }
  }
  return { text: out, quoted: true };
}

/** Bytes of an RFC 2231 percent-encoded value (bad escapes kept literally). */
function percentBytes(s: string, into: number[]): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 /* % */ && i + 2 < s.length) {
      const h1 = hexValue(s.charCodeAt(i + 1));
      const h2 = hexValue(s.charCodeAt(i + 2));
      if (h1 >= 0 && h2 >= 0) {
        into.push(h1 * 16 + h2);
        i += 2;
        continue;
      }
    }
    pushCharBytes(c, into);
  }
}

/** Value of one hex digit (either case), or -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Push the UTF-8 bytes of one UTF-16 code unit (surrogates approximated; values are mostly ASCII). */
function pushCharBytes(c: number, into: number[]): void {
  if (c < 0x80) into.push(c);
  else for (const b of Buffer.from(String.fromCharCode(c), 'utf8')) into.push(b);
}

/** Decode bytes in a named charset; unknown charsets fall back to UTF-8. Never throws. */
export function decodeCharset(bytes: Uint8Array, charset: string): string {
  const cs = charset.trim().toLowerCase();
  if (cs === '' || cs === 'utf-8' || cs === 'utf8' || cs === 'us-ascii' || cs === 'ascii') {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  }
  try {
    return new TextDecoder(cs).decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  }
}

interface Piece {
  text: string;
  encoded: boolean;
}

/**
 * Parse a structured header value such as
 * `attachment; filename*0*=utf-8''%E2%82%AC; filename*1*=.txt` or
 * `text/plain; name="=?utf-8?B?...?="`.
 *
 * The main value is trimmed and lower-cased (internal white space removed). Extended
 * parameters (`name*`, `name*0*`, `name*1`...) are assembled and decoded with their charset
 * and win over a plain `name` of the same name; plain values have encoded words decoded.
 */
export function parseStructured(header: string): StructuredValue {
  const segments = splitParams(header);
  const value = (segments[0] ?? '').replace(/\s+/g, '').toLowerCase();
  const plain = new Map<string, string>();
  const extended = new Map<string, Map<number, Piece>>();
  for (let k = 1; k < segments.length; k++) {
    const seg = segments[k]!;
    const eq = seg.indexOf('=');
    if (eq <= 0) continue;
    const rawName = seg.slice(0, eq).trim().toLowerCase();
    const { text } = unquote(seg.slice(eq + 1).trim());
    const star = rawName.indexOf('*');
    if (star < 0) {
      if (rawName && !plain.has(rawName)) plain.set(rawName, text);
      continue;
    }
    const base = rawName.slice(0, star);
    const rest = rawName.slice(star + 1); // "", "0", "0*", "12"
    let index = 0;
    let encoded = false;
    if (rest === '') {
      encoded = true;
    } else {
      const m = /^(\d{1,6})(\*?)$/.exec(rest);
      if (!m) continue;
      index = Number(m[1]);
      encoded = m[2] === '*';
    }
    if (!base || index > MAX_CONTINUATIONS) continue;
    let pieces = extended.get(base);
    if (!pieces) {
      pieces = new Map();
      extended.set(base, pieces);
    }
    if (!pieces.has(index)) pieces.set(index, { text, encoded });
  }
  const params = new Map<string, string>();
  for (const [name, v] of plain) params.set(name, decodeHeaderValue(v));
  for (const [name, pieces] of extended) {
    const order = [...pieces.keys()].sort((a, b) => a - b);
    let charset = '';
    const bytes: number[] = [];
    let first = true;
    for (const idx of order) {
      const p = pieces.get(idx)!;
      let text = p.text;
      if (first && p.encoded) {
        // charset'language'value — tolerate a missing language part.
        const q1 = text.indexOf("'");
        const q2 = q1 >= 0 ? text.indexOf("'", q1 + 1) : -1;
        if (q1 >= 0 && q2 >= 0) {
          charset = text.slice(0, q1);
          text = text.slice(q2 + 1);
        } else if (q1 >= 0) {
          charset = text.slice(0, q1);
          text = text.slice(q1 + 1);
        }
      }
      first = false;
      if (p.encoded) percentBytes(text, bytes);
      else for (let i = 0; i < text.length; i++) pushCharBytes(text.charCodeAt(i), bytes);
    }
    const decoded = decodeCharset(Uint8Array.from(bytes), charset);
    // Some senders put encoded words inside extended values too.
    params.set(name, decodeHeaderValue(decoded));
  }
  return { value, params };
}
