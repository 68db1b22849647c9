/**
 * Our SMTP proxy (embedded scanner) ↔ our driver ↔ our sink, all real SMTP over loopback.
 * Scanner failure comes from a real clamd adapter pointed at a closed port; a next hop
 * that is down is a closed port; a next hop answering 554 is our sink told to refuse.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClamdAdapter, createEmbeddedAdapter } from '../../../adapters/index.js';
import { freePort } from '../../../src/core/net.js';
import type { Adapter } from '../../../src/core/types.js';
import { SMTPServer } from 'smtp-server';
import { createSmtpDriver, createSmtpProxy, createSmtpSink, SmtpClient, type ProxyEvent, type SmtpProxyOptions, type SmtpSink } from '../../../src/modes/smtp/index.js';
import { acceptAtOnce, greetAtOnce } from '../../../src/modes/smtp/socket.js';
import type { MessageOutcome } from '../../../src/modes/types.js';
import { EICAR, mailWithAttachment } from '../../helpers/eicar.js';

const clean = (n = 0): Buffer => Buffer.from(`From: a@example.org\r\nTo: b@example.net\r\nSubject: clean ${n}\r\n\r\nHello ${n}.\r\n.leading dot line\r\n`, 'latin1');
const infected = (): Buffer => mailWithAttachment('eicar.com', EICAR);

const embedded: Adapter = createEmbeddedAdapter();
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'avbench-smtp-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Proxy in front of `sink` (or a given next hop), driver in front of the proxy; run `body`; tear down. */
async function withChain(
  opts: Partial<SmtpProxyOptions> & { sink?: SmtpSink },
  body: (send: (raw: Buffer) => Promise<MessageOutcome>, ctx: { sink: SmtpSink; events: ProxyEvent[]; port: number }) => Promise<void>,
): Promise<void> {
  const sink = opts.sink ?? (await createSmtpSink());
  const events: ProxyEvent[] = [];
  const proxy = createSmtpProxy({ forward: { host: sink.host, port: sink.port }, scanners: [embedded], log: (e) => events.push(e), ...opts });
  const { port } = await proxy.listen();
  const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink, sessions: 2, graceMs: 300, timeoutMs: 10_000 });
  await driver.open();
  let n = 0;
  try {
    await body((raw) => driver.send({ file: `m${++n}.eml`, raw }), { sink, events, port });
  } finally {
    await driver.close();
    await proxy.close();
    await sink.close();
  }
}

