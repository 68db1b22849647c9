import { describe, expect, it } from 'vitest';
import { decodeHeaderValue, parseHeaderBlock, splitHeaderBody, summarize } from '../../../src/core/mime/headers.js';
import { parseStructured } from '../../../src/core/mime/params.js';

const split = (s: string): [string, string] => {
  const { header, body } = splitHeaderBody(Buffer.from(s, 'latin1'));
  return [header.toString('latin1'), body.toString('latin1')];
};

describe('splitHeaderBody', () => {
  it('splits at the first empty line, CRLF or LF', () => {
    expect(split('A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore')).toEqual(['A: 1\r\nB: 2\r\n', 'body\r\n\r\nmore']);
    expect(split('A: 1\nB: 2\n\nbody\n')).toEqual(['A: 1\nB: 2\n', 'body\n']);
    expect(split('A: 1\r\n folded\nB: 2\n\r\nbody')).toEqual(['A: 1\r\n folded\nB: 2\n', 'body']);
  });

  it('no header at all: everything is body', () => {
    expect(split('hello world\nsecond line\n')).toEqual(['', 'hello world\nsecond line\n']);
    expect(split('\r\nbody')).toEqual(['', 'body']);
    expect(split(' leading space: x\n\nbody')).toEqual(['', ' leading space: x\n\nbody']);
    expect(split('')).toEqual(['', '']);
  });

  it('a header without an empty line: header to the end, or up to the first non-field line', () => {
    expect(split('A: 1\nB: 2')).toEqual(['A: 1\nB: 2', '']);
    expect(split('A: 1\nnot a field\nmore')).toEqual(['A: 1\n', 'not a field\nmore']);
  });

  it('an mbox From_ line at the top belongs to the header', () => {
    expect(split('From someone@example.org Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody')).toEqual([
      'From someone@example.org Mon Jan  1 00:00:00 2024\nSubject: x\n',
      'body',
    ]);
  });
});

describe('parseHeaderBlock', () => {
  it('lower-cases names, unfolds values, skips junk lines', () => {
    const fields = parseHeaderBlock(
      Buffer.from('From blah\r\nSubject: hello\r\n  world\r\nX-Empty:\r\nContent-Type : text/plain;\r\n\tcharset=utf-8\r\njunk line\r\n', 'latin1'),
    );
    expect(fields).toEqual([
      { name: 'subject', value: 'hello  world' },
      { name: 'x-empty', value: '' },
      { name: 'content-type', value: 'text/plain;\tcharset=utf-8' },
    ]);
  });

  it('reads raw UTF-8 headers as UTF-8 and other 8-bit bytes as Latin-1', () => {
    expect(parseHeaderBlock(Buffer.from('Subject: Grüße\n', 'utf8'))).toEqual([{ name: 'subject', value: 'Grüße' }]);
    expect(parseHeaderBlock(Buffer.from('Subject: Gr\xfc\xdfe\n', 'latin1'))).toEqual([{ name: 'subject', value: 'Grüße' }]);
  });
});

describe('decodeHeaderValue', () => {
  it('decodes B and Q encoded words, joining adjacent ones', () => {
    expect(decodeHeaderValue('=?UTF-8?B?R3LDvMOfZQ==?=')).toBe('Grüße');
    expect(decodeHeaderValue('=?iso-8859-1?q?caf=E9_au_lait?= now')).toBe('café au lait now');
    expect(decodeHeaderValue('=?utf-8?q?a?= =?utf-8?q?b?=')).toBe('ab');
    expect(decodeHeaderValue('plain text')).toBe('plain text');
  });

  it('never throws on broken words', () => {
    for (const v of ['=?', '=?utf-8?', '=?bogus-charset?B?!!!?=', '=?utf-8?X?abc?=', '=?utf-8?B?@@@?=']) {
      expect(typeof decodeHeaderValue(v)).toBe('string');
    }
  });
});

describe('parseStructured', () => {
  it('main value lower case, quoted and unquoted params, quoted semicolons', () => {
    const v = parseStructured('Multipart/Mixed; Boundary="a;b=c"; charset=UTF-8 ; x');
    expect(v.value).toBe('multipart/mixed');
    expect(Object.fromEntries(v.params)).toEqual({ boundary: 'a;b=c', charset: 'UTF-8' });
  });

  it('RFC 2231 continuations in any order, mixed encoded and plain pieces', () => {
    const v = parseStructured("attachment; filename*2=\".txt\"; filename*0*=utf-8''%C3%A4; filename*1*=%C3%B6");
    expect(v.params.get('filename')).toBe('äö.txt');
  });

  it('bad percent escapes are kept literally; unknown charsets fall back to UTF-8', () => {
    expect(parseStructured("a; filename*=utf-8''100%25%zz.txt").params.get('filename')).toBe('100%%zz.txt');
    expect(parseStructured("a; filename*=x-unknown''%C3%A4.txt").params.get('filename')).toBe('ä.txt');
  });
});

describe('summarize', () => {
  it('gives decoded subject, from, to, message-id and date', () => {
    const raw = Buffer.from(
      'From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\nTo: b@example.org\r\nSubject: =?utf-8?B?w4RyZ2Vy?=\r\nMessage-ID: <1@x>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nbody',
    );
    expect(summarize(raw)).toEqual({
      from: 'Jürgen <j@example.org>',
      to: 'b@example.org',
      subject: 'Ärger',
      messageId: '<1@x>',
      date: 'Mon, 1 Jan 2024 00:00:00 +0000',
    });
  });

  it('a message without headers summarizes to nothing', () => {
    expect(summarize(Buffer.from('no headers here\n'))).toEqual({});
    expect(summarize(Buffer.alloc(0))).toEqual({});
  });
});
