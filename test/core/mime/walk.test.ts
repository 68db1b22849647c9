import { describe, expect, it } from 'vitest';
import { Budget, LimitExceededError, resolveLimits } from '../../../src/core/limits.js';
import { walkMime } from '../../../src/core/mime/walk.js';
import { b64, brief, eicar, lines, qp, uuencode, walk } from './helpers.js';

const E = eicar().toString('latin1');

/** A two-part mixed message: text, then a base64 zip-named attachment holding EICAR. */
function mixed(eol: string): string {
  return lines(
    eol,
    'From: a@example.org',
    'To: b@example.org',
    'Subject: test',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="XYZ"',
    '',
    'This is a preamble.',
    '--XYZ',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'Hello there.',
    '--XYZ',
    'Content-Type: application/zip; name="eicar.zip"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="eicar.zip"',
    '',
    b64(eicar(), eol),
    '--XYZ--',
    'epilogue',
    '',
  );
}

const MIXED_EXPECTED = [
  { location: '1', mimePath: '1', filename: undefined, contentType: 'text/plain', encoding: '7bit', depth: 1, data: 'Hello there.' },
  { location: '2:eicar.zip', mimePath: '2', filename: 'eicar.zip', contentType: 'application/zip', encoding: 'base64', depth: 1, data: E },
];

