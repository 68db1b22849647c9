/**
 * One clamd IDSESSION carrying many `zSCAN <path>` commands at once (pipelined), the way
 * clamdscan --multiscan --fdpass keeps clamd's threads fed: commands written in the same
 * tick go out in one write, replies (`<n>: <path>: ...`) are matched to their command by
 * number, so they may come back in any order. Each scan keeps its own deadline and abort
 * signal: a scan that gives up is forgotten here (its late reply is dropped) without
 * disturbing the others on the connection.
 */
import { MAX_TIMER_MS, NetError, asNetError, connect, type Connection, type Endpoint } from '../../src/core/net.js';
import { parseScanReply, type ClamdReply } from './protocol.js';

/** Every reply ends with a NUL (z-commands); no reply is longer than 64 KiB. */
const NUL = Buffer.from([0]);
const READ_LIMIT = { maxBytes: 64 * 1024 } as const;

/** The reply `OK` (shared: a reply object is never changed). */
const CLEAN_REPLY: ClamdReply = Object.freeze({ kind: 'clean' });


interface Pending {
  id: number;
  cmd: Buffer;
  /** The path the SCAN names. */
  path: string;
  resolve: (r: ClamdReply) => void;
  reject: (e: NetError) => void;
}

/** Options of {@link ScanSession.open}. */
export interface ScanSessionOptions {
  /** Commands sent and not yet answered, at most (default 32; clamd's MaxQueue is 100). */
  maxInFlight?: number;
  /** Bytes of commands sent and not yet answered, at most (default 32 KiB: never fills a socket buffer). */
  maxInFlightBytes?: number;
}

/** A pipelined IDSESSION for SCAN commands. Fails as a whole: then every waiting scan gets the NetError. */
export class ScanSession {
  private nextId = 0;
  private readonly inFlight = new Map<number, Pending>();
  private inFlightBytes = 0;
  private readonly queue: Pending[] = [];
  private outbox: Buffer[] = [];
  private flushScheduled = false;
  /** Set when the session filled up: no more commands go out until half of it is answered. */
  private full = false;
  private failure: NetError | undefined;
  private readonly maxInFlight: number;
  private readonly maxInFlightBytes: number;

  private constructor(
    private readonly conn: Connection,
    opts: ScanSessionOptions,
  ) {
    this.maxInFlight = opts.maxInFlight ?? 32;
    this.maxInFlightBytes = opts.maxInFlightBytes ?? 32 * 1024;
    // No deadline on the reader itself (net.ts arms no timer for it): each command has its own.
    conn.setDeadline(Number.MAX_SAFE_INTEGER);
    void this.readLoop();
  }

  /** Connect to `ep` before `deadline` and start an IDSESSION. Throws NetError. */
  static async open(ep: Endpoint, deadline: number, opts: ScanSessionOptions = {}): Promise<ScanSession> {
    const conn = await connect(ep, { deadline });
    try {
      await conn.write(Buffer.from('zIDSESSION\0', 'latin1'));
    } catch (e) {
      conn.destroy();
      throw asNetError(e);
    }
    return new ScanSession(conn, opts);
  }

  /**
   * Go on with an IDSESSION already started on `conn` (a pooled session the probe used),
   * whose `commandsSoFar` commands were all answered: the next command is number
   * commandsSoFar + 1, as clamd counts them.
   */
  static adopt(conn: Connection, commandsSoFar: number, opts: ScanSessionOptions = {}): ScanSession {
    const session = new ScanSession(conn, opts);
    session.nextId = commandsSoFar;
    return session;
  }

  /** False once the connection failed or was closed: open a new session. */
  get usable(): boolean {
    return this.failure === undefined && !this.conn.closed;
  }

