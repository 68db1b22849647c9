/**
 * clamd adapter: our own client of clamd's INSTREAM protocol (no CLI, no temp files).
 * Unix socket or TCP, several servers with failover (next server on CONNECT_FAILED only),
 * an absolute deadline per scan, IDSESSION connections reused across scans (core/net.ts's IdlePool),
 * StreamMaxLength overflow reported as SIZE_LIMIT, `... ERROR` replies as errors.
 *
 * In-place scanning: a unit with a `path` (an unmodified file on the local disk, named by
 * the caller) is scanned with `zSCAN <path>` on a local clamd (unix socket) instead of
 * streaming its bytes: clamd reads the file itself, as `clamdscan --fdpass` lets it. clamd
 * must be able to read the file (it may run as another user); when it cannot, or the path
 * is odd (a newline, too long, not a regular file), the bytes are streamed instead.
 *
 * probe() asks PING and VERSION on a pooled IDSESSION that the first INSTREAM reuses or the
 * first in-place SCAN adopts as its shared session (one connection for the probe and the
 * scans that follow); scanBatch sends a batch's SCANs largest file first, so clamd's threads
 * finish together.
 */
import { lstatSync, realpathSync, statSync } from 'node:fs';
import type { Adapter, Detection, ProbeResult, ScanContext, ScanUnit, Verdict } from '../src/core/types.js';
import { CLEAN, errorVerdict, infected } from '../src/core/verdict.js';
import { IdlePool, NetError, asNetError, connect, describeEndpoint, type Connection, type Endpoint } from '../src/core/net.js';
import { DEFAULT_CLAMD_CONF, readClamdConf } from './clamd/config.js';
import { ScanSession } from './clamd/session.js';
import { END_OF_STREAM, INSTREAM, frameChunks, parseReply, parseScanReply, parseVersion, replyText, scanCommand, type ClamdReply } from './clamd/protocol.js';

export { isHeuristic } from './clamd/protocol.js';
export { parseClamdConf, parseClamdSize, readClamdConf } from './clamd/config.js';

/** One clamd server: a unix socket, or TCP host and port. */
export type ClamdServer = { socket: string } | { host: string; port: number };

/** Options of {@link createClamdAdapter}. Give `socket`, `host`+`port`, or `servers`; else clamd.conf is read. */
export interface ClamdAdapterOptions {
  /** Name it is selected by (default 'clamd'). */
  name?: string;
  /** Unix socket path. */
  socket?: string;
  host?: string;
  port?: number;
  /** Several servers, tried in order; the next one only when a server cannot be reached (CONNECT_FAILED). */
  servers?: ClamdServer[];
  /** clamd.conf to read the server from when none is given (default /etc/clamav/clamd.conf). */
  configFile?: string;
  /** 'message' (default: clamd parses mail itself) or 'part' (the core's decoded parts). */
  granularity?: 'message' | 'part';
  /** Absolute deadline per scan, ms from its start (default 30 000; ctx.deadline caps it). */
  timeoutMs?: number;
  /** Idle IDSESSION connections kept per server for reuse (default 8; 0 = a new connection per scan). */
  poolSize?: number;
  /** INSTREAM chunk size in bytes (default 64 KiB). */
  chunkSize?: number;
  /** clamd's StreamMaxLength in bytes when known: larger units are refused at once with SIZE_LIMIT. Read from clamd.conf when the server comes from there. */
  streamMaxLength?: number;
  /**
   * Scan units that carry a `path` in place (`zSCAN <path>`: clamd reads the file) instead
   * of streaming their bytes. 'auto' (default): only on a unix-socket server (a local
   * clamd; a TCP one may be on another host); 'always': on any server (a TCP clamd that
   * shares this file system); 'never': always stream. clamd must be able to read the
   * file; when it answers `... ERROR` (no access, file gone) the bytes are streamed once
   * instead. Paths with a newline or NUL, over 4000 bytes, or not naming a regular file
   * (after resolving a symlink: clamd would skip it and say OK) are always streamed.
   */
  inPlace?: 'auto' | 'never' | 'always';
}

type Resolved = { endpoints: Endpoint[]; streamMaxLength?: number } | { error: string };

/** A connection inside an IDSESSION (a plain one with poolSize 0), with its command counter. */
interface SessionConn {
  conn: Connection;
  /** Number of commands sent in this session. */
  commands: number;
}

