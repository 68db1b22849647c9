import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64, decodeBase64Slow, decodeQuotedPrintable, decodeTransfer, normalizeEncoding } from '../../../src/core/mime/decode.js';
import { findUuBlocks } from '../../../src/core/mime/uuencode.js';
import { eicar, qp, uuencode } from './helpers.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('decodeBase64', () => {
  it('fast and slow paths agree on clean, wrapped and junk-laden input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.constantFrom(' ', '\r\n', '\n', '\t', '*', '!', '\x00', '\xff'), { maxLength: 20 }), (data, junk) => {
        let s = Buffer.from(data).toString('base64');
        for (const [k, j] of junk.entries()) {
          const at = (k * 37) % (s.length + 1);
          s = s.slice(0, at) + j + s.slice(at);
        }
        const input = bytes(s);
        const fast = decodeBase64(input);
        expect(fast.equals(Buffer.from(data))).toBe(true);
        expect(decodeBase64Slow(input).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('missing padding and a dangling single character', () => {
    expect(decodeBase64(bytes('SGVsbG8')).toString()).toBe('Hello');
    expect(decodeBase64(bytes('SGVsbG8gd')).toString()).toBe('Hello ');
    expect(decodeBase64(bytes('')).length).toBe(0);
    expect(decodeBase64(bytes('====')).length).toBe(0);
  });

  it('padding in the middle does not end decoding; "-" and "_" are junk', () => {
    expect(decodeBase64(bytes('SGk=\r\nSGk=\r\nIQ==')).toString()).toBe('HiHi!');
    expect(decodeBase64(bytes('SG-k_=')).toString()).toBe('Hi');
  });
});

describe('decodeQuotedPrintable', () => {
  it('escapes, soft breaks, literal bad escapes', () => {
    expect(decodeQuotedPrintable(bytes('a=3Db=3db')).toString()).toBe('a=b=b');
    expect(decodeQuotedPrintable(bytes('long=\r\nline=\nend')).toString()).toBe('longlineend');
    expect(decodeQuotedPrintable(bytes('=G1 =1G x=')).toString()).toBe('=G1 =1G x');
    expect(decodeQuotedPrintable(bytes('hard\r\nbreak')).toString()).toBe('hard\r\nbreak');
  });

  it('round-trips any bytes through a QP encoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.constantFrom('\r\n', '\n'), (data, eol) => {
        expect(decodeQuotedPrintable(bytes(qp(Buffer.from(data), eol))).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('uuencode', () => {
  it('round-trips any bytes and finds the block among text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), fc.constantFrom('\r\n', '\n'), (data, eol) => {
        const text = bytes(`before${eol}${uuencode(Buffer.from(data), 'f.bin', eol)}after${eol}`);
        const blocks = [...findUuBlocks(text)];
        expect(blocks).toHaveLength(1);
        expect(blocks[0]!.name).toBe('f.bin');
        expect(blocks[0]!.mode).toBe('644');
        expect(blocks[0]!.data.equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('ignores "begin" that is not a uu header', () => {
    expect([...findUuBlocks(bytes('we begin here\nbegin 644\nbegin abc file\n'))]).toEqual([]);
  });
});

describe('decodeTransfer / normalizeEncoding', () => {
  it('dispatches on the encoding in any case', () => {
    const e = eicar();
    expect(decodeTransfer(bytes(e.toString('base64')), 'BASE64').equals(e)).toBe(true);
    expect(decodeTransfer(bytes(qp(e)), 'quoted-printable').equals(e)).toBe(true);
    expect(decodeTransfer(bytes(uuencode(e, 'x')), 'x-uuencode').equals(e)).toBe(true);
    expect(decodeTransfer(bytes('as is=41'), '8bit').toString()).toBe('as is=41');
  });

  it('normalizes the header value to its first token', () => {
    expect(normalizeEncoding(undefined)).toBe('7bit');
    expect(normalizeEncoding('  Base64 ')).toBe('base64');
    expect(normalizeEncoding('quoted-printable (comment)')).toBe('quoted-printable');
    expect(normalizeEncoding('')).toBe('7bit');
  });
});
