import { describe, expect, it } from 'vitest';
import { median, quantile } from '../../src/bench/stats.js';

describe('quantile and median (linear interpolation, as the bench scripts print them)', () => {
  it('interpolates between the nearest ranks; the median of an even count is the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([10, 20, 30, 40, 50], 0.9)).toBeCloseTo(46);
    expect(quantile([5], 0.9)).toBe(5);
    expect(quantile([1, 2], 0)).toBe(1);
    expect(quantile([1, 2], 1)).toBe(2);
  });

  it('NaN for nothing, a range error for q outside 0..1, the input left as it was', () => {
    expect(median([])).toBeNaN();
    expect(() => quantile([1], 1.5)).toThrow(RangeError);
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
  });
});