/** How one attempt against one server ended (`retryable`: a reused session clamd had dropped, worth one fresh try). */
/**
 * What one INSTREAM or SCAN gave: clamd's reply, or a failure — `sizeLimit` when clamd hung
 * up past its known StreamMaxLength, `retryable` when a reused session had been dropped,
 * `midStream` when clamd hung up while the bytes were still being written, with no reply read.
 */
type Attempt = { ok: true; reply: ClamdReply } | { ok: false; error: NetError; sizeLimit?: boolean; retryable?: boolean; midStream?: boolean };

const WRITE_GROUP_BYTES = 1024 * 1024;
/** Commands a shared SCAN session keeps in flight (ScanSession's default). */
const SCAN_SESSION_IN_FLIGHT = 32;
const IDSESSION = Buffer.from('zIDSESSION\0', 'latin1');
const END = Buffer.from('zEND\0', 'latin1');

function toEndpoint(s: ClamdServer): Endpoint {
  return 'socket' in s ? { path: s.socket } : { host: s.host, port: s.port };
}

/**
 * Create a clamd adapter. Throws only for contradictory options (bad configuration);
 * an unreachable clamd is reported by probe() and as error verdicts.
 */
export function createClamdAdapter(opts: ClamdAdapterOptions = {}): Adapter {
  return new ClamdAdapter(opts);
}

/**
 * The clamd adapter's state: the servers (resolved once), the idle IDSESSION connections
 * per server (an {@link IdlePool}), and per server the shared pipelined session of in-place
 * SCANs.
 */
class ClamdAdapter implements Adapter {
  readonly name: string;
  readonly type = 'clamd';
  readonly granularity: 'message' | 'part';
  private readonly timeoutMs: number;
  private readonly poolSize: number;
  private readonly chunkSize: number;
  private readonly inPlace: 'auto' | 'never' | 'always';
  private resolved: Promise<Resolved> | undefined;
  /** Idle IDSESSION connections per server, reused across scans (poolSize of them at most). */
  private readonly idle: IdlePool<SessionConn>;
  /** Per server: the pipelined IDSESSION that in-place SCANs share (poolSize > 0). */
  private readonly scanSessions = new Map<string, Promise<ScanSession>>();
  private closed = false;

  constructor(private readonly opts: ClamdAdapterOptions) {
    const name = (this.name = opts.name ?? 'clamd');
    this.granularity = opts.granularity ?? 'message';
    const timeoutMs = (this.timeoutMs = opts.timeoutMs ?? 30_000);
    const poolSize = (this.poolSize = opts.poolSize ?? 8);
    const chunkSize = (this.chunkSize = opts.chunkSize ?? 64 * 1024);
    if (!(timeoutMs > 0)) throw new TypeError(`clamd ${name}: timeoutMs must be positive`);
    if (!(chunkSize > 0 && chunkSize < 2 ** 31)) throw new TypeError(`clamd ${name}: chunkSize out of range`);
    if (!(poolSize >= 0)) throw new TypeError(`clamd ${name}: poolSize must be >= 0`);
    if ((opts.host === undefined) !== (opts.port === undefined)) throw new TypeError(`clamd ${name}: host and port go together`);
    if (opts.servers !== undefined && opts.servers.length === 0) throw new TypeError(`clamd ${name}: servers is empty`);
    const inPlace = (this.inPlace = opts.inPlace ?? 'auto');
    if (inPlace !== 'auto' && inPlace !== 'never' && inPlace !== 'always') throw new TypeError(`clamd ${name}: inPlace is auto, never or always`);
    this.idle = new IdlePool<SessionConn>({
      max: poolSize,
      usable: (s) => !s.conn.closed,
      dispose: (s, why) => (why === 'unusable' ? s.conn.destroy() : this.endSession(s)),
    });
  }

