/**
 * Fates a real server cannot be made to show on demand, with small FAKE servers named as
 * such (a next hop that never answers, a server that goes silent after DATA), plus the
 * grace-period path with two real sinks, and the wire helpers.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../../adapters/index.js';
import fc from 'fast-check';
import { carriedIntact, createSmtpDriver, createSmtpProxy, createSmtpSink, dotStuff, headerValues, prependHeaders, SmtpClient, virusNamesIn } from '../../../src/modes/smtp/index.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** What a FAKE server does with one command or body; `connection` counts finished bodies. */
interface FakeHooks {
  /** EHLO reply (default: PIPELINING offered). */
  ehlo?: string;
  /** Called before the default answer; 'silent' stops answering on this connection, 'handled' skips the default. */
  command?: (cmd: string, s: net.Socket, connection: { bodies: number }) => 'silent' | 'handled' | undefined;
  /** The body without its terminator; 'silent' never answers it (default: `250 ok`). */
  body?: 'silent' | ((body: string, s: net.Socket) => void);
}

/**
 * FAKE SMTP server skeleton: greets, answers EHLO/MAIL/RCPT/DATA/QUIT in order, and lets
 * `hooks` change a step. Closed (and its sockets cut) after each test. Counts connections.
 */
async function fakeSmtpServer(hooks: FakeHooks): Promise<{ port: number; connections: () => number }> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const srv = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.write('220 fake ESMTP\r\n');
    const connection = { bodies: 0 };
    let buf = '';
    let inData = false;
    let silent = false;
    s.on('data', (d) => {
      buf += d.toString('latin1');
      while (!silent) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0 || hooks.body === 'silent') return;
          const body = buf.slice(0, end + 2);
          buf = buf.slice(end + 5);
          inData = false;
          connection.bodies++;
          if (hooks.body === undefined) s.write('250 ok\r\n');
          else hooks.body(body, s);
          continue;
        }
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const cmd = buf.slice(0, i).toUpperCase();
        buf = buf.slice(i + 2);
        const said = hooks.command?.(cmd, s, connection);
        if (said === 'silent') silent = true;
        else if (said === 'handled') continue;
        else if (cmd.startsWith('EHLO')) s.write(`${hooks.ehlo ?? '250-fake\r\n250 PIPELINING'}\r\n`);
        else if (cmd.startsWith('DATA')) {
          s.write('354 go\r\n');
          inData = true;
        } else if (cmd.startsWith('QUIT')) s.end('221 bye\r\n');
        else s.write('250 ok\r\n');
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
  return { port: (srv.address() as net.AddressInfo).port, connections: () => connections };
}

/** FAKE SMTP server: answers EHLO/MAIL/RCPT/DATA, then never answers after the body (or never after MAIL). */
async function fakeSilentServer(silentAfter: 'body' | 'mail'): Promise<number> {
  const hooks: FakeHooks =
    silentAfter === 'body' ? { body: 'silent' } : { command: (cmd) => (cmd.startsWith('MAIL') ? 'silent' : undefined) };
  return (await fakeSmtpServer(hooks)).port;
}

/**
 * FAKE SMTP server for the stale-session race: answers one transaction per connection,
 * then cuts the connection when the next one starts, before answering anything (as a server
 * does when its idle timer fires just as a kept-open session is reused). Counts connections.
 */
