/**
 * End to end: a real private Postfix with a virus filter in its path, mail sent by swaks,
 * a real SMTP server (smtp-server) as the next hop.
 * - smtpd_milters → our milter (createMilterServer, embedded scanner)
 * - smtpd_milters → real clamav-milter + lab clamd
 * - smtpd_proxy_filter → our SMTP proxy (createSmtpProxy), re-injecting into a second smtpd
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../adapters/index.js';
import { freePort } from '../../src/core/net.js';
import { startClamavMilter, type LabClamavMilter } from '../../src/lab/clamav-milter.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { startPostfix, type LabPostfix } from '../../src/lab/postfix.js';
import { EICAR_NDB_NAME } from '../../src/lab/signatures.js';
import { createMilterServer, type MilterServer } from '../../src/modes/milter/server.js';
import { createSmtpProxy, type SmtpProxy } from '../../src/modes/smtp/proxy.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';
import { describeReal } from '../helpers/real.js';
import { recordingSink, swaks } from './postfix-helpers.js';

const withId = (id: string, raw: Buffer): Buffer => Buffer.concat([Buffer.from(`X-Avbench-Id: ${id}\r\n`), raw]);
const clean = (id: string): Buffer => withId(id, mailWithAttachment('notes.txt', Buffer.from('minutes of the meeting\n')));
const bad = (id: string): Buffer => withId(id, mailWithAttachment('eicar.com', EICAR));

/** The common checks: clean relayed and tagged Clean, EICAR refused with 5.7.1 after DATA and never relayed. */
function endToEnd(get: () => { pf: LabPostfix; sink: Awaited<ReturnType<typeof recordingSink>> }, virus: string): void {
  it('relays a clean message to the sink with X-Virus-Status: Clean', async () => {
    const { pf, sink } = get();
    const before = sink.messages.length;
    const r = await swaks(pf.port, { raw: clean('e2e-clean') });
    expect(r.exitCode, r.out).toBe(0);
    expect(await pf.waitForSent(1, Date.now() + 30_000)).toBe(true);
    expect(sink.messages.length).toBe(before + 1);
    const text = sink.messages.at(-1)!.toString('latin1');
    expect(text).toContain('X-Avbench-Id: e2e-clean');
    expect(text, text).toMatch(/^X-Virus-Status: Clean\r?$/m);
    expect(text).toContain('bWludXRlcyBvZiB0aGUgbWVldGluZwo=');
  }, 60_000);

  it('refuses an EICAR message after DATA with 550 5.7.1 naming the virus; nothing relayed', async () => {
    const { pf, sink } = get();
    const before = sink.messages.length;
    const r = await swaks(pf.port, { raw: bad('e2e-bad') });
    expect(r.exitCode, r.out).toBe(26);
    expect(r.out).toMatch(new RegExp(`<\\*\\* 55\\d 5\\.7\\.1 .*${virus.replace(/\./g, '\\.')}`));
    // Give Postfix the time a wrongly queued message would take to reach the sink.
    await new Promise((r2) => setTimeout(r2, 1_500));
    expect(sink.messages.length).toBe(before);
    expect(await pf.sentCount()).toBe(1);
  }, 60_000);
}

await describeReal('Postfix + our milter (smtpd_milters)', ['postfix', 'swaks'], () => {
  let sink: Awaited<ReturnType<typeof recordingSink>>;
  let pf: LabPostfix;
  let milter: MilterServer;
  const embedded = createEmbeddedAdapter();
  beforeAll(async () => {
    sink = await recordingSink();
    milter = createMilterServer({ scanners: [embedded], listen: 'inet:0@127.0.0.1' });
    await milter.listen();
    pf = await startPostfix({ relayPort: sink.port, milter: milter.address });
  }, 60_000);
  afterAll(async () => {
    await pf?.stop();
    await milter?.close();
    await sink?.close();
    await embedded.close();
  }, 60_000);
  endToEnd(() => ({ pf, sink }), 'Eicar-Test-Signature');
});

await describeReal('Postfix + clamav-milter + clamd (smtpd_milters)', ['postfix', 'swaks', 'clamav-milter', 'clamd'], () => {
  let sink: Awaited<ReturnType<typeof recordingSink>>;
  let pf: LabPostfix;
  let clamd: LabClamd;
  let cm: LabClamavMilter;
  beforeAll(async () => {
    sink = await recordingSink();
    clamd = await startClamd();
    cm = await startClamavMilter({ clamdSocket: clamd.socket, listen: 'inet' });
    pf = await startPostfix({ relayPort: sink.port, milter: cm.socket });
  }, 90_000);
  afterAll(async () => {
    await pf?.stop();
    await cm?.stop();
    await clamd?.stop();
    await sink?.close();
  }, 60_000);
  endToEnd(() => ({ pf, sink }), EICAR_NDB_NAME);
});

await describeReal('Postfix + our SMTP proxy (smtpd_proxy_filter, before-queue)', ['postfix', 'swaks'], () => {
  let sink: Awaited<ReturnType<typeof recordingSink>>;
  let pf: LabPostfix;
  let proxy: SmtpProxy;
  const embedded = createEmbeddedAdapter();
  beforeAll(async () => {
    sink = await recordingSink();
    const reinjectPort = await freePort();
    proxy = createSmtpProxy({ forward: { host: '127.0.0.1', port: reinjectPort }, scanners: [embedded] });
    const { port } = await proxy.listen();
    pf = await startPostfix({ relayPort: sink.port, proxyFilter: `127.0.0.1:${port}`, reinjectPort });
  }, 60_000);
  afterAll(async () => {
    await pf?.stop();
    await proxy?.close();
    await sink?.close();
    await embedded.close();
  }, 60_000);
  endToEnd(() => ({ pf, sink }), 'Eicar-Test-Signature');

  describe('the filter is in the path', () => {
    it('the relayed message carries the proxy X-Virus-Scanned header and two Received lines of this Postfix', async () => {
      const text = sink.messages[0]!.toString('latin1');
      expect(text).toMatch(/^X-Virus-Scanned: /m);
      expect(text.match(/^Received: from /gm)?.length).toBeGreaterThanOrEqual(2);
    });
  });
});