  /** The servers (and StreamMaxLength): from the options, else from clamd.conf; read once. */
  private resolve(): Promise<Resolved> {
    const opts = this.opts;
    this.resolved ??= (async (): Promise<Resolved> => {
      const sml = opts.streamMaxLength === undefined ? {} : { streamMaxLength: opts.streamMaxLength };
      if (opts.servers !== undefined) return { endpoints: opts.servers.map(toEndpoint), ...sml };
      const given: Endpoint[] = [];
      if (opts.socket !== undefined) given.push({ path: opts.socket });
      if (opts.host !== undefined && opts.port !== undefined) given.push({ host: opts.host, port: opts.port });
      if (given.length > 0) return { endpoints: given, ...sml };
      const file = opts.configFile ?? DEFAULT_CLAMD_CONF;
      const conf = await readClamdConf(file);
      if (conf === undefined) return { error: `cannot read ${file}; give socket or host+port` };
      if (conf.endpoint === undefined) return { error: `${file} sets neither LocalSocket nor TCPSocket; give socket or host+port` };
      const limit = opts.streamMaxLength ?? conf.streamMaxLength;
      return { endpoints: [conf.endpoint], ...(limit === undefined ? {} : { streamMaxLength: limit }) };
    })();
    return this.resolved;
  }

  /** The server's shared SCAN session, opened when there is none usable; `fresh` when this call opened it. */
  private async scanSession(ep: Endpoint, deadline: number): Promise<{ session: ScanSession; fresh: boolean }> {
    const key = describeEndpoint(ep);
    const have = this.scanSessions.get(key);
    if (have !== undefined) {
      const session = await have.catch(() => undefined);
      if (session?.usable === true) return { session, fresh: false };
      if (this.scanSessions.get(key) !== have) return this.scanSession(ep, deadline);
    }
    // The session the probe left idle in the pool, when there is one (clamd may have closed
    // it since: not fresh, so a failed first SCAN is tried once more on a new one).
    const pooled = this.idle.take(ep);
    if (pooled !== undefined) {
      const session = ScanSession.adopt(pooled.conn, pooled.commands);
      this.scanSessions.set(key, Promise.resolve(session));
      return { session, fresh: false };
    }
    const opening = ScanSession.open(ep, deadline);
    this.scanSessions.set(key, opening);
    try {
      return { session: await opening, fresh: true };
    } catch (e) {
      if (this.scanSessions.get(key) === opening) this.scanSessions.delete(key);
      throw e;
    }
  }

  /** One in-place SCAN on the server's shared pipelined session. */
  private async attemptShared(ep: Endpoint, cmd: Buffer, path: string, deadline: number, signal: AbortSignal): Promise<Attempt> {
    let session: ScanSession;
    let fresh: boolean;
    try {
      ({ session, fresh } = await this.scanSession(ep, deadline));
    } catch (e) {
      return { ok: false, error: asNetError(e) };
    }
    try {
      return { ok: true, reply: await session.scan(cmd, path, deadline, signal) };
    } catch (e) {
      const err = asNetError(e);
      // A session clamd had already dropped (IdleTimeout, restart): worth one fresh try.
      return { ok: false, error: err, retryable: !fresh && err.code === 'CONNECT_FAILED' };
    }
  }

  /** A new connection to `ep`, in an IDSESSION when sessions are pooled. Throws NetError. */
  private async openSession(ep: Endpoint, deadline: number, signal: AbortSignal): Promise<SessionConn> {
    const conn = await connect(ep, { deadline, signal });
    if (this.poolSize > 0) {
      try {
        await conn.write(IDSESSION);
      } catch (e) {
        conn.destroy();
        throw e;
      }
    }
    return { conn, commands: 0 };
  }

  /**
   * A session for one more command, its count taken: an idle one (`reused`, moved to this
   * scan's deadline and signal) or a new one; or the NetError that kept it from opening.
   */
  private async lease(ep: Endpoint, deadline: number, signal: AbortSignal): Promise<{ s: SessionConn; reused: boolean } | NetError> {
    try {
      const { item: s, reused } = await this.idle.acquire(ep, () => this.openSession(ep, deadline, signal));
      if (reused) s.conn.setDeadline(deadline, signal);
      s.commands += 1;
      return { s, reused };
    } catch (e) {
      return asNetError(e);
    }
  }

  /** A session whose command was answered cleanly goes back to the pool (or ends, when it has no room). */
  private checkin(ep: Endpoint, s: SessionConn): void {
    s.conn.setDeadline(Number.MAX_SAFE_INTEGER);
    this.idle.put(ep, s);
  }

