/**
 * Aho–Corasick automaton over byte strings, in typed arrays.
 *
 * States are numbered in breadth-first order, so every failure link points to a smaller
 * number. The first `denseRows` states (the shallow ones, where a scan spends nearly all
 * its time) get a full 256-entry row of DFA transitions; deeper states keep their few
 * goto edges in CSR arrays and fall back along failure links until they reach a dense
 * state. Memory stays bounded whatever the number of patterns, and the common step is a
 * single array load.
 */

/** Dense rows at most (each 256 × 4 bytes: 1024 rows = 1 MiB, so the hot rows stay in cache). */
export const DEFAULT_DENSE_ROWS = 1024;

/** Structure figures, for load reports and tests. */
export interface AutomatonStats {
  patterns: number;
  states: number;
  denseRows: number;
  sparseEdges: number;
}

/** Called for each pattern occurrence: pattern id and the position just past its last byte. */
export type HitCallback = (pattern: number, end: number) => void;

/** An immutable automaton; `scan` may be called any number of times, on chunks too. */
export class Automaton {
  readonly stats: AutomatonStats;
  /** Dense rows for the scan loop: entry = target << 8, or ~(target << 8) when the target has outputs. */
  private readonly row: Int32Array;
  private readonly denseRows: number;
  private readonly fail: Int32Array;
  private readonly edgeStart: Int32Array;
  private readonly edgeByte: Uint8Array;
  private readonly edgeTo: Int32Array;
  private readonly outStart: Int32Array;
  private readonly outIds: Int32Array;
  /** Nearest state along the failure chain that has its own outputs, or -1. */
  private readonly dict: Int32Array;
  /** 1 when the state or its failure chain has outputs. */
  private readonly hasOut: Uint8Array;

  constructor(patterns: readonly Uint8Array[], maxDenseRows = DEFAULT_DENSE_ROWS) {
    const totalBytes = patterns.reduce((n, p) => n + p.length, 0);
    if (totalBytes >= 1 << 23) throw new RangeError(`too many anchor bytes for one automaton (${totalBytes}; at most ${(1 << 23) - 1})`);
    // 1. trie, with edges in a Map keyed state*256+byte
    const edges = new Map<number, number>();
    const own: number[][] = [[]];
    let count = 1;
    patterns.forEach((p, id) => {
      if (p.length === 0) throw new RangeError('empty pattern');
      let s = 0;
      for (const b of p) {
        const k = s * 256 + b;
        let t = edges.get(k);
        if (t === undefined) {
          t = count++;
          edges.set(k, t);
          own.push([]);
        }
        s = t;
      }
      own[s]!.push(id);
    });
    // children lists per state, sorted by byte
    const children: number[][] = Array.from({ length: count }, () => []);
    for (const k of edges.keys()) children[Math.floor(k / 256)]!.push(k % 256);
    for (const c of children) c.sort((a, b) => a - b);
    // 2. BFS renumbering
    const order = new Int32Array(count); // new id -> old id
    const renum = new Int32Array(count); // old id -> new id
    let head = 0;
    let tail = 1;
    order[0] = 0;
    while (head < tail) {
      const old = order[head++]!;
      for (const b of children[old]!) {
        const child = edges.get(old * 256 + b)!;
        order[tail++] = child;
      }
    }
    for (let n = 0; n < count; n++) renum[order[n]!] = n;
    // 3. CSR goto edges in new numbering
    const edgeStart = new Int32Array(count + 1);
    const edgeByte = new Uint8Array(edges.size);
    const edgeTo = new Int32Array(edges.size);
    let e = 0;
    for (let n = 0; n < count; n++) {
      edgeStart[n] = e;
      const old = order[n]!;
      for (const b of children[old]!) {
        edgeByte[e] = b;
        edgeTo[e] = renum[edges.get(old * 256 + b)!]!;
        e++;
      }
    }
    edgeStart[count] = e;
    const gotoOf = (s: number, b: number): number => {
      for (let k = edgeStart[s]!; k < edgeStart[s + 1]!; k++) if (edgeByte[k] === b) return edgeTo[k]!;
      return -1;
    };
    // 4. failure links (BFS order = numeric order)
    const fail = new Int32Array(count);
    const denseRows = Math.min(count, Math.max(1, maxDenseRows));
    const dense = new Int32Array(denseRows * 256);
    const step = (s: number, b: number): number => {
      for (;;) {
        if (s < denseRows) return dense[s * 256 + b]!;
        const t = gotoOf(s, b);
        if (t >= 0) return t;
        s = fail[s]!;
      }
    };
    for (let s = 0; s < count; s++) {
      // failure links of s's children, and s's dense row (fail[s] < s is already complete)
      for (let k = edgeStart[s]!; k < edgeStart[s + 1]!; k++) {
        const child = edgeTo[k]!;
        fail[child] = s === 0 ? 0 : step(fail[s]!, edgeByte[k]!);
      }
      if (s < denseRows) {
        for (let b = 0; b < 256; b++) {
          const t = gotoOf(s, b);
          dense[s * 256 + b] = t >= 0 ? t : s === 0 ? 0 : dense[fail[s]! * 256 + b]!;
        }
      }
    }
    // 5. outputs
    const outStart = new Int32Array(count + 1);
    let total = 0;
    for (let n = 0; n < count; n++) {
      outStart[n] = total;
      total += own[order[n]!]!.length;
    }
    outStart[count] = total;
    const outIds = new Int32Array(total);
    for (let n = 0; n < count; n++) outIds.set(own[order[n]!]!, outStart[n]!);
    const dict = new Int32Array(count).fill(-1);
    const hasOut = new Uint8Array(count);
    for (let s = 1; s < count; s++) {
      const f = fail[s]!;
      dict[s] = outStart[f + 1]! > outStart[f]! ? f : dict[f]!;
      hasOut[s] = outStart[s + 1]! > outStart[s]! || dict[s]! >= 0 ? 1 : 0;
    }
    // the scan table: dense rows as row offsets of the target (state << 8), bit-inverted when the target has outputs
    const row = new Int32Array(dense.length);
    for (let k = 0; k < dense.length; k++) {
      const t = dense[k]!;
      row[k] = hasOut[t] === 1 ? ~(t << 8) : t << 8;
    }
    this.row = row;
    this.denseRows = denseRows;
    this.fail = fail;
    this.edgeStart = edgeStart;
    this.edgeByte = edgeByte;
    this.edgeTo = edgeTo;
    this.outStart = outStart;
    this.outIds = outIds;
    this.dict = dict;
    this.hasOut = hasOut;
    this.stats = { patterns: patterns.length, states: count, denseRows, sparseEdges: edges.size };
  }

