/**
 * The one door for sockets. Every protocol client (clamd, ICAP, SMTP, milter) connects
 * through here: TCP or unix socket, an ABSOLUTE deadline (Date.now() based, not an idle
 * timer), an AbortSignal, TCP_NODELAY, and a small buffered reader whose every operation
 * fails at the deadline.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';

/** Stable codes of socket errors. */
export type NetErrorCode = 'CONNECT_FAILED' | 'TIMEOUT' | 'PROTOCOL' | 'ABORTED';

/**
 * A socket problem with a stable `code`:
 * - CONNECT_FAILED: refused, no such socket file, or the peer reset / closed before replying
 * - TIMEOUT: the absolute deadline passed
 * - PROTOCOL: the peer sent something the caller could not accept (too long a line...)
 * - ABORTED: the caller's AbortSignal fired
 */
export class NetError extends Error {
  override readonly name = 'NetError';
  constructor(
    readonly code: NetErrorCode,
    message: string,
    /** The OS error code behind it (ECONNREFUSED, ENOENT, EPIPE...), when there is one. */
    readonly sysCode?: string,
  ) {
    super(message);
  }
}

/** Where to connect: TCP host and port, or a unix socket path. */
export type Endpoint = { host: string; port: number } | { path: string };

/** Human form of an endpoint, for messages: `127.0.0.1:3310` or `unix:/run/x.sock`. */
export function describeEndpoint(ep: Endpoint): string {
  return 'path' in ep ? `unix:${ep.path}` : `${ep.host}:${ep.port}`;
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Absolute deadline (Date.now() based) for the connect and, by default, for every later operation. */
  deadline: number;
  /** Aborting destroys the socket; pending operations fail with ABORTED. */
  signal?: AbortSignal;
}

/** Options of the read operations. */
export interface ReadOptions {
  /** Fail with PROTOCOL when this many bytes arrive without the delimiter (default 1 MiB). */
  maxBytes?: number;
}

type Waiter = {
  /** Returns true when it has been settled (and should be removed). */
  check: () => boolean;
  fail: (err: NetError) => void;
};

const DEFAULT_MAX_BYTES = 1024 * 1024;
/** Longest delay setTimeout takes (a longer one fires at once). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

function sysCodeOf(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/**
 * A connected socket with a buffered reader. Every operation fails at the connection's
 * current deadline ({@link Connection.setDeadline} moves it, e.g. when a pooled connection
 * is reused for a new scan) or when the signal aborts. After a TIMEOUT or ABORTED the
 * socket is destroyed: a protocol cut in the middle cannot be resumed.
 */
export class Connection {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private failure: NetError | undefined;
  private waiter: Waiter | undefined;
  private timer: NodeJS.Timeout | undefined;
  private deadline: number;
  private signal: AbortSignal | undefined;
  private readonly onAbort = (): void => this.kill(new NetError('ABORTED', `${this.label}: aborted`));

