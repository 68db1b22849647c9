/**
 * The latency chart (issue 14.7): a cumulative distribution per run on a logarithmic
 * millisecond axis, so a p50 of 0.14 ms and a p99 of 37 ms are both visible; drawn as a
 * PNG with ink.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chartHasData, latencyCdf, latencyChart } from '../../src/report/charts.js';
import { renderPngs } from '../../src/report/png.js';
import { makeResults, makeRun, msg, sampleResults } from './fixtures.js';

describe('latency CDF', () => {
  it('gives the share of messages answered within each latency, ending at the slowest with 100 %', () => {
    const run = makeRun({ scanner: 'clamd', mode: 'direct', msgsPerSec: 100, p95: 37, results: [0.14, 0.15, 0.2, 0.3, 37].map((ms, i) => msg(`m${i}.eml`, 'clean', 'clean', 'clean', { ms })) });
    expect(latencyCdf(run)).toEqual([
      { x: 0.14, y: 20 },
      { x: 0.15, y: 40 },
      { x: 0.2, y: 60 },
      { x: 0.3, y: 80 },
      { x: 37, y: 100 },
    ]);
  });

  it('keeps at most 120 points for a big run, monotone in x and y', () => {
    const results = Array.from({ length: 5000 }, (_, i) => msg(`m${i}.eml`, 'clean', 'clean', 'clean', { ms: 0.1 + (i % 997) * 0.05 }));
    const cdf = latencyCdf(makeRun({ scanner: 'e', mode: 'direct', msgsPerSec: 1, p95: 1, results }));
    expect(cdf.length).toBeLessThanOrEqual(120);
    expect(cdf[cdf.length - 1]?.y).toBe(100);
    for (let i = 1; i < cdf.length; i++) {
      expect(cdf[i]!.x).toBeGreaterThan(cdf[i - 1]!.x);
      expect(cdf[i]!.y).toBeGreaterThan(cdf[i - 1]!.y);
    }
  });

  it('is a line chart per run on a logarithmic x axis, 0–100 % on y', () => {
    const r = sampleResults();
    const spec = latencyChart(r);
    expect(spec.type).toBe('line');
    expect(spec.data.datasets).toHaveLength(r.runs.length);
    const scales = spec.options['scales'] as { x: { type: string }; y: { min: number; max: number } };
    expect(scales.x.type).toBe('logarithmic');
    expect([scales.y.min, scales.y.max]).toEqual([0, 100]);
    expect(chartHasData(spec)).toBe(true);
    expect(chartHasData(latencyChart(makeResults([])))).toBe(false);
  });

  it('draws latency.png with ink', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'avbench-latency-'));
    try {
      const files = await renderPngs(sampleResults(), dir);
      expect(files.map((f) => f.slice(dir.length + 1))).toContain('latency.png');
      const png = await readFile(join(dir, 'latency.png'));
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(png.length).toBeGreaterThan(5_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
