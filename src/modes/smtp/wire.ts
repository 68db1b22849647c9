/**
 * SMTP wire helpers shared by the proxy, the driver and the sink: dot-stuffing, the DATA
 * terminator, reply parsing, header-block search and header insertion. Plain Buffer work
 * (indexOf), no MIME parsing.
 */
import { headerFieldRanges, rewriteHeader } from '../../core/mime/headers.js';

/** One SMTP reply: its code and its text lines (without the code and separator). */
export interface SmtpReply {
  code: number;
  /** Text of each line, code and `-`/space removed. */
  lines: string[];
}

/** The reply as one line for logs and results (`550 5.7.1 Virus found: X`; multi-line joined by ` / `). */
export function formatReply(r: SmtpReply): string {
  return `${r.code} ${r.lines.join(' / ')}`.trimEnd();
}

const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n', 'latin1');
const TERMINATOR = Buffer.from('.\r\n', 'latin1');

/**
 * Dot-stuff a message for DATA and append the terminator: every line starting with `.`
 * gets another `.` (after CRLF or a bare LF: receivers such as smtp-server and Postfix
 * treat both as line ends), a missing final CRLF is added, then `.\r\n`. Returns the
 * pieces to write (no copy of the body when nothing needs stuffing).
 */
export function dotStuff(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  if (body.length > 0 && body[0] === DOT) {
    out.push(Buffer.from('.', 'latin1'));
  }
  let i = body.indexOf('\n.', 0, 'latin1');
  while (i >= 0) {
    out.push(body.subarray(start, i + 1));
    out.push(Buffer.from('.', 'latin1'));
    start = i + 1;
    i = body.indexOf('\n.', i + 1, 'latin1');
  }
  out.push(start === 0 ? body : body.subarray(start));
  const n = body.length;
  const endsCrlf = n >= 2 && body[n - 2] === 0x0d && body[n - 1] === LF;
  if (n > 0 && !endsCrlf) out.push(CRLF);
  out.push(TERMINATOR);
  return out;
}

/**
 * Where the header block ends: the offset of the empty line's first byte's end, i.e. the
 * body start, and the header block's length (without the empty line). A message with no
 * empty line is all header. Works for CRLF and bare-LF messages.
 */
export function headerBlockEnd(raw: Buffer, searchLimit = raw.length): { headerEnd: number; bodyStart: number } {
  const limit = Math.min(raw.length, searchLimit);
  if (limit > 0 && raw[0] === LF) return { headerEnd: 0, bodyStart: 1 };
  if (limit > 1 && raw[0] === 0x0d && raw[1] === LF) return { headerEnd: 0, bodyStart: 2 };
  let i = raw.indexOf(LF);
  while (i >= 0 && i < limit) {
    const next = raw[i + 1];
    if (next === LF) return { headerEnd: i + 1, bodyStart: i + 2 };
    if (next === 0x0d && raw[i + 2] === LF) return { headerEnd: i + 1, bodyStart: i + 3 };
    i = raw.indexOf(LF, i + 1);
  }
  return { headerEnd: limit, bodyStart: limit };
}

/** The line ending a message uses (from its first line): CRLF unless the first line ends in a bare LF. */
export function lineEnding(raw: Buffer): '\r\n' | '\n' {
  const i = raw.indexOf(LF);
  if (i > 0 && raw[i - 1] !== 0x0d) return '\n';
  return '\r\n';
}

/**
 * Values of every header named `name` (case-insensitive) in a header block, unfolded,
 * trimmed. Reads only `header` (pass the header block); fields found by core/mime's one
 * header tokenizer.
 */