  /** @internal use {@link connect}. */
  constructor(
    private readonly socket: net.Socket,
    /** Where it is connected, for messages. */
    readonly label: string,
    deadline: number,
    signal: AbortSignal | undefined,
  ) {
    this.deadline = deadline;
    this.signal = signal;
    signal?.addEventListener('abort', this.onAbort, { once: true });
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.poke();
    });
    socket.on('end', () => {
      this.ended = true;
      this.poke();
    });
    socket.on('error', (err) => {
      if (this.failure === undefined) {
        this.failure = new NetError('CONNECT_FAILED', `${label}: ${err.message}`, sysCodeOf(err));
      }
      this.ended = true;
      this.poke();
    });
    socket.on('close', () => {
      this.ended = true;
      this.poke();
    });
  }

  /** True once the peer closed, the socket failed, or it was closed/destroyed here. */
  get closed(): boolean {
    return this.ended || this.failure !== undefined || this.socket.destroyed;
  }

  /** Bytes received and not read yet (a peer's last words after it closed, say). */
  buffered(): Buffer {
    return this.buf;
  }

  /** Move the absolute deadline (and optionally the abort signal) for later operations. */
  setDeadline(deadline: number, signal?: AbortSignal): void {
    this.deadline = deadline;
    if (signal !== this.signal) {
      this.signal?.removeEventListener('abort', this.onAbort);
      this.signal = signal;
      if (signal?.aborted) this.onAbort();
      else signal?.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /**
   * Read up to the delimiter; returns the bytes before it and consumes the delimiter too.
   * If the peer closed first: CONNECT_FAILED ("closed before reply").
   */
  readUntil(delimiter: Buffer | string, opts: ReadOptions = {}): Promise<Buffer> {
    const delim = typeof delimiter === 'string' ? Buffer.from(delimiter, 'latin1') : delimiter;
    const max = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    let searchFrom = 0;
    return this.wait<Buffer>((resolve, reject) => {
      const i = this.buf.indexOf(delim, searchFrom);
      if (i >= 0) {
        const out = this.buf.subarray(0, i);
        this.buf = this.buf.subarray(i + delim.length);
        resolve(Buffer.from(out));
        return true;
      }
      searchFrom = Math.max(0, this.buf.length - delim.length + 1);
      if (this.buf.length > max) {
        reject(new NetError('PROTOCOL', `${this.label}: no ${JSON.stringify(delim.toString('latin1'))} within ${max} bytes`));
        return true;
      }
      if (this.ended || this.failure !== undefined) {
        reject(this.closedError('before the reply was complete'));
        return true;
      }
      return false;
    });
  }

  /** Read exactly `n` bytes; CONNECT_FAILED if the peer closes first. */
  readExactly(n: number): Promise<Buffer> {
    return this.wait<Buffer>((resolve, reject) => {
      if (this.buf.length >= n) {
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        resolve(Buffer.from(out));
        return true;
      }
      if (this.ended || this.failure !== undefined) {
        reject(this.closedError(`after ${this.buf.length} of ${n} bytes`));
        return true;
      }
      return false;
    });
  }

  /** Read everything until the peer closes its side (maxBytes default 16 MiB → PROTOCOL). */
  readToEnd(opts: ReadOptions = {}): Promise<Buffer> {
    const max = opts.maxBytes ?? 16 * DEFAULT_MAX_BYTES;
    return this.wait<Buffer>((resolve, reject) => {
      if (this.buf.length > max) {
        reject(new NetError('PROTOCOL', `${this.label}: more than ${max} bytes`));
        return true;
      }
      if (this.ended || this.failure !== undefined) {
        const out = this.buf;
        this.buf = Buffer.alloc(0);
        resolve(out);
        return true;
      }
      return false;
    });
  }

  /**
   * Write bytes; resolves once they are handed to the kernel (waits for 'drain' when the
   * socket's buffer is full). Several buffers are written corked, as one segment if small.
   */
  write(...chunks: Buffer[]): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.socket.destroyed || !this.socket.writable) {
      return Promise.reject(new NetError('CONNECT_FAILED', `${this.label}: connection closed, cannot write`));
    }
    let ok = true;
    if (chunks.length === 1) {
      ok = this.socket.write(chunks[0] as Buffer);
    } else if (chunks.length > 16 && totalLength(chunks) <= 65_536) {
      // Many small pieces (a burst of pipelined commands): one copy and one plain write cost
      // far less than a writev whose every piece is an object on Node's side.
      ok = this.socket.write(Buffer.concat(chunks));
    } else {
      this.socket.cork();
      for (const c of chunks) ok = this.socket.write(c);
      this.socket.uncork();
    }
    if (ok) return Promise.resolve();
    let drained = false;
    const onDrain = (): void => {
      drained = true;
      this.poke();
    };
    this.socket.once('drain', onDrain);
    return this.wait<void>((resolve, reject) => {
      if (drained) {
        resolve();
        return true;
      }
      if (this.failure !== undefined || this.socket.destroyed) {
        this.socket.off('drain', onDrain);
        reject(this.failure ?? new NetError('CONNECT_FAILED', `${this.label}: connection closed while writing`));
        return true;
      }
      return false;
    });
  }

  /** Close our writing side (half-close); the peer sees end of stream. */
  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  /** Close the connection gracefully (our side). */
  close(): void {
    this.detach();
    if (!this.socket.destroyed) {
      this.socket.end();
      this.socket.destroySoon();
    }
  }

  /** Tear the connection down at once. */
  destroy(): void {
    this.detach();
    this.socket.destroy();
  }

  private detach(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private closedError(what: string): NetError {
    if (this.failure !== undefined) {
      return new NetError(this.failure.code, `${this.failure.message} (${what})`, this.failure.sysCode);
    }
    return new NetError('CONNECT_FAILED', `${this.label}: peer closed the connection ${what}`);
  }

  private kill(err: NetError): void {
    if (this.failure === undefined || this.failure.code === 'CONNECT_FAILED') this.failure = err;
    const w = this.waiter;
    this.waiter = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.socket.destroy();
    w?.fail(err);
  }

  private poke(): void {
    const w = this.waiter;
    if (w !== undefined && w.check()) {
      if (this.waiter === w) this.waiter = undefined;
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private wait<T>(step: (resolve: (v: T) => void, reject: (e: NetError) => void) => boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.waiter !== undefined) {
        reject(new NetError('PROTOCOL', `${this.label}: one operation at a time`));
        return;
      }
      if (this.signal?.aborted || (this.failure !== undefined && this.failure.code !== 'CONNECT_FAILED')) {
        // A timed-out or aborted connection can do nothing more.
        if (this.failure === undefined) this.failure = new NetError('ABORTED', `${this.label}: aborted`);
        reject(this.failure);
        return;
      }
      if (step(resolve, reject)) return;
      const remaining = this.deadline - Date.now();
      if (remaining <= 0) {
        const err = new NetError('TIMEOUT', `${this.label}: deadline passed`);
        this.kill(err);
        reject(err);
        return;
      }
      this.waiter = { check: () => step(resolve, reject), fail: reject };
      // A deadline past setTimeout's range (2^31-1 ms) is none: no timer (a session whose
      // commands carry their own deadlines reads without one per reply).
      if (remaining > MAX_TIMER_MS) return;
      this.timer = setTimeout(() => {
        this.kill(new NetError('TIMEOUT', `${this.label}: no answer before the deadline`));
      }, remaining);
    });
  }
}

