import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { Budget, DEFAULT_LIMITS } from '../../../src/core/limits.js';
import { walkMime, type MimeLeaf } from '../../../src/core/mime/walk.js';
import { defangMessage, defangName, formatParam } from '../../../src/modes/lda/defang.js';

const leaves = (raw: Buffer): MimeLeaf[] => [...walkMime(raw, new Budget(DEFAULT_LIMITS))];

/** A message with many attachment-name forms (CRLF unless lf). */
function sample(lf = false): Buffer {
  const nl = lf ? '\n' : '\r\n';
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return Buffer.from(
    [
      'From: a@example.org',
      'To: b@example.net',
      'Subject: names',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="outer"',
      '',
      'preamble',
      '--outer',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'Hello, see invoice.exe in the text: the body is never touched.',
      '--outer',
      'Content-Type: application/octet-stream; name="invoice.exe"',
      'Content-Disposition: attachment; filename=invoice.exe; size=5',
      'Content-Transfer-Encoding: base64',
      '',
      b64('MZ..1'),
      '--outer',
      'Content-Type: application/octet-stream',
      "Content-Disposition: attachment;\r\n filename*=utf-8''r%C3%A9sum%C3%A9.ScR".replace(/\r\n/g, nl),
      'Content-Transfer-Encoding: base64',
      '',
      b64('MZ..2'),
      '--outer',
      'Content-Type: application/octet-stream; name="=?utf-8?B?' + Buffer.from('фактура.js').toString('base64') + '?="',
      'Content-Transfer-Encoding: base64',
      '',
      b64('alert(3)'),
      '--outer',
      'Content-Type: application/octet-stream',
      'Content-Disposition: attachment; filename*0="very-long-name-part-one-";\r\n\tfilename*1="part-two.pdf.vbs"'.replace(/\r\n/g, nl),
      'Content-Transfer-Encoding: base64',
      '',
      b64('MsgBox 4'),
      '--outer',
      'Content-Type: application/pdf; name="report.pdf"',
      'Content-Disposition: attachment; filename="report.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      b64('%PDF-5'),
      '--outer',
      'Content-Type: message/rfc822',
      '',
      'Subject: inner',
      'Content-Type: multipart/mixed; boundary=inner',
      '',
      '--inner',
      'Content-Type: application/x-msdownload; name="../../etc/x;rm -rf.BAT"',
      'Content-Transfer-Encoding: base64',
      '',
      b64('echo 6'),
      '--inner--',
      '',
      '--outer--',
      '',
    ].join(nl),
    'utf8',
  );
}

describe('defangName', () => {
  it('renames dangerous extensions, case-insensitively, ignoring trailing dots and spaces', () => {
    expect(defangName('invoice.exe')).toBe('invoice.DEFANGED-EXE');
    expect(defangName('a.pdf.Exe')).toBe('a.pdf.DEFANGED-EXE');
    expect(defangName('x.scr. . ')).toBe('x.DEFANGED-SCR');
    expect(defangName('report.pdf')).toBeUndefined();
    expect(defangName('exe')).toBeUndefined();
    expect(defangName('notes.txt', ['txt'])).toBe('notes.DEFANGED-TXT');
    expect(defangName('invoice.exe', ['.txt'])).toBeUndefined();
  });

  it('formats parameters as quoted ASCII, RFC 2231, or RFC 2231 continuations', () => {
    expect(formatParam('name', 'a.DEFANGED-EXE')).toEqual(['name=a.DEFANGED-EXE']);
    expect(formatParam('name', 'a b;"c".DEFANGED-EXE')).toEqual(['name="a b;\\"c\\".DEFANGED-EXE"']);
    expect(formatParam('filename', 'é.DEFANGED-JS')).toEqual(["filename*=utf-8''%C3%A9.DEFANGED-JS"]);
    const long = formatParam('filename', `${'ж'.repeat(30)}.DEFANGED-EXE`);
    expect(long.length).toBeGreaterThan(1);
    expect(long[0]).toMatch(/^filename\*0\*=utf-8''/);
    for (const p of long.slice(1)) expect(p).toMatch(/^filename\*\d+\*=[^%]*(%[0-9A-F]{2}[^%]*)*$/);
  });
});

