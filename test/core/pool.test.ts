import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { IdlePool, NetError, connect, freePort, type Connection, type Endpoint, type IdleDisposal } from '../../src/core/net.js';

/** A loopback peer that keeps every accepted socket, so a test can talk or hang up from the server side. */
const servers: net.Server[] = [];
const accepted: net.Socket[] = [];
afterEach(async () => {
  for (const s of accepted.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function serve(): Promise<Endpoint & { host: string; port: number }> {
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    accepted.push(s);
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const a = srv.address();
  return { host: '127.0.0.1', port: typeof a === 'object' && a !== null ? a.port : 0 };
}

/** Wait (event-loop turns, no time limit of our own) until `cond` holds. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

/** A pool of real connections that records what it disposed and why. */
function connectionPool(max: number, more: { idleMs?: number } = {}): { pool: IdlePool<Connection>; disposed: Array<[Connection, IdleDisposal]> } {
  const disposed: Array<[Connection, IdleDisposal]> = [];
  const pool = new IdlePool<Connection>({
    max,
    ...more,
    usable: (c) => !c.closed && c.buffered().length === 0,
    dispose: (c, why) => {
      disposed.push([c, why]);
      c.destroy();
    },
  });
  return { pool, disposed };
}

const open = (ep: Endpoint) => (): Promise<Connection> => connect(ep, { deadline: Date.now() + 5_000 });

/** A pool holding one idle connection `c`, and the server's end of it, `peer`. */
async function oneIdle(): Promise<ReturnType<typeof connectionPool> & { ep: Endpoint; c: Connection; peer: net.Socket }> {
  const ep = await serve();
  const p = connectionPool(4);
  const c = await open(ep)();
  await until(() => accepted.length === 1);
  p.pool.put(ep, c);
  return { ...p, ep, c, peer: accepted[0] as net.Socket };
}

describe('IdlePool', () => {
  it('opens when nothing is idle, then hands the same connection back, newest first', async () => {
    const ep = await serve();
    const { pool, disposed } = connectionPool(4);
    const a = await pool.acquire(ep, open(ep));
    const b = await pool.acquire(ep, open(ep));
    expect([a.reused, b.reused]).toEqual([false, false]);
    expect(pool.put(ep, a.item)).toBe(true);
    expect(pool.put(ep, b.item)).toBe(true);
    expect(pool.size).toBe(2);
    const again = await pool.acquire(ep, open(ep));
    expect(again).toEqual({ item: b.item, reused: true });
    expect(pool.take(ep)).toBe(a.item);
    expect(pool.take(ep)).toBeUndefined();
    expect(disposed).toEqual([]);
    a.item.destroy();
    b.item.destroy();
  });

  it('keeps idle items per endpoint', async () => {
    const one = await serve();
    const two = await serve();
    const { pool } = connectionPool(4);
    const c = await connect(one, { deadline: Date.now() + 5_000 });
    pool.put(one, c);
    expect(pool.take(two)).toBeUndefined();
    expect(pool.take({ host: one.host, port: one.port })).toBe(c);
    c.destroy();
  });

  it('disposes what does not fit (max), and keeps nothing with max 0', async () => {
    const ep = await serve();
    const { pool, disposed } = connectionPool(1);
    const a = await open(ep)();
    const b = await open(ep)();
    expect(pool.put(ep, a)).toBe(true);
    expect(pool.put(ep, b)).toBe(false);
    expect(disposed).toEqual([[b, 'full']]);
    const none = connectionPool(0);
    const c = await open(ep)();
    expect(none.pool.put(ep, c)).toBe(false);
    expect(none.disposed).toEqual([[c, 'full']]);
    await pool.closeAll();
  });

  it('does not hand out a connection the peer closed while it was idle', async () => {
    const { ep, pool, disposed, c, peer } = await oneIdle();
    peer.end();
    await until(() => c.closed);
    const got = await pool.acquire(ep, open(ep));
    expect(got.reused).toBe(false);
    expect(got.item).not.toBe(c);
    expect(disposed).toEqual([[c, 'unusable']]);
    got.item.destroy();
  });

  it('does not reuse a connection with unread bytes (the peer spoke out of turn)', async () => {
    const { ep, pool, disposed, c, peer } = await oneIdle();
    peer.write('junk');
    await until(() => c.buffered().length > 0);
    expect(pool.take(ep)).toBeUndefined();
    expect(disposed).toEqual([[c, 'unusable']]);
    // and one that already has them is not taken back
    const d = await open(ep)();
    await until(() => accepted.length === 2);
    (accepted[1] as net.Socket).write('more');
    await until(() => d.buffered().length > 0);
    expect(pool.put(ep, d)).toBe(false);
    expect(disposed[1]).toEqual([d, 'unusable']);
  });

  it('disposes items idle longer than idleMs instead of reusing them', async () => {
    const ep = await serve();
    const { pool, disposed } = connectionPool(4, { idleMs: 0 });
    const c = await open(ep)();
    pool.put(ep, c);
    expect(pool.take(ep)).toBeUndefined();
    expect(disposed).toEqual([[c, 'expired']]);
  });

  it('closeAll disposes the idle items, awaiting their goodbyes; later puts dispose theirs', async () => {
    const ep = await serve();
    const said: string[] = [];
    const pool = new IdlePool<Connection>({
      max: 4,
      dispose: async (c, why) => {
        await c.write(Buffer.from('bye\n'));
        said.push(why);
        c.close();
      },
    });
    const a = await open(ep)();
    const b = await open(ep)();
    pool.put(ep, a);
    pool.put(ep, b);
    await pool.closeAll();
    expect(said).toEqual(['closed', 'closed']);
    expect(pool.closed).toBe(true);
    expect(pool.size).toBe(0);
    const c = await open(ep)();
    expect(pool.put(ep, c)).toBe(false);
    await until(() => said.length === 3);
    expect(said[2]).toBe('closed');
  });

  it('passes on the error of a connection that cannot be opened', async () => {
    const port = await freePort();
    const { pool } = connectionPool(4);
    const ep = { host: '127.0.0.1', port };
    const err = await pool.acquire(ep, open(ep)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetError);
    expect((err as NetError).code).toBe('CONNECT_FAILED');
  });

  it('ignores a dispose that throws', async () => {
    const ep = await serve();
    const pool = new IdlePool<Connection>({
      max: 0,
      dispose: (c) => {
        c.destroy();
        throw new Error('goodbye failed');
      },
    });
    const c = await open(ep)();
    expect(pool.put(ep, c)).toBe(false);
    await pool.closeAll();
    expect(c.closed).toBe(true);
  });

  it('refuses a negative max', () => {
    expect(() => new IdlePool<number>({ max: -1, dispose: () => undefined })).toThrow(TypeError);
  });
});
