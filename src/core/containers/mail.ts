/**
 * A mail message (or mbox) carried as an attachment that is not declared message/rfc822
 * (`application/octet-stream; name=saved.eml`, an mbox file...): walked by the core's own
 * MIME walker, as if it were a message/rfc822 part. Limits are the message's: the walker
 * charges the same budget.
 */
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import { walkMime } from '../mime/walk.js';
import type { Member } from './member.js';

const MBOX_SEPARATOR = /\r?\n\r?\nFrom [^\r\n]*\r?\n/g;

/** The leaves of each message in the unit (mbox: split on "From " lines after a blank line). */
export async function* mailMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  const text = unit.data;
  const starts: number[] = [0];
  if (text.subarray(0, 5).toString('latin1') === 'From ') {
    const s = text.toString('latin1');
    for (const m of s.matchAll(MBOX_SEPARATOR)) starts.push((m.index ?? 0) + (m[0].indexOf('From ')));
  }
  for (let i = 0; i < starts.length; i++) {
    let msg = text.subarray(starts[i], starts[i + 1] ?? text.length);
    if (msg.subarray(0, 5).toString('latin1') === 'From ') {
      const eol = msg.indexOf(0x0a);
      msg = eol < 0 ? Buffer.alloc(0) : msg.subarray(eol + 1);
    }
    const prefix = starts.length > 1 ? `msg${i + 1}/` : '';
    for (const leaf of walkMime(msg, budget)) {
      yield { path: `${prefix}${leaf.location}`, data: leaf.data };
    }
  }
}
