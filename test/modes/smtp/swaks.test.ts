/**
 * A real SMTP client that is not ours, swaks, against our proxy (embedded scanner) with
 * our sink as next hop: exit 0 for clean mail, 26 ("rejected after DATA") for EICAR.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../../adapters/index.js';
import { run } from '../../../src/core/exec.js';
import { createSmtpProxy, createSmtpSink, type SmtpProxy, type SmtpSink } from '../../../src/modes/smtp/index.js';
import { EICAR, mailWithAttachment } from '../../helpers/eicar.js';
import { describeReal } from '../../helpers/real.js';

await describeReal('swaks against our SMTP proxy', ['swaks'], () => {
  let sink: SmtpSink;
  let proxy: SmtpProxy;
  let port: number;
  beforeAll(async () => {
    sink = await createSmtpSink({ keepMessages: true });
    proxy = createSmtpProxy({ forward: { host: sink.host, port: sink.port }, scanners: [createEmbeddedAdapter()] });
    ({ port } = await proxy.listen());
  });
  afterAll(async () => {
    await proxy?.close();
    await sink?.close();
  });

  const swaks = (message: Buffer) =>
    run('swaks', ['--server', `127.0.0.1:${port}`, '--from', 'alice@example.org', '--to', 'bob@example.net', '--data', '-', '--timeout', '15'], {
      input: message,
      deadline: Date.now() + 30_000,
    });

  it('clean mail: exit 0, delivered with X-Virus-Scanned', async () => {
    const r = await swaks(Buffer.from('From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hello\r\nX-Avbench-Id: swaks-clean\r\n\r\nJust text.\r\n'));
    expect(r.ok && r.exitCode).toBe(0);
    expect(sink.arrivals.get('swaks-clean')?.virusScanned).toEqual(['avbench (embedded)']);
  }, 40_000);

  it('EICAR: exit 26, the 550 5.7.1 reply names the virus, nothing delivered', async () => {
    const before = sink.received;
    const r = await swaks(mailWithAttachment('eicar.com', EICAR));
    expect(r.ok && r.exitCode).toBe(26);
    expect(r.ok ? r.stdout : '').toContain('550 5.7.1 Virus found: Eicar-Test-Signature');
    expect(sink.received).toBe(before);
  }, 40_000);
});
