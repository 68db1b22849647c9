/**
 * Defanging, procmail-sanitizer style: attachments whose file name ends in a dangerous
 * extension are renamed (`invoice.exe` → `invoice.DEFANGED-EXE`) in Content-Type `name=`
 * and Content-Disposition `filename=` (plain, quoted, RFC 2231 extended/continued and
 * RFC 2047 encoded-word forms), and on uuencode `begin 644 NAME` lines of text parts. Only
 * those header fields and lines change: every other byte of the message (other headers,
 * boundaries, bodies) is kept exactly, so the result is valid MIME with the same parts and
 * the same decoded bodies.
 *
 * The walk here is structural only (it needs byte offsets of every part's header block,
 * which the scanning core's walker does not expose): multiparts are split at their
 * boundaries, message/rfc822 parts in an identity encoding are descended into. Bounded:
 * at most {@link MAX_PARTS} entities and {@link MAX_DEPTH} levels; beyond that the rest is
 * left as it is (and counted in `skipped`).
 */
import { parseHeaderBlock, getHeader, headerFieldRanges, splitHeaderBody } from '../../core/mime/headers.js';
import { normalizeEncoding, transferKind } from '../../core/mime/decode.js';
import { parseStructured, splitParams } from '../../core/mime/params.js';

/**
 * Default dangerous extensions (lower case, no dot): Windows executables and script
 * hosts, installers, shortcuts, registry files, Java archives, Office macro formats.
 */
export const DEFAULT_DEFANG_EXTENSIONS: readonly string[] = Object.freeze([
  'exe', 'com', 'scr', 'pif', 'bat', 'cmd', 'vbs', 'vbe', 'js', 'jse', 'wsf', 'wsh', 'wsc', 'hta', 'cpl',
  'msi', 'msp', 'mst', 'lnk', 'reg', 'ps1', 'psm1', 'jar', 'inf', 'scf', 'sct', 'shs', 'chm', 'application',
  'gadget', 'msc', 'vb', 'ws', 'dll', 'sys', 'drv', 'ocx', 'iso', 'img', 'vhd', 'docm', 'xlsm', 'pptm',
]);

/** Options of {@link defangMessage}. */
export interface DefangOptions {
  /** Extensions to rename (lower or upper case, with or without the dot). Default {@link DEFAULT_DEFANG_EXTENSIONS}. */
  extensions?: readonly string[];
}

/** One renamed parameter. */
export interface DefangedName {
  /** Header field it was in (`content-type` or `content-disposition`). */
  field: string;
  /** Parameter (`name` or `filename`). */
  param: string;
  /** Decoded name before. */
  from: string;
  /** Name after. */
  to: string;
}

/** What {@link defangMessage} did. */
export interface DefangResult {
  /** The message, rewritten (the input itself when nothing changed). */
  message: Buffer;
  renamed: DefangedName[];
  /** Entities not looked into because a bound was reached (0 normally). */
  skipped: number;
}

/** Most MIME entities looked at in one message. */
export const MAX_PARTS = 10_000;
/** Deepest nesting looked into. */
export const MAX_DEPTH = 40;

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const DASH = 0x2d;

/** Normalize a list of extensions to lower case without the dot. */
function extensionSet(list: readonly string[] | undefined): Set<string> {
  const out = new Set<string>();
  for (const e of list ?? DEFAULT_DEFANG_EXTENSIONS) {
    const x = e.trim().replace(/^\.+/, '').toLowerCase();
    if (x !== '') out.add(x);
  }
  return out;
}

/**
 * The defanged form of a file name, or undefined when it is not dangerous. Trailing dots and
 * white space are ignored when finding the extension (Windows drops them: `x.exe.` runs as
 * `x.exe`). `invoice.exe` → `invoice.DEFANGED-EXE`; `a.pdf.exe` → `a.pdf.DEFANGED-EXE`.
 */
export function defangName(name: string, extensions: ReadonlySet<string> | readonly string[] = DEFAULT_DEFANG_EXTENSIONS): string | undefined {
  const set = extensions instanceof Set ? (extensions as ReadonlySet<string>) : extensionSet(extensions as readonly string[]);
  const trimmed = name.replace(/[\s.]+$/u, '');
  const dot = trimmed.lastIndexOf('.');
  if (dot < 0) return undefined;
  const ext = trimmed.slice(dot + 1);
  if (ext === '' || !set.has(ext.toLowerCase())) return undefined;
  return `${trimmed.slice(0, dot)}.DEFANGED-${ext.toUpperCase()}`;
}

/** True for a token that RFC 2045 allows unquoted. */
function isToken(s: string): boolean {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(s);
}