  /**
   * Send `cmd` (a `zSCAN <path>\0` for `path`) and resolve with clamd's parsed reply.
   * Rejects with a NetError when the session fails before the reply. `signal` and `until`
   * (absolute ms) end the wait for this command only: it is then rejected with ABORTED or
   * TIMEOUT and its reply, if it ever comes, is dropped.
   */
  scan(cmd: Buffer, path: string, until: number, signal: AbortSignal): Promise<ClamdReply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<ClamdReply>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const forget = (err: NetError): void => {
        this.forget(p);
        done();
        reject(err);
      };
      const onAbort = (): void => forget(new NetError('ABORTED', 'clamd scan aborted'));
      const p: Pending = {
        id: 0,
        cmd,
        path,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      if (signal.aborted) {
        reject(new NetError('ABORTED', 'clamd scan aborted'));
        return;
      }
      const remaining = until - Date.now();
      if (remaining <= 0) {
        reject(new NetError('TIMEOUT', 'clamd scan: deadline passed'));
        return;
      }
      timer = setTimeout(() => forget(new NetError('TIMEOUT', `clamd gave no answer for ${path} before the deadline`)), Math.min(remaining, MAX_TIMER_MS));
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(p);
      this.pump();
    });
  }

  /**
   * Send many `zSCAN <path>\0` commands (pipelined, at most `maxInFlight` at once) and
   * resolve, once every one is settled, with each one's parsed reply or the NetError that
   * ended its wait: the session failed (CONNECT_FAILED, PROTOCOL...), `until` (absolute ms)
   * passed (TIMEOUT) or `signal` fired (ABORTED). One timer and one abort listener for the
   * lot instead of one per command. Never rejects.
   */
  scanAll(items: ReadonlyArray<{ cmd: Buffer; path: string }>, until: number, signal: AbortSignal): Promise<Array<ClamdReply | NetError>> {
    const out = new Array<ClamdReply | NetError | undefined>(items.length).fill(undefined);
    if (items.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      let left = items.length;
      const mine: Pending[] = [];
      let timer: NodeJS.Timeout | undefined;
      const settle = (i: number, r: ClamdReply | NetError): void => {
        if (out[i] !== undefined) return;
        out[i] = r;
        left -= 1;
        if (left === 0) {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve(out as Array<ClamdReply | NetError>);
        }
      };
      const giveUp = (err: NetError): void => {
        for (const [i, p] of mine.entries()) {
          if (out[i] !== undefined) continue;
          this.forget(p);
          settle(i, err);
        }
      };
      const onAbort = (): void => giveUp(new NetError('ABORTED', 'clamd scan aborted'));
      for (const [i, item] of items.entries()) {
        mine.push({ id: 0, cmd: item.cmd, path: item.path, resolve: (r) => settle(i, r), reject: (e) => settle(i, e) });
      }
      if (this.failure !== undefined) {
        for (const i of mine.keys()) settle(i, this.failure);
        return;
      }
      if (signal.aborted) {
        giveUp(new NetError('ABORTED', 'clamd scan aborted'));
        return;
      }
      const remaining = until - Date.now();
      if (remaining <= 0) {
        giveUp(new NetError('TIMEOUT', 'clamd scan: deadline passed'));
        return;
      }
      timer = setTimeout(() => giveUp(new NetError('TIMEOUT', 'clamd gave no answer before the deadline')), Math.min(remaining, MAX_TIMER_MS));
      signal.addEventListener('abort', onAbort, { once: true });
      for (const p of mine) this.queue.push(p);
      this.pump();
    });
  }

  /** End the session (zEND) and close. Waiting scans get CONNECT_FAILED. */
  close(): void {
    if (this.failure === undefined && !this.conn.closed) {
      this.conn.write(Buffer.from('zEND\0', 'latin1')).then(() => this.conn.close(), () => this.conn.destroy());
    } else {
      this.conn.destroy();
    }
    this.fail(new NetError('CONNECT_FAILED', `${this.conn.label}: session closed`));
  }

  /**
   * Move queued commands into flight while the limits allow; write them in one go. Once
   * the session is full, it is refilled in bursts, when half of it has been answered:
   * many commands to a write instead of one write per reply (each write wakes clamd and
   * costs a system call), while clamd still has the other half to work on.
   */
  private pump(): void {
    if (this.full) {
      if (this.inFlight.size > this.maxInFlight >> 1) return;
      this.full = false;
    }
    const idle = this.inFlight.size === 0;
    while (this.queue.length > 0 && this.inFlight.size < this.maxInFlight) {
      const p = this.queue[0] as Pending;
      if (this.inFlight.size > 0 && this.inFlightBytes + p.cmd.length > this.maxInFlightBytes) break;
      this.queue.shift();
      p.id = ++this.nextId;
      this.inFlight.set(p.id, p);
      this.inFlightBytes += p.cmd.length;
      this.outbox.push(p.cmd);
    }
    if (this.inFlight.size >= this.maxInFlight) this.full = true;
    if (idle && this.outbox.length > 0) {
      // Nothing was in flight: clamd's threads are waiting and no reply is about to queue
      // more, so the commands go out now (a scan's first SCANs do not wait for its next batch to be looked at).
      this.flush();
    } else if (this.outbox.length > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      // After the replies already read have been handled (and their callers have queued
      // their next commands), so those go out together.
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const out = this.outbox;
    this.outbox = [];
    if (out.length === 0 || this.failure !== undefined) return;
    // One buffer, one write(2): a burst of small commands as a writev of many pieces costs
    // an object per piece on Node's side.
    this.conn.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out)).catch((e: unknown) => {
      this.conn.destroy();
      this.fail(asNetError(e));
    });
  }

  /** Drop a command whose scan gave up. An in-flight one still counts until clamd answers it. */
  private forget(p: Pending): void {
    const q = this.queue.indexOf(p);
    if (q >= 0) this.queue.splice(q, 1);
    const f = this.inFlight.get(p.id);
    if (f === p) {
      // Keep the slot (clamd is still working on it) but drop who waits for it.
      this.inFlight.set(p.id, { ...p, resolve: () => undefined, reject: () => undefined });
    }
  }

  /**
   * Read replies until the session fails. Replies that arrived together (clamd's threads
   * answer at once while this process waits its turn for a CPU) are taken in one read and
   * handled in one go, not one promise each.
   */
  private async readLoop(): Promise<void> {
    for (;;) {
      let first: Buffer;
      let rest: Buffer | undefined;
      try {
        first = await this.conn.readUntil(NUL, READ_LIMIT);
        const last = this.conn.buffered().lastIndexOf(0);
        if (last >= 0) rest = await this.conn.readExactly(last + 1);
      } catch (e) {
        this.conn.destroy();
        this.fail(asNetError(e));
        return;
      }
      if (!this.reply(first.toString('utf8'))) return;
      if (rest !== undefined) {
        for (let from = 0; from < rest.length; ) {
          const end = rest.indexOf(0, from);
          if (end - from > READ_LIMIT.maxBytes) {
            this.conn.destroy();
            this.fail(new NetError('PROTOCOL', `${this.conn.label}: no "\\u0000" within ${READ_LIMIT.maxBytes} bytes`));
            return;
          }
          if (!this.reply(rest.toString('utf8', from, end))) return;
          from = end + 1;
        }
      }
      this.pump();
    }
  }

  /** One reply (NUL stripped) to the command it names; false when it ended the session. */
  private reply(text: string): boolean {
    // `<n>: ` read by hand (a regex match per reply is garbage for every file of a big scan).
    let n = 0;
    let k = 0;
    for (let c = text.charCodeAt(0); c >= 48 && c <= 57; c = text.charCodeAt(++k)) n = n * 10 + (c - 48);
    const numbered = k > 0 && text.charCodeAt(k) === 58 && text.charCodeAt(k + 1) === 32;
    const p = numbered ? this.inFlight.get(n) : undefined;
    if (p === undefined) {
      if (!numbered) {
        // A reply with no command number: the session itself failed (clamd closes it next).
        this.conn.destroy();
        this.fail(new NetError('PROTOCOL', `${this.conn.label}: clamd said ${JSON.stringify(text.slice(0, 200))}`));
        return false;
      }
      return true; // a second line for a command already answered: dropped
    }
    this.inFlight.delete(p.id);
    this.inFlightBytes -= p.cmd.length;
    const path = p.path;
    // `<n>: <path>: OK`, the usual reply, known at a glance; anything else is parsed in full.
    if (text.length === k + path.length + 6 && text.endsWith(': OK') && text.startsWith(path, k + 2)) p.resolve(CLEAN_REPLY);
    else p.resolve(parseScanReply(text, path, p.id));
    return true;
  }

  private fail(err: NetError): void {
    if (this.failure === undefined) this.failure = err;
    const waiting = [...this.inFlight.values(), ...this.queue];
    this.inFlight.clear();
    this.queue.length = 0;
    this.inFlightBytes = 0;
    for (const p of waiting) p.reject(err);
  }
}
