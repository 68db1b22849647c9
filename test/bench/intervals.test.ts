/**
 * The bench's uncertainty and order (issue 14.2): Student's t intervals over repeats, Welch's
 * interval of a difference, the interleaved schedule (round 1 of every cell before round 2 of
 * any, each cell warmed right before its measured pass), and the cold pass's header line.
 * Pure functions on hand-made numbers: no timing.
 */
import { describe, expect, it } from 'vitest';
import { differenceInterval, meanInterval, measurable, tQuantile975 } from '../../src/bench/stats.js';
import { planSchedule, sumUse, withPassHeader, PASS_HEADER } from '../../src/bench/runner.js';

describe('confidence intervals', () => {
  it('t quantiles: the table, fractional df rounded down, 1.96 far out', () => {
    expect(tQuantile975(1)).toBe(12.706);
    expect(tQuantile975(2)).toBe(4.303);
    expect(tQuantile975(2.9)).toBe(4.303);
    expect(tQuantile975(30)).toBe(2.042);
    expect(tQuantile975(1000)).toBe(1.96);
    expect(() => tQuantile975(0)).toThrow(RangeError);
  });

  it('mean ± t·s/√n over repeats; null below two values', () => {
    // 10, 12, 14: mean 12, s = 2, n = 3: half-width 4.303 · 2 / √3 = 4.969
    const ci = meanInterval([10, 12, 14])!;
    expect(ci.mean).toBe(12);
    expect(ci.high - ci.mean).toBeCloseTo((4.303 * 2) / Math.sqrt(3), 9);
    expect(ci.mean - ci.low).toBeCloseTo(ci.high - ci.mean, 9);
    expect(ci).toMatchObject({ level: 0.95, method: 't', n: 3 });
    expect(meanInterval([5])).toBeNull();
    expect(meanInterval([])).toBeNull();
    expect(meanInterval([7, 7, 7])).toMatchObject({ low: 7, high: 7 });
  });

  it("Welch's interval of a difference; measurable only when it leaves 0 out", () => {
    // Far apart, tight: measurable.
    const apart = differenceInterval([100, 101, 99], [50, 51, 49])!;
    expect(apart.mean).toBe(50);
    expect(apart.low).toBeGreaterThan(0);
    expect(measurable(apart)).toBe(true);
    // The case: 1.96 ms against 2.00 ms with repeats that overlap: no measurable difference.
    const close = differenceInterval([1.7, 1.96, 2.2], [1.8, 2.0, 2.2])!;
    expect(close.low).toBeLessThan(0);
    expect(close.high).toBeGreaterThan(0);
    expect(measurable(close)).toBe(false);
    // Welch's df: a side with no spread leaves n − 1 of the other.
    const oneSided = differenceInterval([10, 12, 14], [5, 5, 5])!;
    expect(oneSided.high - oneSided.mean).toBeCloseTo((4.303 * 2) / Math.sqrt(3), 9);
    // Too few repeats: no interval, no verdict either way.
    expect(differenceInterval([1], [2, 3])).toBeNull();
    expect(measurable(null)).toBeNull();
    // Both sides without spread: the single difference.
    expect(measurable(differenceInterval([3, 3], [3, 3]))).toBe(false);
    expect(measurable(differenceInterval([4, 4], [3, 3]))).toBe(true);
  });
});

describe('the interleaved schedule', () => {
  it('round 1 of every cell, then round 2; cold, warm-up, then the measured warm pass per cell', () => {
    const steps = planSchedule(3, 2, 1, true).map((s) => `${s.round}:${s.cell}:${s.kind}`);
    expect(steps).toEqual([
      '1:0:cold', '1:0:warmup', '1:0:warm',
      '1:1:cold', '1:1:warmup', '1:1:warm',
      '1:2:cold', '1:2:warmup', '1:2:warm',
      '2:0:cold', '2:0:warmup', '2:0:warm',
      '2:1:cold', '2:1:warmup', '2:1:warm',
      '2:2:cold', '2:2:warmup', '2:2:warm',
    ]);
  });

  it('without cold passes or warm-up: one measured pass per cell per round', () => {
    expect(planSchedule(2, 3, 0, false).map((s) => `${s.round}:${s.cell}:${s.kind}`)).toEqual(['1:0:warm', '1:1:warm', '2:0:warm', '2:1:warm', '3:0:warm', '3:1:warm']);
    expect(planSchedule(2, 1, 2, false).filter((s) => s.kind === 'warmup')).toHaveLength(4);
  });

  it('resource use over passes: CPU added up, peaks the highest', () => {
    const u = sumUse([
      { avbench: { cpuSeconds: 1, peakRssBytes: 10 }, scanner: { cpuSeconds: 2, peakRssBytes: 5, pids: [7] } },
      { avbench: { cpuSeconds: 0.5, peakRssBytes: 30 }, scanner: { cpuSeconds: 1, peakRssBytes: 9, pids: [7, 8] }, children: { cpuSeconds: 3 } },
    ]);
    expect(u).toEqual({ avbench: { cpuSeconds: 1.5, peakRssBytes: 30 }, scanner: { cpuSeconds: 3, peakRssBytes: 9, pids: [7, 8] }, children: { cpuSeconds: 3 } });
  });
});

describe('the cold pass header', () => {
  it('goes on top in the message’s own line ending, after an mbox From line; the rest is unchanged', () => {
    const crlf = Buffer.from('Subject: a\r\n\r\nbody\r\n');
    expect(withPassHeader(crlf, 'n1').toString()).toBe(`${PASS_HEADER}: n1\r\nSubject: a\r\n\r\nbody\r\n`);
    const lf = Buffer.from('Subject: a\n\nbody\n');
    expect(withPassHeader(lf, 'n2').toString()).toBe(`${PASS_HEADER}: n2\nSubject: a\n\nbody\n`);
    const mbox = Buffer.from('From x@y Fri Dec  4 10:00:00 2026\nSubject: a\n\nb\n');
    expect(withPassHeader(mbox, 'n3').toString()).toBe(`From x@y Fri Dec  4 10:00:00 2026\n${PASS_HEADER}: n3\nSubject: a\n\nb\n`);
    expect(withPassHeader(lf, 'a').equals(withPassHeader(lf, 'b'))).toBe(false);
  });
});
