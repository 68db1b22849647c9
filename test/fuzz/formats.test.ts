/**
 * Fuzz (issue 16): the formats added to the scanning core — the 7-Zip ones (7z, bzip2, xz,
 * zip with 7-Zip-only methods, CAB, ARJ, CHM, OLE2, SZDD, NSIS, cpio) and the hand-written
 * ones (BinHex, PDF, RTF, TNEF, SIS, HTML data: URIs, mail in an attachment, PE overlays,
 * PowerPoint objects) — mutated the ways hostile mail does and attached to a message.
 * AVBENCH_FUZZ_RUNS / 4 cases (500 in the regular suite, 25,000 in `npm run test:faults`).
 * Each must give a verdict — clean (with or without unchecked parts), infected, or an error
 * with a stable code, never INTERNAL — never throw, and finish within its time limit.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../adapters/index.js';
import { scanMessageDetailed } from '../../src/core/scan.js';
import { formatSeeds, fuzzRuns, mutate, mutationsArb, STABLE_CODES, withAttachments } from './seeds.js';

const RUNS = Math.max(100, Math.ceil(fuzzRuns() / 4));
const TIME_LIMIT_MS = 5_000;
const embedded = createEmbeddedAdapter();
const limits = { timeoutMs: TIME_LIMIT_MS, maxExpandedBytes: 16 * 1024 * 1024, maxParts: 500, maxDepth: 12 };

let seeds: { name: string; data: Buffer }[] = [];
const tally = { clean: 0, unchecked: 0, infected: 0, error: 0, codes: new Map<string, number>(), slowestMs: 0 };

beforeAll(async () => {
  seeds = await formatSeeds();
}, 60_000);

describe(`fuzz: ${RUNS} mutated containers of the issue-16 formats through scanMessage`, () => {
  it('the seeds themselves: each one that holds EICAR is infected', async () => {
    for (const s of seeds) {
      const v = (await scanMessageDetailed(withAttachments([s]), { scanners: [embedded], limits })).verdict;
      if (!s.name.startsWith('clam')) expect(v.status, s.name).toBe('infected');
      else expect(['clean', 'infected']).toContain(v.status);
    }
  });

  it(`${RUNS} mutated containers: always a verdict, stable codes, in time`, async () => {
    const t0 = performance.now();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: seeds.length - 1 }), mutationsArb, async (k, muts) => {
        const seed = seeds[k] as { name: string; data: Buffer };
        const raw = withAttachments([{ name: seed.name, data: mutate(seed.data, muts) }]);
        const t = performance.now();
        const v = (await scanMessageDetailed(raw, { scanners: [embedded], limits })).verdict;
        const ms = performance.now() - t;
        expect(['clean', 'infected', 'error']).toContain(v.status);
        if (v.status === 'error') {
          expect(STABLE_CODES).toContain(v.error.code);
          expect(v.error.code, v.error.message).not.toBe('INTERNAL');
          tally.codes.set(v.error.code, (tally.codes.get(v.error.code) ?? 0) + 1);
        }
        expect(ms).toBeLessThan(TIME_LIMIT_MS + 1_000);
        tally.slowestMs = Math.max(tally.slowestMs, ms);
        if (v.status === 'clean' && v.unchecked !== undefined) tally.unchecked++;
        else tally[v.status]++;
      }),
      { numRuns: RUNS },
    );
    process.stdout.write(
      `[fuzz formats] ${RUNS} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s: clean ${tally.clean}, clean+unchecked ${tally.unchecked}, infected ${tally.infected}, error ${tally.error} ${JSON.stringify(Object.fromEntries(tally.codes))}; slowest ${tally.slowestMs.toFixed(0)} ms\n`,
    );
    expect(tally.infected).toBeGreaterThan(0);
  }, 3_600_000);
});
