/**
 * Uncertainty in the report (issue 14.2) and cold/warm passes (14.1), on hand-made
 * results: a speed difference smaller than its interval is "no measurable difference", not a
 * ranking; the overhead table says so against direct and against the no-scan baseline; cold
 * and warm passes are shown apart. No timing: the figures are made up.
 */
import { describe, expect, it } from 'vitest';
import { coldWarmRows, overheadRows, rankRuns } from '../../src/report/model.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { validateResults } from '../../src/results/schema.js';
import type { Run } from '../../src/results/types.js';
import { makeResults, makeRun, msg } from './fixtures.js';

const clean = [msg('m01.eml', 'infected', 'plain', 'infected'), msg('m02.eml', 'clean', 'clean', 'clean')];

/** A run whose warm repeats are exactly `rates` (msgs/s), median as its figure. */
function run(scanner: string, mode: 'direct' | 'smtp', rates: number[], baseline = false): Run {
  const sorted = [...rates].sort((a, b) => a - b);
  const med = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const r = makeRun({ scanner, mode, msgsPerSec: med, p95: 2, results: clean.map((m) => ({ ...m, fate: mode === 'direct' ? 'scanned' : 'delivered', ...(baseline ? { verdict: 'clean', names: [] } : {}) })), baseline });
  r.repeats = rates.map((x, i) => ({ msgsPerSec: x, mbPerSec: x / 100, durationMs: 2000 / x, pass: 'warm', round: i + 1 }));
  return r;
}

describe('no measurable difference', () => {
  it('ranking: same counts and overlapping speeds share a place; a clear gap is ranked', () => {
    const a = run('alpha', 'direct', [500, 520, 480]);
    const b = run('beta', 'direct', [490, 530, 470]); // within alpha's noise
    const c = run('gamma', 'direct', [200, 205, 195]); // clearly slower
    const rows = rankRuns(makeResults([a, b, c]));
    expect(rows.map((r) => `${r.run.scanner.name}:${r.rank}${r.tiedWithAbove ? '=' : ''}`)).toEqual(['alpha:1', 'beta:1=', 'gamma:3']);
    expect(rows[0]!.ci).not.toBeNull();
    // The speed ★ goes to every row not measurably slower than the fastest.
    expect(rows.filter((r) => r.best.includes('msgsPerSec')).map((r) => r.run.scanner.name)).toEqual(['alpha', 'beta']);
    const page = renderHtml(makeResults([a, b, c]));
    expect(page).toContain('no measurable difference from the row above');
    expect(page).toContain('<td class="num">1&#61;</td>'); // "1=" escaped
    expect(page).toContain('95 % CI');
    const md = renderMarkdown(makeResults([a, b, c]));
    expect(md).toMatch(/\| 1= \| beta \|/);
    expect(md).toContain('≈ above: no measurable difference');
  });

  it('one repeat each: no interval, so nothing is called a tie (ranked by the figures as before)', () => {
    const a = run('alpha', 'direct', [500]);
    const b = run('beta', 'direct', [499]);
    const rows = rankRuns(makeResults([a, b]));
    expect(rows.map((r) => r.rank)).toEqual([1, 2]);
    expect(rows.every((r) => r.ci === null && !r.tiedWithAbove)).toBe(true);
  });

  it('overhead: the issue’s 1.96 ms against 2.00 ms for no scan is no measurable difference; a real cost is shown with its interval', () => {
    // ms per message: baseline smtp ~2.0 over direct; embedded smtp ~1.96 over its direct (both noisy).
    const bd = run('noop', 'direct', [4000, 4100, 3900], true);
    const bs = run('noop', 'smtp', [400, 440, 370], true);
    const ed = run('embedded', 'direct', [3900, 4000, 3800]);
    const es = run('embedded', 'smtp', [395, 445, 360]);
    const slow = run('clamd', 'smtp', [100, 101, 99]);
    const cd = run('clamd', 'direct', [1000, 1010, 990]);
    const results = makeResults([bd, bs, ed, es, cd, slow]);
    expect(validateResults(results)).toEqual([]);
    const rows = overheadRows(results);
    const of = (id: string) => rows.find((o) => o.run.id === id)!;
    expect(of('embedded/smtp/c1').overBaselineMeasurable).toBe(false);
    expect(of('embedded/smtp/c1').baseline?.id).toBe('baseline/smtp/c1');
    expect(of('embedded/smtp/c1').extraMeasurable).toBe(true); // smtp vs direct: a clear cost
    expect(of('clamd/smtp/c1').overBaselineMeasurable).toBe(true);
    expect(of('clamd/smtp/c1').overBaselineCi!.low).toBeGreaterThan(0);
    const page = renderHtml(results);
    const row = page.split('\n').find((l) => l.includes('data-overhead-run="embedded/smtp/c1"'))!;
    expect(row).toContain('no measurable difference');
    const clamdRow = page.split('\n').find((l) => l.includes('data-overhead-run="clamd/smtp/c1"'))!;
    expect(clamdRow).not.toContain('no measurable difference');
  });
});

describe('cold and warm passes', () => {
  it('shown apart, with the way the cache was emptied; a file without them says every figure is warm', () => {
    const warm = run('clamd', 'direct', [1300, 1400, 800]);
    warm.cold = {
      repeats: [300, 150, 190].map((x, i) => ({ msgsPerSec: x, mbPerSec: x / 100, durationMs: 2000 / x, pass: 'cold' as const, round: i + 1, p50Ms: 0.6 })),
      msgsPerSec: 190,
      mbPerSec: 1.9,
      latencyMs: { p50: 0.6, p95: 5, p99: 9, max: 20 },
      throughputCi: { low: 30, high: 400, level: 0.95, method: 't', n: 3 },
      reset: 'reload',
    };
    const results = makeResults([warm], { settings: { repeats: 3, warmup: 1, cold: true, order: 'interleaved' } });
    expect(validateResults(results)).toEqual([]);
    const [row] = coldWarmRows(results);
    expect(row).toMatchObject({ coldMsgsPerSec: 190, warmMsgsPerSec: 1300, reset: 'reload' });
    expect(row!.ratio).toBeCloseTo(1300 / 190, 6);
    const page = renderHtml(results);
    expect(page).toContain('data-coldwarm-run="clamd/direct/c1"');
    expect(page).toContain('clamd RELOAD + unique bytes');
    expect(page).toContain('rounds interleaved');
    expect(renderMarkdown(results)).toContain('### Cold and warm passes');
    const old = makeResults([run('clamd', 'direct', [1300, 1400, 800])]);
    expect(renderHtml(old)).toContain('No cold passes in this file');
    expect(renderMarkdown(old)).not.toContain('Cold and warm');
  });
});
