/**
 * Our milter server ↔ our milter driver, with the embedded scanner (real, in process) and
 * a clamd adapter pointed at a socket nobody listens on (a real CONNECT_FAILED error).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClamdAdapter, createEmbeddedAdapter } from '../../../adapters/index.js';
import { connect } from '../../../src/core/net.js';
import { eicar } from '../../../src/lab/signatures.js';
import { encodeCommand, parseReply, PacketDecoder, SMFIF_ALL, SMFIP_ALL, type MilterCommand, type MilterReply } from '../../../src/modes/milter/codec.js';
import { createMilterDriver, namesFromText, splitMessage } from '../../../src/modes/milter/driver.js';
import { createMilterServer, type MilterMessageEvent, type MilterServerOptions } from '../../../src/modes/milter/server.js';

const embedded = createEmbeddedAdapter();

function cleanMessage(n = 1): Buffer {
  return Buffer.from(
    `From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: hello ${n}\r\n` +
      `X-Long: a folded\r\n\theader value\r\nMessage-ID: <${n}@example.org>\r\n\r\nHi Bob,\r\nnothing to see here (${n}).\r\n`,
  );
}

function eicarMessage(): Buffer {
  const b64 = eicar().toString('base64');
  return Buffer.from(
    'From: mallory@example.org\r\nTo: bob@example.org\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n' +
      `--XX\r\nContent-Type: application/octet-stream; name="eicar.com"\r\nContent-Transfer-Encoding: base64\r\n` +
      `Content-Disposition: attachment; filename="eicar.com"\r\n\r\n${b64}\r\n--XX--\r\n`,
  );
}

async function withServer<T>(opts: Partial<MilterServerOptions>, f: (url: string, events: MilterMessageEvent[]) => Promise<T>): Promise<T> {
  const events: MilterMessageEvent[] = [];
  const server = createMilterServer({ scanners: [embedded], listen: 'inet:0@127.0.0.1', onMessage: (e) => events.push(e), ...opts });
  await server.listen();
  const port = Number(/^inet:(\d+)@/.exec(server.address)?.[1]);
  const driver = createMilterDriver({ url: `milter://127.0.0.1:${port}`, concurrency: 4, timeoutMs: 20_000 });
  await driver.open();
  try {
    return await f(`milter://127.0.0.1:${port}`, events);
  } finally {
    await driver.close();
    await server.close();
  }
}

async function sendOne(url: string, raw: Buffer, file = 'm.eml') {
  const d = createMilterDriver({ url, concurrency: 1, timeoutMs: 20_000 });
  await d.open();
  try {
    return await d.send({ file, raw });
  } finally {
    await d.close();
  }
}

describe('driver helpers', () => {
  it('splits a message into unfolded headers and the body bytes', () => {
    const { headers, body } = splitMessage(cleanMessage(7));
    expect(headers.map((h) => h.name)).toEqual(['From', 'To', 'Subject', 'X-Long', 'Message-ID']);
    expect(headers[3]?.value).toBe(' a folded\theader value');
    expect(body.toString()).toBe('Hi Bob,\r\nnothing to see here (7).\r\n');
    expect(splitMessage(Buffer.from('A: b\n\nbody\n')).body.toString()).toBe('body\n');
    expect(splitMessage(Buffer.from('A: b\r\n')).body.length).toBe(0);
  });
  it('ends the headers at the first line that is not a field (as Postfix does) and drops NULs', () => {
    const { headers, body } = splitMessage(Buffer.from('A: 1\r\nthis is not a header\r\nB: 2\r\n\r\nx'));
    expect(headers).toEqual([{ name: 'A', value: ' 1' }]);
    expect(body.toString()).toBe('this is not a header\r\nB: 2\r\n\r\nx');
    expect(splitMessage(Buffer.from('no headers at all\n')).headers).toEqual([]);
    expect(splitMessage(Buffer.from('X-Bad\0Name: a\0b\r\n\r\n')).headers).toEqual([{ name: 'X-BadName', value: ' ab' }]);
  });
  it('finds virus names in reply texts and status headers', () => {
    expect(namesFromText('550 5.7.1 Virus found: Eicar-Test-NDB.UNOFFICIAL')).toEqual(['Eicar-Test-NDB.UNOFFICIAL']);
    expect(namesFromText('Infected (A.B, C-D)')).toEqual(['A.B', 'C-D']);
    expect(namesFromText('Infected Eicar-Test-Signature')).toEqual(['Eicar-Test-Signature']);
    expect(namesFromText('550 5.7.1 Command rejected')).toEqual([]);
  });
});

describe('our milter server with our driver (embedded scanner)', () => {
  it('accepts a clean message and adds X-Virus-Scanned and X-Virus-Status: Clean', async () => {
    await withServer({}, async (url, events) => {
      const o = await sendOne(url, cleanMessage());
      expect(o.fate).toBe('delivered');
      expect(o.verdict).toBe('clean');
      expect(o.milterAction).toBe('accept');
      expect(o.modifications).toContainEqual({ type: 'addHeader', name: 'X-Virus-Scanned', value: 'avbench (embedded)' });
      expect(o.modifications).toContainEqual({ type: 'addHeader', name: 'X-Virus-Status', value: 'Clean' });
      expect(events).toHaveLength(1);
      expect(events[0]?.verdict).toEqual({ status: 'clean' });
      // The server rebuilt the message byte for byte, less the one fold the driver unfolded.
      expect(events[0]?.bytes).toBe(cleanMessage().length - 2);
    });
  });

  it('rejects EICAR in a base64 attachment with 550 5.7.1 naming Eicar-Test-Signature', async () => {
    await withServer({}, async (url) => {
      const o = await sendOne(url, eicarMessage());
      expect(o.fate).toBe('rejected');
      expect(o.verdict).toBe('infected');
      expect(o.milterAction).toBe('replycode 550 5.7.1 Virus found: Eicar-Test-Signature');
      expect(o.names).toEqual(['Eicar-Test-Signature']);
    });
  });

  it('uses the configured reject text', async () => {
    await withServer({ rejectMessage: 'Blocked %v by policy' }, async (url) => {
      expect((await sendOne(url, eicarMessage())).milterAction).toBe('replycode 550 5.7.1 Blocked Eicar-Test-Signature by policy');
    });
  });

  it('onInfected tempfail → tempfailed; drop → dropped; quarantine → dropped with the reason; tag → tagged (old spellings discard/accept still taken)', async () => {
    await withServer({ onInfected: 'tempfail' }, async (url) => {
      const o = await sendOne(url, eicarMessage());
      expect([o.fate, o.verdict, o.milterAction, o.errorCode]).toEqual(['tempfailed', 'error', 'tempfail', 'TEMPFAIL']);
      expect((await sendOne(url, cleanMessage())).fate).toBe('delivered');
    });
    await withServer({ onInfected: 'drop' }, async (url) => {
      const o = await sendOne(url, eicarMessage());
      expect([o.fate, o.verdict, o.milterAction]).toEqual(['dropped', 'infected', 'discard']);
    });
    await withServer({ onInfected: 'quarantine' }, async (url) => {
      const o = await sendOne(url, eicarMessage());
      expect([o.fate, o.verdict, o.milterAction]).toEqual(['dropped', 'infected', 'quarantine']);
      expect(o.names).toEqual(['Eicar-Test-Signature']);
      expect(o.modifications).toContainEqual({ type: 'quarantine', reason: 'Virus found: Eicar-Test-Signature' });
    });
    await withServer({ onInfected: 'tag' }, async (url) => {
      const o = await sendOne(url, eicarMessage());
      expect([o.fate, o.verdict, o.milterAction]).toEqual(['tagged', 'infected', 'accept']);
      expect(o.names).toEqual(['Eicar-Test-Signature']);
      expect(o.modifications).toContainEqual({ type: 'addHeader', name: 'X-Virus-Status', value: 'Infected (Eicar-Test-Signature)' });
    });
    await withServer({ onInfected: 'tag', addHeader: false }, async (url) => {
      // Even without addHeader, an accepted infected message is marked.
      const o = await sendOne(url, eicarMessage());
      expect(o.fate).toBe('tagged');
      expect(o.modifications.map((m) => ('name' in m ? m.name : m.type))).toEqual(['X-Virus-Status']);
      expect((await sendOne(url, cleanMessage())).modifications).toEqual([]);
    });
  });

  it('replaces X-Virus-Status headers the message came with', async () => {
    await withServer({}, async (url) => {
      const forged = Buffer.concat([Buffer.from('X-Virus-Status: Clean\r\nX-Virus-Status: Clean\r\n'), eicarMessage()]);
      await withServer({ onInfected: 'accept' as never }, async (url2) => {
        const o = await sendOne(url2, forged);
        expect(o.modifications.slice(0, 2)).toEqual([
          { type: 'changeHeader', index: 2, name: 'X-Virus-Status', value: '' },
          { type: 'changeHeader', index: 1, name: 'X-Virus-Status', value: '' },
        ]);
        expect(o.fate).toBe('tagged');
      });
      expect((await sendOne(url, forged)).fate).toBe('rejected');
    });
  });

  it('a scanner error tempfails by default (451), and with onFail accept delivers marked Unchecked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'avbench-milter-'));
    const broken = createClamdAdapter({ socket: join(dir, 'nobody-listens.sock'), name: 'clamd' } as never);
    try {
      await withServer({ scanners: [broken] }, async (url, events) => {
        const o = await sendOne(url, cleanMessage());
        expect([o.fate, o.verdict, o.errorCode]).toEqual(['tempfailed', 'error', 'TEMPFAIL']);
        expect(o.milterAction).toMatch(/^replycode 451 4\.3\.0 Virus scan failed \(CONNECT_FAILED\)/);
        expect(events[0]?.verdict.status).toBe('error');
      });
      await withServer({ scanners: [broken], onFail: 'accept' }, async (url) => {
        const o = await sendOne(url, cleanMessage());
        expect([o.fate, o.verdict, o.errorCode, o.milterAction]).toEqual(['delivered', 'error', 'CONNECT_FAILED', 'accept']);
        expect(o.modifications).toContainEqual({ type: 'addHeader', name: 'X-Virus-Status', value: 'Unchecked (CONNECT_FAILED)' });
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('carries 50 messages over at most 8 connections, each with the right answer', async () => {
    await withServer({}, async (url, events) => {
      const d = createMilterDriver({ url, concurrency: 8, timeoutMs: 20_000 });
      await d.open();
      const msgs = Array.from({ length: 50 }, (_, i) => ({ file: `m${i}.eml`, raw: i % 5 === 0 ? eicarMessage() : cleanMessage(i) }));
      const out = await Promise.all(msgs.map((m) => d.send(m)));
      await d.close();
      out.forEach((o, i) => expect(o.fate).toBe(i % 5 === 0 ? 'rejected' : 'delivered'));
      expect(events).toHaveLength(50);
      const conns = new Set(events.map((e) => e.connection));
      expect(conns.size).toBeLessThanOrEqual(8);
      expect(conns.size).toBeGreaterThan(1);
    });
  });
});

/** A raw milter client, for sequences the driver does not make (abort mid-message, hang-ups). */
async function rawClient(url: string) {
  const port = Number(/:(\d+)$/.exec(url)?.[1]);
  const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 20_000 });
  const dec = new PacketDecoder();
  const pending: MilterReply[] = [];
  return {
    c,
    send: (...cmds: MilterCommand[]) => c.write(Buffer.concat(cmds.map(encodeCommand))),
    async read(): Promise<MilterReply> {
      while (pending.length === 0) {
        const head = await c.readExactly(4);
        const body = await c.readExactly(head.readUInt32BE(0));
        for (const p of dec.push(Buffer.concat([head, body]))) pending.push(parseReply(p));
      }
      return pending.shift() as MilterReply;
    },
  };
}

