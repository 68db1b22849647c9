import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Automaton } from '../../../adapters/embedded/aho.js';

/** Every (pattern, end) occurrence, found naively with indexOf. */
function naive(patterns: Uint8Array[], data: Buffer): string[] {
  const out: string[] = [];
  patterns.forEach((p, id) => {
    let i = data.indexOf(p);
    while (i !== -1) {
      out.push(`${id}@${i + p.length}`);
      i = data.indexOf(p, i + 1);
    }
  });
  return out.sort();
}

function viaAutomaton(a: Automaton, data: Buffer, chunk: number): string[] {
  const out: string[] = [];
  let s = 0;
  for (let from = 0; from < data.length; from += chunk) {
    s = a.scan(data, from, Math.min(data.length, from + chunk), s, (id, end) => out.push(`${id}@${end}`));
  }
  return out.sort();
}

describe('Aho–Corasick automaton', () => {
  const small = fc.uint8Array({ minLength: 1, maxLength: 5 }).map((a) => Uint8Array.from(a, (x) => x % 3));
  it('finds exactly the occurrences indexOf finds — dense, mixed and all-sparse layouts, across chunk borders', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(small, { minLength: 1, maxLength: 30, selector: (p) => Buffer.from(p).toString('hex') }),
        fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a.map((x) => x % 3))),
        fc.constantFrom(1, 3, 4096),
        fc.integer({ min: 1, max: 50 }),
        (patterns, data, dense, chunk) => {
          const a = new Automaton(patterns, dense);
          expect(viaAutomaton(a, data, chunk)).toEqual(naive(patterns, data));
        },
      ),
      { numRuns: 1500 },
    );
  });
  it('has one state per distinct trie prefix, and bounded dense rows', () => {
    const a = new Automaton([Buffer.from('he'), Buffer.from('she'), Buffer.from('his'), Buffer.from('hers')], 3);
    // root, h, he, her, hers, hi, his, s, sh, she
    expect(a.stats).toEqual({ patterns: 4, states: 10, denseRows: 3, sparseEdges: 9 });
  });
});