describe('defangMessage', () => {
  for (const lf of [false, true]) {
    it(`renames every dangerous name and keeps every part and body byte for byte (${lf ? 'LF' : 'CRLF'})`, async () => {
      const raw = sample(lf);
      const r = defangMessage(raw);
      expect(r.skipped).toBe(0);
      expect(r.renamed.map((x) => `${x.field}/${x.param}: ${x.from} -> ${x.to}`)).toEqual([
        'content-type/name: invoice.exe -> invoice.DEFANGED-EXE',
        'content-disposition/filename: invoice.exe -> invoice.DEFANGED-EXE',
        'content-disposition/filename: résumé.ScR -> résumé.DEFANGED-SCR',
        'content-type/name: фактура.js -> фактура.DEFANGED-JS',
        'content-disposition/filename: very-long-name-part-one-part-two.pdf.vbs -> very-long-name-part-one-part-two.pdf.DEFANGED-VBS',
        'content-type/name: ../../etc/x;rm -rf.BAT -> ../../etc/x;rm -rf.DEFANGED-BAT',
      ]);
      const before = leaves(raw);
      const after = leaves(r.message);
      expect(after.length).toBe(before.length);
      for (let i = 0; i < before.length; i++) {
        expect(after[i]!.data.equals(before[i]!.data)).toBe(true);
        expect(after[i]!.contentType).toBe(before[i]!.contentType);
        expect(after[i]!.mimePath).toBe(before[i]!.mimePath);
      }
      expect(after.map((l) => l.filename)).toEqual([
        undefined,
        'invoice.DEFANGED-EXE',
        'résumé.DEFANGED-SCR',
        'фактура.DEFANGED-JS',
        'very-long-name-part-one-part-two.pdf.DEFANGED-VBS',
        'report.pdf',
        '../../etc/x;rm -rf.DEFANGED-BAT',
      ]);
      // Outside the rewritten header fields, not a byte changed: removing them leaves the same text.
      const strip = (b: Buffer): string =>
        b
          .toString('utf8')
          .replace(/^Content-(Type|Disposition):.*(\r?\n[ \t].*)*\r?\n/gim, '')
          .replace(/\r/g, '');
      expect(strip(r.message)).toBe(strip(raw));
      // The message's own line ending is kept in the rewritten fields.
      if (!lf) expect(/[^\r]\n/.test(r.message.toString('utf8'))).toBe(false);

      // A second, independent parser agrees.
      const parsed = await simpleParser(r.message);
      const names = parsed.attachments.map((a) => a.filename);
      expect(names).toContain('invoice.DEFANGED-EXE');
      expect(names).toContain('résumé.DEFANGED-SCR');
      expect(names).toContain('фактура.DEFANGED-JS');
      expect(names).toContain('very-long-name-part-one-part-two.pdf.DEFANGED-VBS');
      expect(names).toContain('report.pdf');
      expect(parsed.attachments.find((a) => a.filename === 'invoice.DEFANGED-EXE')?.content.toString()).toBe('MZ..1');
    });
  }

  it('leaves a message without dangerous names as the same Buffer', () => {
    const raw = Buffer.from('Subject: x\r\nContent-Type: text/plain; name="a.txt"\r\n\r\nhi\r\n');
    const r = defangMessage(raw);
    expect(r.message).toBe(raw);
    expect(r.renamed).toEqual([]);
  });

  it('keeps the other parameters of a rewritten field and the list is configurable', () => {
    const raw = Buffer.from('Content-Type: text/plain; charset=utf-8; name="notes.txt"; format=flowed\n\nhi\n');
    const r = defangMessage(raw, { extensions: ['txt'] });
    expect(r.message.toString()).toBe('Content-Type: text/plain;\n\tcharset=utf-8;\n\tformat=flowed;\n\tname=notes.DEFANGED-TXT\n\nhi\n');
  });

  it('renames uuencode begin lines in text parts; the decoded data stays the same', () => {
    const uu = (name: string, data: Buffer): string => {
      const lines = [`begin 644 ${name}`];
      for (let i = 0; i < data.length; i += 45) {
        const chunk = data.subarray(i, i + 45);
        let line = String.fromCharCode(32 + chunk.length);
        for (let j = 0; j < chunk.length; j += 3) {
          const b = [chunk[j] ?? 0, chunk[j + 1] ?? 0, chunk[j + 2] ?? 0];
          const n = (b[0]! << 16) | (b[1]! << 8) | b[2]!;
          for (const sh of [18, 12, 6, 0]) line += String.fromCharCode(((n >> sh) & 63) === 0 ? 96 : 32 + ((n >> sh) & 63));
        }
        lines.push(line);
      }
      lines.push('`', 'end');
      return lines.join('\r\n');
    };
    const payload = Buffer.from('MZ this would be a program, 60 bytes long or so, honestly.');
    const raw = Buffer.from(`Subject: old style\r\n\r\nSee attached.\r\n${uu('setup.exe', payload)}\r\n${uu('readme.txt', Buffer.from('hi'))}\r\nbegin not a uu line.exe\r\n`);
    const r = defangMessage(raw);
    expect(r.renamed).toEqual([{ field: 'uuencode', param: 'begin', from: 'setup.exe', to: 'setup.DEFANGED-EXE' }]);
    const before = leaves(raw);
    const after = leaves(r.message);
    expect(after.map((l) => l.filename)).toEqual([undefined, 'setup.DEFANGED-EXE', 'readme.txt']);
    expect(after[1]!.data.equals(before[1]!.data)).toBe(true);
    expect(after[1]!.data.equals(payload)).toBe(true);
    expect(r.message.toString().replace('setup.DEFANGED-EXE', 'setup.exe')).toBe(raw.toString());
  });

  it('is bounded on deep nesting (no recursion, no throw)', () => {
    let msg = 'Content-Type: application/octet-stream; name="deep.exe"\n\nx\n';
    for (let i = 0; i < 200; i++) msg = `Content-Type: message/rfc822\n\n${msg}`;
    const r = defangMessage(Buffer.from(msg));
    expect(r.skipped).toBe(1);
    expect(r.renamed).toEqual([]);
  });
});