  private endSession(s: SessionConn): void {
    if (this.poolSize > 0 && !s.conn.closed) {
      s.conn.write(END).then(() => s.conn.close(), () => s.conn.destroy());
    } else {
      s.conn.close();
    }
  }

  /** One INSTREAM against one server. */
  private async attempt(ep: Endpoint, data: Buffer, deadline: number, signal: AbortSignal, streamMaxLength: number | undefined): Promise<Attempt> {
    const lease = await this.lease(ep, deadline, signal);
    if (lease instanceof NetError) return { ok: false, error: lease };
    const { s, reused } = lease;
    const { conn } = s;
    const chunkSize = this.chunkSize;
    let sent = 0;
    let writeError: NetError | undefined;
    try {
      if (data.length <= chunkSize) {
        await conn.write(INSTREAM, ...frameChunks(data, chunkSize), END_OF_STREAM);
        sent = data.length;
      } else {
        await conn.write(INSTREAM);
        const frames = frameChunks(data, chunkSize);
        const group: Buffer[] = [];
        let groupBytes = 0;
        for (let i = 0; i < frames.length; i += 2) {
          const piece = frames[i + 1] as Buffer;
          group.push(frames[i] as Buffer, piece);
          groupBytes += piece.length;
          if (groupBytes >= WRITE_GROUP_BYTES || i + 2 >= frames.length) {
            if (i + 2 >= frames.length) group.push(END_OF_STREAM);
            await conn.write(...group);
            sent += groupBytes;
            group.length = 0;
            groupBytes = 0;
            // clamd may already have refused the stream (size limit) and be closing.
            if (conn.buffered().length > 0 || conn.closed) break;
          }
        }
      }
    } catch (e) {
      writeError = asNetError(e);
      if (writeError.code !== 'CONNECT_FAILED') {
        conn.destroy();
        return { ok: false, error: writeError };
      }
    }
    let replyText: string;
    try {
      replyText = (await conn.readUntil('\0', { maxBytes: 64 * 1024 })).toString('utf8');
    } catch (e) {
      const err = asNetError(e);
      const partial = conn.buffered();
      conn.destroy();
      if (err.code === 'CONNECT_FAILED' && partial.length > 0) {
        // The peer said something and hung up: judge what it said.
        return { ok: true, reply: parseReply(partial.toString('utf8')) };
      }
      if (err.code === 'CONNECT_FAILED' && streamMaxLength !== undefined && sent + chunkSize > streamMaxLength) {
        return { ok: false, error: err, sizeLimit: true };
      }
      // A reused session that clamd had already dropped (IdleTimeout): worth one fresh try.
      return { ok: false, error: err, retryable: reused && err.code === 'CONNECT_FAILED' && sent === data.length, midStream: writeError !== undefined };
    }
    const reply = parseReply(replyText);
    if (reply.kind === 'clean' || reply.kind === 'found') this.checkin(ep, s);
    else conn.destroy();
    return { ok: true, reply };
  }

  /**
   * One `zSCAN <path>` against one server on a connection of its own (poolSize 0: no
   * session; else a pooled one). A clean or FOUND reply keeps a pooled session; an ERROR
   * reply ends it (clamd may send more lines for the same command).
   */
  private async attemptScan(ep: Endpoint, cmd: Buffer, path: string, deadline: number, signal: AbortSignal): Promise<Attempt> {
    const lease = await this.lease(ep, deadline, signal);
    if (lease instanceof NetError) return { ok: false, error: lease };
    const { s, reused } = lease;
    const { conn } = s;
    try {
      await conn.write(cmd);
      const text = (await conn.readUntil('\0', { maxBytes: 64 * 1024 })).toString('utf8');
      const reply = parseScanReply(text, path, this.poolSize > 0 ? s.commands : undefined);
      if (reply.kind === 'clean' || reply.kind === 'found') this.checkin(ep, s);
      else conn.destroy();
      return { ok: true, reply };
    } catch (e) {
      const err = asNetError(e);
      conn.destroy();
      // A reused session that clamd had already dropped (IdleTimeout): worth one fresh try.
      return { ok: false, error: err, retryable: reused && err.code === 'CONNECT_FAILED' };
    }
  }

  /** Should units with a path be scanned in place on this server? */
  private inPlaceOn(ep: Endpoint): boolean {
    return this.inPlace === 'always' || (this.inPlace === 'auto' && 'path' in ep);
  }

