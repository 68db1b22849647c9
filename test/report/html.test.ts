import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chartSet } from '../../src/report/charts.js';
import { renderHtml } from '../../src/report/html.js';
import { PAGE_SCRIPT } from '../../src/report/page.js';
import { HOSTILE, hostileResults, makeResults, makeRun, msg, sampleResults } from './fixtures.js';

/** The page split into its script blocks and the markup around them. */
function splitPage(page: string): { json: string; scripts: string[]; markup: string } {
  const jsonMatch = /<script type="application\/json" id="avbench-data">([\s\S]*?)<\/script>/.exec(page);
  const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>\n/g)].map((m) => m[1] ?? '');
  const markup = page.replace(/<script\b[^>]*>[\s\S]*?<\/script>/g, '');
  return { json: jsonMatch?.[1] ?? '', scripts, markup };
}

const ALLOWED_TAGS = new Set(
  'html head meta title style body header h1 h2 h3 p nav a ul li main section table thead tbody tr th td span strong br figure canvas figcaption code pre dl dt dd'.split(' '),
);

/** Every tag in the markup is one we write, and no attribute is an event handler. */
function expectOnlyOurMarkup(markup: string): void {
  const tags = [...markup.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9-]*)/g)].map((m) => (m[1] ?? '').toLowerCase());
  const foreign = [...new Set(tags.filter((t) => !ALLOWED_TAGS.has(t)))];
  expect(foreign).toEqual([]);
  expect(markup).not.toMatch(/\son[a-z]+\s*=/i);
  expect(markup).not.toMatch(/(href|src|action)\s*=\s*"?\s*javascript:/i);
}

function rowOf(page: string, runId: string): string {
  const m = new RegExp(`<tr data-run="${runId.replace(/\//g, '\\/')}">([\\s\\S]*?)</tr>`).exec(page);
  if (m === null) throw new Error(`no ranking row for ${runId}`);
  return m[1] ?? '';
}

