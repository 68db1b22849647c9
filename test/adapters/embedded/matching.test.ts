import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { signatureDbFromText } from '../../../adapters/embedded/loader.js';
import { parseHexSignature, HexSigError } from '../../../adapters/embedded/hexsig.js';

const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
/** Body-signature names that match `data` with a one-line .ndb database. */
function ndbMatches(line: string, data: string | Buffer): boolean {
  const { db, report } = signatureDbFromText({ ndb: line });
  expect(report.rejected).toEqual([]);
  expect(report.signatures.ndb).toBe(1);
  const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  return db.body.matchSync(buf).length === 1;
}

describe('ndb hex body forms (each with a positive and a negative case)', () => {
  const cases: [string, string, string, string][] = [
    // [what, signature hex, matching data, non-matching data]
    ['plain bytes', hex('virus!'), 'xxvirus!yy', 'xxvirus?yy'],
    ['?? any byte', `${hex('vir')}??${hex('us')}`, 'a virQus b', 'a virus b'],
    ['high nibble a?', `${hex('ab')}4?${hex('cd')}`, 'abOcd', 'abxcd'],
    ['low nibble ?a', `${hex('ab')}?1${hex('cd')}`, 'abqcd', 'abrcd'],
    ['* any gap (zero too)', `${hex('start')}*${hex('end')}`, 'start.........end', 'end....start'],
    ['* with zero bytes', `${hex('start')}*${hex('end')}`, 'startend', 'starten'],
    ['{n} exact gap', `${hex('ab')}{3}${hex('cd')}`, 'ab123cd', 'ab12cd'],
    ['{n-} at least n', `${hex('ab')}{3-}${hex('cd')}`, 'ab123456cd', 'ab12cd'],
    ['{-m} at most m', `${hex('ab')}{-2}${hex('cd')}`, 'ab1cd', 'ab123cd'],
    ['{-m} zero bytes', `${hex('ab')}{-2}${hex('cd')}`, 'abcd', 'ab___cd'],
    ['{n-m} range', `${hex('ab')}{2-4}${hex('cd')}`, 'ab1234cd', 'ab12345cd'],
    ['{n-m} lower bound', `${hex('ab')}{2-4}${hex('cd')}`, 'ab12cd', 'ab1cd'],
    ['(a|b) single-byte alternative', `${hex('ab')}(31|32)${hex('cd')}`, 'ab2cd', 'ab3cd'],
    ['(aa|bbbb) multi-byte, mixed lengths', `${hex('ab')}(${hex('xy')}|${hex('long')})${hex('cd')}`, 'ablongcd', 'abxcd'],
    ['!(a|b) negated alternative', `${hex('ab')}!(31|32)${hex('cd')}`, 'ab3cd', 'ab1cd'],
    ['gap before the anchor (backward verification)', `${hex('q')}{1-3}${hex('longanchor')}`, 'q12longanchor', 'q1234longanchor'],
    ['* before the anchor', `${hex('qq')}*${hex('longanchor')}`, 'qq.......longanchor', 'longanchor...qq'],
  ];
  for (const [what, sig, yes, no] of cases) {
    it(`${what}: ${sig}`, () => {
      expect(ndbMatches(`T:0:*:${sig}`, yes)).toBe(true);
      expect(ndbMatches(`T:0:*:${sig}`, no)).toBe(false);
    });
  }
});