describe('smtp proxy with the embedded scanner', () => {
  it('delivers clean mail with X-Virus-Scanned, dots intact', async () => {
    const sink = await createSmtpSink({ keepMessages: true });
    await withChain({ sink }, async (send, { events }) => {
      const out = await send(clean(1));
      expect(out).toMatchObject({ fate: 'delivered', verdict: 'clean', names: [] });
      expect(out.smtpReply).toMatch(/^250 /);
      const [arrival] = [...sink.arrivals.values()];
      expect(arrival?.virusScanned).toEqual(['avbench (embedded)']);
      expect(arrival?.virusStatus).toEqual(['Clean']);
      const msg = [...sink.messages.values()][0]?.toString('latin1') ?? '';
      expect(msg).toContain('\r\n.leading dot line\r\n');
      expect(msg).toContain('Subject: clean 1');
      expect(events[0]).toMatchObject({ verdict: 'clean', action: 'forwarded' });
    });
  });

  it('rejects EICAR with 550 5.7.1 naming it; nothing reaches the sink', async () => {
    await withChain({}, async (send, { sink }) => {
      const out = await send(infected());
      expect(out).toMatchObject({ fate: 'rejected', verdict: 'infected', names: ['Eicar-Test-Signature'] });
      expect(out.smtpReply).toBe('550 5.7.1 Virus found: Eicar-Test-Signature');
      expect(sink.received).toBe(0);
    });
  });

  it('drop: 250, nothing at the sink, fate dropped', async () => {
    await withChain({ onInfected: 'drop' }, async (send, { sink, events }) => {
      const out = await send(infected());
      expect(out.smtpReply).toMatch(/^250 /);
      expect(out).toMatchObject({ fate: 'dropped', verdict: 'infected', names: ['Eicar-Test-Signature'] });
      expect(sink.received).toBe(0);
      expect(events[0]).toMatchObject({ action: 'dropped', names: ['Eicar-Test-Signature'] });
    });
  });

  it('tag: delivered with X-Virus-Status: Infected (names), fate tagged', async () => {
    await withChain({ onInfected: 'tag' }, async (send, { sink }) => {
      const out = await send(infected());
      expect(out).toMatchObject({ fate: 'tagged', verdict: 'infected', names: ['Eicar-Test-Signature'] });
      expect([...sink.arrivals.values()][0]?.virusStatus).toEqual(['Infected (Eicar-Test-Signature)']);
    });
  });

  it('removes a forged X-Virus-Status from the incoming message', async () => {
    await withChain({ onInfected: 'tag' }, async (send, { sink }) => {
      const forged = Buffer.concat([Buffer.from('X-Virus-Status: Clean\r\n\tcontinued\r\n'), infected()]);
      const out = await send(forged);
      expect(out.fate).toBe('tagged');
      expect([...sink.arrivals.values()][0]?.virusStatus).toEqual(['Infected (Eicar-Test-Signature)']);
    });
  });

  it('quarantine: a 0600 file with a generated name, then 250', async () => {
    const qdir = join(tmp, 'quarantine');
    await withChain({ onInfected: 'quarantine', quarantineDir: qdir }, async (send, { sink, events }) => {
      const raw = mailWithAttachment('../../etc/passwd', EICAR);
      const out = await send(raw);
      expect(out).toMatchObject({ fate: 'dropped', verdict: 'infected' });
      expect(out.smtpReply).toMatch(/^250 /);
      expect(sink.received).toBe(0);
      const files = await readdir(qdir);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^\d{17}-[0-9a-f]{16}\.eml$/);
      const st = await stat(join(qdir, files[0] as string));
      expect(st.mode & 0o777).toBe(0o600);
      expect(events[0]?.file).toBe(join(qdir, files[0] as string));
    });
  });

  it('scanner error: 451 and nothing delivered (default tempfail)', async () => {
    const dead = await freePort();
    const broken = createClamdAdapter({ name: 'clamd-down', host: '127.0.0.1', port: dead, timeoutMs: 2_000 });
    await withChain({ scanners: [broken] }, async (send, { sink }) => {
      const out = await send(clean(2));
      expect(out).toMatchObject({ fate: 'tempfailed', verdict: 'error' });
      expect(out.smtpReply).toMatch(/^451 4\.3\.0 Virus scan failed \(CONNECT_FAILED\), try again later$/);
      expect(sink.received).toBe(0);
    });
  });

  it('scanner error with onFail accept: forwarded as Unchecked (CODE)', async () => {
    const dead = await freePort();
    const broken = createClamdAdapter({ name: 'clamd-down', host: '127.0.0.1', port: dead, timeoutMs: 2_000 });
    await withChain({ scanners: [broken], onFail: 'accept' }, async (send, { sink }) => {
      const out = await send(clean(3));
      expect(out).toMatchObject({ fate: 'delivered', verdict: 'error', errorCode: 'CONNECT_FAILED' });
      expect([...sink.arrivals.values()][0]?.virusStatus).toEqual(['Unchecked (CONNECT_FAILED)']);
    });
  });

  it('next hop down: 451, never 250', async () => {
    const sink = await createSmtpSink();
    const downPort = await freePort();
    await withChain({ sink, forward: { host: '127.0.0.1', port: downPort } }, async (send) => {
      for (let i = 0; i < 3; i++) {
        const out = await send(clean(i));
        expect(out.fate).toBe('tempfailed');
        expect(out.smtpReply).toMatch(/^451 4\.4\.1 next hop unavailable/);
      }
      expect(sink.received).toBe(0);
    });
  });

  it('next hop answering 554: the client gets the 5xx', async () => {
    const sink = await createSmtpSink({ respond: () => ({ code: 554, message: '5.7.0 policy says no' }) });
    await withChain({ sink }, async (send) => {
      const out = await send(clean(4));
      expect(out.smtpReply).toBe('554 5.7.0 policy says no');
      expect(out.fate).toBe('rejected');
    });
  });

  it('next hop answering 450: the client gets 451 (tempfail, never 250)', async () => {
    const sink = await createSmtpSink({ respond: () => ({ code: 450, message: '4.2.0 busy' }) });
    await withChain({ sink }, async (send) => {
      const out = await send(clean(5));
      expect(out.smtpReply).toMatch(/^451 4\.4\.0 next hop said: 450/);
      expect(out.fate).toBe('tempfailed');
    });
  });

  it('over maxSize: 552, and the session stays usable', async () => {
    await withChain({ maxSize: 10_000 }, async (send, { sink }) => {
      const big = Buffer.concat([clean(6), Buffer.alloc(50_000, 'x'), Buffer.from('\r\n')]);
      const out = await send(big);
      expect(out.smtpReply).toMatch(/^552 5\.3\.4 /);
      expect(out).toMatchObject({ fate: 'rejected', verdict: 'error', errorCode: 'SIZE_LIMIT' });
      expect((await send(clean(7))).fate).toBe('delivered');
      expect(sink.received).toBe(1);
    });
  });

  it('announces PIPELINING, 8BITMIME and SIZE', async () => {
    await withChain({ maxSize: 123_456 }, async (_send, { port }) => {
      const c = await SmtpClient.open({ host: '127.0.0.1', port }, { deadline: Date.now() + 5_000 });
      expect([...c.extensions]).toEqual(expect.arrayContaining(['PIPELINING', '8BITMIME', 'SIZE']));
      await c.quit();
    });
  });

  it('greeting at once: the hook past smtp-server\'s fixed 100 ms early-talker wait engages on the installed smtp-server; the greeting, HELO and QUIT still work', async () => {
    // greetAtOnce returns false (and changes nothing) when smtp-server's internals changed:
    // this catches an upgrade that would silently bring the 100 ms per connection back.
    expect(greetAtOnce(new SMTPServer({ logger: false }))).toBe(true);
    await withChain({}, async (_send, { port }) => {
      for (let i = 0; i < 3; i++) {
        const c = await SmtpClient.open({ host: '127.0.0.1', port }, { deadline: Date.now() + 5_000 });
        expect(c.greeting.code).toBe(220);
        await c.quit();
      }
    });
  });

  it('per-connection set-up without smtp-server\'s extras: the hook engages; ids stay 16 characters and distinct; QUIT gets its 221, then a clean close (FIN, no reset)', async () => {
    // acceptAtOnce returns false (and changes nothing) when smtp-server's internals changed.
    expect(acceptAtOnce(new SMTPServer({ logger: false }))).toBe(true);
    expect(acceptAtOnce(new SMTPServer({ logger: false, useProxy: true }))).toBe(false);
    await withChain({}, async (_send, { port, events }) => {
      for (let i = 0; i < 3; i++) {
        // A connection per message: each its own session id.
        const c = await SmtpClient.open({ host: '127.0.0.1', port }, { deadline: Date.now() + 5_000 });
        expect((await c.send({ from: 'a@example.org', to: ['b@example.net'] }, clean(i), Date.now() + 5_000)).decisive.code).toBe(250);
        await c.quit();
      }
      expect(events).toHaveLength(3);
      const ids = events.map((e) => e.session);
      expect(ids.every((id) => /^[0-9a-v]{16}$/.test(id))).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
      const got = await new Promise<{ text: string; ended: boolean; error?: string }>((resolve) => {
        const sock = createConnection({ host: '127.0.0.1', port });
        let text = '';
        let ended = false;
        let error: string | undefined;
        sock.on('data', (d: Buffer) => {
          text += d.toString('latin1');
          if (text.endsWith('\r\n')) {
            if (/^220 /m.test(text) && !/^250 /m.test(text)) sock.write('HELO quit.test\r\n');
            else if (/^250 /m.test(text) && !/^221 /m.test(text)) sock.write('QUIT\r\n');
          }
        });
        sock.on('end', () => (ended = true));
        sock.on('error', (e) => (error = e.message));
        sock.on('close', () => resolve({ text, ended, ...(error === undefined ? {} : { error }) }));
      });
      expect(got.text).toMatch(/^220 .*\r\n250 .*\r\n221 Bye\r\n$/s);
      expect(got).toMatchObject({ ended: true });
      expect(got.error).toBeUndefined();
    });
  });

  it('QUIT pipelined right after the final dot: the 250 (after the next hop\'s) comes first, then 221 and the close; the message is delivered', async () => {
    await withChain({}, async (_send, { port, events }) => {
      const text = await new Promise<string>((resolve, reject) => {
        const sock = createConnection({ host: '127.0.0.1', port });
        let got = '';
        let step = 0;
        sock.on('data', (d: Buffer) => {
          got += d.toString('latin1');
          if (step === 0 && /^220 /m.test(got)) (step = 1), sock.write('EHLO pipe.test\r\n');
          else if (step === 1 && /^250 /m.test(got)) (step = 2), sock.write('MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n');
          else if (step === 2 && /^354 /m.test(got)) (step = 3), sock.write('Subject: pipelined quit\r\n\r\nhello\r\n.\r\nQUIT\r\n');
        });
        sock.on('error', reject);
        sock.on('close', () => resolve(got));
      });
      expect(text).toMatch(/\r\n354 [^\r]*\r\n250 2\.0\.0 [^\r]*delivered[^\r]*\r\n221 [^\r]*\r\n$/);
      expect(events.map((e) => [e.action, e.verdict])).toEqual([['forwarded', 'clean']]);
    });
  });

  it('maxClients: a connection over the limit is refused with 421, binds loopback by default', async () => {
    await withChain({ maxClients: 1 }, async (_send, { port }) => {
      // The driver's two sessions are open already: a third client is over the limit.
      const err = await SmtpClient.open({ host: '127.0.0.1', port }, { deadline: Date.now() + 5_000 }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/421/);
    });
    const p = createSmtpProxy({ forward: { host: '127.0.0.1', port: 1 }, scanners: [embedded] });
    const bound = await p.listen();
    expect(bound.host).toBe('127.0.0.1');
    await p.close();
  });

  it('LMTP: one reply per recipient', async () => {
    const sink = await createSmtpSink({ lmtp: true, respond: (a) => (a.to.length > 0 ? undefined : undefined) });
    const proxy = createSmtpProxy({ forward: { host: sink.host, port: sink.port }, scanners: [embedded], lmtp: true });
    const { port } = await proxy.listen();
    try {
      const c = await SmtpClient.open({ host: '127.0.0.1', port }, { deadline: Date.now() + 5_000, lmtp: true });
      const ok = await c.send({ from: 'a@x.localhost', to: ['b@y.localhost', 'c@y.localhost'] }, clean(8), Date.now() + 5_000);
      expect(ok.final.map((r) => r.code)).toEqual([250, 250]);
      const bad = await c.send({ from: 'a@x.localhost', to: ['b@y.localhost', 'c@y.localhost'] }, infected(), Date.now() + 5_000);
      expect(bad.final.map((r) => `${r.code} ${r.lines.join(' ')}`)).toEqual([
        '550 5.7.1 Virus found: Eicar-Test-Signature',
        '550 5.7.1 Virus found: Eicar-Test-Signature',
      ]);
      await c.quit();
      expect(sink.received).toBe(1);
    } finally {
      await proxy.close();
      await sink.close();
    }
  });

  it('8 sessions × 100 messages: every message accounted for, lost = 0', async () => {
    const sink = await createSmtpSink();
    const proxy = createSmtpProxy({ forward: { host: sink.host, port: sink.port }, scanners: [embedded] });
    const { port } = await proxy.listen();
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink, sessions: 8, graceMs: 2_000 });
    await driver.open();
    try {
      const msgs = Array.from({ length: 800 }, (_, i) => (i % 4 === 0 ? infected() : clean(i)));
      const outs = await Promise.all(msgs.map((raw, i) => driver.send({ file: `m${i}.eml`, raw })));
      const fates: Record<string, number> = {};
      for (const o of outs) fates[o.fate] = (fates[o.fate] ?? 0) + 1;
      expect(fates).toEqual({ delivered: 600, rejected: 200 });
      expect(sink.received).toBe(600);
      await driver.close();
      expect(driver.stats()).toEqual({ sent: 800, extras: 0 });
    } finally {
      await proxy.close();
      await sink.close();
    }
  });
});
