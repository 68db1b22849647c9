/**
 * ClamAV .ndb offsets we support: `*` (anywhere), `n`, `n,maxshift`, `EOF-n`,
 * `EOF-n,maxshift`. PE/ELF-relative forms (`EP+n`, `Sx+n`, `SEx`, `SL+n`, `VI`) and
 * anything else are refused with a reason.
 */

/** Where a signature's first byte may start. */
export type Offset =
  | { kind: 'any' }
  | { kind: 'abs'; n: number; shift: number }
  | { kind: 'eof'; n: number; shift: number };

/** Why an offset was refused. */
export class OffsetError extends Error {
  override readonly name = 'OffsetError';
}

/** Parse an .ndb offset field. */
export function parseOffset(text: string): Offset {
  if (text === '*') return { kind: 'any' };
  let m = /^(\d+)(?:,(\d+))?$/.exec(text);
  if (m !== null) return { kind: 'abs', n: Number(m[1]), shift: m[2] === undefined ? 0 : Number(m[2]) };
  m = /^EOF-(\d+)(?:,(\d+))?$/.exec(text);
  if (m !== null) return { kind: 'eof', n: Number(m[1]), shift: m[2] === undefined ? 0 : Number(m[2]) };
  if (/^(EP[+-]|S\d+[+-]|SE\d+|SL[+-]|VI)/.test(text)) {
    throw new OffsetError(`unsupported executable-relative offset "${text}" (EP/Sx/SE/SL/VI need a PE/ELF parser)`);
  }
  throw new OffsetError(`malformed offset "${text}"`);
}

/**
 * The window [lo, hi] of allowed start positions in a unit of `size` bytes, or null when
 * the offset falls outside the unit (ClamAV then skips the signature).
 */
export function startWindow(o: Offset, size: number): [number, number] | null {
  if (o.kind === 'any') return [0, size];
  const lo = o.kind === 'abs' ? o.n : size - o.n;
  if (lo < 0 || lo > size) return null;
  return [lo, Math.min(size, lo + o.shift)];
}