describe('walkMime: structure', () => {
  it('a single-part message is leaf "1" at depth 0', () => {
    const leaves = walk('Subject: hi\r\n\r\nbody line 1\r\nbody line 2\r\n');
    expect(brief(leaves)).toEqual([
      { location: '1', mimePath: '1', filename: undefined, contentType: 'text/plain', encoding: '7bit', depth: 0, data: 'body line 1\r\nbody line 2\r\n' },
    ]);
  });

  it('CRLF multipart/mixed: text part and base64 attachment at "2:eicar.zip"', () => {
    expect(brief(walk(mixed('\r\n')))).toEqual(MIXED_EXPECTED);
  });

  it('LF-only message gives the same leaves', () => {
    expect(brief(walk(mixed('\n')))).toEqual(MIXED_EXPECTED);
  });

  it('mixed line ends (CRLF header, LF parts) give the same leaves', () => {
    const msg = mixed('\n').replace('From: a@example.org\n', 'From: a@example.org\r\n').replace('Subject: test\n', 'Subject: test\r\n');
    expect(brief(walk(msg))).toEqual(MIXED_EXPECTED);
  });

  it('nested multipart/alternative inside multipart/mixed numbers 1.1, 1.2, 2', () => {
    const msg = lines(
      '\r\n',
      'Content-Type: multipart/mixed; boundary=outer',
      '',
      '--outer',
      'Content-Type: multipart/alternative; boundary=inner',
      '',
      '--inner',
      'Content-Type: text/plain',
      '',
      'plain',
      '--inner',
      'Content-Type: text/html',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      '<p class=3D"x">html</p>',
      '--inner--',
      '--outer',
      'Content-Type: application/octet-stream',
      'Content-Disposition: attachment; filename=data.bin',
      'Content-Transfer-Encoding: binary',
      '',
      'raw\x00\xffbytes',
      '--outer--',
    );
    expect(brief(walk(msg))).toEqual([
      { location: '1.1', mimePath: '1.1', filename: undefined, contentType: 'text/plain', encoding: '7bit', depth: 2, data: 'plain' },
      { location: '1.2', mimePath: '1.2', filename: undefined, contentType: 'text/html', encoding: 'quoted-printable', depth: 2, data: '<p class="x">html</p>' },
      { location: '2:data.bin', mimePath: '2', filename: 'data.bin', contentType: 'application/octet-stream', encoding: 'binary', depth: 1, data: 'raw\x00\xffbytes' },
    ]);
  });

  it('boundaries that are prefixes of each other are told apart', () => {
    const msg = lines(
      '\n',
      'Content-Type: multipart/mixed; boundary="abc"',
      '',
      '--abc',
      'Content-Type: multipart/mixed; boundary="abc-def"',
      '',
      '--abc-def',
      '',
      'one',
      '--abc-def',
      '',
      'two',
      '--abc-def--',
      '--abc',
      '',
      'three',
      '--abc--',
    );
    expect(walk(msg).map((l) => [l.location, l.data.toString()])).toEqual([
      ['1.1', 'one'],
      ['1.2', 'two'],
      ['2', 'three'],
    ]);
  });

  it('message/rfc822 attachments are recursed into: "2.1", "2.2:eicar.com", container not yielded', () => {
    const inner = lines(
      '\r\n',
      'From: x@example.org',
      'Subject: inner',
      'Content-Type: multipart/mixed; boundary=in',
      '',
      '--in',
      '',
      'inner text',
      '--in',
      'Content-Type: application/octet-stream; name=eicar.com',
      'Content-Transfer-Encoding: BASE64',
      '',
      b64(eicar()),
      '--in--',
      '',
    );
    const msg = lines(
      '\r\n',
      'Content-Type: multipart/mixed; boundary=out',
      '',
      '--out',
      'Content-Type: text/plain',
      '',
      'outer text',
      '--out',
      'Content-Type: message/rfc822',
      'Content-Disposition: attachment; filename="fwd.eml"',
      '',
      inner,
      '--out--',
    );
    expect(brief(walk(msg))).toEqual([
      { location: '1', mimePath: '1', filename: undefined, contentType: 'text/plain', encoding: '7bit', depth: 1, data: 'outer text' },
      { location: '2.1', mimePath: '2.1', filename: undefined, contentType: 'text/plain', encoding: '7bit', depth: 3, data: 'inner text' },
      { location: '2.2:eicar.com', mimePath: '2.2', filename: 'eicar.com', contentType: 'application/octet-stream', encoding: 'base64', depth: 3, data: E },
    ]);
  });

  it('a single-part forwarded message is "2.1"; a base64-encoded message/rfc822 is decoded and recursed', () => {
    const inner = 'Subject: inner\r\nContent-Type: application/x-msdownload; name="e.exe"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64(eicar()) + '\r\n';
    const msg = lines(
      '\r\n',
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      'Content-Type: message/rfc822',
      '',
      inner,
      '--b',
      'Content-Type: message/rfc822',
      'Content-Transfer-Encoding: base64',
      '',
      b64(Buffer.from('Subject: deeper\r\n\r\n' + E, 'latin1')),
      '--b--',
    );
    expect(brief(walk(msg))).toEqual([
      { location: '1.1:e.exe', mimePath: '1.1', filename: 'e.exe', contentType: 'application/x-msdownload', encoding: 'base64', depth: 2, data: E },
      { location: '2.1', mimePath: '2.1', filename: undefined, contentType: 'text/plain', encoding: '7bit', depth: 2, data: E },
    ]);
  });

  it('doubly nested message/rfc822 continues the numbering: 1.1.2', () => {
    const innermost = 'Content-Type: multipart/mixed; boundary=c\n\n--c\n\nfirst\n--c\nContent-Type: application/pdf; name=x.pdf\n\n%PDF\n--c--\n';
    const middle = `Content-Type: message/rfc822\n\n${innermost}`;
    const msg = `Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: message/rfc822\n\n${middle}\n--a--\n`;
    expect(walk(msg).map((l) => [l.location, l.depth, l.data.toString()])).toEqual([
      ['1.1.1', 4, 'first'],
      ['1.1.2:x.pdf', 4, '%PDF'],
    ]);
  });

  it('multipart/digest parts default to message/rfc822', () => {
    const msg = lines(
      '\n',
      'Content-Type: multipart/digest; boundary=d',
      '',
      '--d',
      '',
      'Subject: one',
      '',
      'digest body one',
      '--d',
      '',
      'Subject: two',
      'Content-Type: text/html',
      '',
      '<b>two</b>',
      '--d--',
    );
    expect(walk(msg).map((l) => [l.location, l.contentType, l.depth, l.data.toString()])).toEqual([
      ['1.1', 'text/plain', 2, 'digest body one'],
      ['2.1', 'text/html', 2, '<b>two</b>'],
    ]);
  });

  it('a part of any multipart subtype is walked (multipart/related, multipart/x-unknown)', () => {
    const msg = 'Content-Type: multipart/x-unknown; boundary=q\n\n--q\n\na\n--q\nContent-Type: multipart/related; boundary=r\n\n--r\n\nb\n--r--\n--q--\n';
    expect(walk(msg).map((l) => [l.location, l.data.toString()])).toEqual([
      ['1', 'a'],
      ['2.1', 'b'],
    ]);
  });
});

