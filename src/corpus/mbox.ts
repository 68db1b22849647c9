/**
 * mbox reading: a first streaming pass finds where each message starts and ends (byte
 * offsets only, never the messages); each message is then read on its own and its
 * `>From ` lines un-escaped (mboxrd: one `>` removed from `>+From ` at line start).
 *
 * A message starts after a `From ` line at the very start of the file or right after a
 * blank line. The blank line before a `From ` separator belongs to the separator.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

/** Byte range [start, end) of one message in an mbox file (the `From ` line excluded). */
export interface MboxRange {
  start: number;
  end: number;
}

const FROM = Buffer.from('From ', 'latin1');

/** True when the file begins with `From ` (how an mbox is recognised). */
export async function looksLikeMbox(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(5);
    const { bytesRead } = await fh.read(head, 0, 5, 0);
    return bytesRead === 5 && head.equals(FROM);
  } finally {
    await fh.close();
  }
}

/** Scan an mbox file with a stream and return the byte range of every message. */
export async function indexMbox(path: string): Promise<MboxRange[]> {
  const ranges: MboxRange[] = [];
  let offset = 0; // absolute offset of the current chunk
  let lineStart = 0; // absolute offset of the current line
  let lineLen = 0; // bytes of the current line so far (without "\n")
  let head = Buffer.alloc(0); // first ≤5 bytes of the current line
  let prevLineStart = -1; // start of the previous complete line
  let prevBlank = false;
  let msgStart = -1; // start of the current message body, -1 before the first separator

  const endLine = (nlAt: number): void => {
    const blank = lineLen === 0 || (lineLen === 1 && head[0] === 13);
    const isFrom = head.length === 5 && head.equals(FROM);
    if (isFrom && (lineStart === 0 || prevBlank)) {
      if (msgStart >= 0) ranges.push({ start: msgStart, end: Math.max(msgStart, prevLineStart) });
      msgStart = nlAt + 1;
    }
    prevLineStart = lineStart;
    prevBlank = blank;
    lineStart = nlAt + 1;
    lineLen = 0;
    head = Buffer.alloc(0);
  };

  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(10, pos);
      const segEnd = nl < 0 ? chunk.length : nl;
      if (head.length < 5) head = Buffer.concat([head, chunk.subarray(pos, Math.min(segEnd, pos + 5 - head.length))]);
      lineLen += segEnd - pos;
      if (nl < 0) break;
      endLine(offset + nl);
      pos = nl + 1;
    }
    offset += chunk.length;
  }
  if (msgStart >= 0) {
    // The last message runs to the end of the file, minus a final blank line if there is one.
    let end = offset;
    if (lineLen === 0 && prevBlank && prevLineStart >= msgStart) end = prevLineStart;
    ranges.push({ start: msgStart, end: Math.max(msgStart, end) });
  }
  return ranges;
}

/** Undo mboxrd quoting: remove one `>` from every line that starts with `>+From `. */
export function unescapeFrom(buf: Buffer): Buffer {
  if (buf.indexOf('>From ') < 0) return buf;
  return Buffer.from(buf.toString('latin1').replace(/^>(>*From )/gm, '$1'), 'latin1');
}

/** Read one message of an mbox by its range and un-escape it. */
export async function readMboxMessage(path: string, range: MboxRange): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(range.end - range.start);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, range.start + got);
      if (bytesRead === 0) throw new Error(`${path}: file shrank while reading message at byte ${range.start}`);
      got += bytesRead;
    }
    return unescapeFrom(buf);
  } finally {
    await fh.close();
  }
}
