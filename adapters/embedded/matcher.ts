/**
 * Verification of compiled body-signature elements against data: forward from a
 * position (what follows an anchor) and backward to a start position (what precedes it,
 * with the signature's offset window). Backtracking over gaps and alternatives, with a
 * failure memo so that no (element, position) pair is tried twice.
 */
import type { AltOption, Element, SeqElement } from './hexsig.js';

/** Called every few thousand steps so long verifications honour deadlines. */
export type StepCheck = () => void;

const STEP_CHECK_EVERY = 4096;

function bytesAt(data: Uint8Array, pos: number, mask: Uint8Array, value: Uint8Array): boolean {
  const n = mask.length;
  if (pos < 0 || pos + n > data.length) return false;
  for (let k = 0; k < n; k++) {
    if ((data[pos + k]! & mask[k]!) !== value[k]) return false;
  }
  return true;
}

function anyOption(data: Uint8Array, pos: number, options: readonly AltOption[]): boolean {
  for (const o of options) if (bytesAt(data, pos, o.mask, o.value)) return true;
  return false;
}

/** Matcher for one data buffer; reuse for many verifications of that buffer. */
export class Verifier {
  private steps = 0;
  constructor(
    private readonly data: Buffer,
    private readonly check: StepCheck,
  ) {}

  private tick(): void {
    if (++this.steps % STEP_CHECK_EVERY === 0) this.check();
  }

  /** Do `els` match starting at `pos` (anything may follow)? */
  forward(els: readonly Element[], pos: number): boolean {
    if (els.length === 0) return true;
    const failed = new Set<number>();
    return this.fwd(els, 0, pos, failed);
  }

  private fwd(els: readonly Element[], i: number, pos: number, failed: Set<number>): boolean {
    const data = this.data;
    for (;;) {
      if (i === els.length) return true;
      this.tick();
      const e = els[i]!;
      if (e.t === 'seq') {
        if (!bytesAt(data, pos, e.mask, e.value)) return false;
        pos += e.mask.length;
        i++;
        continue;
      }
      const key = i * (data.length + 1) + pos;
      if (failed.has(key)) return false;
      let ok = false;
      if (e.t === 'alt') {
        if (e.negate) {
          const len = e.options[0]!.mask.length;
          ok = pos + len <= data.length && !anyOption(data, pos, e.options) && this.fwd(els, i + 1, pos + len, failed);
        } else {
          for (const o of e.options) {
            if (bytesAt(data, pos, o.mask, o.value) && this.fwd(els, i + 1, pos + o.mask.length, failed)) {
              ok = true;
              break;
            }
          }
        }
      } else {
        ok = this.gapForward(els, i, e.min, e.max, pos, failed);
      }
      if (!ok) failed.add(key);
      return ok;
    }
  }

  private gapForward(els: readonly Element[], i: number, min: number, max: number, pos: number, failed: Set<number>): boolean {
    const data = this.data;
    const lo = pos + min;
    const hi = Math.min(pos + max, data.length);
    const next = els[i + 1] as Element; // a gap is never last
    if (next.t === 'seq' && next.prefix !== null) {
      let q = data.indexOf(next.prefix, lo);
      while (q !== -1 && q <= hi) {
        if (this.fwd(els, i + 1, q, failed)) return true;
        q = data.indexOf(next.prefix, q + 1);
      }
      return false;
    }
    for (let q = lo; q <= hi; q++) if (this.fwd(els, i + 1, q, failed)) return true;
    return false;
  }

  /**
   * Do `els` match ending exactly at `end` (exclusive) with their start in [lo, hi]?
   * With no elements, the start is `end` itself.
   */
  backward(els: readonly Element[], end: number, lo: number, hi: number): boolean {
    if (els.length === 0) return end >= lo && end <= hi;
    const failed = new Set<number>();
    return this.bwd(els, els.length - 1, end, lo, hi, failed);
  }

  private bwd(els: readonly Element[], i: number, end: number, lo: number, hi: number, failed: Set<number>): boolean {
    const data = this.data;
    for (;;) {
      if (i < 0) return end >= lo && end <= hi;
      if (end < lo) return false;
      this.tick();
      const e = els[i]!;
      if (e.t === 'seq') {
        const start = end - e.mask.length;
        if (!bytesAt(data, start, e.mask, e.value)) return false;
        end = start;
        i--;
        continue;
      }
      const key = i * (data.length + 1) + end;
      if (failed.has(key)) return false;
      let ok = false;
      if (e.t === 'alt') {
        if (e.negate) {
          const len = e.options[0]!.mask.length;
          ok = end - len >= 0 && !anyOption(data, end - len, e.options) && this.bwd(els, i - 1, end - len, lo, hi, failed);
        } else {
          for (const o of e.options) {
            const s = end - o.mask.length;
            if (bytesAt(data, s, o.mask, o.value) && this.bwd(els, i - 1, s, lo, hi, failed)) {
              ok = true;
              break;
            }
          }
        }
      } else {
        ok = this.gapBackward(els, i, e.min, e.max, end, lo, hi, failed);
      }
      if (!ok) failed.add(key);
      return ok;
    }
  }

  private gapBackward(
    els: readonly Element[],
    i: number,
    min: number,
    max: number,
    end: number,
    lo: number,
    hi: number,
    failed: Set<number>,
  ): boolean {
    const data = this.data;
    // the previous element ends at q, with end-max <= q <= end-min (and q >= lo)
    const qHi = end - min;
    const qLo = Math.max(0, lo, end - max);
    const prev = els[i - 1] as Element; // a gap is never first
    if (prev.t === 'seq' && prev.suffix !== null) {
      const sl = prev.suffix.length;
      if (qHi - sl < 0) return false;
      let s = data.lastIndexOf(prev.suffix, qHi - sl);
      while (s !== -1 && s + sl >= qLo) {
        if (this.bwd(els, i - 1, s + sl, lo, hi, failed)) return true;
        if (s === 0) break;
        s = data.lastIndexOf(prev.suffix, s - 1);
      }
      return false;
    }
    for (let q = qHi; q >= qLo; q--) if (this.bwd(els, i - 1, q, lo, hi, failed)) return true;
    return false;
  }
}

/** Does a seq element contain only fully fixed bytes? */
export function isFixed(e: SeqElement): boolean {
  return e.mask.every((m) => m === 0xff);
}
