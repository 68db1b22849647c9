/**
 * ClamAV body-signature hex syntax → a compiled pattern.
 *
 * Supported: hex bytes, `??` (any byte), nibble wildcards `a?` / `?a`, `*` (any number of
 * bytes, zero included), gaps `{n}` `{n-}` `{-m}` `{n-m}`, alternatives `(aa|bbcc|d?)`
 * (options of any length, wildcards allowed inside) and negated alternatives
 * `!(aa|bb)` (options of one length). Anything else — `(B)`/`(L)` boundary anchors,
 * `[n-m]` byte ranges, malformed hex — is refused with a reason (HexSigError).
 */

/** A run of bytes, each matched as `(data & mask) === value` (mask 0 = any byte). */
export interface SeqElement {
  t: 'seq';
  mask: Uint8Array;
  value: Uint8Array;
  /** Leading bytes that are fully fixed (for native indexOf jumps), or null. */
  prefix: Buffer | null;
  /** Trailing bytes that are fully fixed (for native lastIndexOf jumps), or null. */
  suffix: Buffer | null;
}

/** One option of an alternative. */
export interface AltOption {
  mask: Uint8Array;
  value: Uint8Array;
}

/** `(a|b|c)` or, negated, `!(a|b|c)` (then every option has the same length). */
export interface AltElement {
  t: 'alt';
  options: AltOption[];
  negate: boolean;
}

/** A gap of min..max bytes (max = Infinity for `*` and `{n-}`). */
export interface GapElement {
  t: 'gap';
  min: number;
  max: number;
}

/** One compiled piece of a body signature. */
export type Element = SeqElement | AltElement | GapElement;

/** Why a hex signature was refused. */
export class HexSigError extends Error {
  override readonly name = 'HexSigError';
}

const HEX = /^[0-9a-fA-F]$/;

function hexVal(c: string): number {
  return Number.parseInt(c, 16);
}

/** Parse a run of hex pairs (with `??` and nibble wildcards) into mask/value arrays. */
function parseBytes(text: string, where: string): AltOption {
  if (text.length % 2 !== 0) throw new HexSigError(`odd number of hex digits in ${where} "${text}"`);
  const n = text.length / 2;
  const mask = new Uint8Array(n);
  const value = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const hi = text[2 * i]!;
    const lo = text[2 * i + 1]!;
    let m = 0;
    let v = 0;
    if (hi !== '?') {
      if (!HEX.test(hi)) throw new HexSigError(`invalid hex character "${hi}" in ${where}`);
      m |= 0xf0;
      v |= hexVal(hi) << 4;
    }
    if (lo !== '?') {
      if (!HEX.test(lo)) throw new HexSigError(`invalid hex character "${lo}" in ${where}`);
      m |= 0x0f;
      v |= hexVal(lo);
    }
    mask[i] = m;
    value[i] = v;
  }
  return { mask, value };
}

function fixedRun(mask: Uint8Array, from: number, step: 1 | -1): number {
  let n = 0;
  for (let i = from; i >= 0 && i < mask.length && mask[i] === 0xff; i += step) n++;
  return n;
}

function makeSeq(mask: Uint8Array, value: Uint8Array): SeqElement {
  const pre = fixedRun(mask, 0, 1);
  const suf = fixedRun(mask, mask.length - 1, -1);
  return {
    t: 'seq',
    mask,
    value,
    prefix: pre > 0 ? Buffer.from(value.subarray(0, pre)) : null,
    suffix: suf > 0 ? Buffer.from(value.subarray(value.length - suf)) : null,
  };
}

/** Build a seq element from parts of another one (used when splitting around an anchor). */
export function sliceSeq(e: SeqElement, from: number, to: number): SeqElement {
  return makeSeq(e.mask.slice(from, to), e.value.slice(from, to));
}

function parseGap(body: string): GapElement {
  const m = /^(\d*)(-?)(\d*)$/.exec(body);
  if (m === null || body === '' || body === '-') throw new HexSigError(`malformed gap "{${body}}"`);
  const [, a = '', dash = '', b = ''] = m;
  if (dash === '') {
    if (b !== '' || a === '') throw new HexSigError(`malformed gap "{${body}}"`);
    const n = Number(a);
    return { t: 'gap', min: n, max: n };
  }
  const min = a === '' ? 0 : Number(a);
  const max = b === '' ? Infinity : Number(b);
  if (a === '' && b === '') throw new HexSigError(`malformed gap "{${body}}"`);
  if (max < min) throw new HexSigError(`gap "{${body}}" has max < min`);
  return { t: 'gap', min, max };
}

/**
 * Parse a ClamAV hex signature body into elements. Consecutive gaps are merged; a
 * signature may not begin or end with a gap and must contain at least one fixed nibble.
 */