/**
 * Connect to `endpoint` before `opts.deadline`. Rejects with a {@link NetError}:
 * CONNECT_FAILED (refused, no socket file, reset), TIMEOUT, or ABORTED.
 */
export function connect(endpoint: Endpoint, opts: ConnectOptions): Promise<Connection> {
  const label = describeEndpoint(endpoint);
  return new Promise<Connection>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new NetError('ABORTED', `${label}: aborted before connecting`));
      return;
    }
    const remaining = opts.deadline - Date.now();
    if (remaining <= 0) {
      reject(new NetError('TIMEOUT', `${label}: deadline passed before connecting`));
      return;
    }
    const socket = 'path' in endpoint ? net.createConnection({ path: endpoint.path }) : net.createConnection({ host: endpoint.host, port: endpoint.port });
    let settled = false;
    const finish = (err: NetError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('connect', onConnect);
      if (err !== undefined) {
        socket.destroy();
        reject(err);
      } else {
        if (!('path' in endpoint)) socket.setNoDelay(true);
        resolve(new Connection(socket, label, opts.deadline, opts.signal));
      }
    };
    const onError = (err: Error): void => finish(new NetError('CONNECT_FAILED', `${label}: ${err.message}`, sysCodeOf(err)));
    const onConnect = (): void => finish(undefined);
    const onAbort = (): void => finish(new NetError('ABORTED', `${label}: aborted while connecting`));
    const timer = setTimeout(() => finish(new NetError('TIMEOUT', `${label}: connect did not finish before the deadline`)), remaining);
    socket.once('error', onError);
    socket.once('connect', onConnect);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A free TCP port on 127.0.0.1, for a server that a configuration must name before it
 * listens (a relay port in Postfix's main.cf, a lab daemon's config).
 *
 * Picked at random *below* the kernel's ephemeral range (`net.ipv4.ip_local_port_range`,
 * read once; ports 20000 up to its start) and checked by listening on it once: between this
 * call and the caller's own listen, no `listen(0)` and no outgoing connection of any process
 * can be given that port by the kernel — with a port from the ephemeral range (the old way)
 * a busy machine did, now and then, and the caller's listen failed with EADDRINUSE. Never
 * the same port twice in one process (the last 4,096 are remembered). Falls back to a
 * kernel-assigned port when the range is too small or 64 tries found nothing.
 */
