import { describe, expect, it } from 'vitest';
import { computeDetection, countFates, latencySummary, medianIndex, percentile, relativeSpread, type Judged } from '../../src/bench/stats.js';
import { buildRun } from '../../src/bench/runner.js';
import type { MessageResult } from '../../src/results/types.js';

const j = (expected: 'infected' | 'clean' | 'any', verdict: Judged['verdict'], category = 'c'): Judged => ({ expected, verdict, category });

describe('detection math', () => {
  it('counts tp / fn / fp / tn, errors apart, any and unlabelled excluded', () => {
    const d = computeDetection([
      j('infected', 'infected', 'zip'),
      j('infected', 'infected', 'zip'),
      j('infected', 'clean', 'zip'),
      j('infected', 'error', 'zip'), // neither tp nor fn
      j('clean', 'clean', 'plain'),
      j('clean', 'infected', 'plain'),
      j('clean', 'error', 'plain'),
      j('any', 'infected', 'near-miss'),
      { verdict: 'infected' }, // unlabelled
    ]);
    expect({ tp: d.tp, fn: d.fn, fp: d.fp, tn: d.tn, errors: d.errors }).toEqual({ tp: 2, fn: 1, fp: 1, tn: 1, errors: 2 });
    expect(d.detectionRate).toBeCloseTo(2 / 3);
    expect(d.falsePositiveRate).toBeCloseTo(1 / 2);
    expect(Object.keys(d.byCategory)).toEqual(['plain', 'zip']); // 'any' category not judged at all
    expect(d.byCategory['zip']).toMatchObject({ tp: 2, fn: 1, fp: 0, tn: 0, errors: 1, falsePositiveRate: null });
    expect(d.byCategory['plain']).toMatchObject({ tp: 0, fn: 0, fp: 1, tn: 1, errors: 1, detectionRate: null, falsePositiveRate: 0.5 });
    expect(d.vb100).toBe(false);
  });

  it('rates are null when undefined; VB100 needs every infected found, no FP, no error', () => {
    expect(computeDetection([]).detectionRate).toBeNull();
    expect(computeDetection([]).falsePositiveRate).toBeNull();
    expect(computeDetection([]).vb100).toBe(false);
    expect(computeDetection([j('infected', 'infected'), j('clean', 'clean'), j('any', 'clean')]).vb100).toBe(true);
    // An error on a message labelled `any` is still an error (src/results/counts.ts): not "all caught, no FP".
    expect(computeDetection([j('infected', 'infected'), j('clean', 'clean'), j('any', 'error')]).allCaughtNoFalsePositive).toBe(false);
    expect(computeDetection([j('infected', 'infected'), j('clean', 'error')]).vb100).toBe(false);
    expect(computeDetection([j('infected', 'infected'), j('infected', 'error')]).vb100).toBe(false);
    expect(computeDetection([j('clean', 'clean')]).vb100).toBe(false); // nothing infected to find
    expect(computeDetection([j('infected', 'infected'), j('clean', 'infected')]).vb100).toBe(false);
  });

  it('an error never counts as clean: all-error run has no fn and no tn', () => {
    const d = computeDetection([j('infected', 'error'), j('clean', 'error')]);
    expect(d).toMatchObject({ tp: 0, fn: 0, fp: 0, tn: 0, errors: 2, detectionRate: null, falsePositiveRate: null, vb100: false });
  });
});

describe('percentiles', () => {
  it('nearest rank', () => {
    const v = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 95)).toBe(95);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile(v, 100)).toBe(100);
    expect(percentile(v, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBe(0);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });
  it('latencySummary sorts a copy', () => {
    const ms = [5, 1, 4, 2, 3];
    expect(latencySummary(ms)).toEqual({ p50: 3, p95: 5, p99: 5, max: 5 });
    expect(ms).toEqual([5, 1, 4, 2, 3]);
  });
  it('median repeat and spread', () => {
    expect(medianIndex([{ r: 30 }, { r: 10 }, { r: 20 }], (x) => x.r)).toBe(2);
    expect(medianIndex([{ r: 30 }, { r: 10 }, { r: 20 }, { r: 40 }], (x) => x.r)).toBe(2); // lower middle
    expect(medianIndex([], () => 0)).toBe(-1);
    expect(relativeSpread([90, 100, 110])).toBeCloseTo(0.2);
    expect(relativeSpread([5])).toBe(0);
  });
});

describe('fates', () => {
  it('every message in exactly one fate; the sum is checked', () => {
    const f = countFates([{ fate: 'delivered' }, { fate: 'rejected' }, { fate: 'rejected' }, { fate: 'lost' }], 4);
    expect(f).toEqual({ scanned: 0, delivered: 1, tagged: 0, rejected: 2, tempfailed: 0, dropped: 0, lost: 1 });
    expect(() => countFates([{ fate: 'delivered' }], 2)).toThrow(/add up to 1/);
    expect(() => countFates([{ fate: 'vanished' as never }])).toThrow(/unknown fate/);
  });

  it('a run takes the median repeat’s records and figures', () => {
    const rec = (verdict: MessageResult['verdict'], ms: number): MessageResult => ({ file: 'm.eml', expected: 'infected', category: 'c', verdict, names: [], ms, fate: 'scanned', ...(verdict === 'error' ? { errorCode: 'TIMEOUT' } : {}) });
    const passes = [
      { records: [rec('infected', 1), rec('infected', 1)], durationMs: 100, bytes: 2e6 }, // 20 msg/s
      { records: [rec('infected', 5), rec('error', 9)], durationMs: 1000, bytes: 2e6 }, // 2 msg/s
      { records: [rec('infected', 2), rec('clean', 3)], durationMs: 200, bytes: 2e6 }, // 10 msg/s: median
    ];
    const run = buildRun('x/direct/c1', { name: 'x', type: 't' }, 'direct', 'direct', 1, false, passes);
    expect(run.throughput).toEqual({ msgsPerSec: 10, mbPerSec: 10 });
    expect(run.durationMs).toBe(200);
    expect(run.repeats.map((r) => r.msgsPerSec)).toEqual([20, 2, 10]);
    expect(run.detection).toMatchObject({ tp: 1, fn: 1, errors: 0 });
    expect(run.latencyMs).toEqual({ p50: 2, p95: 3, p99: 3, max: 3 });
    expect(run.fates.scanned).toBe(2);
  });
});
