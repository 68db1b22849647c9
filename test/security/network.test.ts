/**
 * The SMTP proxy is loopback-only by default and relays nowhere but its one next hop.
 * The listening socket is read back from /proc/net/tcp (bound to 127.0.0.1, not 0.0.0.0,
 * nothing on tcp6); every outgoing connection made in this process is recorded (net.Socket
 * connect) and every DNS call counted (lookup, resolve*) while mail for external domains
 * goes through: all of it reaches the sink, the only connections go to the proxy and the
 * sink, and not one DNS or MX lookup happens.
 */
import dns from 'node:dns';
import { readFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../adapters/index.js';
import { createSmtpProxy, createSmtpSink, SmtpClient, type SmtpProxy, type SmtpSink } from '../../src/modes/smtp/index.js';

const connects: string[] = [];
const dnsCalls: string[] = [];
const restore: Array<() => void> = [];

function patch<T extends object>(obj: T, key: keyof T & string, label: string, record: (label: string, args: unknown[]) => void): void {
  const orig = obj[key] as unknown as (...a: unknown[]) => unknown;
  if (typeof orig !== 'function') return;
  (obj as Record<string, unknown>)[key] = function (this: unknown, ...args: unknown[]) {
    record(label, args);
    return orig.apply(this, args);
  };
  restore.push(() => ((obj as Record<string, unknown>)[key] = orig));
}

/** Sockets listening on `port` in /proc/net/tcp or tcp6, as local addresses (hex). */
async function listeners(port: number): Promise<{ tcp: string[]; tcp6: string[] }> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const read = async (f: string): Promise<string[]> => {
    const text = await readFile(f, 'utf8').catch(() => '');
    return text
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((c) => c[3] === '0A' && c[1]?.endsWith(`:${hexPort}`))
      .map((c) => c[1] as string);
  };
  return { tcp: await read('/proc/net/tcp'), tcp6: await read('/proc/net/tcp6') };
}

let sink: SmtpSink;
let proxy: SmtpProxy;
let port: number;

beforeAll(async () => {
  sink = await createSmtpSink();
  // No listen option: the default must be loopback.
  proxy = createSmtpProxy({ forward: { host: sink.host, port: sink.port }, scanners: [createEmbeddedAdapter()] });
  ({ port } = await proxy.listen());
  patch(net.Socket.prototype, 'connect', 'connect', (_l, args) => {
    // net.connect() hands Socket#connect its normalized arguments: [[options, callback]].
    const a = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    if (typeof a === 'object' && a !== null && !Array.isArray(a)) {
      const o = a as { host?: string; port?: number; path?: string };
      connects.push(o.path ?? `${o.host ?? 'localhost'}:${o.port}`);
    } else connects.push(`${String(args[1] ?? 'localhost')}:${String(a)}`);
  });
  for (const k of ['lookup', 'lookupService', 'resolve', 'resolve4', 'resolve6', 'resolveMx', 'resolveAny', 'resolveSrv', 'reverse'] as const) {
    patch(dns, k, `dns.${k}`, (l) => dnsCalls.push(l));
    patch(dns.promises, k, `dns.promises.${k}`, (l) => dnsCalls.push(l));
  }
  syncBuiltinESMExports();
});

afterAll(async () => {
  for (const r of restore.splice(0).reverse()) r();
  syncBuiltinESMExports();
  await proxy.close();
  await sink.close();
});

describe('SMTP proxy network exposure', () => {
  it('binds 127.0.0.1 by default: one IPv4 loopback listener, nothing on 0.0.0.0 or tcp6', async () => {
    expect(proxy.address.host).toBe('127.0.0.1');
    const l = await listeners(port);
    expect(l.tcp).toEqual([`0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`]);
    expect(l.tcp6).toEqual([]);
  });

  it('mail for external domains goes to the one next hop only: no DNS, no MX, no other connection', async () => {
    connects.length = 0;
    dnsCalls.length = 0;
    const rcpts = ['someone@gmail.com', 'postmaster@example.com', 'user@mx.other-domain.example', 'a.b+c@xn--bcher-kva.example', 'root@[192.0.2.1]'];
    const c = await SmtpClient.open({ host: '127.0.0.1', port }, { deadline: Date.now() + 10_000 });
    const res = await c.send({ from: 'sender@outside.example.org', to: rcpts }, Buffer.from('Subject: relay test\r\n\r\nhello\r\n'), Date.now() + 20_000);
    await c.quit();
    expect(res.final[0]?.code).toBe(250);
    expect(res.rcpt.map((r) => r.code)).toEqual(rcpts.map(() => 250));
    // Everything arrived at the next hop, with every recipient.
    expect(sink.received).toBe(1);
    // (smtp-server at the sink shows an IDNA domain in Unicode, as it did at the proxy.)
    expect(sink.unidentified[0]?.to).toEqual(rcpts.map((r) => r.replace('xn--bcher-kva', 'b\u00fccher')));
    // The only connections: the test's client to the proxy, and the proxy to the sink.
    const allowed = new Set([`127.0.0.1:${port}`, `127.0.0.1:${sink.port}`]);
    expect(connects.length).toBeGreaterThan(0);
    expect(connects.filter((t) => !allowed.has(t))).toEqual([]);
    expect(connects).toContain(`127.0.0.1:${sink.port}`);
    expect(dnsCalls).toEqual([]);
  });

  it('an IDNA recipient reaches the next hop in its ASCII form, as sent (smtp-server hands it over in Unicode)', async () => {
    const seen: Buffer[] = [];
    const relay = net.createServer((client) => {
      const up = net.connect(sink.port, '127.0.0.1');
      client.on('data', (d: Buffer) => {
        seen.push(d);
        up.write(d);
      });
      up.on('data', (d: Buffer) => client.write(d));
      client.on('close', () => up.destroy());
      up.on('close', () => client.destroy());
      client.on('error', () => undefined);
      up.on('error', () => undefined);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const relayPort = (relay.address() as net.AddressInfo).port;
    const p2 = createSmtpProxy({ forward: { host: '127.0.0.1', port: relayPort }, scanners: [createEmbeddedAdapter()] });
    const { port: p2port } = await p2.listen();
    try {
      const c = await SmtpClient.open({ host: '127.0.0.1', port: p2port }, { deadline: Date.now() + 10_000 });
      const res = await c.send({ from: 'me@xn--exmple-cua.example', to: ['a.b+c@xn--bcher-kva.example'] }, Buffer.from('Subject: idn\r\n\r\nhi\r\n'), Date.now() + 20_000);
      await c.quit();
      expect(res.final[0]?.code).toBe(250);
    } finally {
      await p2.close();
      await new Promise<void>((r) => relay.close(() => r()));
    }
    const wire = Buffer.concat(seen).toString('latin1');
    expect(wire).toContain('MAIL FROM:<me@xn--exmple-cua.example>');
    expect(wire).toContain('RCPT TO:<a.b+c@xn--bcher-kva.example>');
  });

  it('the recorder works (a connect elsewhere and a DNS lookup are seen)', async () => {
    connects.length = 0;
    dnsCalls.length = 0;
    await new Promise<void>((resolve) => {
      const s = net.connect(1, '127.0.0.1');
      s.on('error', () => resolve());
      s.on('connect', () => {
        s.destroy();
        resolve();
      });
    });
    await new Promise<void>((resolve) => dns.lookup('localhost', () => resolve()));
    expect(connects).toContain('127.0.0.1:1');
    expect(dnsCalls).toContain('dns.lookup');
  });
});