export async function freePort(): Promise<number> {
  const { lo, hi } = unassignedPorts();
  for (let i = 0; hi - lo >= 256 && i < 64; i++) {
    const port = lo + randomInt(hi - lo);
    if (handedOut.has(port)) continue;
    if ((await listenOnce(port)) === port) return remember(port);
  }
  const port = await listenOnce(0);
  if (port === undefined) throw new Error('freePort: no port assigned');
  return remember(port);
}

/**
 * Ports this process handed out, most recent last: a port is free until its caller listens,
 * so without this a later call (the next daemon of the same lab) could be given it again.
 */
const handedOut = new Set<number>();

function remember(port: number): number {
  handedOut.add(port);
  if (handedOut.size > 4096) handedOut.delete(handedOut.values().next().value as number);
  return port;
}

let portRange: { lo: number; hi: number } | undefined;

/** [20000, start of the ephemeral range): ports the kernel hands out to nobody on its own. */
function unassignedPorts(): { lo: number; hi: number } {
  if (portRange !== undefined) return portRange;
  let start = 32768;
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > 0) start = first;
  } catch {
    /* not Linux: the usual default */
  }
  portRange = { lo: 20_000, hi: start };
  return portRange;
}

/** Listen on 127.0.0.1:`port` (0: any) once and close; the port listened on, or undefined when it was taken. */
function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(undefined));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(got > 0 ? got : undefined));
    });
  });
}

/** Turn anything thrown by this module into a NetError (unknown errors become CONNECT_FAILED). */
export function asNetError(err: unknown): NetError {
  if (err instanceof NetError) return err;
  return new NetError('CONNECT_FAILED', err instanceof Error ? err.message : String(err), sysCodeOf(err));
}

/** Why {@link IdlePool} let go of an item: it failed its check, sat idle too long, there was no room, or the pool is closed. */
export type IdleDisposal = 'unusable' | 'expired' | 'full' | 'closed';

/** Options of {@link IdlePool}. */
export interface IdlePoolOptions<T> {
  /** Idle items kept per endpoint (0: none, every {@link IdlePool.put} disposes). */
  max: number;
  /**
   * Still worth keeping or reusing? Asked by take() and put() (default: always). For a
   * {@link Connection}, typically `!c.closed` (and, for a request/response protocol, no
   * unread bytes: `c.buffered().length === 0`).
   */
  usable?: (item: T) => boolean;
  /** Items idle this long (ms) are disposed by take() instead of reused (default: no limit). */
  idleMs?: number;
  /**
   * Let go of an item the pool does not keep or hand out (say goodbye, close or destroy).
   * What it returns is awaited by {@link IdlePool.closeAll} only; its errors are ignored.
   */
  dispose: (item: T, why: IdleDisposal) => unknown;
}

interface IdleEntry<T> {
  item: T;
  since: number;
}