export function headerValues(header: Buffer, name: string): string[] {
  const want = name.toLowerCase();
  const out: string[] = [];
  for (const f of headerFieldRanges(header)) {
    if (f.name.toLowerCase() !== want) continue;
    const text = header.toString('latin1', f.start, f.end);
    out.push(text.slice(text.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim());
  }
  return out;
}

/**
 * Prepend header lines (each without its line ending) to a message, in the message's own
 * line ending, after removing any existing headers whose names are listed in `remove`
 * (case-insensitive). The one header rewriter is core/mime's `rewriteHeader`; the status
 * headers of a front end are written by the policy (src/modes/policy.ts `withStatusHeaders`).
 */
export function prependHeaders(raw: Buffer, lines: readonly string[], remove: readonly string[] = []): Buffer {
  return rewriteHeader(raw, lines, remove);
}

/** Virus names in an SMTP reply or header text: the policy's reader (src/modes/policy.ts). */
export { virusNamesIn } from '../policy.js';

/** Whether a message reached the next hop as it was sent (see {@link carriedIntact}). */
export type Carried = { intact: true } | { intact: false; /** First sent line (1-based) not found in order. */ line: number };

/** End of `buf` with trailing CR and LF bytes left off. */
function endWithoutTrailingNewlines(buf: Buffer): number {
  let end = buf.length;
  while (end > 0 && (buf[end - 1] === LF || buf[end - 1] === 0x0d)) end--;
  return end;
}

/** Where the line starting at `pos` ends (its LF, or `end`), and its content end (a CR before the LF left off). */
function lineAt(buf: Buffer, pos: number, end: number): { next: number; contentEnd: number } {
  let nl = buf.indexOf(LF, pos);
  if (nl < 0 || nl > end) nl = end;
  const contentEnd = nl > pos && buf[nl - 1] === 0x0d ? nl - 1 : nl;
  return { next: nl + 1, contentEnd };
}

/**
 * Did every line of `sent` reach the next hop unchanged and in order? `arrived` may carry
 * extra lines anywhere (a filter's Received, X-Virus-Scanned, X-Virus-Status headers),
 * may end lines in CRLF or LF, and may break a long line by inserting CRLF + one space
 * (what Postfix's `smtp_line_length_limit`, 998, does to lines longer than RFC 5322
 * allows). What it may not do is drop, cut or change what the sender wrote (clamsmtpd
 * 1.10, for one, cuts every line at its first NUL byte when forwarding). A subsequence
 * test over lines: linear in the two sizes, no copies.
 */
export function carriedIntact(sent: Buffer, arrived: Buffer): Carried {
  const sEnd = endWithoutTrailingNewlines(sent);
  const aEnd = endWithoutTrailingNewlines(arrived);
  let sp = 0;
  let ap = 0;
  let line = 0;
  while (sp < sEnd) {
    line++;
    const s = lineAt(sent, sp, sEnd);
    let found = false;
    while (ap < aEnd && !found) {
      const after = matchLineAt(sent, sp, s.contentEnd, arrived, ap, aEnd);
      found = after >= 0;
      ap = found ? after : lineAt(arrived, ap, aEnd).next;
    }
    if (!found) return { intact: false, line };
    sp = s.next;
  }
  return { intact: true };
}

/**
 * Does the sent line `sent[from, to)` arrive at `arrived[at]`, whole or broken into
 * pieces each continued on the next line after one inserted space or tab? Returns where
 * the arrived lines after it start, or -1.
 */
function matchLineAt(sent: Buffer, from: number, to: number, arrived: Buffer, at: number, end: number): number {
  let off = from;
  let q = at;
  let first = true;
  while (q < end || first) {
    const a = lineAt(arrived, q, end);
    const start = first ? q : q + 1;
    if (!first && !(arrived[q] === 0x20 || arrived[q] === 0x09)) return -1;
    const len = a.contentEnd - start;
    if (len > to - off || (len === 0 && !(first && to === from))) return -1;
    if (arrived.compare(sent, off, off + len, start, a.contentEnd) !== 0) return -1;
    off += len;
    q = a.next;
    first = false;
    if (off === to) return q;
  }
  return -1;
}
