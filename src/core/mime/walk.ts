/**
 * The MIME walker: yields every leaf part of a message, decoded, at any depth, with
 * message/rfc822 attachments recursed into and uuencoded blocks in text bodies yielded as
 * extra leaves. Bounded by the message's shared Budget (parts, bytes, depth, time).
 *
 * Speed: the walk works on Buffers only. Boundaries are found with `Buffer.indexOf`, base64
 * is decoded natively, 7bit/8bit/binary bodies are views into the input (no copy). Nesting
 * uses an explicit stack (no recursion), and a multipart is split lazily, one part at a
 * time, so memory stays bounded by the nesting depth and no input is walked more than once
 * per nesting level.
 */
import type { Budget } from '../limits.js';
import { decodeTransfer, normalizeEncoding, transferKind } from './decode.js';
import { getHeader, parseHeaderBlock, splitHeaderBody } from './headers.js';
import { parseStructured } from './params.js';
import { findUuBlocks, firstUuBlock } from './uuencode.js';

/** One decoded leaf of a message. */
export interface MimeLeaf {
  /** The decoded body bytes of a leaf part (or of a uuencoded block). May be a view into the input. */
  data: Buffer;
  /** MIME path, plus ":filename" when the part has a filename, e.g. "1.2:invoice.zip"; a single-part body is "1". */
  location: string;
  /** IMAP-style part number ("1.2"); message/rfc822 parts continue it ("2.1", "2.1.3"). */
  mimePath: string;
  /** Decoded file name (RFC 2231, encoded words; `name=` of Content-Type as fallback; the `begin` line for uuencode). */
  filename?: string;
  /** Content type, lower case, "text/plain" when absent. */
  contentType: string;
  /** Content-Transfer-Encoding as declared, lower case ('7bit' when absent); 'uuencode' for uu blocks. */
  encoding: string;
  /** Nesting depth: 0 = top-level body; each multipart or message/rfc822 level adds 1. */
  depth: number;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const DASH = 0x2d;

/** A MIME entity (header + body) still to visit. */
interface EntityFrame {
  kind: 'entity';
  data: Buffer;
  /** Part number of this entity; for a message root, the prefix its parts continue ('' at top). */
  path: string;
  depth: number;
  /** True for a whole message (the top one, or the content of a message/rfc822 part). */
  root: boolean;
  /** Content type when the entity has none (text/plain; message/rfc822 inside multipart/digest). */
  defaultType: string;
}

/** A multipart being split, one part at a time. */
interface MultipartFrame {
  kind: 'multipart';
  body: Buffer;
  /** "--" + boundary */
  delimiter: Buffer;
  /** Where the next part starts. */
  pos: number;
  closed: boolean;
  /** Number of parts handed out so far. */
  index: number;
  /** Path prefix of the children. */
  prefix: string;
  /** Depth of the children. */
  depth: number;
  childDefault: string;
}

type Frame = EntityFrame | MultipartFrame;

interface Delimiter {
  /** End of the preceding part's content (the line break before the delimiter excluded). */
  contentEnd: number;
  /** Start of the next part (after the delimiter line). */
  next: number;
  close: boolean;
}

/**
 * Find the next delimiter line (`--boundary` or `--boundary--` at the start of a line,
 * followed only by white space) at or after `from`. `from` must be at a line start.
 */
function findDelimiter(body: Buffer, delimiter: Buffer, from: number): Delimiter | null {
  const n = body.length;
  let i = from;
  for (;;) {
    i = body.indexOf(delimiter, i);
    if (i < 0) return null;
    if (i === from || body[i - 1] === LF) {
      let j = i + delimiter.length;
      let close = false;
      if (body[j] === DASH && body[j + 1] === DASH) {
        close = true;
        j += 2;
      }
      while (j < n && (body[j] === SP || body[j] === HT)) j++;
      let next = -1;
      if (j >= n) next = n;
      else if (body[j] === LF) next = j + 1;
      else if (body[j] === CR && (j + 1 >= n || body[j + 1] === LF)) next = Math.min(n, j + 2);
      else if (close) {
        // Text after a close delimiter: tolerated, the rest of the line is ignored.
        const nl = body.indexOf(LF, j);
        next = nl < 0 ? n : nl + 1;
      }
      if (next >= 0) {
        let end = i;
        if (end > from && body[end - 1] === LF) {
          end--;
          if (end > from && body[end - 1] === CR) end--;
        }
        return { contentEnd: end, next, close };
      }
    }
    i += 1;
  }
}

/** True for a short run of white space only (a stray line break after a last delimiter). */
function isBlank(buf: Buffer): boolean {
  if (buf.length > 256) return false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (c !== SP && c !== HT && c !== CR && c !== LF) return false;
  }
  return true;
}

/** The next part of a multipart, or null when it has no more. */
function nextPart(f: MultipartFrame): Buffer | null {
  if (f.closed) return null;
  const d = findDelimiter(f.body, f.delimiter, f.pos);
  if (!d) {
    // Unclosed final boundary: the last part runs to the end of the body.
    f.closed = true;
    const rest = f.body.subarray(f.pos);
    return isBlank(rest) ? null : rest;
  }
  const part = f.body.subarray(f.pos, Math.max(f.pos, d.contentEnd));
  f.pos = d.next;
  if (d.close) f.closed = true;
  return part;
}

function joinPath(prefix: string, n: number | string): string {
  return prefix === '' ? String(n) : `${prefix}.${n}`;
}

function isMessageType(ct: string): boolean {
  return ct === 'message/rfc822' || ct === 'message/global';
}