describe('renderHtml', () => {
  const results = sampleResults();
  const page = renderHtml(results);

  it('is one self-contained page: Chart.js inline, no external reference, CSP forbidding the network', () => {
    expect(page.startsWith('<!DOCTYPE html>')).toBe(true);
    const { scripts } = splitPage(page);
    expect(scripts).toHaveLength(2);
    expect(scripts[0]).toContain('Chart');
    expect(scripts[0]?.length).toBeGreaterThan(100_000);
    expect(scripts[0]).not.toContain('sourceMappingURL');
    expect(scripts[1]).toBe(PAGE_SCRIPT);
    expect(page).not.toMatch(/\s(src|href|action|srcset|poster)\s*=\s*"(?!#)/i);
    expect(splitPage(page).markup).not.toMatch(/https?:\/\//);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(page)?.[1]?.replace(/&#39;/g, "'").replace(/&#61;/g, '=');
    expect(csp).toBeDefined();
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("img-src data:");
    const hashes = scripts.map((s) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`);
    expect(csp).toContain(`script-src ${hashes.join(' ')};`);
    // The CSP comes before every script.
    expect(page.indexOf('Content-Security-Policy')).toBeLessThan(page.indexOf('<script'));
  });

  it('carries the chart data as a JSON block that parses back to the chart specs', () => {
    const { json } = splitPage(page);
    expect(JSON.parse(json)).toEqual({ generator: 'avbench', schemaVersion: 1, startedAt: results.startedAt, charts: JSON.parse(JSON.stringify(chartSet(results))) });
    expect(page).toContain('<canvas data-chart="throughput"');
    expect(page).toContain('<canvas data-chart="latency"');
    expect(page).toContain('<canvas data-chart="overhead"');
  });

  it('ranks by detection and marks the best value of each column', () => {
    const order = [...page.matchAll(/<tr data-run="([^"]+)">/g)].map((m) => m[1]);
    expect(order).toEqual(['clamd/direct/c1', 'clamd/smtp/c1', 'embedded/direct/c1', 'embedded/smtp/c1']);
    const best = (id: string): string[] => [...rowOf(page, id).matchAll(/<td class="num best" title="[^"]*" data-best="yes">|<td class="num best" data-best="yes">/g)].map((m) => m[0]);
    // clamd direct: best detection (100 %); embedded direct: fastest, lowest p95, CPU, RSS, no FP.
    expect(rowOf(page, 'clamd/direct/c1')).toMatch(/<td class="num best"[^>]*>100\.0 %<\/td>/);
    expect(rowOf(page, 'embedded/direct/c1')).toMatch(/<td class="num best"[^>]*>9\u2009000/);
    expect(rowOf(page, 'embedded/direct/c1')).toMatch(/<td class="num best"[^>]*>0\.300<\/td>/);
    expect(rowOf(page, 'embedded/direct/c1')).toMatch(/<td class="num best"[^>]*>1\.20<\/td>/);
    expect(rowOf(page, 'embedded/smtp/c1')).not.toMatch(/<td class="num best"[^>]*>[0-9.\u2009]+ (MiB|KiB)/);
    // clamd smtp ties clamd direct on detection (its timeout is an error, not a miss) and
    // is best at nothing else; lost is 0 everywhere: nobody is "best" at a tie of all rows.
    expect(best('clamd/smtp/c1')).toHaveLength(1);
    expect(rowOf(page, 'clamd/smtp/c1')).toMatch(/<td class="num best"[^>]*>100\.0 %<\/td>/);
    expect(page).not.toMatch(/<td class="num best"[^>]*>0<\/td>\n<td class="num best"[^>]*>9/);
    // Spread over repeats is shown.
    expect(rowOf(page, 'embedded/direct/c1')).toContain('8\u2009550–9\u2009450 (3 runs)');
  });

  it('shows detection by category as a colour table, Table 1 with measured columns, and every problem message', () => {
    expect(page).toMatch(/<th class="d">uuencode<\/th><td class="t-bad">0\/1 · 0\.0 %<\/td>/);
    expect(page).toMatch(/<th class="d">clean<\/th><td class="t-good">0 FP \/ 2 clean<\/td><td class="t-good">0 FP \/ 2 clean<\/td><td class="t-bad">1 FP \/ 2 clean<\/td>/);
    expect(page).toMatch(/<tr data-mode="smtp"><td>A<\/td>/);
    expect(page).toMatch(/<tr data-mode="milter"><td>B<\/td>[\s\S]*?not run/);
    expect(page).toMatch(/<tr data-mode="lda"><td>C<\/td>/);
    // m03 timed out in clamd smtp; m05 is clamd's false positive; m06 is embedded's miss.
    const problems = /<table class="problems">([\s\S]*?)<\/table>/.exec(page)?.[1] ?? '';
    const rows = [...problems.matchAll(/<tr><td class="d">([^<]+)<\/td>/g)].map((m) => m[1]);
    expect(rows).toEqual(['m03.eml', 'm05.eml', 'm06.eml']);
    expect(problems).toContain('error: TIMEOUT');
    expect(problems).toContain('SMTP 451 4.3.0 scanner timeout');
    expect(problems).toMatch(/<span class="k-false-positive">false-positive<\/span>/);
    expect(problems).toMatch(/<span class="k-missed">missed<\/span>/);
  });

  it('adds the encoding from a manifest when given one', () => {
    const withManifest = renderHtml(results, { manifest: [{ file: 'm06.eml', expected: 'infected', category: 'uuencode', malformed: false, encoding: 'x-uuencode', part: '1:eicar.com' }] });
    expect(withManifest).toMatch(/<td class="d">m06\.eml<\/td><td class="d">uuencode<\/td><td>infected<\/td><td class="d">2:eicar\.com<\/td><td class="d">x-uuencode<\/td>/);
    // No manifest entry: the part comes from the results alone, the encoding says "–".
    expect(page).toMatch(/<td class="d">m05\.eml<\/td><td class="d">clean<\/td><td>clean<\/td><td class="d">2:eicar\.com<\/td><td class="d">–<\/td>/);
  });

  it('has the environment and how to reproduce the run', () => {
    expect(page).toContain('Test CPU @ 2.0GHz, 2 cores, 4.0 GiB memory');
    expect(page).toContain('ClamAV 1.4.3');
    expect(page).toContain('<pre><code class="d">avbench bench --corpus /tmp/corpus');
    expect(page).toContain('2026-11-24T10:00:00.000Z');
  });

  it('renders the same bytes for the same results (and from a JSON round trip)', () => {
    expect(renderHtml(sampleResults())).toBe(page);
    expect(renderHtml(JSON.parse(JSON.stringify(results)))).toBe(page);
  });

  it('copes with a corpus without labels, and with only direct runs', () => {
    const r = makeResults([makeRun({ scanner: 'embedded', mode: 'direct', msgsPerSec: 10, p95: 1, results: [msg('a.eml', 'any', 'x', 'clean')] })]);
    delete r.corpus.manifestSha256;
    const p = renderHtml(r);
    expect(p).toContain('Only direct runs: no mode overhead to chart.');
    expect(p).not.toContain('data-chart="overhead"');
    expect(p).toContain('no manifest (no detection figures)');
  });
});

describe('renderHtml with a hostile corpus', () => {
  const page = renderHtml(hostileResults());
  const { json, scripts, markup } = splitPage(page);

  it('creates no element and no handler from data', () => {
    expect(scripts).toHaveLength(2);
    expect([...page.matchAll(/<script\b/g)]).toHaveLength(3);
    expectOnlyOurMarkup(markup);
    expect(page).not.toContain('<img');
    expect(markup).not.toContain('onerror=');
    expect(markup).not.toContain("onmouseover='");
    expect(page).not.toContain('window.__pwned=1</script>');
  });

  it('shows every hostile string as text (escaped, not dropped)', () => {
    expect(markup).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(markup).toContain('&quot;&gt;&lt;img src&#61;x onerror&#61;alert(2)&gt;');
    expect(markup).toContain('&lt;/script&gt;&lt;script&gt;window.__pwned&#61;1&lt;/script&gt;');
    expect(markup).toContain('{{constructor.constructor(&quot;alert(3)&quot;)()}}');
    expect(markup).toContain('&#96;rm -rf /&#96;');
    expect(markup).toContain('a|b||c');
    expect(markup).toContain('&#39; onmouseover&#61;&#39;alert(4)');
    expect(markup).toContain('&lt;!-- &lt;script&gt;');
    expect(markup).toContain('nul\u2400esc\u241b');
    expect(markup).not.toContain('\u0000');
  });

  it('keeps the JSON block closed: no <, >, &, U+2028/2029 inside, and it parses', () => {
    expect(json).not.toMatch(/[<>&\u2028\u2029]/);
    const data = JSON.parse(json) as { charts: { latency: { data: { datasets: { label: string }[] } } } };
    expect(data.charts.latency.data.datasets.map((d) => d.label).join(' ')).toContain(HOSTILE.close);
  });

  it('escapes attribute values too (title, aria-label, data-run)', () => {
    const attrs = [...page.matchAll(/\s([a-z-]+)="([^"]*)"/g)];
    expect(attrs.length).toBeGreaterThan(50);
    for (const [, , value] of attrs) expect(value).not.toMatch(/[<>'`]/);
  });
});
