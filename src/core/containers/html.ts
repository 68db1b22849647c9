/**
 * HTML (or other markup) carrying files inline as base64 `data:` URIs (`<a href="data:
 * application/octet-stream;base64,...">`): each URI decoded. Written by hand: HTML parsers
 * on npm build a DOM and leave URIs as strings; finding and decoding them is a regex and
 * Buffer's base64 decoder. Base64 shrinks, so nothing here expands.
 */
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import type { Member } from './member.js';

const DATA_URI = /data:[\w.+-]*\/?[\w.+-]*(?:;[\w-]+=[^;,"'\s]*)*;base64,([A-Za-z0-9+/=\s]{16,})/gi;

/** The decoded `data:` URIs of a markup unit. */
export async function* htmlMembers(unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  const text = unit.data.toString('latin1');
  let n = 0;
  for (const m of text.matchAll(DATA_URI)) {
    n += 1;
    const path = `data-uri${n}`;
    const where = `${unit.location} > ${path}`;
    budget.checkTime(where);
    const data = Buffer.from((m[1] as string).replace(/\s+/g, ''), 'base64');
    if (data.length === 0) continue;
    budget.addPart(where);
    budget.addBytes(data.length, where);
    yield { path, data };
  }
}