describe('defangMessage (property)', () => {
  it('any name in any form: the part keeps its bytes and its name becomes defangName(name)', async () => {
    const fc = await import('fast-check');
    const exts = ['exe', 'js', 'scr', 'pdf', 'txt', 'EXE', 'bat'];
    const form = fc.constantFrom('quoted', 'token', 'rfc2231', 'rfc2231-cont', 'encoded-word');
    const nameArb = fc
      .tuple(fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '.', ';', '"', '\\', '/', 'é', 'ж', '€', '(', '=', '%', "'"), minLength: 1, maxLength: 40 }), fc.constantFrom(...exts))
      .map(([base, ext]) => `${base}.${ext}`);
    const encode = (name: string, f: string, param: string): string => {
      switch (f) {
        case 'token':
          return /^[A-Za-z0-9._-]+$/.test(name) ? `${param}=${name}` : `${param}="${name.replace(/(["\\])/g, '\\$1')}"`;
        case 'rfc2231':
          return `${param}*=utf-8''${encodeURIComponent(name).replace(/'/g, '%27')}`;
        case 'rfc2231-cont': {
          const enc = encodeURIComponent(name).replace(/'/g, '%27');
          const cut = enc.length > 6 ? enc.indexOf('%') === -1 ? 3 : Math.max(1, enc.indexOf('%')) : enc.length;
          return cut >= enc.length ? `${param}*0*=utf-8''${enc}` : `${param}*0*=utf-8''${enc.slice(0, cut)};\r\n ${param}*1*=${enc.slice(cut)}`;
        }
        case 'encoded-word':
          return `${param}="=?utf-8?B?${Buffer.from(name).toString('base64')}?="`;
        default:
          return `${param}="${name.replace(/(["\\])/g, '\\$1')}"`;
      }
    };
    fc.assert(
      fc.property(nameArb, form, fc.boolean(), fc.uint8Array({ minLength: 0, maxLength: 200 }), (name, f, inCd, bytes) => {
        const data = Buffer.from(bytes);
        const header = inCd
          ? `Content-Type: application/octet-stream\r\nContent-Disposition: attachment; ${encode(name, f, 'filename')}`
          : `Content-Type: application/octet-stream; ${encode(name, f, 'name')}`;
        const raw = Buffer.from(
          `Subject: p\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nbody\r\n--zz\r\n${header}\r\nContent-Transfer-Encoding: base64\r\n\r\n${data.toString('base64')}\r\n--zz--\r\n`,
        );
        const before = leaves(raw);
        const r = defangMessage(raw);
        const after = leaves(r.message);
        expect(after.length).toBe(before.length);
        for (let i = 0; i < before.length; i++) expect(after[i]!.data.equals(before[i]!.data)).toBe(true);
        const old = before[1]!.filename;
        if (old === undefined) return;
        const want = defangName(old);
        expect(after[1]!.filename).toBe(want ?? old);
        expect(r.renamed.length).toBe(want === undefined ? 0 : 1);
      }),
      { numRuns: 300 },
    );
  });
});
