import { describe, expect, it } from 'vitest';
import type { Results } from '../../src/results/types.js';
import { compareResults } from '../../src/report/compare.js';
import { renderCompareHtml } from '../../src/report/compare-html.js';
import { renderCompareMarkdown } from '../../src/report/markdown.js';
import { hostileResults, makeRun, sampleResults } from './fixtures.js';

/** "After a signature update": embedded now finds m06 but loses m02; clamd stops flagging m05 and flags m04; both get slower/faster. */
function afterUpdate(): Results {
  const r = sampleResults();
  r.startedAt = '2026-11-25T10:00:00.000Z';
  r.runs = r.runs.map((run) => {
    if (run.baseline === true) return run;
    const results = run.results.map((m) => {
      if (run.scanner.name === 'embedded' && m.file === 'm06.eml') return { ...m, verdict: 'infected' as const, names: ['Uu-Test'] };
      if (run.scanner.name === 'embedded' && m.file === 'm02.eml') return { ...m, verdict: 'clean' as const, names: [] };
      if (run.scanner.name === 'clamd' && m.file === 'm05.eml') return { ...m, verdict: 'clean' as const, names: [] };
      if (run.scanner.name === 'clamd' && m.file === 'm04.eml') return { ...m, verdict: 'infected' as const, names: ['Heuristic.FP'] };
      if (run.scanner.name === 'clamd' && m.file === 'm01.eml') return { ...m, names: ['Eicar-Signature-Renamed'] };
      return m;
    });
    const rebuilt = makeRun({
      scanner: run.scanner.name,
      mode: run.mode,
      msgsPerSec: run.throughput.msgsPerSec * (run.scanner.name === 'clamd' ? 0.8 : 1.1),
      p95: run.latencyMs.p95,
      results,
      ...(run.scanner.version === undefined ? {} : { version: run.scanner.version }),
      signatures: run.scanner.name === 'clamd' ? 'daily 27001' : (run.scanner.signatures ?? ''),
    });
    return rebuilt;
  });
  return r;
}

