/**
 * Header-level MIME helpers: splitting a message (or part) into header and body, parsing
 * the header block into fields, decoding encoded words, and a cheap summary for reports.
 *
 * Everything here is tolerant: no input makes these functions throw, and the work is linear
 * in the size of the header block (the body is never scanned line by line).
 */
import libmime from 'libmime';

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** One header field. */
export interface HeaderField {
  /** Field name, lower case, trimmed. */
  name: string;
  /** Unfolded value (line breaks of folding removed), trimmed; encoded words left as they are. */
  value: string;
}

const EMPTY = Buffer.alloc(0);

/** True when a line starting at `pos` looks like `field-name:` (RFC 5322 ftext, WSP before ':' tolerated). */
function isFieldLine(buf: Buffer, pos: number): boolean {
  const n = buf.length;
  let i = pos;
  while (i < n) {
    const c = buf[i]!;
    if (c === COLON || c <= SP || c > 0x7e) break;
    i++;
  }
  if (i === pos) return false;
  while (i < n && (buf[i] === SP || buf[i] === HT)) i++;
  return i < n && buf[i] === COLON;
}

/** True when the line at `pos` is an mbox `From ` separator line. */
function isMboxFromLine(buf: Buffer, pos: number): boolean {
  return buf[pos] === 0x46 && buf[pos + 1] === 0x72 && buf[pos + 2] === 0x6f && buf[pos + 3] === 0x6d && buf[pos + 4] === SP;
}

/**
 * Split a message or MIME part into its header block and its body.
 *
 * The header ends at the first empty line (CRLF or LF). Tolerances: an input that does not
 * start with a header field (or an mbox `From ` line) has no header at all (all body); a
 * line that is neither a field nor a continuation ends the header without an empty line
 * (it starts the body); a header without any empty line runs to the end (empty body).
 * `header` excludes the empty line; both are views into `buf` (no copy).
 */
export function splitHeaderBody(buf: Buffer): { header: Buffer; body: Buffer } {
  const n = buf.length;
  let pos = 0;
  while (pos < n) {
    const c = buf[pos]!;
    if (c === LF) return { header: buf.subarray(0, pos), body: buf.subarray(pos + 1) };
    if (c === CR && (pos + 1 >= n || buf[pos + 1] === LF)) {
      return { header: buf.subarray(0, pos), body: buf.subarray(Math.min(n, pos + 2)) };
    }
    if (c === SP || c === HT) {
      // A continuation line; at the very start it cannot continue anything.
      if (pos === 0) return { header: EMPTY, body: buf };
    } else if (!isFieldLine(buf, pos) && !(pos === 0 && isMboxFromLine(buf, pos))) {
      return { header: buf.subarray(0, pos), body: buf.subarray(pos) };
    }
    const nl = buf.indexOf(LF, pos);
    if (nl < 0) return { header: buf, body: EMPTY };
    pos = nl + 1;
  }
  return { header: buf, body: EMPTY };
}

/** Decode header bytes: ASCII/Latin-1 as is, UTF-8 when it is valid UTF-8 (RFC 6532). */
export function headerBytesToString(buf: Buffer): string {
  let high = false;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i]! >= 0x80) {
      high = true;
      break;
    }
  }
  if (!high) return buf.toString('latin1');
  try {
    return utf8Fatal.decode(buf);
  } catch {
    return buf.toString('latin1');
  }
}
const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

/**
 * Parse a header block into fields, in order. Folded lines are unfolded (the line break is
 * removed, the leading white space kept); lines that are not fields (an mbox `From ` line,
 * junk) are skipped. Never throws.
 */
export function parseHeaderBlock(buf: Buffer): HeaderField[] {
  const text = headerBytesToString(buf);
  const fields: HeaderField[] = [];
  let current: { name: string; parts: string[] } | undefined;
  const flush = (): void => {
    if (current) fields.push({ name: current.name, value: current.parts.join('').trim() });
    current = undefined;
  };
  let pos = 0;
  const n = text.length;
  while (pos < n) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = n;
    let end = nl;
    if (end > pos && text.charCodeAt(end - 1) === CR) end--;
    const first = text.charCodeAt(pos);
    if (first === SP || first === HT) {
      if (current) current.parts.push(text.slice(pos, end));
    } else {
      flush();
      const line = text.slice(pos, end);
      const colon = line.indexOf(':');
      if (colon > 0) {
        const name = line.slice(0, colon).trim().toLowerCase();
        if (name.length > 0 && !/\s/.test(name)) current = { name, parts: [line.slice(colon + 1)] };
      }
    }
    pos = nl + 1;
  }
  flush();
  return fields;
}

/** Where one header field lies in a buffer (see {@link headerFieldRanges}). */
export interface HeaderFieldRange {
  /** Field name as written (trimmed, case kept). */
  name: string;
  /** Offset of the field's first byte. */
  start: number;
  /** Offset just past its last line (continuation lines and line break included). */
  end: number;
}

/**
 * The header tokenizer that keeps offsets: the fields of the header block `buf[start, end)`
 * in order, each with the byte range of its first line through its last continuation line.
 * A line starting with space or tab continues the field right before it; lines that are
 * neither (an mbox `From ` line, junk without a colon) are skipped, and a continuation
 * after a skipped line belongs to nothing. Linear, no copies, never throws.
 */
