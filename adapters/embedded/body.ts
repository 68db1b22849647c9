/**
 * The one-pass body matcher for .ndb signatures.
 *
 * Every anchored signature contributes one literal (its best fixed run, see
 * `chooseAnchor`) to a single Aho–Corasick automaton, built once when the matcher is
 * built. A scan is one pass of that automaton over the data; only where an anchor occurs
 * are the signature's other parts (wildcards, gaps, alternatives, offset window)
 * verified. Signatures with a narrow fixed offset are checked directly at their start
 * positions; the few with no fixed run of two bytes are checked position by position
 * (the "slow" list, reported at load).
 */
import { Automaton, type AutomatonStats } from './aho.js';
import type { NdbSignature } from './ndb.js';
import { Verifier, type StepCheck } from './matcher.js';
import { startWindow } from './offset.js';

/** Bytes scanned between deadline checks (and, in async scans, event-loop yields). */
export const CHUNK_BYTES = 1 << 20;

/** How many automata have ever been built in this process (tests assert one per database). */
export let automatonBuilds = 0;

/** Figures about a built matcher. */
export interface BodyStats {
  signatures: number;
  anchored: number;
  positional: number;
  slow: number;
  anchors: number;
  automaton: AutomatonStats | null;
}

type AnchoredSig = NdbSignature & { plan: { kind: 'anchored' } };

/** Compiled .ndb signatures; scan with `match` (async, yields) or `matchSync`. */
export class BodyMatcher {
  readonly stats: BodyStats;
  /** Passes over data made so far: exactly one per scanned unit, whatever the signature count. */
  passes = 0;
  private readonly automaton: Automaton | null;
  private readonly anchored: AnchoredSig[];
  private readonly positional: NdbSignature[];
  private readonly slow: NdbSignature[];
  private readonly anchorLen: Int32Array;
  private readonly sigStart: Int32Array;
  private readonly sigIds: Int32Array;

  constructor(sigs: readonly NdbSignature[]) {
    this.anchored = sigs.filter((s): s is AnchoredSig => s.plan.kind === 'anchored');
    this.positional = sigs.filter((s) => s.plan.kind === 'positional');
    this.slow = sigs.filter((s) => s.plan.kind === 'slow');
    // unique anchors → signatures using them (CSR)
    const idOf = new Map<string, number>();
    const patterns: Buffer[] = [];
    const users: number[][] = [];
    this.anchored.forEach((s, idx) => {
      const key = s.plan.anchor.toString('hex');
      let id = idOf.get(key);
      if (id === undefined) {
        id = patterns.length;
        idOf.set(key, id);
        patterns.push(s.plan.anchor);
        users.push([]);
      }
      users[id]!.push(idx);
    });
    this.anchorLen = Int32Array.from(patterns, (p) => p.length);
    this.sigStart = new Int32Array(patterns.length + 1);
    const flat: number[] = [];
    users.forEach((u, id) => {
      this.sigStart[id] = flat.length;
      flat.push(...u);
    });
    this.sigStart[patterns.length] = flat.length;
    this.sigIds = Int32Array.from(flat);
    if (patterns.length > 0) {
      this.automaton = new Automaton(patterns);
      automatonBuilds++;
    } else this.automaton = null;
    this.stats = {
      signatures: sigs.length,
      anchored: this.anchored.length,
      positional: this.positional.length,
      slow: this.slow.length,
      anchors: patterns.length,
      automaton: this.automaton?.stats ?? null,
    };
  }

  /** Names of matching signatures; runs to completion without yielding. */
  matchSync(data: Buffer, check: StepCheck = () => {}): string[] {
    const it = this.steps(data, check);
    for (;;) {
      const r = it.next();
      if (r.done === true) return r.value;
    }
  }

  /** Names of matching signatures; yields to the event loop between 1 MiB chunks so aborts can land. */
  async match(data: Buffer, check: StepCheck): Promise<string[]> {
    const it = this.steps(data, check);
    for (;;) {
      const r = it.next();
      if (r.done === true) return r.value;
      await new Promise<void>((resolve) => setImmediate(resolve));
      check();
    }
  }

  private *steps(data: Buffer, check: StepCheck): Generator<void, string[], void> {
    this.passes++;
    const size = data.length;
    const names: string[] = [];
    const add = (n: string): void => {
      if (!names.includes(n)) names.push(n);
    };
    const v = new Verifier(data, check);
    // narrow fixed offsets: check the few start positions directly
    for (const s of this.positional) {
      const w = startWindow(s.offset, size);
      if (w === null) continue;
      for (let p = w[0]; p <= w[1]; p++) {
        if (v.forward(s.elements, p)) {
          add(s.name);
          break;
        }
      }
    }
    // the one pass
    if (this.automaton !== null) {
      const found = new Uint8Array(this.anchored.length);
      let hits = 0;
      const onHit = (pattern: number, end: number): void => {
        if ((++hits & 0xfff) === 0) check();
        const start = end - this.anchorLen[pattern]!;
        for (let k = this.sigStart[pattern]!; k < this.sigStart[pattern + 1]!; k++) {
          const idx = this.sigIds[k]!;
          if (found[idx] === 1) continue;
          const s = this.anchored[idx]!;
          const w = startWindow(s.offset, size);
          if (w === null) continue;
          if (v.forward(s.plan.right, end) && v.backward(s.plan.left, start, w[0], w[1])) {
            found[idx] = 1;
            add(s.name);
          }
        }
      };
      let state = 0;
      for (let from = 0; from < size; from += CHUNK_BYTES) {
        const to = Math.min(size, from + CHUNK_BYTES);
        state = this.automaton.scan(data, from, to, state, onHit);
        check();
        if (to < size) yield;
      }
    }
    // no fixed run of two bytes: position by position
    for (const s of this.slow) {
      const w = startWindow(s.offset, size);
      if (w === null) continue;
      const first = s.elements[0];
      const lead = first !== undefined && first.t === 'seq' ? first.prefix : null;
      let p = lead === null ? w[0] : data.indexOf(lead, w[0]);
      let tried = 0;
      while (p !== -1 && p <= w[1]) {
        if (v.forward(s.elements, p)) {
          add(s.name);
          break;
        }
        if ((++tried & 0xffff) === 0) {
          check();
          yield;
        }
        p = lead === null ? p + 1 : data.indexOf(lead, p + 1);
      }
    }
    return names;
  }
}