describe('compareResults', () => {
  const before = sampleResults();
  const after = afterUpdate();
  const c = compareResults(before, after);

  it('matches runs by scanner, mode, SUT and concurrency and gives the msgs/s change in %', () => {
    expect(c.pairs.map((p) => p.key)).toEqual(['baseline/direct/direct/c1', 'baseline/smtp/ours/c1', 'embedded/direct/direct/c1', 'embedded/smtp/ours/c1', 'clamd/direct/direct/c1', 'clamd/smtp/ours/c1']);
    const clamd = c.pairs.find((p) => p.key === 'clamd/direct/direct/c1');
    expect(clamd?.msgsPerSecChangePct).toBeCloseTo(-20, 6);
    const emb = c.pairs.find((p) => p.key === 'embedded/direct/direct/c1');
    expect(emb?.msgsPerSecChangePct).toBeCloseTo(10, 6);
    expect(emb?.detectionDeltaPoints).toBeCloseTo(0, 6); // one found, one lost
  });

  it('gives detection per scanner × mode × category', () => {
    const emb = c.pairs.find((p) => p.key === 'embedded/direct/direct/c1');
    expect(emb?.byCategory.find((d) => d.category === 'uuencode')).toMatchObject({ before: 0, after: 1, deltaPoints: 100 });
    expect(emb?.byCategory.find((d) => d.category === 'zip')).toMatchObject({ before: 1, after: 0.5, deltaPoints: -50 });
    const clamd = c.pairs.find((p) => p.key === 'clamd/direct/direct/c1');
    expect(clamd?.byCategory.find((d) => d.category === 'clean')).toMatchObject({ fpBefore: 1, fpAfter: 1 });
  });

  it('lists newly missed, newly flagged, newly detected, no longer flagged and renamed messages, bad news first', () => {
    const direct = c.changes.filter((x) => x.key.includes('/direct/'));
    expect(direct.map((x) => [x.kind, x.key.split('/')[0], x.file])).toEqual([
      ['newly-missed', 'embedded', 'm02.eml'],
      ['newly-flagged', 'clamd', 'm04.eml'],
      ['renamed', 'clamd', 'm01.eml'],
      ['newly-detected', 'embedded', 'm06.eml'],
      ['no-longer-flagged', 'clamd', 'm05.eml'],
    ]);
    // smtp: m03 was an error before and after for clamd (unchanged), so the same five changes.
    expect(c.changes.filter((x) => x.key.includes('/smtp/'))).toHaveLength(5);
    expect(c.scannerChanges.map((s) => [s.name, s.before?.signatures, s.after?.signatures])).toEqual([['clamd', 'daily 27000', 'daily 27001']]);
    expect(c.unmatchedMessages).toBe(0);
  });

  it('notices errors that come and go, and runs present on one side only', () => {
    const b2 = sampleResults();
    const a2 = sampleResults();
    const run = a2.runs.find((r) => r.id === 'embedded/direct/c1');
    if (run === undefined) throw new Error('fixture');
    run.results = run.results.map((m) => (m.file === 'm04.eml' ? { ...m, verdict: 'error' as const, errorCode: 'LIMIT_EXCEEDED' } : m));
    a2.runs = a2.runs.filter((r) => r.id !== 'clamd/smtp/c1');
    const c2 = compareResults(b2, a2);
    expect(c2.changes.map((x) => [x.kind, x.file])).toEqual([['new-error', 'm04.eml']]);
    const gone = c2.pairs.find((p) => p.key === 'clamd/smtp/ours/c1');
    expect(gone?.after).toBeUndefined();
    expect(gone?.msgsPerSecChangePct).toBeNull();
    const back = compareResults(a2, b2);
    expect(back.changes.map((x) => [x.kind, x.file])).toEqual([['error-fixed', 'm04.eml']]);
  });

  it('renders the comparison page and summary deterministically, with the changes in them', () => {
    const page = renderCompareHtml(c);
    expect(renderCompareHtml(compareResults(sampleResults(), afterUpdate()))).toBe(page);
    expect(page).toContain('<canvas data-chart="throughput"');
    expect(page).toMatch(/<td class="k-missed">newly-missed<\/td><td class="d">m02\.eml<\/td>/);
    expect(page).toMatch(/<td class="num down">-20\.0 %<\/td>/);
    // +10 % with three repeats 5 % apart on each side is within the uncertainty (Welch's 95 % interval holds 0).
    expect(page).toMatch(/<td class="num" data-nmd="yes">no measurable difference<br><span class="muted">\+10\.0 %<\/span><\/td>/);
    expect(page).toContain('daily 27000');
    expect(page).toContain('daily 27001');
    const md = renderCompareMarkdown(c);
    expect(md).toContain('| newly-missed | m02.eml | zip | embedded/direct/direct/c1 | infected: Eicar-Test-Signature | clean |');
    expect(md).toMatch(/\| clamd · direct · c1 \| 100\.0 % → 100\.0 % \| 0\.0 \| 1 → 1 \| 400 → 320 \| -20\.0 % \|/);
  });

  it('escapes hostile strings on both sides', () => {
    const page = renderCompareHtml(compareResults(hostileResults(), sampleResults()));
    const markup = page.replace(/<script\b[^>]*>[\s\S]*?<\/script>/g, '');
    expect([...page.matchAll(/<script\b/g)]).toHaveLength(3);
    expect(markup).not.toMatch(/<(img|iframe|svg|object)\b/i);
    expect(markup).not.toMatch(/\son[a-z]+\s*=/i);
    expect(markup).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const md = renderCompareMarkdown(compareResults(hostileResults(), sampleResults()));
    expect(md).not.toMatch(/<(?!br>|code>|\/code>)/);
  });
});
