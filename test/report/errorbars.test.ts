/**
 * Error bars (issue 14.2/14.7): the throughput and overhead charts carry each bar's 95 %
 * interval in `dataset.errorBars` — the same interval the tables show (throughputInterval,
 * overheadRows' extraCi) — the y axis is widened to hold them, the page script and the PNG
 * renderer draw them with the same plugin source, and the whiskers change the PNG's pixels.
 */
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { describe, expect, it } from 'vitest';
import { chartSet, overheadChart, throughputChart, type BarChartSpec } from '../../src/report/charts.js';
import { ERROR_BARS_PLUGIN_ID, ERROR_BARS_SOURCE } from '../../src/report/errorbars.js';
import { renderHtml } from '../../src/report/html.js';
import { overheadRows, throughputInterval } from '../../src/report/model.js';
import { PAGE_SCRIPT } from '../../src/report/page.js';
import { chartToPng } from '../../src/report/png.js';
import type { Run } from '../../src/results/types.js';
import { makeResults, makeRun, msg, sampleResults } from './fixtures.js';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-9);

/** A run with these warm repeat rates (msgs/s). */
function run(scanner: string, mode: 'direct' | 'smtp', rates: number[], baseline = false): Run {
  const r = makeRun({ scanner, mode, msgsPerSec: [...rates].sort((a, b) => a - b)[1]!, p95: 2, baseline, results: [msg('m01.eml', 'clean', 'clean', 'clean', { fate: mode === 'direct' ? 'scanned' : 'delivered' })] });
  r.repeats = rates.map((x, i) => ({ msgsPerSec: x, mbPerSec: x / 100, durationMs: 1000 / x, pass: 'warm', round: i + 1 }));
  return r;
}

/** Dark pixels (the whiskers are #1d1d1d; bars, text and grid are lighter or thinner). */
async function darkPixels(png: Buffer): Promise<number> {
  const img = await loadImage(png);
  const c = createCanvas(img.width, img.height);
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if ((d[i] ?? 255) < 60 && (d[i + 1] ?? 255) < 60 && (d[i + 2] ?? 255) < 60) n++;
  return n;
}

function withoutBars(spec: BarChartSpec): BarChartSpec {
  const s = JSON.parse(JSON.stringify(spec)) as BarChartSpec;
  for (const d of s.data.datasets) delete d.errorBars;
  return s;
}

describe('throughput chart error bars', () => {
  it('each bar carries its run’s 95 % interval (computed from the repeats of a file without one)', () => {
    const results = sampleResults();
    const spec = throughputChart(results);
    let checked = 0;
    for (const ds of spec.data.datasets) {
      expect(ds.errorBars).toHaveLength(spec.data.labels.length);
      spec.data.labels.forEach((scanner, j) => {
        const r = results.runs.find((x) => x.baseline !== true && x.scanner.name === scanner && x.mode === ds.label)!;
        const ci = throughputInterval(r)!;
        const bar = ds.errorBars![j]!;
        expect(rel(bar.low, ci.low)).toBeLessThan(1e-3);
        expect(rel(bar.high, ci.high)).toBeLessThan(1e-3);
        expect(bar.low).toBeLessThan(ds.data[j]!);
        expect(bar.high).toBeGreaterThan(ds.data[j]!);
        checked++;
      });
    }
    expect(checked).toBe(4); // embedded and clamd, direct and smtp
    const y = (spec.options['scales'] as { y: { suggestedMax?: number } }).y;
    expect(y.suggestedMax).toBeGreaterThanOrEqual(Math.max(...spec.data.datasets.flatMap((d) => d.errorBars!.map((b) => b!.high))));
  });

  it('uses the interval results.json recorded; a run with one repeat has no whisker', () => {
    const a = run('alpha', 'direct', [500, 520, 480]);
    a.throughputCi = { low: 111, high: 999, level: 0.95, method: 't', n: 3 };
    const b = run('beta', 'direct', [300, 300, 300]);
    b.repeats = [b.repeats[0]!];
    const spec = throughputChart(makeResults([a, b]));
    expect(spec.data.labels).toEqual(['alpha', 'beta']);
    expect(spec.data.datasets[0]!.errorBars).toEqual([{ low: 111, high: 999 }, null]);
  });
});

describe('overhead chart error bars', () => {
  it('each bar carries the interval of its extra ms over direct (the overhead table’s)', () => {
    const results = makeResults([
      run('noop', 'direct', [4000, 4100, 3900], true),
      run('noop', 'smtp', [400, 440, 370], true),
      run('embedded', 'direct', [3900, 4000, 3800]),
      run('embedded', 'smtp', [395, 445, 360]),
    ]);
    const rows = overheadRows(results);
    const spec = overheadChart(results);
    expect(spec.data.labels).toEqual(['smtp']);
    for (const ds of spec.data.datasets) {
      const row = rows.find((o) => (o.run.baseline === true ? ds.label.startsWith('no scan') : ds.label === o.run.scanner.name))!;
      expect(row.extraCi).not.toBeNull();
      expect(rel(ds.errorBars![0]!.low, row.extraCi!.low)).toBeLessThan(1e-3);
      expect(rel(ds.errorBars![0]!.high, row.extraCi!.high)).toBeLessThan(1e-3);
    }
  });

  it('widens the axis below 0 when an interval goes there', () => {
    const results = makeResults([run('x', 'direct', [1000, 400, 1600]), run('x', 'smtp', [900, 300, 1700])]);
    const spec = overheadChart(results);
    const low = spec.data.datasets[0]!.errorBars![0]!.low;
    expect(low).toBeLessThan(0);
    expect((spec.options['scales'] as { y: { suggestedMin?: number } }).y.suggestedMin).toBe(low);
  });
});

describe('drawing', () => {
  it('report.html hands the intervals to the page, whose script registers the error-bar plugin', () => {
    const results = sampleResults();
    const page = renderHtml(results);
    const block = /<script type="application\/json" id="avbench-data">([\s\S]*?)<\/script>/.exec(page)![1]!;
    const data = JSON.parse(block) as { charts: ReturnType<typeof chartSet> };
    expect(data.charts.throughput.data.datasets[0]!.errorBars).toEqual(chartSet(results).throughput.data.datasets[0]!.errorBars);
    expect(data.charts.overhead.data.datasets.some((d) => (d.errorBars ?? []).some((b) => b !== null))).toBe(true);
    expect(PAGE_SCRIPT).toContain(ERROR_BARS_SOURCE);
    expect(PAGE_SCRIPT).toContain(`id: '${ERROR_BARS_PLUGIN_ID}'`);
    expect(page).toContain(PAGE_SCRIPT);
  });

  it('the PNG shows the whiskers: more dark pixels with errorBars than without', async () => {
    const results = sampleResults();
    for (const spec of [throughputChart(results), overheadChart(results)]) {
      const withIt = await darkPixels(await chartToPng(spec));
      const without = await darkPixels(await chartToPng(withoutBars(spec)));
      expect(withIt).toBeGreaterThan(without + 20);
    }
  });
});