  private verdictOf(reply: ClamdReply, unit: ScanUnit): Verdict {
    switch (reply.kind) {
      case 'clean':
        return CLEAN;
      case 'found': {
        const d: Detection = { name: reply.name, scanner: this.name };
        if (unit.kind === 'part') d.part = unit.location;
        return infected([d]);
      }
      case 'size-limit':
        return errorVerdict('SIZE_LIMIT', `clamd: ${reply.message}`);
      case 'error':
        return errorVerdict('PROTOCOL', `clamd: ${reply.message}`);
      case 'garbage':
        return errorVerdict('PROTOCOL', reply.message);
    }
  }

  async probe(): Promise<ProbeResult> {
    const r = await this.resolve();
    if ('error' in r) return { available: false, reason: r.error };
    const why: string[] = [];
    for (const ep of r.endpoints) {
      const deadline = Date.now() + Math.min(this.timeoutMs, 5_000);
      try {
        let pong: string;
        let version: string;
        if (this.poolSize > 0 && !this.closed) {
          // Asked on a pooled IDSESSION (PING and VERSION in one write), which the first
          // INSTREAM then reuses, or the first in-place SCAN adopts as its shared session:
          // `avbench deliver` and `avbench scan` each open one connection to clamd, not three.
          [pong, version] = await this.askPooled(ep, deadline);
        } else {
          pong = await command(ep, 'PING', deadline);
          version = pong === 'PONG' ? await command(ep, 'VERSION', deadline) : '';
        }
        if (pong !== 'PONG') {
          why.push(`${describeEndpoint(ep)} answered PING with ${JSON.stringify(pong.slice(0, 80))}`);
          continue;
        }
        const v = parseVersion(version);
        const result: ProbeResult = { available: true };
        if (v !== undefined) {
          result.version = v.version;
          if (v.signatures !== undefined) result.signatures = v.signatures;
        }
        return result;
      } catch (e) {
        why.push(asNetError(e).message);
      }
    }
    return { available: false, reason: `clamd not reachable (${why.join('; ')}): start clamd or set socket / host+port` };
  }

  /**
   * PING and VERSION in one write on an idle (or new) pooled IDSESSION; the session goes
   * back to the pool when clamd answered PONG. Replies without their `N: ` numbers. Throws NetError.
   */
  private async askPooled(ep: Endpoint, deadline: number): Promise<[string, string]> {
    const lease = await this.lease(ep, deadline, NEVER_ABORTED);
    if (lease instanceof NetError) throw lease;
    const { s } = lease;
    s.commands += 1; // the lease counted PING; VERSION is the session's next command
    let pong: string;
    let version: string;
    try {
      await s.conn.write(PING_VERSION);
      pong = replyText((await s.conn.readUntil('\0', { maxBytes: 64 * 1024 })).toString('utf8'));
      version = replyText((await s.conn.readUntil('\0', { maxBytes: 64 * 1024 })).toString('utf8'));
    } catch (e) {
      s.conn.destroy();
      throw e;
    }
    if (pong === 'PONG') this.checkin(ep, s);
    else s.conn.destroy();
    return [pong, version];
  }