describe('walkMime: transfer encodings', () => {
  const part = (cte: string, body: string, ct = 'application/octet-stream'): string =>
    `Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: ${ct}\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n${body}\r\n--B--\r\n`;
  const only = (msg: string): string => {
    const leaves = walk(msg);
    expect(leaves).toHaveLength(1);
    return leaves[0]!.data.toString('latin1');
  };

  it('base64 in any letter case, wrapped or not', () => {
    for (const cte of ['base64', 'BASE64', 'Base64']) {
      expect(only(part(cte, b64(eicar())))).toBe(E);
    }
    expect(only(part('base64', eicar().toString('base64')))).toBe(E);
  });

  it('base64 with junk characters, spaces, tabs and missing padding decodes what it can', () => {
    const clean = Buffer.from('Hello, world!!').toString('base64'); // SGVsbG8sIHdvcmxkISE=
    expect(clean.endsWith('=')).toBe(true);
    const junked = clean.slice(0, 5) + ' *\t!' + clean.slice(5, 12) + '\x00\xff#' + clean.slice(12).replace(/=+$/, '');
    expect(only(part('base64', junked))).toBe('Hello, world!!');
  });

  it('base64 with "-" and "_" junk (not URL-safe data) and separately padded chunks', () => {
    const chunks = ['Hello', ', ', 'world'].map((s) => Buffer.from(s).toString('base64'));
    expect(chunks.join('')).toContain('=');
    expect(only(part('base64', chunks.join('\r\n')))).toBe('Hello, world');
    expect(only(part('base64', `${Buffer.from('abc').toString('base64')}-_-${Buffer.from('def').toString('base64')}`))).toBe('abcdef');
  });

  it('base64 of binary bytes round-trips exactly', () => {
    const bin = Buffer.alloc(1000);
    for (let i = 0; i < bin.length; i++) bin[i] = (i * 131 + 7) & 0xff;
    const leaves = walk(part('base64', b64(bin)));
    expect(leaves[0]!.data.equals(bin)).toBe(true);
  });

  it('quoted-printable: soft breaks, lower-case hex, bad escapes kept literally, any case', () => {
    expect(only(part('quoted-printable', 'caf=C3=A9 soft=\r\nbreak', 'text/plain'))).toBe('caf\xc3\xa9 softbreak');
    expect(only(part('Quoted-Printable', 'lower=3d=e9=\nLF soft', 'text/plain'))).toBe('lower=\xe9LF soft');
    expect(only(part('quoted-printable', 'bad =ZZ =4 = end=', 'text/plain'))).toBe('bad =ZZ =4 = end');
    expect(only(part('quoted-printable', 'trailing ws soft= \t\r\nnext', 'text/plain'))).toBe('trailing ws softnext');
    expect(only(part('QUOTED-PRINTABLE', qp(eicar()), 'text/plain'))).toBe(E);
  });

  it('7bit, 8bit, binary and unknown encodings are passed as is, encoding reported lower case', () => {
    for (const cte of ['7bit', '8BIT', 'binary', 'x-made-up']) {
      const leaves = walk(part(cte, 'd\xe4ta =41 SGVsbG8='));
      expect(leaves[0]!.data.toString('latin1')).toBe('d\xe4ta =41 SGVsbG8=');
      expect(leaves[0]!.encoding).toBe(cte.toLowerCase());
    }
  });

  it('x-uuencode as a transfer encoding is decoded', () => {
    const leaves = walk(part('x-uuencode', uuencode(eicar(), 'e.com')));
    expect(leaves.map((l) => [l.location, l.encoding, l.data.toString('latin1')])).toEqual([['1:e.com', 'x-uuencode', E]]);
  });
});

