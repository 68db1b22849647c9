/**
 * TNEF (winmail.dat, application/ms-tnef): the attachments Outlook wraps in it. Written by
 * hand: the npm TNEF parser (node-tnef) works on files, logs through bunyan and pulls in an
 * old yargs; the part needed — walking the attribute list for attAttachTitle and
 * attAttachData [MS-OXTNEF 2.1.3] — is ~40 lines, and every length is checked against the
 * data (nothing here expands).
 */
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import type { Member } from './member.js';

const ATT_ATTACH_DATA = 0x800f;
const ATT_ATTACH_TITLE = 0x8010;
const ATT_ATTACH_REND_DATA = 0x9002;

/** The attachments of a TNEF unit, named by their attAttachTitle. */
export async function* tnefMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  const data = unit.data;
  let pos = 6; // signature, key
  let title: string | undefined;
  let pending: Buffer | undefined;
  let n = 0;
  const emit = function* (): Generator<Member> {
    if (pending === undefined) return;
    n += 1;
    const path = (title ?? `attachment${n}`).replace(/[\x00-\x1f]/g, '_') || `attachment${n}`;
    const where = `${unit.location} > ${path}`;
    budget.addPart(where);
    yield { path, data: pending };
    pending = undefined;
    title = undefined;
  };
  let attrs = 0;
  while (pos + 9 <= data.length) {
    if (++attrs % 1024 === 0) budget.checkTime(unit.location);
    const id = data.readUInt16LE(pos + 1);
    const len = data.readUInt32LE(pos + 5);
    const start = pos + 9;
    if (len > data.length - start) {
      budget.note('UNPARSEABLE', `TNEF at ${unit.location}: attribute cut short`);
      break;
    }
    const body = data.subarray(start, start + len);
    if (id === ATT_ATTACH_REND_DATA) {
      yield* emit(); // a new attachment starts
    } else if (id === ATT_ATTACH_TITLE) {
      const end = body.indexOf(0);
      title = body.toString('latin1', 0, end < 0 ? body.length : end);
    } else if (id === ATT_ATTACH_DATA) {
      pending = body;
    }
    pos = start + len + 2; // checksum
  }
  yield* emit();
}
