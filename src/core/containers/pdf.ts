/**
 * PDF: the content of every `stream ... endstream`, inflated when its dictionary says
 * /FlateDecode (the filter nearly every PDF uses, and the one embedded files and
 * JavaScript hide behind). Written by hand: the npm PDF libraries (pdf.js, pdf-lib) parse
 * whole documents into object graphs, render or edit them, and give no bound on what
 * inflating costs; finding streams and inflating them under our limits is ~40 lines.
 * Attached files (/EmbeddedFile) stored without a filter are yielded as they are. Other
 * streams (no filter, LZW, ASCII85, DCT images...) are not yielded again: their bytes
 * are already in the PDF unit, which is scanned whole (yielding them would scan big images
 * twice: measured ~2x on the generated corpus's PDFs).
 */
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import { inflateBounded, type Member } from './member.js';

const STREAM = Buffer.from('stream', 'latin1');
const ENDSTREAM = Buffer.from('endstream', 'latin1');

/** Every stream of a PDF unit, FlateDecode ones inflated (bounded), others as they are. */
export async function* pdfMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  const data = unit.data;
  let pos = 0;
  let n = 0;
  for (;;) {
    const at = data.indexOf(STREAM, pos);
    if (at < 0) return;
    pos = at + STREAM.length;
    // "endstream" contains "stream": skip it; a stream keyword ends its line.
    if (at >= 3 && data.toString('latin1', at - 3, at) === 'end') continue;
    let start = pos;
    if (data[start] === 0x0d) start++;
    if (data[start] === 0x0a) start++;
    else if (start === pos) continue;
    // The stream's dictionary: the last "<<" within 4 KB before the keyword.
    const from = Math.max(0, at - 4096);
    const dictStart = data.subarray(from, at).lastIndexOf('<<');
    const dict = data.toString('latin1', dictStart >= 0 ? from + dictStart : from, at);
    // A direct /Length that lands on "endstream" skips the body unread (big image streams);
    // otherwise the body is searched for its end.
    const declared = /\/Length\s+(\d{1,12})(?!\s+\d+\s+R)/.exec(dict);
    let end = -1;
    if (declared !== null) {
      const guess = start + Number(declared[1]);
      const near = guess <= data.length ? data.subarray(guess, guess + 64).indexOf(ENDSTREAM) : -1;
      if (near >= 0) end = guess + near;
    }
    if (end < 0) end = data.indexOf(ENDSTREAM, start);
    if (end < 0) return;
    pos = end + ENDSTREAM.length;
    n += 1;
    const flate = /\/FlateDecode|\/Fl\b/.test(dict);
    // An attached file stored without a filter is yielded as it is (its own unit: hash signatures).
    const embeddedFile = !flate && /\/EmbeddedFile\b/.test(dict) && !/\/Filter/.test(dict);
    if (!flate && !embeddedFile) continue;
    const path = `stream${n}`;
    const where = `${unit.location} > ${path}`;
    budget.checkTime(where);
    let body = data.subarray(start, end);
    while (body.length > 0 && (body[body.length - 1] === 0x0a || body[body.length - 1] === 0x0d)) body = body.subarray(0, body.length - 1);
    if (body.length === 0) continue;
    budget.addPart(where);
    if (embeddedFile) {
      yield { path, data: body };
      continue;
    }
    const out = inflateBounded(body, where, budget);
    if (out.length > 0) yield { path, data: out };
    else budget.markUnchecked(where, 'UNSUPPORTED_FORMAT', 'PDF FlateDecode stream that does not inflate');
  }
}