  async scan(unit: ScanUnit, ctx: ScanContext): Promise<Verdict> {
    const name = this.name;
    if (ctx.signal.aborted) return errorVerdict('ABORTED', `${name}: aborted`);
    const r = await this.resolve();
    if ('error' in r) return errorVerdict('NOT_AVAILABLE', `${name}: ${r.error}`);
    // The same limit whether the bytes are streamed or the file is scanned in place; a unit
    // scanned in place is measured by its file's size, so its bytes need not be read.
    const overLimit = (size: number): Verdict | undefined =>
      r.streamMaxLength !== undefined && size > r.streamMaxLength
        ? errorVerdict('SIZE_LIMIT', `${name}: ${size} bytes is over clamd's StreamMaxLength ${r.streamMaxLength}`)
        : undefined;
    let local: { cmd: Buffer; path: string; size: number } | undefined | null = null;
    if (unit.path !== undefined && r.endpoints.some((ep) => this.inPlaceOn(ep))) {
      local = inPlaceCommand(unit.path, (unit as Partial<LookedAtUnit>).plainFile);
      const refused = overLimit(local === undefined ? unit.data.length : local.size);
      if (refused !== undefined) return refused;
    } else {
      const refused = overLimit(unit.data.length);
      if (refused !== undefined) return refused;
    }
    const deadline = Math.min(ctx.deadline, Date.now() + this.timeoutMs);
    const failures: string[] = [];
    for (const ep of r.endpoints) {
      if (unit.path !== undefined && this.inPlaceOn(ep)) {
        if (local !== undefined && local !== null) {
          const shared = this.poolSize > 0 && !this.closed;
          const once = (): Promise<Attempt> =>
            shared ? this.attemptShared(ep, local.cmd, local.path, deadline, ctx.signal) : this.attemptScan(ep, local.cmd, local.path, deadline, ctx.signal);
          let a = await once();
          if (!a.ok && a.retryable === true) a = await once();
          if (a.ok && a.reply.kind !== 'error') return this.verdictOf(a.reply, unit);
          if (!a.ok) {
            if (a.error.code !== 'CONNECT_FAILED') return errorVerdict(a.error.code, `${name}: ${a.error.message}`);
            failures.push(a.error.message);
            continue;
          }
          // clamd could not read the file (another user, file gone...): stream the bytes once.
        }
      }
      let a = await this.attempt(ep, unit.data, deadline, ctx.signal, r.streamMaxLength);
      if (!a.ok && a.retryable === true) a = await this.attempt(ep, unit.data, deadline, ctx.signal, r.streamMaxLength);
      // clamd hung up while the bytes were going out and its reply was lost with the connection
      // (its "size limit exceeded" races our write): once more; a second hang-up mid-stream from
      // a clamd that still accepts connections is its StreamMaxLength refusal.
      let twice = false;
      if (!a.ok && a.midStream === true && a.sizeLimit !== true) {
        a = await this.attempt(ep, unit.data, deadline, ctx.signal, r.streamMaxLength);
        twice = !a.ok && a.midStream === true;
      }
      if (a.ok) return this.verdictOf(a.reply, unit);
      if (a.sizeLimit === true) {
        return errorVerdict('SIZE_LIMIT', `${name}: clamd closed the stream after ~${r.streamMaxLength ?? 0} bytes (StreamMaxLength): ${a.error.message}`);
      }
      if (twice) return errorVerdict('SIZE_LIMIT', `${name}: clamd closed the stream twice while ${unit.data.length} bytes were being sent (its StreamMaxLength refusal, reply lost): ${a.error.message}`);
      if (a.error.code !== 'CONNECT_FAILED') return errorVerdict(a.error.code, `${name}: ${a.error.message}`);
      failures.push(a.error.message);
    }
    return errorVerdict('CONNECT_FAILED', `${name}: ${failures.join('; ')}`);
  }