  /**
   * Run over data[from, to) starting in `state`; calls `onHit` for every occurrence (end
   * positions are absolute). Returns the state to continue with on the next chunk.
   */
  scan(data: Uint8Array, from: number, to: number, state: number, onHit: HitCallback): number {
    const row = this.row;
    const denseLimit = this.denseRows << 8;
    const fail = this.fail;
    const edgeStart = this.edgeStart;
    const edgeByte = this.edgeByte;
    const edgeTo = this.edgeTo;
    const hasOut = this.hasOut;
    // `off` is the current state's row offset (state << 8)
    let off = state << 8;
    for (let i = from; i < to; i++) {
      const b = data[i]!;
      if (off < denseLimit) {
        const e = row[off | b]!;
        if (e >= 0) {
          off = e;
          continue;
        }
        off = ~e;
        this.report(off >> 8, i + 1, onHit);
        continue;
      }
      let s = off >> 8;
      for (;;) {
        if (s < this.denseRows) {
          const e = row[(s << 8) | b]!;
          s = (e >= 0 ? e : ~e) >> 8;
          break;
        }
        let t = -1;
        const end = edgeStart[s + 1]!;
        for (let k = edgeStart[s]!; k < end; k++) {
          if (edgeByte[k] === b) {
            t = edgeTo[k]!;
            break;
          }
        }
        if (t >= 0) {
          s = t;
          break;
        }
        s = fail[s]!;
      }
      off = s << 8;
      if (hasOut[s] === 1) this.report(s, i + 1, onHit);
    }
    return off >> 8;
  }

  private report(s: number, end: number, onHit: HitCallback): void {
    let u = s;
    while (u >= 0) {
      for (let k = this.outStart[u]!; k < this.outStart[u + 1]!; k++) onHit(this.outIds[k]!, end);
      u = this.dict[u]!;
    }
  }
}
