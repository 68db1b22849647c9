/**
 * Fates a real server cannot be made to show on demand, with small FAKE servers named as
 * such (a next hop that never answers, a server that goes silent after DATA), plus the
 * grace-period path with two real sinks, and the wire helpers.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../../adapters/index.js';
import { createSmtpDriver, createSmtpProxy, createSmtpSink, dotStuff, headerValues, prependHeaders, virusNamesIn } from '../../../src/modes/smtp/index.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** FAKE SMTP server: greets, answers EHLO/MAIL/RCPT/DATA, then never answers after the body (or never after MAIL). */
async function fakeSilentServer(silentAfter: 'body' | 'mail'): Promise<number> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.write('220 fake ESMTP\r\n');
    let inData = false;
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        if (inData) return; // swallow the body, never answer
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const line = buf.slice(0, i).toUpperCase();
        buf = buf.slice(i + 2);
        if (line.startsWith('EHLO')) s.write('250-fake\r\n250 PIPELINING\r\n');
        else if (line.startsWith('MAIL')) {
          if (silentAfter === 'mail') return;
          s.write('250 ok\r\n');
        } else if (line.startsWith('RCPT')) s.write('250 ok\r\n');
        else if (line.startsWith('DATA')) {
          s.write('354 go\r\n');
          inData = true;
        } else if (line.startsWith('QUIT')) s.end('221 bye\r\n');
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  );
  return (srv.address() as net.AddressInfo).port;
}

describe('driver fates for faults', () => {
  it('a server that goes silent after the body: lost (TIMEOUT), and the next message gets a fresh session', async () => {
    const port = await fakeSilentServer('body');
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink: false, timeoutMs: 400 });
    await driver.open();
    cleanups.push(() => driver.close());
    const a = await driver.send({ file: 'a', raw: Buffer.from('Subject: a\r\n\r\nx\r\n') });
    expect(a).toMatchObject({ fate: 'lost', verdict: 'error', errorCode: 'TIMEOUT' });
    const b = await driver.send({ file: 'b', raw: Buffer.from('Subject: b\r\n\r\nx\r\n') });
    expect(b.fate).toBe('lost');
  });

  it('nothing listening: tempfailed CONNECT_FAILED (never thrown)', async () => {
    const sink = await createSmtpSink();
    const port = sink.port;
    await sink.close();
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink: false, timeoutMs: 1_000 });
    await driver.open();
    cleanups.push(() => driver.close());
    expect(await driver.send({ file: 'a', raw: Buffer.from('x\r\n') })).toMatchObject({ fate: 'tempfailed', errorCode: 'CONNECT_FAILED' });
  });

  it('250 but never at the watched sink: dropped after the grace period; extras counted', async () => {
    const elsewhere = await createSmtpSink();
    const watched = await createSmtpSink();
    cleanups.push(() => elsewhere.close(), () => watched.close());
    const driver = createSmtpDriver({ url: elsewhere.url, sink: watched, graceMs: 200 });
    await driver.open();
    const out = await driver.send({ file: 'a', raw: Buffer.from('Subject: a\r\n\r\nx\r\n') });
    expect(out).toMatchObject({ fate: 'dropped', verdict: 'infected', names: [] });
    expect(out.smtpReply).toMatch(/^250 /);
    expect(elsewhere.received).toBe(1);
    // Something the driver never sent arrives at the watched sink: an extra.
    const other = createSmtpDriver({ url: watched.url, sink: false });
    await other.open();
    await other.send({ file: 'x', raw: Buffer.from('Subject: stray\r\n\r\nx\r\n') });
    await other.close();
    await driver.close();
    expect(driver.stats()).toEqual({ sent: 1, extras: 1 });
  });

  it('proxy with a next hop that never answers: 451 after nextHopMs, never 250', async () => {
    const port = await fakeSilentServer('mail');
    const sink = await createSmtpSink();
    const proxy = createSmtpProxy({ forward: { host: '127.0.0.1', port }, scanners: [createEmbeddedAdapter()], timeouts: { nextHopMs: 300 } });
    const { port: pport } = await proxy.listen();
    cleanups.push(() => sink.close(), () => proxy.close());
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${pport}`, sink, graceMs: 100, timeoutMs: 5_000 });
    await driver.open();
    cleanups.push(() => driver.close());
    const out = await driver.send({ file: 'a', raw: Buffer.from('Subject: a\r\n\r\nx\r\n') });
    expect(out.fate).toBe('tempfailed');
    expect(out.smtpReply).toMatch(/^451 4\.4\.1 next hop did not answer in time/);
  });
});

describe('wire helpers', () => {
  it('dot-stuffs after CRLF and bare LF and at the start, and terminates', () => {
    expect(Buffer.concat(dotStuff(Buffer.from('.a\r\n.b\n.\r\nc'))).toString()).toBe('..a\r\n..b\n..\r\nc\r\n.\r\n');
    expect(Buffer.concat(dotStuff(Buffer.alloc(0))).toString()).toBe('.\r\n');
    expect(Buffer.concat(dotStuff(Buffer.from('x\r\n'))).toString()).toBe('x\r\n.\r\n');
  });

  it('prepends headers in the message line style and removes named ones with their continuations', () => {
    const out = prependHeaders(Buffer.from('X-Virus-Status: Clean\n\tmore\nSubject: s\n\nbody\nX-Virus-Status: in body\n'), ['X-Virus-Status: Infected (A)'], ['x-virus-status']);
    expect(out.toString()).toBe('X-Virus-Status: Infected (A)\nSubject: s\n\nbody\nX-Virus-Status: in body\n');
  });

  it('reads header values and virus names', () => {
    expect(headerValues(Buffer.from('A: 1\r\nx-avbench-id: q.1\r\nB: 2\r\n\t3\r\n'), 'X-Avbench-Id')).toEqual(['q.1']);
    expect(headerValues(Buffer.from('B: 2\r\n\t3\r\n'), 'b')).toEqual(['2 3']);
    expect(virusNamesIn('550 5.7.1 Virus found: Eicar-Test-Signature')).toEqual(['Eicar-Test-Signature']);
    expect(virusNamesIn('Infected (A, B.UNOFFICIAL)')).toEqual(['A', 'B.UNOFFICIAL']);
    expect(virusNamesIn('250 Virus Detected; Discarded Email')).toEqual([]);
    expect(virusNamesIn('250 2.0.0 Ok')).toEqual([]);
  });
});