  /**
   * Many units at once, each with the verdict scan() would give it. Units with a `path`
   * on an in-place server go out together on the shared pipelined session (one timer for
   * the lot: the adapter's timeout per `maxInFlight` commands, within ctx.deadline); any
   * of them clamd could not read, or whose session failed, then takes scan()'s own way
   * (stream the bytes, another server), as do the other units: `poolSize` of them at once.
   */
  async scanBatch(units: ScanUnit[], ctx: ScanContext): Promise<Verdict[]> {
    const name = this.name;
    const verdicts = new Array<Verdict | undefined>(units.length).fill(undefined);
    const r = await this.resolve();
    const ep = 'error' in r ? undefined : r.endpoints[0];
    if (ep !== undefined && !('error' in r) && this.poolSize > 0 && !this.closed && this.inPlaceOn(ep) && !ctx.signal.aborted) {
      const batch: Array<{ i: number; cmd: Buffer; path: string; size: number }> = [];
      for (const [i, unit] of units.entries()) {
        if (unit.path === undefined) continue;
        const local = inPlaceCommand(unit.path, (unit as Partial<LookedAtUnit>).plainFile);
        if (local === undefined) continue;
        if (r.streamMaxLength !== undefined && local.size > r.streamMaxLength) {
          verdicts[i] = errorVerdict('SIZE_LIMIT', `${name}: ${local.size} bytes is over clamd's StreamMaxLength ${r.streamMaxLength}`);
          continue;
        }
        batch.push({ i, cmd: local.cmd, path: local.path, size: local.size });
      }
      // Largest first (each unit still gets its own reply): clamd's threads then finish
      // together, where a big file sent last keeps one thread busy while the rest idle.
      batch.sort((a, b) => b.size - a.size);
      if (batch.length > 0) {
        let session: ScanSession | undefined;
        try {
          session = (await this.scanSession(ep, Math.min(ctx.deadline, Date.now() + this.timeoutMs))).session;
        } catch {
          session = undefined; // each unit then takes scan()'s way, which reports the failure
        }
        if (session !== undefined) {
          const rounds = Math.ceil(batch.length / SCAN_SESSION_IN_FLIGHT);
          const until = Math.min(ctx.deadline, Date.now() + this.timeoutMs * rounds);
          const replies = await session.scanAll(batch, until, ctx.signal);
          for (const [k, reply] of replies.entries()) {
            const { i } = batch[k] as { i: number };
            if (reply instanceof NetError) {
              if (reply.code !== 'CONNECT_FAILED') verdicts[i] = errorVerdict(reply.code, `${name}: ${reply.message}`);
            } else if (reply.kind !== 'error') {
              verdicts[i] = this.verdictOf(reply, units[i] as ScanUnit);
            }
          }
        }
      }
    }
    // The rest (streamed, or in place on their own): scan()'s way, a few at once (as many
    // as the connection pool keeps; one at a time without a pool).
    const rest = [...verdicts.keys()].filter((i) => verdicts[i] === undefined);
    const worker = async (): Promise<void> => {
      for (let i = rest.shift(); i !== undefined; i = rest.shift()) verdicts[i] = await this.scan(units[i] as ScanUnit, ctx);
    };
    await Promise.all(Array.from({ length: Math.min(rest.length, Math.max(1, this.poolSize)) }, worker));
    return verdicts as Verdict[];
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle.closeAll();
    const sessions = [...this.scanSessions.values()];
    this.scanSessions.clear();
    for (const p of sessions) (await p.catch(() => undefined))?.close();
  }
}

/**
 * A unit whose caller has looked at its `path` itself (lstat, when it opened the corpus): a
 * regular file, not a symbolic link, of `size` bytes. The adapter then sends its SCAN
 * without an lstat of its own (one per file was a tenth of a whole `avbench scan`'s CPU).
 * Only for paths the caller found as plain files: clamd answers OK for a link unscanned.
 */
export interface LookedAtUnit extends ScanUnit {
  plainFile: { size: number };
}

/**
 * The SCAN command for a unit's path, or undefined when it must be streamed instead: the
 * path cannot be sent (newline, NUL, too long, relative) or does not name a regular file.
 * A symlink is resolved first (clamd would not follow it and would answer OK unscanned).
 * `known`: the caller's own lstat of the path found a regular file of that size (LookedAtUnit).
 */
function inPlaceCommand(path: string, known?: { size: number }): { cmd: Buffer; path: string; size: number } | undefined {
  if (known !== undefined) {
    const cmd = scanCommand(path);
    return cmd === undefined ? undefined : { cmd, path, size: known.size };
  }
  try {
    let target = path;
    let st = lstatSync(path);
    if (st.isSymbolicLink()) {
      target = realpathSync.native(path);
      st = statSync(target);
      if (!st.isFile()) return undefined;
    } else if (!st.isFile()) {
      return undefined;
    }
    const cmd = scanCommand(target);
    return cmd === undefined ? undefined : { cmd, path: target, size: st.size };
  } catch {
    return undefined;
  }
}

/** PING and VERSION, pipelined in one write inside a session. */
const PING_VERSION = Buffer.from('zPING\0zVERSION\0', 'latin1');
/** A signal for a lease no caller can abort (the probe has only its deadline). */
const NEVER_ABORTED = new AbortController().signal;

/** Send one z-command on a fresh connection and read its NUL-terminated reply. Throws NetError. */
async function command(ep: Endpoint, cmd: string, deadline: number): Promise<string> {
  const conn = await connect(ep, { deadline });
  try {
    await conn.write(Buffer.from(`z${cmd}\0`, 'latin1'));
    return (await conn.readUntil('\0', { maxBytes: 64 * 1024 })).toString('utf8');
  } finally {
    conn.destroy();
  }
}
