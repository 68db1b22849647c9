import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../src/report/markdown.js';
import { hostileResults, sampleResults } from './fixtures.js';

/** Cells of a Markdown table row (split on unescaped pipes). */
function cells(line: string): string[] {
  return line.split(/(?<!\\)\|/).slice(1, -1);
}

describe('renderMarkdown', () => {
  const md = renderMarkdown(sampleResults());

  it('has the ranking table with the best values in bold, the problem messages and an environment line', () => {
    const lines = md.split('\n');
    const header = lines.find((l) => l.startsWith('| # | Scanner'));
    expect(header).toBeDefined();
    const rows = lines.filter((l) => /^\| \d+ \| /.test(l));
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(/^\| 1 \| clamd \| direct \| 1 \| \*\*100\.0 %\*\* ★ \|/);
    expect(rows.find((r) => r.includes('| embedded | direct |'))).toContain('**9\u2009000** ★ (8\u2009550–9\u2009450)');
    for (const r of rows) expect(cells(r)).toHaveLength(cells(header as string).length);
    expect(md).toContain('| m06.eml | uuencode | 2:eicar.com | missed | direct: clean<br>smtp: clean | direct: infected: Eicar-Test-Signature<br>');
    expect(md).toContain('| m03.eml | zip | 2:eicar.com | error |');
    expect(md).toContain('2026-11-24T10:00:00.000Z on Test CPU &#64; 2.0GHz, 2 cores');
    expect(md).toContain('Reproduce: <code>avbench bench');
  });

  it('is the same text for the same results', () => {
    expect(renderMarkdown(JSON.parse(JSON.stringify(sampleResults())))).toBe(md);
  });

  it('escapes hostile strings: no HTML, no broken table, no code span, no mention', () => {
    const h = renderMarkdown(hostileResults());
    expect(h).not.toMatch(/<(?!br>|code>|\/code>)/);
    expect(h).not.toMatch(/(^|[^\\])`/m);
    expect(h).not.toContain('@everyone');
    expect(h).toContain('&lt;script&gt;alert\\(1\\)&lt;/script&gt;');
    expect(h).toContain('a&#124;b&#124;&#124;c');
    const lines = h.split('\n');
    const tables: string[][] = [];
    let cur: string[] = [];
    for (const l of lines) {
      if (l.startsWith('|')) cur.push(l);
      else if (cur.length > 0) {
        tables.push(cur);
        cur = [];
      }
    }
    expect(tables.length).toBeGreaterThanOrEqual(2);
    for (const t of tables) {
      const n = cells(t[0] as string).length;
      for (const row of t) expect(cells(row)).toHaveLength(n);
    }
    // The separator U+2028 never breaks a line of the summary.
    expect(h).not.toMatch(/[\u2028\u2029]/);
  });
});
