/**
 * Fuzz: mutated messages and mutated containers through the whole scanning core
 * (scanMessage: MIME walk → container expansion → the embedded scanner). AVBENCH_FUZZ_RUNS
 * cases in total (default 2,000; `npm run test:faults` sets 100,000), split between the two
 * properties. Each case must give a verdict — clean, infected, or an error whose code is on
 * the stable list — never throw, and finish within its per-message time limit (a hang
 * would also trip the vitest timeout).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../adapters/index.js';
import { scanMessageDetailed } from '../../src/core/scan.js';
import type { Verdict } from '../../src/core/types.js';
import { containerSeeds, fuzzRuns, messageSeeds, mutate, mutationsArb, STABLE_CODES, withAttachments } from './seeds.js';

const RUNS = fuzzRuns();
const MESSAGE_RUNS = Math.ceil(RUNS / 2);
const CONTAINER_RUNS = RUNS - MESSAGE_RUNS;
const TIME_LIMIT_MS = 5_000;
const embedded = createEmbeddedAdapter();
// Small limits so bombs and deep nests hit them fast; the time limit is per message.
const limits = { timeoutMs: TIME_LIMIT_MS, maxExpandedBytes: 16 * 1024 * 1024, maxParts: 500, maxDepth: 12 };

let seeds: Buffer[] = [];
let containers: Buffer[] = [];
const tally = { clean: 0, infected: 0, error: 0, codes: new Map<string, number>(), slowestMs: 0 };

beforeAll(async () => {
  seeds = await messageSeeds();
  containers = await containerSeeds();
});

/** The property every case must hold; returns the verdict for tallying. */
async function check(raw: Buffer): Promise<Verdict> {
  const t0 = performance.now();
  const scan = await scanMessageDetailed(raw, { scanners: [embedded], limits });
  const ms = performance.now() - t0;
  const v = scan.verdict;
  expect(['clean', 'infected', 'error']).toContain(v.status);
  if (v.status === 'error') {
    expect(STABLE_CODES).toContain(v.error.code);
    expect(v.error.code).not.toBe('INTERNAL');
  }
  if (v.status === 'infected') expect(v.detections.length).toBeGreaterThan(0);
  // Within its time limit (the core's guard adds at most 1 s past the deadline).
  expect(ms).toBeLessThan(TIME_LIMIT_MS + 1_000);
  tally.slowestMs = Math.max(tally.slowestMs, ms);
  tally[v.status]++;
  if (v.status === 'error') tally.codes.set(v.error.code, (tally.codes.get(v.error.code) ?? 0) + 1);
  return v;
}

describe(`fuzz: ${RUNS} mutated messages through scanMessage (embedded scanner)`, () => {
  it('the seeds themselves: EICAR found in each seed that carries it, wherever it is nested', async () => {
    const found = await Promise.all(seeds.map(async (s) => (await scanMessageDetailed(s, { scanners: [embedded], limits })).verdict.status));
    expect(found).toEqual(['clean', 'clean', ...Array<string>(9).fill('infected'), 'clean']);
    for (const c of containers) {
      const v = (await scanMessageDetailed(withAttachments([{ name: 'x.bin', data: c }]), { scanners: [embedded], limits })).verdict;
      expect(v.status === 'infected' || c === containers[5]).toBe(true);
    }
  });

  it(`${MESSAGE_RUNS} mutated MIME messages: always a verdict, stable codes, in time`, async () => {
    const t0 = performance.now();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: seeds.length - 1 }), mutationsArb, async (k, muts) => {
        await check(mutate(seeds[k] as Buffer, muts));
      }),
      { numRuns: MESSAGE_RUNS },
    );
    process.stdout.write(`[fuzz] ${MESSAGE_RUNS} mutated messages in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }, 1_800_000);

  it(`${CONTAINER_RUNS} mutated containers (zip, tar, gzip, nested) as attachments: always a verdict, stable codes, in time`, async () => {
    const t0 = performance.now();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: containers.length - 1 }), mutationsArb, fc.constantFrom('x.zip', 'x.tar', 'x.gz', 'x.bin'), async (k, muts, name) => {
        const damaged = mutate(containers[k] as Buffer, muts);
        await check(withAttachments([{ name, data: damaged }]));
      }),
      { numRuns: CONTAINER_RUNS },
    );
    process.stdout.write(`[fuzz] ${CONTAINER_RUNS} mutated containers in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }, 1_800_000);

  it('saw every kind of verdict (the mutations reach the detections and the error paths)', () => {
    process.stdout.write(
      `[fuzz] verdicts: clean ${tally.clean}, infected ${tally.infected}, error ${tally.error} ${JSON.stringify(Object.fromEntries(tally.codes))}; slowest ${tally.slowestMs.toFixed(0)} ms\n`,
    );
    expect(tally.clean + tally.infected + tally.error).toBe(RUNS);
    expect(tally.infected).toBeGreaterThan(0);
    expect(tally.clean).toBeGreaterThan(0);
    if (RUNS >= 1_000) expect(tally.error).toBeGreaterThan(0);
  });
});