export function parseHexSignature(hex: string): Element[] {
  if (hex.length === 0) throw new HexSigError('empty hex signature');
  const out: Element[] = [];
  let pending = ''; // hex text of the current byte run
  const flush = (): void => {
    if (pending === '') return;
    const { mask, value } = parseBytes(pending, 'hex signature');
    const last = out[out.length - 1];
    if (last !== undefined && last.t === 'seq') {
      const m = new Uint8Array(last.mask.length + mask.length);
      const v = new Uint8Array(m.length);
      m.set(last.mask);
      m.set(mask, last.mask.length);
      v.set(last.value);
      v.set(value, last.value.length);
      out[out.length - 1] = makeSeq(m, v);
    } else {
      out.push(makeSeq(mask, value));
    }
    pending = '';
  };
  const pushGap = (g: GapElement): void => {
    if (pending.length % 2 !== 0) throw new HexSigError('odd number of hex digits before a gap');
    flush();
    const last = out[out.length - 1];
    if (last === undefined) throw new HexSigError('signature starts with a gap');
    if (last.t === 'gap') {
      out[out.length - 1] = { t: 'gap', min: last.min + g.min, max: last.max + g.max };
    } else out.push(g);
  };
  let i = 0;
  while (i < hex.length) {
    const c = hex[i]!;
    if (HEX.test(c) || c === '?') {
      pending += c;
      i++;
    } else if (c === '*') {
      pushGap({ t: 'gap', min: 0, max: Infinity });
      i++;
    } else if (c === '{') {
      const end = hex.indexOf('}', i);
      if (end < 0) throw new HexSigError('unterminated "{" gap');
      pushGap(parseGap(hex.slice(i + 1, end)));
      i = end + 1;
    } else if (c === '(' || (c === '!' && hex[i + 1] === '(')) {
      const negate = c === '!';
      const open = negate ? i + 1 : i;
      const end = hex.indexOf(')', open);
      if (end < 0) throw new HexSigError('unterminated "(" alternative');
      const body = hex.slice(open + 1, end);
      if (/^[BLW]$/i.test(body)) throw new HexSigError(`unsupported boundary anchor "(${body})"`);
      if (pending.length % 2 !== 0) throw new HexSigError('odd number of hex digits before an alternative');
      flush();
      const parts = body.split('|');
      if (parts.length < 2 && !negate) throw new HexSigError(`alternative "(${body})" needs at least two options`);
      const options = parts.map((p) => {
        if (p === '') throw new HexSigError(`empty option in alternative "(${body})"`);
        if (/[*{}[\]()!]/.test(p)) throw new HexSigError(`unsupported gap or nesting inside alternative "(${body})"`);
        return parseBytes(p, `alternative "(${body})"`);
      });
      if (negate && options.some((o) => o.mask.length !== options[0]!.mask.length)) {
        throw new HexSigError(`negated alternative "!(${body})" needs options of one length`);
      }
      out.push({ t: 'alt', options, negate });
      i = end + 1;
    } else if (c === '[') {
      throw new HexSigError('unsupported "[n-m]" byte-range gap');
    } else {
      throw new HexSigError(`invalid character "${c}" in hex signature`);
    }
  }
  if (pending.length % 2 !== 0) throw new HexSigError('odd number of hex digits at the end');
  flush();
  const last = out[out.length - 1];
  if (last !== undefined && last.t === 'gap') throw new HexSigError('signature ends with a gap');
  const anyFixed = out.some(
    (e) => (e.t === 'seq' && e.mask.some((m) => m !== 0)) || (e.t === 'alt' && !e.negate),
  );
  if (!anyFixed) throw new HexSigError('signature has no fixed byte (wildcards only)');
  return out;
}

/** Minimum number of bytes an element consumes. */
export function minLength(e: Element): number {
  if (e.t === 'seq') return e.mask.length;
  if (e.t === 'gap') return e.min;
  return Math.min(...e.options.map((o) => o.mask.length));
}

/** Where the anchor literal sits: in element `element`, bytes [from, from+bytes.length). */
export interface AnchorChoice {
  element: number;
  from: number;
  bytes: Buffer;
}

/** Bytes that are everywhere in files and make poor anchors. */
const COMMON = new Set([0x00, 0xff, 0x20, 0x0a, 0x0d, 0x90, 0xcc, 0x30]);

/** Longest anchor we feed the automaton (longer literals are checked at verification). */
export const MAX_ANCHOR = 12;

/**
 * Pick the anchor literal: the best window of at most MAX_ANCHOR fully fixed bytes,
 * scored by length and rarity (common bytes count less). Returns null when no fixed
 * run of at least `minBytes` exists.
 */
export function chooseAnchor(els: readonly Element[], minBytes = 2): AnchorChoice | null {
  let best: AnchorChoice | null = null;
  let bestScore = -1;
  els.forEach((e, idx) => {
    if (e.t !== 'seq') return;
    let i = 0;
    while (i < e.mask.length) {
      if (e.mask[i] !== 0xff) {
        i++;
        continue;
      }
      let j = i;
      while (j < e.mask.length && e.mask[j] === 0xff) j++;
      const runLen = j - i;
      if (runLen >= minBytes) {
        const w = Math.min(runLen, MAX_ANCHOR);
        for (let s = i; s + w <= j; s++) {
          let score = 0;
          const seen = new Set<number>();
          for (let k = s; k < s + w; k++) {
            const b = e.value[k]!;
            score += COMMON.has(b) ? 1 : 4;
            if (!seen.has(b)) score += 2;
            seen.add(b);
          }
          if (score > bestScore) {
            bestScore = score;
            best = { element: idx, from: s, bytes: Buffer.from(e.value.subarray(s, s + w)) };
          }
        }
      }
      i = j;
    }
  });
  return best;
}
