/**
 * uuencoded blocks (`begin 644 name` ... `end`) inside text. Finding a block is a native
 * `indexOf`; decoding is per line, but only over the block itself. Tolerant: trailing spaces
 * stripped in transit are taken as zeros, a missing `end` ends the block at the first line
 * that is not uuencoded data (or at the end of the text). Never throws, linear time.
 */

const LF = 0x0a;
const CR = 0x0d;
const BEGIN = Buffer.from('begin ', 'latin1');

/** One decoded uuencoded block. */
export interface UuBlock {
  /** File name from the `begin` line. */
  name: string;
  /** Mode from the `begin` line (octal digits as written). */
  mode: string;
  /** Decoded bytes. */
  data: Buffer;
  /** Offset of the `begin` line in the scanned text. */
  start: number;
  /** Offset just past the block (after `end`, or where it stopped). */
  end: number;
}

/** End of the line starting at `pos` (excluding CR LF / LF), and the start of the next line. */
function lineAt(buf: Buffer, pos: number): { end: number; next: number } {
  const nl = buf.indexOf(LF, pos);
  if (nl < 0) {
    let end = buf.length;
    if (end > pos && buf[end - 1] === CR) end--;
    return { end, next: buf.length };
  }
  let end = nl;
  if (end > pos && buf[end - 1] === CR) end--;
  return { end, next: nl + 1 };
}

/** Parse `begin MODE NAME` at `pos`; null when the line is not one. */
function parseBegin(buf: Buffer, pos: number, end: number): { mode: string; name: string } | null {
  // Trim first so the pattern has nothing to backtrack over (linear on any line).
  const line = buf.toString('latin1', pos, Math.min(end, pos + 1024)).trimEnd();
  const m = /^begin +([0-7]{1,4}) +(.+)$/.exec(line);
  if (!m) return null;
  return { mode: m[1]!, name: m[2]! };
}

/** Is this line uuencoded data? (all bytes in the uuencode range ' '..'`', and not empty) */
function isDataLine(buf: Buffer, pos: number, end: number): boolean {
  if (end <= pos) return false;
  for (let i = pos; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x20 || c > 0x60) return false;
  }
  return true;
}

function isEndLine(buf: Buffer, pos: number, end: number): boolean {
  // "end", tolerating trailing white space.
  if (end - pos < 3 || buf[pos] !== 0x65 || buf[pos + 1] !== 0x6e || buf[pos + 2] !== 0x64) return false;
  for (let i = pos + 3; i < end; i++) if (buf[i] !== 0x20 && buf[i] !== 0x09) return false;
  return true;
}

/** Decoded length a data line announces. */
function lineLength(buf: Buffer, pos: number): number {
  return (buf[pos]! - 0x20) & 0x3f;
}

/** Decode the block body starting at `pos`; returns the data and where the block ends. */
function decodeBody(buf: Buffer, pos: number): { data: Buffer; end: number } {
  // Pass 1: find the block's lines and its total length (so the output is allocated once).
  let total = 0;
  let p = pos;
  let stop = pos;
  let sawEnd = false;
  while (p < buf.length) {
    const { end, next } = lineAt(buf, p);
    if (isEndLine(buf, p, end)) {
      sawEnd = true;
      stop = next;
      break;
    }
    if (end === p) {
      // An empty line inside a block (some encoders emit one before `end`): skip it.
      p = next;
      stop = next;
      continue;
    }
    if (!isDataLine(buf, p, end)) break;
    total += lineLength(buf, p);
    p = next;
    stop = next;
  }
  const lastLine = sawEnd ? stop : p;
  // Pass 2: decode.
  const out = Buffer.allocUnsafe(total);
  let o = 0;
  p = pos;
  while (p < lastLine) {
    const { end, next } = lineAt(buf, p);
    if (isEndLine(buf, p, end)) break;
    if (end > p) {
      let want = lineLength(buf, p);
      let i = p + 1;
      while (want > 0) {
        const c0 = i < end ? (buf[i]! - 0x20) & 0x3f : 0;
        const c1 = i + 1 < end ? (buf[i + 1]! - 0x20) & 0x3f : 0;
        const c2 = i + 2 < end ? (buf[i + 2]! - 0x20) & 0x3f : 0;
        const c3 = i + 3 < end ? (buf[i + 3]! - 0x20) & 0x3f : 0;
        out[o++] = (c0 << 2) | (c1 >> 4);
        if (want > 1) out[o++] = ((c1 << 4) | (c2 >> 2)) & 0xff;
        if (want > 2) out[o++] = ((c2 << 6) | c3) & 0xff;
        want -= 3;
        i += 4;
      }
    }
    p = next;
  }
  return { data: out.subarray(0, o), end: stop };
}

/** Every uuencoded block in `buf`, in order. */
export function* findUuBlocks(buf: Buffer): Generator<UuBlock> {
  let from = 0;
  while (from < buf.length) {
    const at = buf.indexOf(BEGIN, from);
    if (at < 0) return;
    if (at !== 0 && buf[at - 1] !== LF) {
      from = at + 1;
      continue;
    }
    const line = lineAt(buf, at);
    const begin = parseBegin(buf, at, line.end);
    if (!begin) {
      from = at + 1;
      continue;
    }
    const { data, end } = decodeBody(buf, line.next);
    yield { name: begin.name, mode: begin.mode, data, start: at, end };
    from = Math.max(end, line.next);
  }
}

/** The first uuencoded block in `buf`, if any. */
export function firstUuBlock(buf: Buffer): UuBlock | undefined {
  for (const b of findUuBlocks(buf)) return b;
  return undefined;
}
