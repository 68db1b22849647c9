/**
 * scripts/lib/ratios.ts: per-round ratios, their median, the target's verdict and the summary
 * table of bench-gateways-all (figures made up here; no timing).
 */
import { describe, expect, it } from 'vitest';
import { fmtRate, judge, loadRange, roundRatios, summaryTable, verdict, type Comparison } from '../../scripts/lib/ratios.js';

const row = (o: Partial<Comparison> = {}): Comparison => ({
  comparison: 'serve smtp vs Haraka + clamd',
  shape: 'per connection',
  figure: 'accepted',
  ours: [600, 300, 700],
  theirs: [150, 100, 140],
  target: 2,
  problems: 0,
  load1: [9.5, 12.25, 11],
  ...o,
});

describe('roundRatios', () => {
  it('divides the runs of the same round, over the rounds both sides have', () => {
    expect(roundRatios([600, 300, 700], [150, 100, 140])).toEqual([4, 3, 5]);
    expect(roundRatios([10, 20, 30], [5, 10])).toEqual([2, 2]);
  });

  it('skips a round whose reference gave 0 or no number', () => {
    expect(roundRatios([10, 20, 30], [0, 10, Number.NaN])).toEqual([2]);
    expect(roundRatios([], [1])).toEqual([]);
  });
});

describe('judge', () => {
  it('takes the median of the per-round ratios, not the ratio of the medians', () => {
    // medians 600 / 140 = 4.29; per-round ratios 4, 3, 5 → 4
    const r = judge(row());
    expect(r.oursMedian).toBe(600);
    expect(r.theirsMedian).toBe(140);
    expect(r.ratios).toEqual([4, 3, 5]);
    expect(r.ratio).toBe(4);
    expect(r.met).toBe(true);
  });

  it('is met at the target exactly, not below it', () => {
    expect(judge(row({ ours: [300], theirs: [150] })).met).toBe(true);
    expect(judge(row({ ours: [299], theirs: [150] })).met).toBe(false);
  });

  it('is not met when a run lost messages, whatever the ratio, nor without any round', () => {
    const lost = judge(row({ problems: 1 }));
    expect(lost.ratio).toBe(4);
    expect(lost.met).toBe(false);
    expect(verdict(lost)).toBe('**not met** (1 run with messages not accounted for)');
    expect(verdict(judge(row({ problems: 2 })))).toMatch(/2 runs with/);
    const none = judge(row({ ours: [], theirs: [] }));
    expect(Number.isNaN(none.ratio)).toBe(true);
    expect(none.met).toBe(false);
  });
});

describe('the summary table', () => {
  it('lists every run, the per-round ratios, the target, the verdict and the load range', () => {
    const t = summaryTable([judge(row()), judge(row({ comparison: 'serve milter vs amavisd-milter, behind the same Postfix', shape: 'kept-open', figure: 'delivered', ours: [90, 95.6], theirs: [60, 60], target: 3, load1: [4] }))]);
    const lines = t.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('| comparison | shape | ours msg/s [runs] | theirs msg/s [runs] | ratio: median of rounds (rounds) | target | verdict | load1 |');
    expect(lines[2]).toBe('| serve smtp vs Haraka + clamd | per connection | 600 [600, 300, 700] | 140 [150, 100, 140] | **4.00x** (4.00 / 3.00 / 5.00) | ≥ 2x | met | 9.5–12.3 |');
    expect(lines[3]).toBe('| serve milter vs amavisd-milter, behind the same Postfix | kept-open, delivered | 92.8 [90.0, 95.6] | 60.0 [60.0, 60.0] | **1.55x** (1.50 / 1.59) | ≥ 3x | **not met** | 4.0 |');
  });

  it('formats rates and load ranges', () => {
    expect(fmtRate(1234.4)).toBe('1234');
    expect(fmtRate(99.94)).toBe('99.9');
    expect(fmtRate(Number.NaN)).toBe('–');
    expect(loadRange([])).toBe('–');
    expect(loadRange([3, 3])).toBe('3.0');
  });
});