/** RFC 2231 percent-encoding of a value's UTF-8 bytes (attribute-char kept). */
function percentEncode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(b);
    out += /[!#$&+\-.^_`|~0-9A-Za-z]/.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * A parameter as header text: `name="value"` when the value is printable ASCII, else the
 * RFC 2231 extended form `name*=utf-8''...`; values longer than 60 characters are split
 * into RFC 2231 continuations (`name*0*=`, `name*1*=`...). Control characters are dropped.
 */
export function formatParam(param: string, value: string): string[] {
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '');
  const ascii = /^[\u0020-\u007e]*$/.test(clean);
  if (ascii && clean.length <= 60) {
    return [`${param}=${isToken(clean) ? clean : `"${clean.replace(/(["\\])/g, '\\$1')}"`}`];
  }
  const encoded = percentEncode(clean);
  if (encoded.length + 7 <= 60) return [`${param}*=utf-8''${encoded}`];
  // Continuations; never split inside a %XX escape.
  const pieces: string[] = [];
  let rest = encoded;
  while (rest.length > 0) {
    let cut = Math.min(rest.length, 60);
    if (cut < rest.length) {
      const pct = rest.lastIndexOf('%', cut - 1);
      if (pct >= 0 && pct > cut - 3) cut = pct;
    }
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  return pieces.map((p, i) => (i === 0 ? `${param}*0*=utf-8''${p}` : `${param}*${i}*=${p}`));
}

/** The line ending a header block uses (CRLF when its first line ends in CRLF). */
function eolOf(buf: Buffer, start: number, end: number): string {
  const nl = buf.indexOf(LF, start);
  return nl > start && nl < end && buf[nl - 1] === CR ? '\r\n' : '\n';
}

/**
 * Rewrite one header field when its `param` names a dangerous file. Returns the new field
 * text (with its line break) or undefined when nothing changes.
 */
function rewriteField(fieldText: string, fieldName: string, param: string, exts: ReadonlySet<string>, eol: string, renamed: DefangedName[]): string | undefined {
  const colon = fieldText.indexOf(':');
  const rawValue = fieldText.slice(colon + 1).replace(/\r?\n[ \t]/g, ' ').replace(/\r?\n$/, '');
  const parsed = parseStructured(rawValue);
  const current = parsed.params.get(param);
  if (current === undefined) return undefined;
  const name = current.replace(/[\r\n]+/g, ' ').trim();
  const to = defangName(name, exts);
  if (to === undefined) return undefined;
  const segments = splitParams(rawValue);
  const mainValue = (segments[0] ?? '').trim();
  const pieceOf = new RegExp(`^${param}(\\*.*)?$`, 'i');
  const kept = segments
    .slice(1)
    .map((s) => s.trim())
    .filter((s) => {
      if (s === '') return false;
      const eq = s.indexOf('=');
      const pname = (eq < 0 ? s : s.slice(0, eq)).trim();
      return !pieceOf.test(pname);
    });
  renamed.push({ field: fieldName.toLowerCase(), param, from: name, to });
  const all = [mainValue, ...kept, ...formatParam(param, to)];
  return `${fieldName}: ${all.join(`;${eol}\t`)}${eol}`;
}

/** Most uuencode `begin` lines looked at in one text part. */
const MAX_UU_BEGINS = 1000;

/**
 * Rename dangerous names on uuencode `begin MODE NAME` lines of a text body (absolute
 * offsets [start, end)); the mode and the encoded data stay as they are.
 */
function uuBeginEdits(
  raw: Buffer,
  start: number,
  end: number,
  exts: ReadonlySet<string>,
  edits: Array<{ start: number; end: number; text: string; encoding: BufferEncoding }>,
  renamed: DefangedName[],
): void {
  let pos = start;
  let seen = 0;
  while (pos < end && seen < MAX_UU_BEGINS) {
    const i = raw.indexOf('begin ', pos, 'latin1');
    if (i < 0 || i >= end) return;
    pos = i + 6;
    if (i !== start && raw[i - 1] !== LF) continue;
    seen++;
    let lineEnd = raw.indexOf(LF, i);
    if (lineEnd < 0 || lineEnd > end) lineEnd = end;
    let textEnd = lineEnd;
    if (textEnd > i && raw[textEnd - 1] === CR) textEnd--;
    const line = raw.subarray(i, textEnd).toString('latin1');
    const m = /^begin ([0-7]{3,4}) (.+)$/.exec(line);
    if (m === null) continue;
    const name = m[2]!;
    const to = defangName(name.trim(), exts);
    if (to === undefined) continue;
    renamed.push({ field: 'uuencode', param: 'begin', from: name.trim(), to });
    edits.push({ start: i, end: textEnd, text: `begin ${m[1]} ${to.replace(/[\r\n]/g, '')}`, encoding: 'latin1' });
  }
}

/** An entity (header + body) to look at, by absolute offsets. */
interface Entity {
  start: number;
  end: number;
  depth: number;
}