/** Content type from a parsed header: lower case; invalid (no '/') counts as text/plain. */
function contentTypeOf(value: string, fallback: string): string {
  if (value === '') return fallback;
  return value.includes('/') ? value : 'text/plain';
}

/**
 * Walk a raw message and yield its decoded leaves in document order.
 *
 * Charges the Budget as it goes: one part per entity visited (and per uuencoded block),
 * decoded bytes per leaf, depth on every descent, time between parts. The limit errors
 * (LimitExceededError, AbortedError) propagate to the caller; nothing else is thrown, whatever
 * the input. Tolerates LF or CRLF line ends, missing headers, a message without a header
 * block, junk in base64, unclosed final boundaries and boundaries that never appear.
 */
export function* walkMime(raw: Buffer, budget: Budget): Generator<MimeLeaf> {
  const stack: Frame[] = [{ kind: 'entity', data: raw, path: '', depth: 0, root: true, defaultType: 'text/plain' }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.kind === 'multipart') {
      const part = nextPart(top);
      if (part === null) {
        stack.pop();
        continue;
      }
      top.index += 1;
      stack.push({
        kind: 'entity',
        data: part,
        path: joinPath(top.prefix, top.index),
        depth: top.depth,
        root: false,
        defaultType: top.childDefault,
      });
      continue;
    }
    stack.pop();
    yield* visitEntity(top, stack, budget);
  }
}

/** Visit one entity: push its children (multipart, message) or yield it (leaf) plus its uu blocks. */
function* visitEntity(e: EntityFrame, stack: Frame[], budget: Budget): Generator<MimeLeaf> {
  // A message root's own body is part "1" of it; a part's number is its path.
  const partPath = e.root ? joinPath(e.path, 1) : e.path;
  const nested = e.root && e.path !== ''; // content of a message/rfc822 part: already counted
  budget.checkTime(partPath);

  const { header, body } = splitHeaderBody(e.data);
  const fields = header.length > 0 ? parseHeaderBlock(header) : [];
  const ctHeader = getHeader(fields, 'content-type');
  const ct = ctHeader === undefined ? undefined : parseStructured(ctHeader);
  const contentType = ct ? contentTypeOf(ct.value, e.defaultType) : e.defaultType;
  const encoding = normalizeEncoding(getHeader(fields, 'content-transfer-encoding'));

  if (contentType.startsWith('multipart/')) {
    const boundary = (ct?.params.get('boundary') ?? '').replace(/[ \t]+$/, '');
    if (boundary !== '') {
      const content = transferKind(encoding) === 'identity' ? body : decodeTransfer(body, encoding);
      const delimiter = Buffer.from(`--${boundary}`, 'latin1');
      const first = findDelimiter(content, delimiter, 0);
      if (first) {
        const where = e.path === '' ? 'message' : e.path;
        if (!nested) budget.addPart(where);
        budget.checkDepth(e.depth + 1, where);
        stack.push({
          kind: 'multipart',
          body: content,
          delimiter,
          pos: first.next,
          closed: first.close,
          index: 0,
          prefix: e.path,
          depth: e.depth + 1,
          childDefault: contentType === 'multipart/digest' ? 'message/rfc822' : 'text/plain',
        });
        return;
      }
    }
    // No boundary, or it never appears: the body is one leaf (below).
  } else if (isMessageType(contentType)) {
    if (!nested) budget.addPart(partPath);
    budget.checkDepth(e.depth + 1, partPath);
    stack.push({
      kind: 'entity',
      data: decodeTransfer(body, encoding),
      path: partPath,
      depth: e.depth + 1,
      root: true,
      defaultType: 'text/plain',
    });
    return;
  }

  // A leaf.
  let filename = filenameOf(fields, ct?.params);
  let data: Buffer;
  if (transferKind(encoding) === 'uuencode') {
    // A uuencoded body: its first block, named by its `begin` line when the headers give no name.
    const block = firstUuBlock(body);
    data = block?.data ?? body;
    if (filename === undefined && block) filename = block.name;
  } else {
    data = decodeTransfer(body, encoding);
  }
  const location = filename === undefined ? partPath : `${partPath}:${filename}`;
  if (!nested) budget.addPart(location);
  budget.addBytes(data.length, location);
  const leaf: MimeLeaf = { data, location, mimePath: partPath, contentType, encoding, depth: e.depth };
  if (filename !== undefined) leaf.filename = filename;
  yield leaf;

  if (contentType.startsWith('text/') && transferKind(encoding) !== 'uuencode') {
    for (const block of findUuBlocks(data)) {
      const where = `${partPath}:${block.name}`;
      budget.checkTime(where);
      budget.addPart(where);
      budget.addBytes(block.data.length, where);
      yield {
        data: block.data,
        location: where,
        mimePath: partPath,
        filename: block.name,
        contentType: 'application/octet-stream',
        encoding: 'uuencode',
        depth: e.depth,
      };
    }
  }
}

/** File name of a part: Content-Disposition filename, else Content-Type name (both decoded). */
function filenameOf(fields: ReturnType<typeof parseHeaderBlock>, ctParams: Map<string, string> | undefined): string | undefined {
  const cd = getHeader(fields, 'content-disposition');
  let name = cd === undefined ? undefined : parseStructured(cd).params.get('filename');
  if (name === undefined || name.trim() === '') name = ctParams?.get('name');
  if (name === undefined) return undefined;
  name = name.replace(/[\r\n]+/g, ' ').trim();
  return name === '' ? undefined : name;
}
