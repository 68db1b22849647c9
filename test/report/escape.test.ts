import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeHtml, escapeMarkdown, html, jsonForScript, rawHtml } from '../../src/report/escape.js';
import { HOSTILE } from './fixtures.js';

describe('escapeHtml', () => {
  it('escapes every HTML metacharacter for text and quoted attributes alike', () => {
    expect(escapeHtml(HOSTILE.script)).toBe('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(escapeHtml(HOSTILE.img)).toBe('&quot;&gt;&lt;img src&#61;x onerror&#61;alert(2)&gt;');
    expect(escapeHtml(HOSTILE.attr)).toBe('&#39; onmouseover&#61;&#39;alert(4)');
    expect(escapeHtml(HOSTILE.backtick)).toBe('&#96;rm -rf /&#96;');
    expect(escapeHtml('a & b')).toBe('a &amp; b');
    expect(escapeHtml(undefined)).toBe('');
    expect(escapeHtml(12.5)).toBe('12.5');
  });

  it('shows control characters as visible pictures', () => {
    expect(escapeHtml(HOSTILE.nul)).toBe('nul\u2400esc\u241b');
    expect(escapeHtml('tab\tnl\n\u007f')).toBe('tab\tnl\n\u2421');
  });

  it('never leaves a metacharacter, for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const e = escapeHtml(s);
        expect(e).not.toMatch(/[<>"'`=]/);
        expect(e.replace(/&(amp|lt|gt|quot|#39|#96|#61);/g, '')).not.toContain('&');
      }),
    );
  });
});

describe('html template', () => {
  it('escapes interpolations, keeps nested templates and joins arrays', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p title="${'"x"'}">${inner}${['<', html`<br>`]}${null}${false}${3}</p>`.value).toBe('<p title="&quot;x&quot;"><b>&lt;i&gt;</b>&lt;<br>3</p>');
    expect(html`${rawHtml('<hr>')}`.value).toBe('<hr>');
  });
});

describe('jsonForScript', () => {
  it('cannot close the script tag and parses back to the value', () => {
    const v = { a: HOSTILE.close, b: HOSTILE.sep, c: HOSTILE.comment, d: ['&', '>'] };
    const j = jsonForScript(v);
    expect(j).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(j)).toEqual(v);
  });

  it('round-trips any JSON value and never emits <, >, &, U+2028, U+2029', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const j = jsonForScript(v);
        expect(j).not.toMatch(/[<>&\u2028\u2029]/);
        expect(JSON.parse(j)).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });
});

describe('escapeMarkdown', () => {
  it('neutralises table pipes, code spans, HTML, links, mentions and emphasis', () => {
    expect(escapeMarkdown(HOSTILE.pipe)).toBe('a&#124;b&#124;&#124;c');
    expect(escapeMarkdown(HOSTILE.backtick)).toBe('\\`rm -rf /\\`');
    expect(escapeMarkdown(HOSTILE.script)).toBe('&lt;script&gt;alert\\(1\\)&lt;/script&gt;');
    expect(escapeMarkdown(HOSTILE.mention)).toBe('&#64;everyone &#35;1 \\*\\*bold\\*\\* \\[x\\]\\(javascript:alert\\(5\\)\\)');
    expect(escapeMarkdown('two\nlines\u2028x')).toBe('two lines x');
    expect(escapeMarkdown('a_b\\c')).toBe('a\\_b\\\\c');
  });

  it('never leaves an unescaped pipe, backtick, < or newline, for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const e = escapeMarkdown(s);
        expect(e).not.toMatch(/[|<>\n\r@]/);
        // Every backtick is preceded by a backslash that is not itself escaped.
        expect(e.replace(/\\\\/g, '')).not.toMatch(/(^|[^\\])`/);
      }),
    );
  });
});
