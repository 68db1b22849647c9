/**
 * A pool of SMTP connections to ONE next hop (the proxy's only destination). Idle
 * connections are reused (a transaction after a clean one needs no RSET); a connection
 * that failed is thrown away; idle ones older than `idleMs` are closed.
 */
import { type Endpoint } from '../../core/net.js';
import { SmtpClient } from './client.js';

/** Options of {@link NextHopPool}. */
export interface NextHopPoolOptions {
  endpoint: Endpoint;
  lmtp?: boolean;
  heloName?: string;
  /** Idle connections kept (default 16). */
  maxIdle?: number;
  /** Idle connections older than this are closed instead of reused (ms, default 20 000). */
  idleMs?: number;
}

interface Idle {
  client: SmtpClient;
  since: number;
}

/** Connections to the next hop, reused across messages. */
export class NextHopPool {
  private readonly idle: Idle[] = [];
  private closed = false;

  constructor(private readonly opts: NextHopPoolOptions) {}

  /**
   * A connection: an idle one (`reused: true`) or a new one opened before `deadline`.
   * Rejects with a NetError when the next hop cannot be reached.
   */
  async acquire(deadline: number): Promise<{ client: SmtpClient; reused: boolean }> {
    const idleMs = this.opts.idleMs ?? 20_000;
    const now = Date.now();
    for (let it = this.idle.pop(); it !== undefined; it = this.idle.pop()) {
      if (it.client.usable && now - it.since < idleMs) return { client: it.client, reused: true };
      void it.client.quit(now + 500);
    }
    const client = await SmtpClient.open(this.opts.endpoint, {
      deadline,
      ...(this.opts.lmtp === true ? { lmtp: true } : {}),
      ...(this.opts.heloName === undefined ? {} : { heloName: this.opts.heloName }),
    });
    return { client, reused: false };
  }

  /** Give a connection back (kept when usable and there is room, else closed). */
  release(client: SmtpClient): void {
    if (this.closed || !client.usable || this.idle.length >= (this.opts.maxIdle ?? 16)) {
      if (client.usable) void client.quit();
      else client.destroy();
      return;
    }
    this.idle.push({ client, since: Date.now() });
  }

  /** Close every idle connection; later releases close theirs. */
  async close(): Promise<void> {
    this.closed = true;
    const all = this.idle.splice(0);
    await Promise.all(all.map((i) => i.client.quit(Date.now() + 1_000)));
  }
}