describe('ndb offsets (each with a positive and a negative case)', () => {
  const sig = hex('MARK');
  const cases: [string, string, string][] = [
    ['*', 'zzzzMARKzz', 'zzzzMARzz'],
    ['0', 'MARKzzzz', 'zMARKzzz'],
    ['3', 'abcMARKz', 'abMARKzz'],
    ['3,2', 'abcdeMARK', 'abcdefMARK'],
    ['3,2', 'abcMARK', 'abMARKxxx'],
    ['EOF-4', 'zzzzMARK', 'zzzMARKz'],
    ['EOF-6', 'zzzzMARKzz', 'zzzzzMARKz'],
    ['EOF-6,1', 'zzzzzMARKz', 'zzzzzzMARK'],
    ['EOF-99', 'MARK'.padEnd(99, '.'), 'MARK'],
  ];
  for (const [off, yes, no] of cases) {
    it(`offset ${off}`, () => {
      expect(ndbMatches(`T:0:${off}:${sig}`, yes)).toBe(true);
      expect(ndbMatches(`T:0:${off}:${sig}`, no)).toBe(false);
    });
  }
  it('offset with a long shift goes through the automaton and still honours the window', () => {
    const line = `T:0:10,1000:${sig}`;
    expect(ndbMatches(line, `${'.'.repeat(500)}MARK`)).toBe(true);
    expect(ndbMatches(line, `${'.'.repeat(1011)}MARK`)).toBe(false);
    expect(ndbMatches(line, `${'.'.repeat(9)}MARK`)).toBe(false);
    expect(signatureDbFromText({ ndb: line }).db.body.stats.anchored).toBe(1);
  });
  it('offset with a gap-bearing signature: the window applies to the first byte', () => {
    const line = `T:0:2:${hex('ab')}*${hex('xyz')}`;
    expect(ndbMatches(line, '..ab.....xyz')).toBe(true);
    expect(ndbMatches(line, '...ab....xyz')).toBe(false);
  });
  it('MinFL and MaxFL fields are accepted', () => {
    expect(ndbMatches(`T:0:*:${sig}:51:255`, 'xMARKx')).toBe(true);
    expect(ndbMatches(`T:0:*:${sig}:51`, 'xMARx')).toBe(false);
  });
});

describe('ndb lines that cannot be used are reported with line number and reason', () => {
  it('reports each refused line, skips comments and blanks, keeps the good ones', () => {
    const text = [
      '# comment', // 1
      'Good:0:*:414243', // 2
      '', // 3
      'Odd:0:*:41424', // 4
      'Hexbad:0:*:4142zz', // 5
      'Boundary:0:*:4142(B)4344', // 6
      'Range:0:*:41[1-2]4243', // 7
      'EP:1:EP+10:41424344', // 8
      'Fields:0:*', // 9
      'Target:0x:*:4142', // 10
      'Lead:0:*:*4142', // 11
      'Trail:0:*:4142{2}', // 12
      'Wild:0:*:????', // 13
      'Gap:0:*:41{3-1}42', // 14
      'Type:99:*:4142', // 15
      'Shift:0:abc:4142', // 16
    ].join('\n');
    const { db, report } = signatureDbFromText({ ndb: text });
    expect(report.signatures.ndb).toBe(1);
    expect(db.body.stats.signatures).toBe(1);
    const byLine = new Map(report.rejected.map((r) => [r.line, r.reason]));
    expect([...byLine.keys()]).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    expect(byLine.get(4)).toMatch(/odd number of hex digits/);
    expect(byLine.get(5)).toMatch(/invalid character "z" in hex signature/);
    expect(byLine.get(6)).toMatch(/unsupported boundary anchor "\(B\)"/);
    expect(byLine.get(7)).toMatch(/unsupported "\[n-m\]"/);
    expect(byLine.get(8)).toMatch(/unsupported executable-relative offset "EP\+10"/);
    expect(byLine.get(9)).toMatch(/expected 4 to 6/);
    expect(byLine.get(10)).toMatch(/malformed target type/);
    expect(byLine.get(11)).toMatch(/starts with a gap/);
    expect(byLine.get(12)).toMatch(/ends with a gap/);
    expect(byLine.get(13)).toMatch(/no fixed byte/);
    expect(byLine.get(14)).toMatch(/max < min/);
    expect(byLine.get(15)).toMatch(/unknown target type 99/);
    expect(byLine.get(16)).toMatch(/malformed offset/);
    expect(report.rejected.find((r) => r.line === 5)).toMatchObject({ file: 'memory.ndb', text: 'Hexbad:0:*:4142zz' });
  });
  it('reports signatures with no 2-byte fixed run as slow, and still matches them', () => {
    const { db, report } = signatureDbFromText({ ndb: 'S:0:*:41??42??43' });
    expect(report.slow).toMatchObject([{ line: 1, name: 'S' }]);
    expect(db.body.matchSync(Buffer.from('xxAaBbCxx'))).toEqual(['S']);
    expect(db.body.matchSync(Buffer.from('xxAaBbDxx'))).toEqual([]);
  });
  it('reports non-zero target types as widened to any unit', () => {
    const { db, report } = signatureDbFromText({ ndb: 'P:1:*:4d5a9000' });
    expect(report.widened).toMatchObject([{ line: 1, name: 'P', note: expect.stringMatching(/TargetType 1 \(PE\)/) }]);
    expect(db.body.matchSync(Buffer.from('..MZ\x90\x00..', 'latin1'))).toEqual(['P']);
  });
});

