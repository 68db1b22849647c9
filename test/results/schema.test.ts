/**
 * schema/results.schema.json: a real bench's results validate; broken documents are
 * rejected with the path of what is wrong.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, type Results } from '../../src/results/types.js';
import { runBench } from '../../src/bench/runner.js';
import { validateResults } from '../../src/results/schema.js';
import { generateCorpus } from '../../src/corpus/generate.js';

let dir: string;
let good: Results;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-schema-test-'));
  await generateCorpus({ out: join(dir, 'quick'), profile: 'quick' });
  good = await runBench({ corpus: join(dir, 'quick'), scanners: ['embedded'], modes: ['direct'], repeat: 1, warmup: 0, limit: 40 });
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A deep copy changed by `f`. */
function broken(f: (d: any) => void): unknown {
  const d = JSON.parse(JSON.stringify(good));
  f(d);
  return d;
}

describe('results.json schema', () => {
  it('accepts real bench output, written as schema version 2', () => {
    expect(good.schemaVersion).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(2);
    expect(good.runs.some((r) => r.results.some((m) => m.verdict === 'infected'))).toBe(true);
    expect(validateResults(JSON.parse(JSON.stringify(good)))).toEqual([]);
  });

  it('names a later schema version as such', () => {
    expect(validateResults(broken((d) => (d.schemaVersion = 3)))).toEqual([{ path: '/schemaVersion', message: expect.stringMatching(/schema version 3 is newer than this avbench reads \(1, 2\)/) }]);
  });

  it('accepts a version 1 file without what version 2 always writes (v1 made them optional)', () => {
    const v1 = broken((d) => {
      d.schemaVersion = 1;
      delete d.settings;
      for (const r of d.runs) {
        delete r.completed;
        delete r.timeouts;
        delete r.counts;
        delete r.cold;
        delete r.throughputCi;
        delete r.detection.allCaughtNoFalsePositive;
        for (const x of r.repeats) {
          delete x.pass;
          delete x.round;
        }
      }
    });
    expect(validateResults(v1)).toEqual([]);
  });

  it.each([
    ['schema version 0', (d: any) => (d.schemaVersion = 0), '/schemaVersion'],
    ['a later schema version', (d: any) => (d.schemaVersion = 3), '/schemaVersion'],
    ['schema version as a string', (d: any) => (d.schemaVersion = '2'), '/schemaVersion'],
    ['v2 without settings', (d: any) => delete d.settings, '/'],
    ['v2 settings without cold', (d: any) => delete d.settings.cold, '/settings'],
    ['v2 run without completed', (d: any) => delete d.runs[0].completed, '/runs/0'],
    ['v2 run without timeouts', (d: any) => delete d.runs[0].timeouts, '/runs/0'],
    ['v2 run without counts', (d: any) => delete d.runs[0].counts, '/runs/0'],
    ['v2 detection without allCaughtNoFalsePositive', (d: any) => delete d.runs[0].detection.allCaughtNoFalsePositive, '/runs/0/detection'],
    ['v2 repeat without pass', (d: any) => delete d.runs[0].repeats[0].pass, '/runs/0/repeats/0'],
    ['missing host', (d: any) => delete d.host, '/'],
    ['unknown top-level key', (d: any) => (d.extra = 1), '/'],
    ['bad date', (d: any) => (d.startedAt = 'yesterday'), '/startedAt'],
    ['bad manifest hash', (d: any) => (d.corpus.manifestSha256 = 'xyz'), '/corpus/manifestSha256'],
    ['unknown mode', (d: any) => (d.runs[0].mode = 'uucp'), '/runs/0/mode'],
    ['negative throughput', (d: any) => (d.runs[0].throughput.msgsPerSec = -1), '/runs/0/throughput/msgsPerSec'],
    ['rate above 1', (d: any) => (d.runs[0].detection.detectionRate = 1.5), '/runs/0/detection/detectionRate'],
    ['missing fate', (d: any) => delete d.runs[0].fates.lost, '/runs/0/fates'],
    ['unknown verdict', (d: any) => (d.runs[0].results[0].verdict = 'probably-fine'), '/runs/0/results/0/verdict'],
    ['error without a code', (d: any) => Object.assign(d.runs[0].results[0], { verdict: 'error', names: [] }), '/runs/0/results/0'],
    ['clean with names', (d: any) => Object.assign(d.runs[0].results[0], { verdict: 'clean', names: ['X'] }), '/runs/0/results/0/names'],
    ['no repeats', (d: any) => (d.runs[0].repeats = []), '/runs/0/repeats'],
    ['extra field on a message', (d: any) => (d.runs[0].results[0].subject = 'hi'), '/runs/0/results/0'],
    ['unknown connection shape', (d: any) => (d.runs[0].shape = { connection: 'sometimes' }), '/runs/0/shape/connection'],
    ['rate of 0 (flat out is no rate)', (d: any) => (d.runs[0].shape = { connection: 'per-message', rate: 0 }), '/runs/0/shape/rate'],
    ['shape without connection', (d: any) => (d.runs[0].shape = { rate: 5 }), '/runs/0/shape'],
  ])('rejects %s', (_name, mutate, path) => {
    const problems = validateResults(broken(mutate));
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.map((p) => p.path)).toContain(path);
  });

  it('accepts the optional SMTP load shape on a run, and runs without it (older files)', () => {
    expect(validateResults(broken((d) => (d.runs[0].shape = { connection: 'per-message' })))).toEqual([]);
    expect(validateResults(broken((d) => (d.runs[0].shape = { connection: 'kept-open', rate: 12.5 })))).toEqual([]);
    expect(validateResults(broken((d) => delete d.runs[0].shape))).toEqual([]);
  });

  it('rejects fates that do not add up, and a missing record', () => {
    const p1 = validateResults(broken((d) => (d.runs[0].fates.scanned += 1)));
    expect(p1).toEqual([{ path: '/runs/0/fates', message: expect.stringMatching(/add up to 41, but the run has 40/) }]);
    const p2 = validateResults(broken((d) => d.runs[0].results.pop()));
    expect(p2.map((p) => p.path)).toEqual(['/runs/0/results']);
  });

  it('rejects what is not results at all', () => {
    expect(validateResults(null).length).toBeGreaterThan(0);
    expect(validateResults([]).length).toBeGreaterThan(0);
  });
});