/** The parts of a multipart body [start, end) split at `--boundary` lines (absolute offsets). */
function multipartParts(buf: Buffer, start: number, end: number, boundary: string): Array<{ start: number; end: number }> {
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  const parts: Array<{ start: number; end: number }> = [];
  let partStart = -1;
  let pos = start;
  while (pos < end) {
    const i = buf.indexOf(delim, pos);
    if (i < 0 || i + delim.length > end) break;
    if (i !== start && buf[i - 1] !== LF) {
      pos = i + 1;
      continue;
    }
    let j = i + delim.length;
    const close = buf[j] === DASH && buf[j + 1] === DASH;
    if (close) j += 2;
    while (j < end && (buf[j] === SP || buf[j] === HT)) j++;
    let next: number;
    if (j >= end) next = end;
    else if (buf[j] === LF) next = j + 1;
    else if (buf[j] === CR && buf[j + 1] === LF) next = j + 2;
    else if (close) {
      const nl = buf.indexOf(LF, j);
      next = nl < 0 || nl >= end ? end : nl + 1;
    } else {
      pos = i + 1;
      continue;
    }
    if (partStart >= 0) {
      let contentEnd = i;
      if (contentEnd > partStart && buf[contentEnd - 1] === LF) {
        contentEnd--;
        if (contentEnd > partStart && buf[contentEnd - 1] === CR) contentEnd--;
      }
      parts.push({ start: partStart, end: Math.max(partStart, contentEnd) });
    }
    if (close) return parts;
    partStart = next;
    pos = next;
  }
  if (partStart >= 0 && partStart < end) parts.push({ start: partStart, end });
  return parts;
}

/**
 * Rename dangerous attachment names in a raw message. Never throws; a message with nothing
 * to rename comes back as the same Buffer.
 */
export function defangMessage(raw: Buffer, opts: DefangOptions = {}): DefangResult {
  const exts = extensionSet(opts.extensions);
  const edits: Array<{ start: number; end: number; text: string; encoding: BufferEncoding }> = [];
  const renamed: DefangedName[] = [];
  let skipped = 0;
  let visited = 0;
  const stack: Entity[] = [{ start: 0, end: raw.length, depth: 0 }];
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (visited >= MAX_PARTS || e.depth > MAX_DEPTH) {
      skipped++;
      continue;
    }
    visited++;
    const view = raw.subarray(e.start, e.end);
    const { header, body } = splitHeaderBody(view);
    const headerStart = e.start;
    const headerEnd = e.start + header.length;
    const bodyStart = e.end - body.length;
    if (header.length > 0) {
      const eol = eolOf(raw, headerStart, headerEnd);
      // splitHeaderBody's header ends after the last field's line break (the empty line excluded).
      for (const f of headerFieldRanges(raw, headerStart, headerEnd)) {
        const lname = f.name.toLowerCase();
        const param = lname === 'content-type' ? 'name' : lname === 'content-disposition' ? 'filename' : undefined;
        if (param === undefined) continue;
        let text = raw.subarray(f.start, f.end).toString('latin1');
        // Header bytes as UTF-8 when they are (RFC 6532); latin1 otherwise, written back as is.
        const bytes = raw.subarray(f.start, f.end);
        const utf8 = bytes.toString('utf8');
        const asUtf8 = Buffer.from(utf8, 'utf8').equals(bytes);
        if (asUtf8) text = utf8;
        const endsWithBreak = text.endsWith('\n');
        const replaced = rewriteField(endsWithBreak ? text : `${text}${eol}`, f.name, param, exts, eol, renamed);
        if (replaced !== undefined) {
          edits.push({ start: f.start, end: f.end, text: endsWithBreak ? replaced : replaced.slice(0, -eol.length), encoding: asUtf8 ? 'utf8' : 'latin1' });
        }
      }
    }
    const fields = header.length > 0 ? parseHeaderBlock(header) : [];
    const ctHeader = getHeader(fields, 'content-type');
    const ct = parseStructured(ctHeader ?? 'text/plain');
    const identity = transferKind(normalizeEncoding(getHeader(fields, 'content-transfer-encoding'))) === 'identity';
    if (!identity) continue;
    if (ct.value.startsWith('text/') || ct.value === '' || !ct.value.includes('/')) {
      uuBeginEdits(raw, bodyStart, e.end, exts, edits, renamed);
      continue;
    }
    if (ct.value.startsWith('multipart/')) {
      const boundary = (ct.params.get('boundary') ?? '').replace(/[ \t]+$/, '');
      if (boundary === '') continue;
      const parts = multipartParts(raw, bodyStart, e.end, boundary);
      for (let k = parts.length - 1; k >= 0; k--) stack.push({ start: parts[k]!.start, end: parts[k]!.end, depth: e.depth + 1 });
    } else if (ct.value === 'message/rfc822' || ct.value === 'message/global') {
      stack.push({ start: bodyStart, end: e.end, depth: e.depth + 1 });
    }
  }
  if (edits.length === 0) return { message: raw, renamed, skipped };
  edits.sort((a, b) => a.start - b.start);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const ed of edits) {
    chunks.push(raw.subarray(at, ed.start), Buffer.from(ed.text, ed.encoding));
    at = ed.end;
  }
  chunks.push(raw.subarray(at));
  return { message: Buffer.concat(chunks), renamed, skipped };
}