describe('hash signatures', () => {
  const data = Buffer.from('hello hash world\n');
  const md5 = '0c6e5ef1b0bd7d0b7d5b86b2c2df3fd7';
  it('md5 with size, with * size, and a size mismatch', async () => {
    const { createHash } = await import('node:crypto');
    const m = createHash('md5').update(data).digest('hex');
    const s1 = createHash('sha1').update(data).digest('hex');
    const s256 = createHash('sha256').update(data).digest('hex');
    expect(m).not.toBe(md5);
    const { db, report } = signatureDbFromText({
      hdb: `${m}:${data.length}:H.Md5\n${m.toUpperCase()}:*:H.Md5Any:73\n${m}:${data.length + 1}:H.WrongSize\n${md5}:${data.length}:H.Other`,
      hsb: `${s256}:${data.length}:H.Sha256\n${s1}:*:H.Sha1Any\n${s256}:3:H.Sha256WrongSize`,
    });
    expect(report.rejected).toEqual([]);
    expect(report.signatures).toEqual({ hdb: 4, hsb: 3, ndb: 0 });
    expect(db.hashes.match(data).sort()).toEqual(['H.Md5', 'H.Md5Any', 'H.Sha1Any', 'H.Sha256'].sort());
    expect(db.hashes.match(Buffer.from('hello hash world!'))).toEqual([]);
  });
  it('only hashes units whose size some signature names', () => {
    const { db } = signatureDbFromText({ hdb: `${'a'.repeat(32)}:5:X` });
    db.hashes.match(Buffer.from('123456'));
    expect(db.hashes.hashesComputed).toBe(0);
    db.hashes.match(Buffer.from('12345'));
    expect(db.hashes.hashesComputed).toBe(1);
  });
  it('reports bad hash lines with line numbers and reasons', () => {
    const { report } = signatureDbFromText({
      hdb: `${'a'.repeat(32)}:5:Ok\n${'a'.repeat(31)}:5:Short\n${'a'.repeat(32)}:five:Size\n${'a'.repeat(64)}:5:Sha256InHdb\n${'g'.repeat(32)}:5:NotHex\n${'a'.repeat(32)}:5:`,
      hsb: `${'b'.repeat(32)}:5:Md5InHsb`,
    });
    expect(report.signatures).toEqual({ hdb: 1, hsb: 0, ndb: 0 });
    expect(report.rejected.map((r) => [r.file, r.line])).toEqual([
      ['memory.hdb', 2], ['memory.hdb', 3], ['memory.hdb', 4], ['memory.hdb', 5], ['memory.hdb', 6], ['memory.hsb', 1],
    ]);
    expect(report.rejected.map((r) => r.reason)).toEqual([
      expect.stringMatching(/31 hex digits/),
      expect.stringMatching(/malformed size/),
      expect.stringMatching(/belongs in .hsb/),
      expect.stringMatching(/malformed hash/),
      expect.stringMatching(/empty signature name/),
      expect.stringMatching(/belongs in .hdb/),
    ]);
  });
});

