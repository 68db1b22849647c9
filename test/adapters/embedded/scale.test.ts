import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import * as body from '../../../adapters/embedded/body.js';
import { signatureDbFromText } from '../../../adapters/embedded/loader.js';
import { EICAR_BYTES } from '../../../adapters/embedded/eicar.js';
import { MAX_ANCHOR } from '../../../adapters/embedded/hexsig.js';

/** Deterministic bytes (sha256 counter mode), so failures reproduce. */
function bytes(seed: string, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0, k = 0; i < n; k++) {
    const h = createHash('sha256').update(`${seed}:${k}`).digest();
    h.copy(out, i, 0, Math.min(32, n - i));
    i += 32;
  }
  return out;
}

/** 5,000 random .ndb signatures, some with wildcards and gaps; returns lines and a concrete instance of each. */
function generate(count: number): { lines: string[]; instances: Buffer[] } {
  const lines: string[] = [];
  const instances: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const r = bytes(`sig${i}`, 40);
    const a = r.subarray(0, 8 + (r[32]! % 9));
    const b = r.subarray(20, 26);
    const form = i % 4;
    let hex: string;
    let inst: Buffer;
    if (form === 0) {
      hex = a.toString('hex');
      inst = Buffer.from(a);
    } else if (form === 1) {
      hex = `${a.toString('hex')}????${b.toString('hex')}`;
      inst = Buffer.concat([a, Buffer.from([1, 2]), b]);
    } else if (form === 2) {
      hex = `${a.toString('hex')}{2-5}${b.toString('hex')}`;
      inst = Buffer.concat([a, Buffer.from([7, 7, 7]), b]);
    } else {
      hex = `${b.toString('hex')}*${a.toString('hex')}`;
      inst = Buffer.concat([b, Buffer.alloc(100, 0x55), a]);
    }
    lines.push(`Gen.${i}:0:*:${hex}`);
    instances.push(inst);
  }
  return { lines, instances };
}

describe('5,000 generated body signatures + EICAR', () => {
  const { lines, instances } = generate(5000);
  lines.push(`Eicar-Test-NDB:0:*:${EICAR_BYTES.toString('hex')}`);
  const before = body.automatonBuilds;
  const { db, report } = signatureDbFromText({ ndb: lines.join('\n') });

  it('loads all of them into one automaton, built once', () => {
    expect(report.rejected).toEqual([]);
    expect(report.signatures.ndb).toBe(5001);
    expect(body.automatonBuilds - before).toBe(1);
    const st = db.body.stats;
    expect(st).toMatchObject({ signatures: 5001, anchored: 5001, positional: 0, slow: 0, anchors: 5001 });
    expect(st.automaton).not.toBeNull();
    expect(st.automaton!.patterns).toBe(5001);
    // one trie: at most 1 + MAX_ANCHOR states per pattern, and far more than a handful
    expect(st.automaton!.states).toBeLessThanOrEqual(1 + 5001 * MAX_ANCHOR);
    expect(st.automaton!.states).toBeGreaterThan(5001 * 4);
  });

  it('finds exactly the planted signatures, in one pass per unit, without rebuilding', () => {
    const picks = [0, 1, 2, 3, 1234, 2501, 3333, 4998, 4999];
    const filler = bytes('filler', 3 << 20);
    const parts: Buffer[] = [];
    picks.forEach((p, k) => {
      parts.push(filler.subarray(k * 300_000, (k + 1) * 300_000), instances[p]!);
    });
    parts.push(Buffer.from('..'), EICAR_BYTES, Buffer.from('..'));
    const data = Buffer.concat(parts);
    const passes = db.body.passes;
    const found = db.body.matchSync(data);
    expect(db.body.passes - passes).toBe(1);
    expect(found.sort()).toEqual([...picks.map((p) => `Gen.${p}`), 'Eicar-Test-NDB'].sort());
    expect(db.body.matchSync(filler)).toEqual([]);
    expect(db.body.passes - passes).toBe(2);
    expect(body.automatonBuilds - before).toBe(1);
  });

  it('a near miss (one byte changed in each planted instance) finds nothing', () => {
    const mutated = [0, 1, 2, 3].map((p) => {
      const m = Buffer.from(instances[p]!);
      m[m.length - 1] = m[m.length - 1]! ^ 0xff;
      return m;
    });
    expect(db.body.matchSync(Buffer.concat(mutated.flatMap((m) => [Buffer.from('-----'), m])))).toEqual([]);
  });
});