/**
 * Idle connections (or sessions, clients...) kept for reuse, per endpoint: the one pool of
 * every protocol client (clamd, ICAP, SMTP). It holds only idle items; an item taken out
 * belongs to the caller until it is put back (or dropped). No timers: an idle item is
 * checked when it is taken (usable? expired?), so a connection the peer closed while idle
 * is found out then, and the newest idle item is reused first (LIFO, the warmest).
 *
 * A reused item may still have been dropped by the peer in a way not visible yet (the close
 * is in flight): callers retry once on a fresh one when a reused item fails before the peer
 * took anything.
 *
 * Endpoints are compared by value (`describeEndpoint`); the key of an endpoint object is
 * remembered, so do not change an endpoint object after handing it to the pool.
 */
export class IdlePool<T> {
  private readonly idle = new Map<string, Array<IdleEntry<T>>>();
  /** Keys of the endpoint objects seen (callers pass the same object again and again). */
  private readonly keys = new WeakMap<Endpoint, string>();
  private closing = false;

  constructor(private readonly opts: IdlePoolOptions<T>) {
    if (!(opts.max >= 0)) throw new TypeError('IdlePool: max must be >= 0');
  }

  /** Idle items kept now, over all endpoints. */
  get size(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  /** True once {@link closeAll} was called: put() then disposes everything. */
  get closed(): boolean {
    return this.closing;
  }

  /** A usable idle item for `endpoint` (the newest), or undefined; unusable or expired ones met on the way are disposed. */
  take(endpoint: Endpoint): T | undefined {
    const list = this.idle.get(this.keyOf(endpoint));
    if (list === undefined) return undefined;
    const now = this.opts.idleMs === undefined ? 0 : Date.now();
    for (let e = list.pop(); e !== undefined; e = list.pop()) {
      if (this.opts.usable !== undefined && !this.opts.usable(e.item)) {
        void this.drop(e.item, 'unusable');
      } else if (this.opts.idleMs !== undefined && now - e.since >= this.opts.idleMs) {
        void this.drop(e.item, 'expired');
      } else {
        return e.item;
      }
    }
    return undefined;
  }

  /**
   * An idle item for `endpoint` (`reused: true`) or a new one from `open` (which may
   * reject: the error is the caller's).
   */
  async acquire(endpoint: Endpoint, open: () => Promise<T>): Promise<{ item: T; reused: boolean }> {
    const item = this.take(endpoint);
    if (item !== undefined) return { item, reused: true };
    return { item: await open(), reused: false };
  }

  /** Give an item back: kept when usable and there is room (and the pool is open), else disposed. Returns whether it was kept. */
  put(endpoint: Endpoint, item: T): boolean {
    const key = this.keyOf(endpoint);
    let list = this.idle.get(key);
    const why: IdleDisposal | undefined = this.closing
      ? 'closed'
      : this.opts.usable !== undefined && !this.opts.usable(item)
        ? 'unusable'
        : (list?.length ?? 0) >= this.opts.max
          ? 'full'
          : undefined;
    if (why !== undefined) {
      void this.drop(item, why);
      return false;
    }
    if (list === undefined) this.idle.set(key, (list = []));
    list.push({ item, since: this.opts.idleMs === undefined ? 0 : Date.now() });
    return true;
  }

  /** Dispose every idle item (awaiting what dispose returns); later puts dispose theirs. */
  async closeAll(): Promise<void> {
    this.closing = true;
    const all = [...this.idle.values()].flatMap((list) => list.splice(0));
    this.idle.clear();
    await Promise.all(all.map((e) => this.drop(e.item, 'closed')));
  }

  private keyOf(endpoint: Endpoint): string {
    let key = this.keys.get(endpoint);
    if (key === undefined) this.keys.set(endpoint, (key = describeEndpoint(endpoint)));
    return key;
  }

  private async drop(item: T, why: IdleDisposal): Promise<void> {
    try {
      await this.opts.dispose(item, why);
    } catch {
      /* it is gone either way */
    }
  }
}

/** Sum of the lengths of `chunks`. */
function totalLength(chunks: readonly Buffer[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}