/** Reference matcher: the signature as a sticky RegExp over latin1 text, tried at every allowed start. */
function reference(sigHex: string, offset: string, data: Buffer): boolean {
  const nib = (h: string, l: string): string => {
    const chars: string[] = [];
    for (let b = 0; b < 256; b++) {
      const hi = (b >> 4).toString(16);
      const lo = (b & 15).toString(16);
      if ((h === '?' || h === hi) && (l === '?' || l === lo)) chars.push(`\\x${b.toString(16).padStart(2, '0')}`);
    }
    return `[${chars.join('')}]`;
  };
  const bytes = (t: string): string => {
    let r = '';
    for (let i = 0; i < t.length; i += 2) r += nib(t[i]!.toLowerCase(), t[i + 1]!.toLowerCase());
    return r;
  };
  let src = '';
  let i = 0;
  while (i < sigHex.length) {
    const c = sigHex[i]!;
    if (c === '*') { src += '[\\s\\S]*?'; i++; }
    else if (c === '{') {
      const end = sigHex.indexOf('}', i);
      const body = sigHex.slice(i + 1, end);
      const [a, b] = body.includes('-') ? body.split('-') : [body, body];
      src += `[\\s\\S]{${a === '' ? 0 : a},${b ?? ''}}?`;
      i = end + 1;
    } else if (c === '(' || c === '!') {
      const neg = c === '!';
      const open = neg ? i + 1 : i;
      const end = sigHex.indexOf(')', open);
      const opts = sigHex.slice(open + 1, end).split('|').map(bytes);
      const len = (sigHex.slice(open + 1, end).split('|')[0]!.length) / 2;
      src += neg ? `(?!(?:${opts.join('|')}))[\\s\\S]{${len}}` : `(?:${opts.join('|')})`;
      i = end + 1;
    } else { src += bytes(sigHex.slice(i, i + 2)); i += 2; }
  }
  const re = new RegExp(src, 'y');
  const text = data.toString('latin1');
  let lo = 0;
  let hi = data.length;
  const m = /^(EOF-)?(\d+)(?:,(\d+))?$/.exec(offset);
  if (m !== null) {
    lo = m[1] === undefined ? Number(m[2]) : data.length - Number(m[2]);
    if (lo < 0 || lo > data.length) return false;
    hi = Math.min(data.length, lo + Number(m[3] ?? 0));
  }
  for (let p = lo; p <= hi; p++) {
    re.lastIndex = p;
    if (re.test(text)) return true;
  }
  return false;
}

describe('property: the one-pass matcher agrees with a RegExp reference', () => {
  const alphabet = [0x41, 0x42, 0x43, 0x00, 0xff];
  const byteHex = fc.constantFrom(...alphabet).map((b) => b.toString(16).padStart(2, '0'));
  const fixed = fc.array(byteHex, { minLength: 1, maxLength: 4 }).map((a) => a.join(''));
  const token = fc.oneof(
    fixed,
    fc.constant('??'),
    byteHex.map((h) => `${h[0]}?`),
    byteHex.map((h) => `?${h[1]}`),
    fc.array(fixed, { minLength: 2, maxLength: 3 }).map((o) => `(${o.join('|')})`),
    fc.array(byteHex, { minLength: 2, maxLength: 3 }).map((o) => `!(${o.join('|')})`),
  );
  const gap = fc.oneof(
    fc.constant('*'),
    fc.nat(3).map((n) => `{${n}}`),
    fc.nat(3).map((n) => `{${n}-}`),
    fc.nat(3).map((n) => `{-${n}}`),
    fc.tuple(fc.nat(2), fc.nat(3)).map(([a, b]) => `{${a}-${a + b}}`),
  );
  const sig = fc
    .tuple(fixed, fc.array(fc.tuple(fc.option(gap, { nil: '' }), token), { maxLength: 4 }), fc.option(gap, { nil: '' }), fixed)
    .map(([first, rest, g, last]) => first + rest.map(([a, b]) => a + b).join('') + g + last);
  const offset = fc.oneof(
    fc.constant('*'), fc.constant('*'),
    fc.nat(6).map(String),
    fc.tuple(fc.nat(6), fc.nat(400)).map(([a, b]) => `${a},${b}`),
    fc.nat(8).map((n) => `EOF-${n}`),
    fc.tuple(fc.nat(8), fc.nat(3)).map(([a, b]) => `EOF-${a},${b}`),
  );
  const data = fc.uint8Array({ minLength: 0, maxLength: 48 }).map((a) => Buffer.from(a.map((x) => alphabet[x % alphabet.length]!)));
  it('on random signatures, offsets and data', () => {
    fc.assert(
      fc.property(sig, offset, data, (s, off, d) => {
        parseHexSignature(s); // must be valid
        const { db, report } = signatureDbFromText({ ndb: `R:0:${off}:${s}` });
        expect(report.rejected).toEqual([]);
        expect(db.body.matchSync(d).length === 1).toBe(reference(s, off, d));
      }),
      { numRuns: 3000 },
    );
  });
  it('the hex parser refuses garbage with HexSigError, never another exception', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789abcdefz?*{}-()|![]B'.split('')), maxLength: 20 }), (s) => {
        try {
          parseHexSignature(s);
        } catch (e) {
          expect(e).toBeInstanceOf(HexSigError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
