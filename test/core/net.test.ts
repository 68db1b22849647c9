import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NetError, connect, freePort } from '../../src/core/net.js';

/** Loopback peers for the socket helper itself (the thing under test is the client side). */
const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function serve(onConn: (s: net.Socket) => void, path?: string): Promise<{ port: number }> {
  const srv = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    onConn(s);
  });
  servers.push(srv);
  await new Promise<void>((r) => (path === undefined ? srv.listen(0, '127.0.0.1', r) : srv.listen(path, r)));
  const a = srv.address();
  return { port: typeof a === 'object' && a !== null ? a.port : 0 };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    expect(e).toBeInstanceOf(NetError);
    return (e as NetError).code;
  }
}

describe('net door', () => {
  it('reads until a delimiter, exactly n bytes, and to the end', async () => {
    const { port } = await serve((s) => {
      s.on('data', (d) => {
        if (d.toString() === 'hi\n') s.end(Buffer.from('line one\r\nABCDEFtail and more'));
      });
    });
    const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 5_000 });
    await c.write(Buffer.from('hi\n'));
    expect((await c.readUntil('\r\n')).toString()).toBe('line one');
    expect((await c.readExactly(6)).toString()).toBe('ABCDEF');
    expect((await c.readToEnd()).toString()).toBe('tail and more');
    c.close();
  });

  it('assembles a delimiter split across TCP segments', async () => {
    const { port } = await serve((s) => {
      s.write('stream: O');
      setTimeout(() => s.write('K'), 20);
      setTimeout(() => s.write(Buffer.from([0])), 40);
    });
    const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 5_000 });
    expect((await c.readUntil(Buffer.from([0]))).toString()).toBe('stream: OK');
    c.destroy();
  });

  it('works over a unix socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'avbench-net-'));
    try {
      const path = join(dir, 's.sock');
      await serve((s) => s.end('PONG\0'), path);
      const c = await connect({ path }, { deadline: Date.now() + 5_000 });
      expect((await c.readUntil('\0')).toString()).toBe('PONG');
      c.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('freePort: a port below the kernel\'s ephemeral range (no listen(0) or outgoing connection can take it meanwhile), free to listen on', async () => {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
    // Free until someone listens, yet never handed out twice by this process.
    const more = [];
    for (let i = 0; i < 200; i++) more.push(await freePort());
    expect(new Set([...ports, ...more]).size).toBe(208);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(start);
      const srv = net.createServer();
      await new Promise<void>((resolve, reject) => srv.once('error', reject).listen({ host: '127.0.0.1', port, exclusive: true }, resolve));
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });

  it('reports a refused port and a missing unix socket as CONNECT_FAILED', async () => {
    const port = await freePort();
    expect(await codeOf(connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 5_000 }))).toBe('CONNECT_FAILED');
    expect(await codeOf(connect({ path: '/nonexistent/avbench.sock' }, { deadline: Date.now() + 5_000 }))).toBe('CONNECT_FAILED');
  });

  it('reports a peer that closes before replying as CONNECT_FAILED', async () => {
    const { port } = await serve((s) => s.end('half a rep'));
    const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 5_000 });
    expect(await codeOf(c.readUntil('\0'))).toBe('CONNECT_FAILED');
    c.destroy();
  });

  it('fails at the absolute deadline when the peer never answers', async () => {
    const { port } = await serve(() => undefined); // accepts, says nothing
    const deadline = Date.now() + 300;
    const c = await connect({ host: '127.0.0.1', port }, { deadline });
    expect(await codeOf(c.readUntil('\n'))).toBe('TIMEOUT');
    expect(Date.now()).toBeGreaterThanOrEqual(deadline);
    expect(c.closed).toBe(true);
  });

  it('does not extend the deadline when data keeps trickling in', async () => {
    const { port } = await serve((s) => {
      const t = setInterval(() => (s.destroyed ? clearInterval(t) : s.write('x')), 50);
      s.on('close', () => clearInterval(t));
    });
    const deadline = Date.now() + 400;
    const c = await connect({ host: '127.0.0.1', port }, { deadline });
    expect(await codeOf(c.readUntil('\n'))).toBe('TIMEOUT');
  });

  it('moves the deadline of a reused connection', async () => {
    const { port } = await serve((s) => s.on('data', () => s.write('ok\n')));
    const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 5_000 });
    c.setDeadline(Date.now() - 1);
    expect(await codeOf(c.readUntil('\n'))).toBe('TIMEOUT');
  });

  it('aborts on the signal', async () => {
    const { port } = await serve(() => undefined);
    const ac = new AbortController();
    const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 10_000, signal: ac.signal });
    const p = codeOf(c.readExactly(10));
    ac.abort();
    expect(await p).toBe('ABORTED');
    const ac2 = new AbortController();
    ac2.abort();
    expect(await codeOf(connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 5_000, signal: ac2.signal }))).toBe('ABORTED');
  });

  it('reports an over-long reply without delimiter as PROTOCOL', async () => {
    const { port } = await serve((s) => s.write(Buffer.alloc(5000, 0x41)));
    const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 5_000 });
    expect(await codeOf(c.readUntil('\0', { maxBytes: 1000 }))).toBe('PROTOCOL');
    c.destroy();
  });

  it('writes large buffers, waiting for drain', async () => {
    let received = 0;
    const { port } = await serve((s) => {
      s.on('data', (d) => {
        received += d.length;
        if (received === 8 * 1024 * 1024) s.end('done\n');
      });
    });
    const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 20_000 });
    for (let i = 0; i < 8; i++) await c.write(Buffer.alloc(512 * 1024, i), Buffer.alloc(512 * 1024, i));
    expect((await c.readUntil('\n')).toString()).toBe('done');
    c.close();
  });

  it('keeps the last words of a peer that closed while we were writing', async () => {
    const { port } = await serve((s) => {
      s.once('data', () => s.end('size limit exceeded. ERROR\0'));
    });
    const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 10_000 });
    let writeCode = 'none';
    try {
      for (let i = 0; i < 200; i++) await c.write(Buffer.alloc(256 * 1024));
    } catch (e) {
      writeCode = (e as NetError).code;
    }
    expect(['none', 'CONNECT_FAILED']).toContain(writeCode);
    expect((await c.readUntil('\0')).toString()).toBe('size limit exceeded. ERROR');
    c.destroy();
  });

  it('gives free ports', async () => {
    const p = await freePort();
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(65536);
  });
});
