/**
 * Issue 16, items 2 and 3, at the message level: a part the core cannot open is never a
 * silent clean (`unchecked` on the clean verdict), and a limit does not hide a virus
 * (EICAR beside a bomb is infected, with the limit reported).
 */
import { describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../../adapters/embedded.js';
import { scanMessageDetailed } from '../../../src/core/scan.js';
import { mergeVerdicts } from '../../../src/core/verdict.js';
import { EICAR, zeroZip, zip } from './fixtures.js';

/** A message with each file attached (base64), in order. */
function mailWith(files: [string, Buffer][]): Buffer {
  const parts = files.map(([name, data]) =>
    [
      '--b1',
      `Content-Type: application/octet-stream; name="${name}"`,
      'Content-Transfer-Encoding: base64',
      '',
      data.toString('base64').replace(/.{1,76}/g, (l) => l + '\r\n'),
    ].join('\r\n'),
  );
  return Buffer.from(
    ['From: a@example.org', 'To: b@example.net', 'Subject: files', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b1"', '', ...parts, '--b1--', ''].join('\r\n'),
  );
}

function encryptedZip(): Buffer {
  const archive = Buffer.from(zip({ 'secret.txt': Buffer.from('hidden') }, 0));
  archive.writeUInt16LE(archive.readUInt16LE(6) | 1, 6);
  const cd = archive.indexOf(Buffer.from('PK\x01\x02', 'latin1'));
  archive.writeUInt16LE(archive.readUInt16LE(cd + 8) | 1, cd + 8);
  return archive;
}

describe('a limit does not hide a virus', () => {
  it('EICAR after a zip bomb in one message → infected, with the limit reported', async () => {
    const bomb = await zeroZip(8);
    const r = await scanMessageDetailed(mailWith([['bomb.zip', bomb], ['eicar.com', EICAR]]), { scanners: [createEmbeddedAdapter()] });
    expect(r.verdict.status).toBe('infected');
    if (r.verdict.status !== 'infected') return;
    expect(r.verdict.detections.map((d) => d.part)).toEqual(['2:eicar.com']);
    expect(r.verdict.limits?.[0]?.code).toBe('LIMIT_EXCEEDED');
    expect(r.verdict.limits?.[0]?.message).toContain('maxCompressionRatio');
  });

  it('EICAR beside a bomb member in the same zip → infected; the bomb member alone is cut', async () => {
    const inner = await zeroZip(8, 'zeros.bin');
    const archive = zip({ 'a-bomb.zip': inner, 'z-eicar.com': EICAR }, 0);
    const r = await scanMessageDetailed(mailWith([['both.zip', archive]]), { scanners: [createEmbeddedAdapter()], limits: { maxExpandedBytes: 4 * 1024 * 1024, maxCompressionRatio: 1e9 } });
    expect(r.verdict.status).toBe('infected');
    if (r.verdict.status !== 'infected') return;
    expect(r.verdict.detections[0]?.part).toBe('1:both.zip > z-eicar.com');
    expect(r.verdict.limits?.map((l) => l.message).join(' ')).toContain('maxExpandedBytes');
  });

  it('the bomb alone is still an error naming the limit, never clean', async () => {
    const r = await scanMessageDetailed(mailWith([['bomb.zip', await zeroZip(8)]]), { scanners: [createEmbeddedAdapter()] });
    expect(r.verdict).toMatchObject({ status: 'error', error: { code: 'LIMIT_EXCEEDED' } });
  });
});

describe('unchecked parts are visible', () => {
  it('an encrypted zip member: clean, with unchecked ENCRYPTED naming the member', async () => {
    const r = await scanMessageDetailed(mailWith([['x.zip', encryptedZip()]]), { scanners: [createEmbeddedAdapter()] });
    expect(r.verdict).toEqual({ status: 'clean', unchecked: [{ part: '1:x.zip > secret.txt', reason: 'ENCRYPTED', detail: 'encrypted zip entry (method 0)' }] });
  });

  it('a packed program: clean, with unchecked UNSUPPORTED_FORMAT', async () => {
    // The smallest PE with a UPX0 section: headers only.
    const pe = Buffer.alloc(512);
    pe.write('MZ', 0, 'latin1');
    pe.writeUInt32LE(0x80, 0x3c);
    pe.write('PE\0\0', 0x80, 'latin1');
    pe.writeUInt16LE(1, 0x86); // one section
    pe.writeUInt16LE(0xe0, 0x94); // optional header size
    const sec = 0x80 + 24 + 0xe0;
    pe.write('UPX0', sec, 'latin1');
    const r = await scanMessageDetailed(mailWith([['setup.exe', pe]]), { scanners: [createEmbeddedAdapter()] });
    expect(r.verdict).toMatchObject({ status: 'clean', unchecked: [{ part: '1:setup.exe', reason: 'UNSUPPORTED_FORMAT', detail: 'packed executable (UPX)' }] });
  });

  it('an infected verdict wins over unchecked parts; an error over clean-with-unchecked', () => {
    const unchecked = { status: 'clean' as const, unchecked: [{ part: 'p', reason: 'ENCRYPTED' as const }] };
    expect(mergeVerdicts([unchecked, { status: 'infected', detections: [{ name: 'X', scanner: 's' }] }]).status).toBe('infected');
    expect(mergeVerdicts([unchecked, { status: 'error', error: { code: 'TIMEOUT', message: 't' } }]).status).toBe('error');
    expect(mergeVerdicts([unchecked, { status: 'clean' }])).toEqual(unchecked);
  });
});
