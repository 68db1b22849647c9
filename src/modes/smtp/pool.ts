/**
 * A pool of SMTP connections to ONE next hop (the proxy's only destination), on
 * core/net.ts's {@link IdlePool}. Idle connections are reused (a transaction after a clean
 * one needs no RSET); a connection that failed is thrown away; idle ones older than
 * `idleMs` are closed.
 */
import { IdlePool, type Endpoint } from '../../core/net.js';
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

/** Connections to the next hop, reused across messages. */
export class NextHopPool {
  private readonly idle: IdlePool<SmtpClient>;

  constructor(private readonly opts: NextHopPoolOptions) {
    this.idle = new IdlePool<SmtpClient>({
      max: opts.maxIdle ?? 16,
      idleMs: opts.idleMs ?? 20_000,
      usable: (c) => c.usable,
      // QUIT when it still can (a stale one found on acquire gets less time), else cut.
      dispose: (c, why) => (c.usable ? c.quit(Date.now() + (why === 'expired' ? 500 : 1_000)) : c.destroy()),
    });
  }

  /**
   * A connection: an idle one (`reused: true`) or a new one opened before `deadline`.
   * Rejects with a NetError when the next hop cannot be reached.
   */
  async acquire(deadline: number): Promise<{ client: SmtpClient; reused: boolean }> {
    const { item: client, reused } = await this.idle.acquire(this.opts.endpoint, () =>
      SmtpClient.open(this.opts.endpoint, {
        deadline,
        ...(this.opts.lmtp === true ? { lmtp: true } : {}),
        ...(this.opts.heloName === undefined ? {} : { heloName: this.opts.heloName }),
      }),
    );
    return { client, reused };
  }

  /** Give a connection back (kept when usable and there is room, else closed). */
  release(client: SmtpClient): void {
    this.idle.put(this.opts.endpoint, client);
  }

  /** Close every idle connection; later releases close theirs. */
  close(): Promise<void> {
    return this.idle.closeAll();
  }
}