describe('walkMime: uuencode inside text', () => {
  it('yields the text body and each uu block as "1:name" with encoding uuencode', () => {
    const other = Buffer.from('second file\n');
    const text = `Here is the file:\n\n${uuencode(eicar(), 'eicar.com')}\nand another:\n${uuencode(other, 'notes.txt')}\nbye\n`;
    const leaves = walk(`Subject: uu\n\n${text}`);
    expect(brief(leaves)).toEqual([
      { location: '1', mimePath: '1', filename: undefined, contentType: 'text/plain', encoding: '7bit', depth: 0, data: text },
      { location: '1:eicar.com', mimePath: '1', filename: 'eicar.com', contentType: 'application/octet-stream', encoding: 'uuencode', depth: 0, data: E },
      { location: '1:notes.txt', mimePath: '1', filename: 'notes.txt', contentType: 'application/octet-stream', encoding: 'uuencode', depth: 0, data: 'second file\n' },
    ]);
  });

  it('finds uu blocks in a CRLF, quoted-printable text part of a multipart', () => {
    const body = qp(`see below\r\n${uuencode(eicar(), 'x.com', '\r\n')}`);
    const msg = `Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${body}\r\n--z--\r\n`;
    const leaves = walk(msg);
    expect(leaves.map((l) => [l.location, l.encoding])).toEqual([
      ['1', 'quoted-printable'],
      ['1:x.com', 'uuencode'],
    ]);
    expect(leaves[1]!.data.toString('latin1')).toBe(E);
  });

  it('a uu block without "end" and with trailing spaces stripped still decodes', () => {
    // Old encoders write 0 as a space; mail transport may strip trailing spaces.
    const data = Buffer.from('abc\0\0\0', 'latin1');
    const block = uuencode(data, 'sp.bin').replace(/`/g, ' ').replace(/ +\n/g, '\n').replace(/\nend\n$/, '\n');
    expect(block).toBe('begin 644 sp.bin\n&86)C\n\n');
    const leaves = walk(`\n${block}`);
    expect(leaves.map((l) => [l.location, l.data.toString('latin1')])).toEqual([
      ['1', block],
      ['1:sp.bin', 'abc\0\0\0'],
    ]);
  });
});

describe('walkMime: file names', () => {
  const att = (headers: string): string =>
    `Content-Type: multipart/mixed; boundary=F\n\n--F\n${headers}\nContent-Transfer-Encoding: base64\n\n${b64(eicar())}\n--F--\n`;
  const name = (headers: string): string | undefined => walk(att(headers))[0]!.filename;

  it('RFC 2231 with charset and continuations', () => {
    expect(name("Content-Type: application/zip\nContent-Disposition: attachment;\n filename*0*=utf-8''%E2%82%AC%20Rech;\n filename*1*=nung.zip")).toBe('€ Rechnung.zip');
    expect(name("Content-Disposition: attachment; filename*=iso-8859-1'de'%E4rger.txt")).toBe('ärger.txt');
    expect(name('Content-Disposition: attachment; filename*1="part2.exe"; filename*0="part1-"')).toBe('part1-part2.exe');
    expect(name("Content-Disposition: attachment; filename=\"plain.txt\"; filename*=UTF-8''%C3%BCber.doc")).toBe('über.doc');
  });

  it('RFC 2047 encoded words, and Content-Type name= as the fallback', () => {
    expect(name('Content-Type: application/zip; name="=?UTF-8?B?w6RyZ2VyLnppcA==?="')).toBe('ärger.zip');
    expect(name('Content-Disposition: attachment; filename="=?iso-8859-1?Q?=E4rger.pdf?="')).toBe('ärger.pdf');
    expect(name('Content-Type: application/zip; name="fallback.zip"\nContent-Disposition: attachment')).toBe('fallback.zip');
    expect(name('Content-Type: application/zip; name="ct.zip"\nContent-Disposition: attachment; filename="cd.zip"')).toBe('cd.zip');
    expect(name('Content-Type: application/octet-stream')).toBeUndefined();
  });

  it('the location carries the decoded name', () => {
    const leaves = walk(att("Content-Disposition: attachment; filename*=utf-8''na%C3%AFve.zip"));
    expect(leaves[0]!.location).toBe('1:naïve.zip');
  });
});

describe('walkMime: sloppy and hostile input', () => {
  it('a boundary declared but never present: the body is one leaf', () => {
    const msg = 'Content-Type: multipart/mixed; boundary=nothere\r\n\r\nline one\r\n--other\r\nline two\r\n';
    expect(brief(walk(msg))).toEqual([
      { location: '1', mimePath: '1', filename: undefined, contentType: 'multipart/mixed', encoding: '7bit', depth: 0, data: 'line one\r\n--other\r\nline two\r\n' },
    ]);
  });

  it('a multipart without a boundary parameter is one leaf', () => {
    const leaves = walk('Content-Type: multipart/mixed\n\n--x\n\nbody\n');
    expect(leaves.map((l) => [l.location, l.data.toString()])).toEqual([['1', '--x\n\nbody\n']]);
  });

  it('an unclosed final boundary: the last part runs to the end', () => {
    const msg = `Content-Type: multipart/mixed; boundary=U\n\n--U\n\nfirst\n--U\nContent-Type: application/octet-stream; name=e.bin\nContent-Transfer-Encoding: base64\n\n${b64(eicar(), '\n')}\n`;
    expect(walk(msg).map((l) => [l.location, l.data.toString('latin1')])).toEqual([
      ['1', 'first'],
      ['2:e.bin', E],
    ]);
  });

  it('parts with no headers (blank line, or straight to content) default to text/plain 7bit', () => {
    const msg = 'Content-Type: multipart/mixed; boundary=H\n\n--H\n\nafter blank\n--H\nno blank line here\n--H--\n';
    expect(walk(msg).map((l) => [l.location, l.contentType, l.encoding, l.data.toString()])).toEqual([
      ['1', 'text/plain', '7bit', 'after blank'],
      ['2', 'text/plain', '7bit', 'no blank line here'],
    ]);
  });

  it('a message with no header block at all is one body', () => {
    const text = 'just some text\nwith two lines\n';
    expect(brief(walk(text))).toEqual([
      { location: '1', mimePath: '1', filename: undefined, contentType: 'text/plain', encoding: '7bit', depth: 0, data: text },
    ]);
  });

  it('a message without an empty line after the header: the first non-header line starts the body', () => {
    const leaves = walk('Subject: x\nContent-Transfer-Encoding: base64\n' + b64(eicar(), '\n') + '\n');
    expect(leaves.map((l) => l.data.toString('latin1'))).toEqual([E]);
  });

  it('empty input is one empty body', () => {
    expect(brief(walk(Buffer.alloc(0)))).toEqual([
      { location: '1', mimePath: '1', filename: undefined, contentType: 'text/plain', encoding: '7bit', depth: 0, data: '' },
    ]);
  });

  it('binary garbage is one body, unchanged', () => {
    const junk = Buffer.alloc(64 * 1024);
    let x = 12345;
    for (let i = 0; i < junk.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      junk[i] = x >> 16;
    }
    const leaves = walk(junk);
    expect(leaves.reduce((n, l) => n + (l.encoding === '7bit' ? l.data.length : 0), 0)).toBeLessThanOrEqual(junk.length);
    expect(leaves[0]!.mimePath).toBe('1');
    expect(junk.subarray(junk.length - leaves[0]!.data.length).equals(leaves[0]!.data)).toBe(true);
  });

  it('a 2 MB single line, as a whole message and as a part', () => {
    const line = 'A'.repeat(2 * 1024 * 1024);
    expect(walk(line).map((l) => [l.location, l.data.length])).toEqual([['1', line.length]]);
    const msg = `Content-Type: multipart/mixed; boundary=L\n\n--L\n\n${line}\n--L\nContent-Type: text/plain\n\nshort\n--L--\n`;
    expect(walk(msg).map((l) => [l.location, l.data.length])).toEqual([
      ['1', line.length],
      ['2', 5],
    ]);
  });

  it('200 levels of multipart nesting stop at maxDepth with LimitExceededError', () => {
    let msg = 'Content-Type: text/plain\n\ninnermost';
    for (let i = 199; i >= 0; i--) msg = `Content-Type: multipart/mixed; boundary=b${i}\n\n--b${i}\n${msg}\n--b${i}--\n`;
    let err: unknown;
    try {
      walk(msg);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LimitExceededError);
    expect((err as LimitExceededError).limit).toBe('maxDepth');
    expect((err as LimitExceededError).value).toBe(21);
    // With a high enough limit the same message is walked without recursion trouble.
    const leaves = walk(msg, { maxDepth: 500 });
    expect(leaves.map((l) => [l.mimePath, l.depth, l.data.toString()])).toEqual([[Array(200).fill('1').join('.'), 200, 'innermost']]);
  });

  it('deep message/rfc822 nesting also stops at maxDepth', () => {
    let msg = 'Subject: bottom\n\nbottom';
    for (let i = 0; i < 100; i++) msg = `Content-Type: message/rfc822\n\n${msg}`;
    expect(() => walk(msg)).toThrow(LimitExceededError);
  });

  it('10,000 parts hit maxParts; the leaves before the limit were yielded', () => {
    const parts: string[] = [];
    for (let i = 0; i < 10_000; i++) parts.push(`--P\n\np${i}`);
    const msg = `Content-Type: multipart/mixed; boundary=P\n\n${parts.join('\n')}\n--P--\n`;
    const budget = new Budget(resolveLimits({}));
    const seen: string[] = [];
    let err: unknown;
    try {
      for (const leaf of walkMime(Buffer.from(msg), budget)) seen.push(leaf.data.toString());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LimitExceededError);
    expect((err as LimitExceededError).limit).toBe('maxParts');
    // One part is the multipart itself; 1,999 leaves fit in the default 2,000.
    expect(seen.length).toBe(1999);
    expect(seen[1998]).toBe('p1998');
    const all = walk(msg, { maxParts: 20_000 });
    expect(all.length).toBe(10_000);
    expect(all[9999]!.location).toBe('10000');
  });

  it('decoded bytes are charged: maxExpandedBytes throws', () => {
    const big = Buffer.alloc(300_000, 0x41);
    const msg = `Content-Type: multipart/mixed; boundary=M\n\n--M\nContent-Transfer-Encoding: base64\n\n${b64(big)}\n--M\n\n${E}\n--M--\n`;
    let err: unknown;
    try {
      walk(msg, { maxExpandedBytes: 250_000 });
    } catch (e) {
      err = e;
    }
    expect((err as LimitExceededError).limit).toBe('maxExpandedBytes');
    expect(walk(msg, { maxExpandedBytes: 400_000 }).map((l) => l.data.length)).toEqual([300_000, E.length]);
  });

  it('hostile repetitive patterns are walked in one pass (no quadratic corner)', () => {
    // Delimiter text that is never at a line start, 1 MB of it.
    const notAtLineStart = ' --b'.repeat(250_000);
    expect(walk(`Content-Type: multipart/mixed; boundary=b\n\n${notAtLineStart}`).map((l) => l.data.length)).toEqual([notAtLineStart.length]);
    // Many "begin" lines with long trailing white space (uu header regex) in a text body.
    const begins = `begin 644 a${' '.repeat(1000)}x${' '.repeat(1000)}\n`.repeat(500);
    const uu = walk(`\n${begins}`, { maxParts: 10_000 });
    expect(uu.length).toBe(501);
    expect(uu[1]!.filename).toBe(`a${' '.repeat(1000)}x`);
    // 1 MB of '=' and of '= ' in quoted-printable, and of junk around base64 padding.
    const qpBody = '='.repeat(500_000) + '= '.repeat(250_000);
    const qpLeaf = walk(`Content-Transfer-Encoding: quoted-printable\n\n${qpBody}`)[0]!;
    expect(qpLeaf.data.length).toBe(qpBody.length - 2); // only the final '= ' (then the end) is a soft break
    const b64Leaf = walk(`Content-Transfer-Encoding: base64\n\nQUJD${'=*'.repeat(500_000)}REVG`)[0]!;
    expect(b64Leaf.data.toString()).toBe('ABCDEF');
    // A header of many parameters and many encoded-word starts.
    const params = Array.from({ length: 20_000 }, (_, i) => `p${i}*${i % 7}*=x`).join('; ');
    const hdr = walk(`Content-Type: text/plain; ${params}\nSubject: ${'=?'.repeat(100_000)}\n\nbody`);
    expect(hdr.map((l) => l.data.toString())).toEqual(['body']);
  });

  it('does not note ordinary sloppiness as a problem', () => {
    const budget = new Budget(resolveLimits({}));
    const msg = `Content-Type: multipart/mixed; boundary=S\n\n--S\nContent-Transfer-Encoding: base64\n\n${b64(eicar())}*!junk\n--S\n\nunclosed`;
    expect([...walkMime(Buffer.from(msg), budget)].length).toBe(2);
    expect(budget.problems).toEqual([]);
  });
});
