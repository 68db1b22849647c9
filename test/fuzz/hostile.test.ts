/**
 * Hostile input, hand-made: zip and gzip bombs, deep nesting (multipart, message/rfc822,
 * zip in zip), huge headers (a 5 MB header block, a 1 MB single header line), 10,000
 * addresses in To/Cc — through scanMessage with the embedded scanner and through our SMTP
 * proxy — and 10,000 RCPT TO at the proxy (a clear 452 past its recipient limit,
 * never a crash). Each must end with a verdict (a limit hit is LIMIT_EXCEEDED, never clean).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../adapters/index.js';
import { scanMessageDetailed } from '../../src/core/scan.js';
import { createSmtpDriver, createSmtpProxy, createSmtpSink, SmtpClient, type SmtpProxy, type SmtpSink } from '../../src/modes/smtp/index.js';
import { eicar } from '../../src/lab/signatures.js';
import { zeroGzip, zeroZip } from '../core/containers/fixtures.js';
import { STABLE_CODES, withAttachments, zipOf } from './seeds.js';

const embedded = createEmbeddedAdapter();

async function scan(raw: Buffer, limits = {}) {
  const r = await scanMessageDetailed(raw, { scanners: [embedded], limits: { timeoutMs: 20_000, ...limits } });
  if (r.verdict.status === 'error') expect(STABLE_CODES).toContain(r.verdict.error.code);
  return r;
}

function nestedMultipart(depth: number, leaf: string): Buffer {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    close = `\r\n--b${i}--\r\n` + close;
  }
  return Buffer.from(`Subject: deep\r\nMIME-Version: 1.0\r\n${open}Content-Type: text/plain\r\n\r\n${leaf}${close}`, 'latin1');
}

function nestedRfc822(depth: number, leaf: string): Buffer {
  let head = '';
  for (let i = 0; i < depth; i++) head += `Subject: level ${i}\r\nContent-Type: message/rfc822\r\n\r\n`;
  return Buffer.from(`${head}Subject: bottom\r\n\r\n${leaf}\r\n`, 'latin1');
}

function addresses(n: number): string {
  return Array.from({ length: n }, (_, i) => `"Person ${i}" <p${i}@d${i % 97}.example>`).join(',\r\n ');
}

describe('hostile input through scanMessage', () => {
  it('zip bomb (100 MB of zeros in one member): LIMIT_EXCEEDED, never clean', async () => {
    const bomb = await zeroZip(100);
    const r = await scan(withAttachments([{ name: 'bomb.zip', data: bomb }]));
    expect(r.verdict).toMatchObject({ status: 'error', error: { code: 'LIMIT_EXCEEDED' } });
    expect(r.expandedBytes).toBeLessThan(64 * 1024 * 1024);
  });

  it('zip bomb with EICAR beside it, before or after: infected either way, the limit reported on the verdict (issue 16: a limit does not hide a virus)', async () => {
    const bomb = await zeroZip(50);
    const before = await scan(withAttachments([{ name: 'eicar.com', data: eicar() }, { name: 'bomb.zip', data: bomb }]));
    expect(before.verdict.status).toBe('infected');
    const after = await scan(withAttachments([{ name: 'bomb.zip', data: bomb }, { name: 'eicar.com', data: eicar() }]));
    expect(after.verdict).toMatchObject({ status: 'infected', limits: [{ code: 'LIMIT_EXCEEDED' }] });
  });

  it('gzip bomb (200 MB of zeros): LIMIT_EXCEEDED', async () => {
    const r = await scan(withAttachments([{ name: 'bomb.gz', data: await zeroGzip(200) }]));
    expect(r.verdict).toMatchObject({ status: 'error', error: { code: 'LIMIT_EXCEEDED' } });
  });

  it('zip in zip, 40 deep, EICAR at the bottom: LIMIT_EXCEEDED (maxDepth), not clean', async () => {
    let z = zipOf({ 'eicar.com': eicar() });
    for (let i = 0; i < 40; i++) z = zipOf({ [`level${i}.zip`]: z });
    const r = await scan(withAttachments([{ name: 'deep.zip', data: z }]));
    expect(r.verdict).toMatchObject({ status: 'error', error: { code: 'LIMIT_EXCEEDED' } });
    expect(r.verdict.status === 'error' && r.verdict.error.message).toMatch(/maxDepth/);
  });

  it('multipart nested 10,000 deep: a verdict (LIMIT_EXCEEDED maxDepth), no stack overflow', async () => {
    const r = await scan(nestedMultipart(10_000, 'bottom'));
    expect(r.verdict).toMatchObject({ status: 'error', error: { code: 'LIMIT_EXCEEDED' } });
  });

  it('message/rfc822 nested 10,000 deep: a verdict, no stack overflow', async () => {
    const r = await scan(nestedRfc822(10_000, 'bottom'));
    expect(r.verdict).toMatchObject({ status: 'error', error: { code: 'LIMIT_EXCEEDED' } });
  });

  it('a 5 MB header block (50,000 header lines): a verdict; EICAR after it still found', async () => {
    const headers = Array.from({ length: 50_000 }, (_, i) => `X-Filler-${i}: ${'h'.repeat(90)}`).join('\r\n');
    const clean = Buffer.from(`${headers}\r\nSubject: big head\r\n\r\nbody\r\n`, 'latin1');
    expect(clean.length).toBeGreaterThan(5_000_000);
    expect((await scan(clean)).verdict.status).not.toBe('infected');
    const bad = Buffer.concat([Buffer.from(`${headers}\r\n`, 'latin1'), withAttachments([{ name: 'e.com', data: eicar() }])]);
    expect((await scan(bad)).verdict.status).toBe('infected');
  });

  it('a 1 MB single header line (and a 1 MB folded one): a verdict', async () => {
    const line = Buffer.from(`Subject: ${'A'.repeat(1024 * 1024)}\r\nX-Folded: ${'b '.repeat(1000)}\r\n${' c'.repeat(500_000)}\r\n\r\nbody\r\n`, 'latin1');
    const r = await scan(line);
    expect(['clean', 'error']).toContain(r.verdict.status);
    const withVirus = Buffer.concat([Buffer.from(`X-Huge: ${'z'.repeat(1024 * 1024)}\r\n`, 'latin1'), withAttachments([{ name: 'e.com', data: eicar() }])]);
    expect((await scan(withVirus)).verdict.status).toBe('infected');
  });

  it('10,000 addresses in To and 10,000 in Cc: a verdict', async () => {
    const raw = Buffer.concat([Buffer.from(`To: ${addresses(10_000)}\r\nCc: ${addresses(10_000)}\r\n`, 'latin1'), withAttachments([{ name: 'e.com', data: eicar() }])]);
    expect((await scan(raw)).verdict.status).toBe('infected');
  });

  it('20,000 tiny parts: LIMIT_EXCEEDED (maxParts), not clean', async () => {
    const parts = Array.from({ length: 20_000 }, (_, i) => `--P\r\nContent-Type: text/plain\r\n\r\n${i}\r\n`).join('');
    const r = await scan(Buffer.from(`Content-Type: multipart/mixed; boundary="P"\r\n\r\n${parts}--P--\r\n`, 'latin1'));
    expect(r.verdict).toMatchObject({ status: 'error', error: { code: 'LIMIT_EXCEEDED' } });
  });
});

describe('hostile input through our SMTP proxy (embedded scanner) to our sink', () => {
  let sink: SmtpSink;
  let proxy: SmtpProxy;
  let port: number;
  beforeAll(async () => {
    sink = await createSmtpSink();
    proxy = createSmtpProxy({ forward: { host: sink.host, port: sink.port }, scanners: [embedded], limits: { timeoutMs: 20_000 } });
    ({ port } = await proxy.listen());
  });
  afterAll(async () => {
    await proxy.close();
    await sink.close();
  });

  it('huge headers and 10,000 To/Cc addresses: answered (250 delivered or 4xx/5xx), the proxy stays up', async () => {
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink, graceMs: 5_000, timeoutMs: 60_000 });
    await driver.open();
    try {
      const headers = Array.from({ length: 50_000 }, (_, i) => `X-Filler-${i}: ${'h'.repeat(90)}`).join('\r\n');
      const cases = [
        Buffer.from(`${headers}\r\nSubject: big head\r\n\r\nbody\r\n`, 'latin1'),
        Buffer.from(`Subject: ${'A'.repeat(1024 * 1024)}\r\n\r\nbody\r\n`, 'latin1'),
        Buffer.from(`To: ${addresses(10_000)}\r\nCc: ${addresses(10_000)}\r\nSubject: many\r\n\r\nbody\r\n`, 'latin1'),
        nestedMultipart(5_000, 'x'),
      ];
      const fates = [];
      for (const raw of cases) fates.push((await driver.send({ file: 'h', raw })).fate);
      expect(fates.slice(0, 3)).toEqual(['delivered', 'delivered', 'delivered']);
      expect(fates[3]).toBe('tempfailed'); // LIMIT_EXCEEDED → 451 4.3.0
      const after = await driver.send({ file: 'e', raw: withAttachments([{ name: 'e.com', data: eicar() }]) });
      expect(after).toMatchObject({ fate: 'rejected', verdict: 'infected' });
    } finally {
      await driver.close();
    }
  }, 120_000);

  it('10,000 RCPT TO: the first 1,000 accepted, the rest 452 too many recipients; the message goes to the next hop only, for the accepted ones', async () => {
    sink.clear();
    const c = await SmtpClient.open({ host: '127.0.0.1', port }, { deadline: Date.now() + 10_000 });
    const to = Array.from({ length: 10_000 }, (_, i) => `r${i}@external${i % 50}.example.com`);
    const res = await c.send({ from: 'a@example.org', to }, Buffer.from('Subject: many rcpts\r\n\r\nhello\r\n'), Date.now() + 60_000);
    await c.quit();
    const accepted = res.rcpt.filter((r) => r.code === 250).length;
    const limited = res.rcpt.filter((r) => r.code === 452 && /too many recipients/i.test(r.lines.join(' '))).length;
    expect(accepted).toBe(1_000);
    expect(limited).toBe(9_000);
    expect(res.stage).toBe('done');
    expect(res.final[0]?.code).toBe(250);
    expect(sink.received).toBe(1);
    expect(sink.unidentified[0]?.to).toEqual(to.slice(0, 1_000));
  }, 120_000);
});