describe('our milter server, protocol edges', () => {
  let events: MilterMessageEvent[] = [];
  let errors: Error[] = [];
  const server = createMilterServer({ scanners: [embedded], listen: 'inet:0', onMessage: (e) => events.push(e), onConnectionError: (e) => errors.push(e) });
  let url = '';
  beforeAll(async () => {
    await server.listen();
    url = `milter://127.0.0.1:${/^inet:(\d+)@/.exec(server.address)?.[1]}`;
    expect(server.address).toMatch(/^inet:\d+@127\.0\.0\.1$/);
  });
  afterAll(() => server.close());

  it('negotiates v6, asks only the actions it uses, skips and silences the steps it does not need', async () => {
    const k = await rawClient(url);
    await k.send({ type: 'optneg', version: 6, actions: SMFIF_ALL, protocol: SMFIP_ALL });
    const r = await k.read();
    expect(r).toMatchObject({ type: 'optneg', version: 6, actions: 0x1 | 0x10 });
    const p = (r as { protocol: number }).protocol;
    expect(p & 0x10).toBe(0); // body wanted
    expect(p & 0x20).toBe(0); // headers wanted
    expect(p & 0x80).toBe(0x80); // no reply per header
    expect(p & 0x80000).toBe(0x80000); // no reply per body chunk
    k.c.destroy();
  });

  it('answers every step when the MTA offers no protocol flags (an old MTA), and handles unknown/helo/data', async () => {
    events = [];
    const k = await rawClient(url);
    await k.send({ type: 'optneg', version: 2, actions: 0x1, protocol: 0 });
    expect(await k.read()).toEqual({ type: 'optneg', version: 2, actions: 0x1, protocol: 0 });
    const steps: MilterCommand[] = [
      { type: 'connect', hostname: 'client', family: '4', port: 1234, address: '192.0.2.1' },
      { type: 'helo', name: 'client' },
      { type: 'mail', args: ['<a@b>'] },
      { type: 'rcpt', args: ['<c@d>'] },
      { type: 'unknown', command: 'XFOO' },
      { type: 'data' },
      { type: 'header', name: 'Subject', value: 'x' },
      { type: 'eoh' },
      { type: 'body', chunk: Buffer.from('hello\r\n') },
    ];
    for (const s of steps) {
      await k.send(s);
      expect(await k.read()).toEqual({ type: 'continue' });
    }
    await k.send({ type: 'eom', chunk: Buffer.alloc(0) });
    expect(await k.read()).toEqual({ type: 'addHeader', name: 'X-Virus-Scanned', value: 'avbench (embedded)' });
    expect(await k.read()).toEqual({ type: 'addHeader', name: 'X-Virus-Status', value: 'Clean' });
    expect(await k.read()).toEqual({ type: 'accept' });
    expect(events[0]).toMatchObject({ from: '<a@b>', client: '192.0.2.1:1234', bytes: 'Subject: x\r\n\r\nhello\r\n'.length });
    await k.send({ type: 'quit' });
    expect((await k.c.readToEnd()).length).toBe(0);
  });

  it('forgets an aborted message: EICAR body, abort, then a clean message is accepted', async () => {
    events = [];
    const k = await rawClient(url);
    await k.send({ type: 'optneg', version: 6, actions: SMFIF_ALL, protocol: SMFIP_ALL });
    await k.read();
    const { headers, body } = splitMessage(eicarMessage());
    await k.send(
      { type: 'mail', args: ['<m@x>'] },
      ...headers.map((h): MilterCommand => ({ type: 'header', name: h.name, value: h.value })),
      { type: 'body', chunk: body },
      { type: 'abort' },
      { type: 'mail', args: ['<a@x>'] },
      { type: 'header', name: 'Subject', value: ' fine' },
      { type: 'body', chunk: Buffer.from('all good\r\n') },
      { type: 'eom', chunk: Buffer.alloc(0) },
    );
    const replies: MilterReply[] = [];
    do replies.push(await k.read());
    while (replies[replies.length - 1]?.type !== 'accept' && replies[replies.length - 1]?.type !== 'replycode');
    expect(replies[replies.length - 1]).toEqual({ type: 'accept' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ from: '<a@x>', bytes: 'Subject: fine\r\n\r\nall good\r\n'.length, verdict: { status: 'clean' } });
    // …and the next message on the same connection, EICAR, is rejected.
    await k.send(
      { type: 'mail', args: ['<m@x>'] },
      ...headers.map((h): MilterCommand => ({ type: 'header', name: h.name, value: h.value })),
      { type: 'body', chunk: body },
      { type: 'eom', chunk: Buffer.alloc(0) },
    );
    expect(await k.read()).toEqual({ type: 'replycode', text: '550 5.7.1 Virus found: Eicar-Test-Signature' });
    k.c.destroy();
  });

  it('survives a peer that hangs up mid-body, and one that sends garbage; no connection is left', async () => {
    errors = [];
    const k = await rawClient(url);
    await k.send({ type: 'optneg', version: 6, actions: SMFIF_ALL, protocol: SMFIP_ALL });
    await k.read();
    await k.send({ type: 'mail', args: ['<a@x>'] }, { type: 'header', name: 'Subject', value: ' x' }, { type: 'body', chunk: Buffer.alloc(30_000, 0x61) });
    await k.c.write(Buffer.from([0, 0, 0x40, 0, 0x42, 1, 2, 3])); // half a body packet
    k.c.destroy();
    const g = await rawClient(url);
    await g.c.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x42])); // a 4 GiB packet: refused at once
    await expect(g.c.readToEnd()).resolves.toHaveLength(0);
    const h = await rawClient(url);
    await h.send({ type: 'mail', args: ['<a@x>'] }); // before option negotiation
    await expect(h.c.readToEnd()).resolves.toHaveLength(0);
    for (let i = 0; i < 100 && server.connections > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(server.connections).toBe(0);
    expect(errors.map((e) => e.message).join('\n')).toMatch(/exceeds the 1048576-byte limit[\s\S]*before option negotiation/);
    // Still serving.
    expect((await sendOne(url, cleanMessage())).fate).toBe('delivered');
  });

  it('a driver whose server vanishes mid-message records the message as tempfailed, as an MTA with milter_default_action = tempfail does', async () => {
    const s2 = createMilterServer({ scanners: [embedded], listen: 'inet:0' });
    await s2.listen();
    const u2 = `milter://127.0.0.1:${/^inet:(\d+)@/.exec(s2.address)?.[1]}`;
    const d = createMilterDriver({ url: u2, concurrency: 1, timeoutMs: 20_000 });
    await d.open();
    expect((await d.send({ file: 'a', raw: cleanMessage() })).fate).toBe('delivered');
    await s2.close(); // ends the idle pooled connection too
    const o = await d.send({ file: 'b', raw: cleanMessage() });
    expect([o.fate, o.verdict, o.errorCode]).toEqual(['tempfailed', 'error', 'CONNECT_FAILED']);
    await d.close();
  });
});

describe('our milter server on a unix socket', () => {
  it('listens with mode 0660, serves, and removes the socket on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'avbench-milter-'));
    try {
      const path = join(dir, 'milter.sock');
      const server = createMilterServer({ scanners: [embedded], listen: `unix:${path}` });
      await server.listen();
      expect(server.address).toBe(`unix:${path}`);
      expect((await stat(path)).mode & 0o777).toBe(0o660);
      const o = await sendOne(`milter+unix://${path}`, eicarMessage());
      expect(o.fate).toBe('rejected');
      await server.close();
      await expect(stat(path)).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
