/**
 * PNG charts (throughput.png, latency.png, overhead.png) drawn by Chart.js on
 * @napi-rs/canvas — no DOM, no system libraries. Same chart specs as report.html.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Results } from '../results/types.js';
import { chartHasData, chartSet, CHART_NAMES, CHART_SIZE, type ChartSpec } from './charts.js';
import { errorBarsPlugin } from './errorbars.js';

/** The bits of Chart.js used here (its own types need the DOM lib, which Node code has not). */
interface ChartCtor {
  new (item: unknown, config: unknown): { destroy(): void };
  register(...items: unknown[]): void;
}

let chartModule: Promise<ChartCtor> | undefined;

async function loadChart(): Promise<ChartCtor> {
  chartModule ??= (async () => {
    const mod = (await import('chart.js')) as unknown as { Chart: ChartCtor; registerables: unknown[] };
    mod.Chart.register(...mod.registerables);
    return mod.Chart;
  })();
  return chartModule;
}

/** Paints the canvas white before the chart (a PNG is transparent otherwise). */
const whiteBackground = {
  id: 'avbenchWhiteBackground',
  beforeDraw(chart: { ctx: { save(): void; restore(): void; fillStyle: string; fillRect(x: number, y: number, w: number, h: number): void }; width: number; height: number }): void {
    const { ctx } = chart;
    ctx.save();
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
  },
};

/** Draw one chart spec to PNG bytes (with the whiskers of its datasets' `errorBars`). */
export async function chartToPng(spec: ChartSpec, size: { width: number; height: number } = CHART_SIZE): Promise<Buffer> {
  const Chart = await loadChart();
  const { createCanvas } = await import('@napi-rs/canvas');
  const canvas = createCanvas(size.width, size.height);
  const ctx = canvas.getContext('2d');
  // A structured clone: Chart.js writes into the config it is given.
  const config = { ...(JSON.parse(JSON.stringify(spec)) as ChartSpec), plugins: [whiteBackground, errorBarsPlugin()] };
  const chart = new Chart(ctx, config);
  try {
    return canvas.toBuffer('image/png');
  } finally {
    chart.destroy();
  }
}

/**
 * Write throughput.png, latency.png and overhead.png into `outDir` (a chart with nothing to
 * show — e.g. overhead with only direct runs — is skipped). Returns the paths written.
 */
export async function renderPngs(results: Results, outDir: string): Promise<string[]> {
  return writeChartPngs(chartSet(results), outDir);
}

/** Write every chart of `charts` that has data as NAME.png in `outDir`. */
export async function writeChartPngs(charts: Partial<Record<(typeof CHART_NAMES)[number], ChartSpec>>, outDir: string): Promise<string[]> {
  const written: string[] = [];
  for (const name of CHART_NAMES) {
    const spec = charts[name];
    if (spec === undefined || !chartHasData(spec)) continue;
    const path = join(outDir, `${name}.png`);
    await writeFile(path, await chartToPng(spec));
    written.push(path);
  }
  return written;
}