function fakeOneShotServer(): Promise<{ port: number; connections: () => number }> {
  return fakeSmtpServer({
    command: (cmd, s, connection) => {
      if (!(cmd.startsWith('MAIL') && connection.bodies > 0)) return undefined;
      s.destroy();
      return 'silent';
    },
    body: (_body, s) => s.write('250 taken\r\n'),
  });
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

  it('a kept-open session the server cuts before answering anything: retried once on a new session, delivered, never lost', async () => {
    const fake = await fakeOneShotServer();
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${fake.port}`, sink: false, timeoutMs: 2_000 });
    await driver.open();
    cleanups.push(() => driver.close());
    const outs = [];
    for (const n of [1, 2, 3]) outs.push(await driver.send({ file: `m${n}`, raw: Buffer.from(`Subject: ${n}\r\n\r\nx\r\n`) }));
    for (const o of outs) expect(o).toMatchObject({ fate: 'delivered', smtpReply: '250 taken' });
    expect(fake.connections()).toBe(3);
    expect(driver.stats().sent).toBe(3);
  });

  it('per message, a connection the server cuts before answering anything: tempfailed CONNECT_FAILED, not retried, not lost', async () => {
    // FAKE: greets and answers EHLO, then cuts every connection at MAIL.
    const fake = await fakeSmtpServer({
      command: (cmd, s) => {
        if (!cmd.startsWith('MAIL')) return undefined;
        s.destroy();
        return 'silent';
      },
    });
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${fake.port}`, sink: false, timeoutMs: 2_000, connection: 'per-message' });
    await driver.open();
    cleanups.push(() => driver.close());
    for (const n of [1, 2]) {
      const out = await driver.send({ file: `m${n}`, raw: Buffer.from(`Subject: ${n}\r\n\r\nx\r\n`) });
      expect(out).toMatchObject({ fate: 'tempfailed', verdict: 'error', errorCode: 'CONNECT_FAILED' });
      expect(out.smtpReply).toMatch(/nothing was sent/);
    }
    expect(fake.connections()).toBe(2);
    expect(driver.connections).toBe(2);
  });

  it('a server that goes silent before answering MAIL: tempfailed TIMEOUT (the body never left), not lost', async () => {
    const port = await fakeSilentServer('mail');
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink: false, timeoutMs: 400 });
    await driver.open();
    cleanups.push(() => driver.close());
    const a = await driver.send({ file: 'a', raw: Buffer.from('Subject: a\r\n\r\nx\r\n') });
    expect(a).toMatchObject({ fate: 'tempfailed', verdict: 'error', errorCode: 'TIMEOUT' });
    expect(a.smtpReply).toMatch(/nothing was sent/);
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

  it('proxy whose pooled next-hop connection is cut before answering anything: retried once on a new one, 250', async () => {
    const fake = await fakeOneShotServer();
    const proxy = createSmtpProxy({ forward: { host: '127.0.0.1', port: fake.port }, scanners: [createEmbeddedAdapter()] });
    const { port: pport } = await proxy.listen();
    cleanups.push(() => proxy.close());
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${pport}`, sink: false, timeoutMs: 5_000 });
    await driver.open();
    cleanups.push(() => driver.close());
    for (const n of [1, 2, 3]) {
      const out = await driver.send({ file: `m${n}`, raw: Buffer.from(`Subject: ${n}\r\n\r\nx\r\n`) });
      expect(out).toMatchObject({ fate: 'delivered', smtpReply: '250 2.0.0 Ok: scanned clean and delivered' });
    }
    // One body per next-hop connection: messages 2 and 3 each met a cut pooled connection first.
    expect(fake.connections()).toBe(3);
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

describe('carriedIntact: did every sent line arrive unchanged and in order?', () => {
  const b = (s: string): Buffer => Buffer.from(s, 'latin1');

  it('lines added anywhere, CRLF vs LF and a missing last line ending do not count; a cut, changed or missing line does', () => {
    const sent = b('X-Avbench-Id: 1\r\nSubject: hi\r\n\r\nbody\r\nlast');
    expect(carriedIntact(sent, b('Received: by x\r\nX-Avbench-Id: 1\r\nSubject: hi\r\nX-Virus-Scanned: y\r\n\r\nbody\r\nlast\r\n'))).toEqual({ intact: true });
    expect(carriedIntact(sent, b('X-Avbench-Id: 1\nSubject: hi\n\nbody\nlast\n\n'))).toEqual({ intact: true });
    expect(carriedIntact(sent, b('X-Avbench-Id: 1\r\nSubject: h\r\n\r\nbody\r\nlast\r\n'))).toEqual({ intact: false, line: 2 });
    expect(carriedIntact(sent, b('X-Avbench-Id: 1\r\nSubject: hi\r\nbody\r\nlast\r\n'))).toEqual({ intact: false, line: 3 });
    expect(carriedIntact(sent, b('X-Avbench-Id: 1\r\nSubject: hi\r\n\r\nbody\r\n'))).toEqual({ intact: false, line: 5 });
    // clamsmtpd 1.10: a line cut at its NUL, line ending and all.
    const nul = b('Subject: a\0b\r\n\r\nx\r\n');
    expect(carriedIntact(nul, b('Subject: a\r\nx\r\n'))).toEqual({ intact: false, line: 1 });
    expect(carriedIntact(b(''), b('anything'))).toEqual({ intact: true });
  });

  it('a long line broken by inserting CRLF + space (Postfix smtp_line_length_limit) is intact; a broken line with a piece missing is not', () => {
    const long = 'Subject: ' + 'y'.repeat(2500);
    const sent = b(`X-Avbench-Id: 1\r\n${long}\r\n\r\nbody\r\n`);
    const folded = `${long.slice(0, 998)}\r\n ${long.slice(998, 1995)}\r\n ${long.slice(1995)}`;
    expect(carriedIntact(sent, b(`Received: x\r\nX-Avbench-Id: 1\r\n${folded}\r\n\r\nbody\r\n`))).toEqual({ intact: true });
    const lossy = `${long.slice(0, 998)}\r\n ${long.slice(1995)}`;
    expect(carriedIntact(sent, b(`X-Avbench-Id: 1\r\n${lossy}\r\n\r\nbody\r\n`))).toEqual({ intact: false, line: 2 });
    // A continuation must start with the inserted space: a prefix followed by any line is a cut.
    expect(carriedIntact(b('abcdef\r\n'), b('abc\r\ndef\r\n'))).toEqual({ intact: false, line: 1 });
  });

  it('property: breaking lines anywhere with CRLF + space keeps a message intact', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ':', '\0', '.'), minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 6 }), (lines, cuts) => {
        const broken = lines.map((l) => {
          const at = [...new Set(cuts.map((c) => 1 + (c % l.length)))].filter((c) => c < l.length).sort((x, y) => x - y);
          const pieces: string[] = [];
          let from = 0;
          for (const c of at) {
            pieces.push(l.slice(from, c));
            from = c;
          }
          pieces.push(l.slice(from));
          return pieces.join('\r\n ');
        });
        expect(carriedIntact(b(lines.join('\r\n')), b(broken.join('\r\n'))).intact).toBe(true);
      }),
    );
  });

  it('property: inserting lines and switching line endings keeps it intact; dropping a non-empty line that occurs once does not', () => {
    const line = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ':', '\0', '\r', '.'), maxLength: 6 }).filter((l) => !l.endsWith('\r'));
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 12 }), fc.array(fc.tuple(fc.nat(), line), { maxLength: 5 }), fc.boolean(), (lines, inserts, lf) => {
        const nl = lf ? '\n' : '\r\n';
        const out = [...lines];
        for (const [at, l] of inserts) out.splice(at % (out.length + 1), 0, l);
        expect(carriedIntact(b(lines.join('\r\n')), b(out.join(nl) + nl)).intact).toBe(true);
      }),
    );
    fc.assert(
      // (Lines start with x: none looks like the continuation of a broken line.)
      fc.property(fc.array(line.map((l) => `x${l}|`), { minLength: 1, maxLength: 12 }), fc.nat(), (lines, k) => {
        const i = k % lines.length;
        fc.pre(lines.filter((l) => l === lines[i]).length === 1);
        const fewer = lines.filter((_, j) => j !== i);
        expect(carriedIntact(b(lines.join('\r\n')), b(fewer.join('\r\n')))).toEqual({ intact: false, line: i + 1 });
      }),
    );
  });

  it('through a FAKE relay that cuts a line on its way to the watched sink: delivered, error ALTERED', async () => {
    const sink = await createSmtpSink();
    cleanups.push(() => sink.close());
    // FAKE relay: takes the message, forwards it with its Subject line cut short, then says 250.
    const relay = await fakeSmtpServer({
      ehlo: '250 fake',
      body: (text, s) => {
        const body = Buffer.from(text.replace(/^Subject: (.{3}).*$/m, 'Subject: $1'), 'latin1');
        void (async () => {
          const c = await SmtpClient.open({ host: sink.host, port: sink.port }, { deadline: Date.now() + 5_000 });
          await c.send({ from: 'a@b.c', to: ['d@e.f'] }, body, Date.now() + 5_000);
          await c.quit();
          s.write('250 relayed\r\n');
        })();
      },
    });
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${relay.port}`, sink, timeoutMs: 5_000, pipelining: false });
    await driver.open();
    const out = await driver.send({ file: 'a', raw: b('From: a@example.org\r\nSubject: a long subject\r\n\r\nbody\r\n') });
    await driver.close();
    expect(out).toMatchObject({ fate: 'delivered', verdict: 'error', errorCode: 'ALTERED', names: [] });
    expect([...sink.arrivals.values()][0]).toMatchObject({ intact: false, alteredLine: 3 });
  });
});