export function headerFieldRanges(buf: Buffer, start = 0, end = buf.length): HeaderFieldRange[] {
  const out: HeaderFieldRange[] = [];
  let pos = start;
  while (pos < end) {
    let nl = buf.indexOf(LF, pos);
    if (nl < 0 || nl >= end) nl = end - 1;
    const lineEnd = nl + 1;
    const c = buf[pos]!;
    const last = out[out.length - 1];
    if (c === SP || c === HT) {
      if (last !== undefined && last.end === pos) last.end = lineEnd;
    } else {
      const colon = buf.indexOf(COLON, pos);
      if (colon > pos && colon < lineEnd) {
        const name = buf.toString('latin1', pos, colon).trim();
        if (name !== '' && !/\s/.test(name)) out.push({ start: pos, end: lineEnd, name });
      }
    }
    pos = lineEnd;
  }
  return out;
}

/**
 * Where the top-level header block of a message ends: the offset of its empty line (or the
 * end of the message when there is none). Every line before it counts, field or not, so a
 * field after a junk line is still found. An mbox `From ` first line is part of it.
 */
export function headerBlockLength(raw: Buffer): number {
  if (raw[0] === LF || (raw[0] === CR && raw[1] === LF)) return 0;
  let i = raw.indexOf(LF);
  while (i >= 0) {
    const next = raw[i + 1];
    if (next === LF || (next === CR && raw[i + 2] === LF)) return i + 1;
    i = raw.indexOf(LF, i + 1);
  }
  return raw.length;
}

/**
 * Rewrite a message's top-level header: remove every field named in `remove`
 * (case-insensitive, with its continuation lines), then put `prepend` (whole lines without
 * their line ending) first — after an mbox `From ` line when the message starts with one —
 * in the message's own line ending (CRLF unless its first line ends in a bare LF). The
 * body and every other byte are kept as they are. The lines are written as latin1 bytes:
 * give ASCII (the policy makes its values header-safe).
 */
export function rewriteHeader(raw: Buffer, prepend: readonly string[], remove: readonly string[] = []): Buffer {
  const firstNl = raw.indexOf(LF);
  const eol = firstNl >= 0 && !(firstNl > 0 && raw[firstNl - 1] === CR) ? '\n' : '\r\n';
  const from = firstNl >= 0 && isMboxFromLine(raw, 0) ? firstNl + 1 : 0;
  const head = Buffer.from(prepend.map((l) => l + eol).join(''), 'latin1');
  const pieces: Buffer[] = [raw.subarray(0, from), head];
  let kept = from;
  const end = remove.length > 0 ? headerBlockLength(raw) : 0;
  // Tokenize only when a name to remove occurs at all (most messages carry none).
  const lower = end > from ? raw.toString('latin1', from, end).toLowerCase() : '';
  if (remove.some((r) => lower.includes(r.toLowerCase()))) {
    const names = new Set(remove.map((r) => r.toLowerCase()));
    for (const f of headerFieldRanges(raw, from, end)) {
      if (!names.has(f.name.toLowerCase())) continue;
      pieces.push(raw.subarray(kept, f.start));
      kept = f.end;
    }
  }
  pieces.push(kept === 0 ? raw : raw.subarray(kept));
  return Buffer.concat(pieces);
}

/** First value of a field by (lower-case) name. */
export function getHeader(fields: readonly HeaderField[], name: string): string | undefined {
  for (const f of fields) if (f.name === name) return f.value;
  return undefined;
}

/** Longest value handed to the encoded-word decoder; longer values are returned as they are. */
const MAX_DECODE_LENGTH = 32 * 1024;

/**
 * Decode RFC 2047 encoded words (`=?utf-8?B?...?=`, `=?iso-8859-1?Q?...?=`, any charset
 * libmime knows). Values without encoded words, values over 32 KiB, and values the decoder
 * chokes on are returned unchanged. Never throws.
 */
export function decodeHeaderValue(v: string): string {
  if (!v.includes('=?') || v.length > MAX_DECODE_LENGTH) return v;
  try {
    return libmime.decodeWords(v);
  } catch {
    return v;
  }
}

/** A few decoded header values of a message, for reports. */
export interface MessageSummary {
  subject?: string;
  from?: string;
  to?: string;
  messageId?: string;
  date?: string;
}

/** Summarize a raw message: reads only its header block; values decoded. Never throws. */
export function summarize(raw: Buffer): MessageSummary {
  const fields = parseHeaderBlock(splitHeaderBody(raw).header);
  const out: MessageSummary = {};
  const pick = (name: string): string | undefined => {
    const v = getHeader(fields, name);
    return v === undefined ? undefined : decodeHeaderValue(v);
  };
  const subject = pick('subject');
  const from = pick('from');
  const to = pick('to');
  const messageId = getHeader(fields, 'message-id');
  const date = getHeader(fields, 'date');
  if (subject !== undefined) out.subject = subject;
  if (from !== undefined) out.from = from;
  if (to !== undefined) out.to = to;
  if (messageId !== undefined) out.messageId = messageId;
  if (date !== undefined) out.date = date;
  return out;
}
