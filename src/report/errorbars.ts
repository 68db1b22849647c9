/**
 * Error bars for Chart.js bar charts (Chart.js has none built in): a plugin that draws, after
 * the bars, a whisker from each dataset's `errorBars[i].low` to `.high` at bar i — the 95 %
 * interval the report shows beside every throughput and overhead figure. The chart specs stay
 * plain JSON (src/report/charts.ts puts the intervals in `dataset.errorBars`); the drawing is
 * one piece of source, written once as ES5 text so that report.html inlines exactly these
 * bytes (its CSP allows the page script by hash) and the PNG renderer runs the same code.
 */

/**
 * The plugin's `afterDatasetsDraw(chart)` as source text (ES5, no outside names): for each
 * visible dataset with `errorBars`, a vertical line from low to high with caps, clipped to the
 * chart area, in dark grey over the bar.
 */
export const ERROR_BARS_SOURCE = `function (chart) {
  var datasets = (chart.data && chart.data.datasets) || [];
  var area = chart.chartArea;
  var ctx = chart.ctx;
  for (var i = 0; i < datasets.length; i++) {
    var bars = datasets[i].errorBars;
    if (!bars || !chart.isDatasetVisible(i)) continue;
    var meta = chart.getDatasetMeta(i);
    var scale = meta.yScale || chart.scales.y;
    if (!scale) continue;
    for (var j = 0; j < bars.length; j++) {
      var bar = bars[j];
      var el = meta.data[j];
      if (!bar || !el || typeof bar.low !== 'number' || typeof bar.high !== 'number') continue;
      var top = Math.max(area.top, Math.min(area.bottom, scale.getPixelForValue(bar.high)));
      var bottom = Math.max(area.top, Math.min(area.bottom, scale.getPixelForValue(bar.low)));
      var cap = Math.max(3, Math.min(8, (el.width || 12) / 4));
      ctx.save();
      ctx.strokeStyle = '#1d1d1d';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(el.x, top);
      ctx.lineTo(el.x, bottom);
      ctx.moveTo(el.x - cap, top);
      ctx.lineTo(el.x + cap, top);
      ctx.moveTo(el.x - cap, bottom);
      ctx.lineTo(el.x + cap, bottom);
      ctx.stroke();
      ctx.restore();
    }
  }
}`;

/** The plugin's id (Chart.js `plugins: [{ id, afterDatasetsDraw }]`). */
export const ERROR_BARS_PLUGIN_ID = 'avbenchErrorBars';

let compiled: ((chart: unknown) => void) | undefined;

/**
 * The plugin object for Chart.js in Node (the PNG renderer): {@link ERROR_BARS_SOURCE} made
 * a function once, so the PNGs and the page draw the whiskers with the same code.
 */
export function errorBarsPlugin(): { id: string; afterDatasetsDraw: (chart: unknown) => void } {
  // A constant of this module, never input: the same text report.html inlines.
  compiled ??= new Function(`return (${ERROR_BARS_SOURCE});`)() as (chart: unknown) => void;
  return { id: ERROR_BARS_PLUGIN_ID, afterDatasetsDraw: compiled };
}
