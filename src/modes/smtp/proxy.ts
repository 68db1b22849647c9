/**
 * Our SMTP proxy front end (interception point A; the clamsmtp / InterScan VirusWall role):
 * an smtp-server listener (127.0.0.1 by default) that receives a message, scans it at end
 * of DATA with the scanning core, and forwards it to ONE next hop over a pool of SMTP
 * connections. No-loss rule: it answers 250 only after the next hop said 250 for the
 * message; trouble at the next hop is a 451 to the client, a 5xx there is relayed.
 *
 * The decision is the policy's (src/modes/policy.ts); this file maps it to SMTP. Infected →
 * reject (550 5.7.1, default) | tempfail (451 4.7.1) | drop (250, discarded, logged) | tag
 * (forwarded with `X-Virus-Status: Infected (names)`) | quarantine (a 0600 file with a
 * generated name, then 250). Scanner error → 451 4.3.0 (default) or, with onFail 'accept',
 * forwarded with `X-Virus-Status: Unchecked (CODE)`. Every forwarded message gets
 * `X-Virus-Scanned: avbench (scanners)`; incoming X-Virus-Status and X-Virus-Scanned
 * headers are removed. Names in replies, headers and log events are header-safe.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { domainToASCII } from 'node:url';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Limits } from '../../core/limits.js';
import { asNetError, type Endpoint } from '../../core/net.js';
import { scanMessageDetailed } from '../../core/scan.js';
import type { Adapter, Verdict } from '../../core/types.js';
import { UnansweredError, type TransactionResult } from './client.js';
import { NextHopPool } from './pool.js';
import { tuneSmtpServer } from './socket.js';
import { decide, resolvePolicy, scannedValue, statusHeaderLines, withStatusHeaders, type FailAction, type InfectedAction } from '../policy.js';
import { formatReply, type SmtpReply } from './wire.js';

export type { FailAction, InfectedAction } from '../policy.js';

/** Timeouts of {@link createSmtpProxy} (ms). */
export interface SmtpProxyTimeouts {
  /** Idle time allowed on a client connection (default 60 000). */
  socketMs?: number;
  /** Connect + whole transaction at the next hop, per message (default 30 000); past it: 451. */
  nextHopMs?: number;
  /** Pending client connections are cut this long after close() (default 5 000). */
  closeMs?: number;
}

/** One message handled by the proxy (for the log). */
export interface ProxyEvent {
  session: string;
  from: string;
  to: string[];
  bytes: number;
  verdict: Verdict['status'] | 'oversize';
  names: string[];
  errorCode?: string;
  /** What was done: forwarded, rejected, dropped, tagged, quarantined, tempfailed, unchecked-forwarded. */
  action: string;
  /** The reply the client got. */
  reply: string;
  /** The next hop's decisive reply, when it was asked. */
  nextHop?: string;
  /** Quarantine file, when written. */
  file?: string;
  scanMs: number;
  ms: number;
}

/** Options of {@link createSmtpProxy}. */
export interface SmtpProxyOptions {
  /** Where to listen (default 127.0.0.1, port 0 = any free port). */
  listen?: { host?: string; port?: number };
  /** The one next hop: TCP host and port (or a unix socket path). */
  forward: Endpoint;
  scanners: readonly Adapter[];
  onInfected?: InfectedAction;
  /** Required with onInfected 'quarantine' (created 0700 if missing). */
  quarantineDir?: string;
  onFail?: FailAction;
  /** Message size limit in bytes, announced with SIZE and enforced while receiving (default 25 MiB). */
  maxSize?: number;
  /** Concurrent client connections (default 100). */
  maxClients?: number;
  /**
   * Recipients per message (default 1000, Postfix's smtpd_recipient_limit); past it each
   * RCPT gets `452 Error: too many recipients` and the client sends the rest in another transaction.
   */
  maxRecipients?: number;
  timeouts?: SmtpProxyTimeouts;
  /** Speak LMTP on both sides (LHLO; one reply per recipient). */
  lmtp?: boolean;
  /** Scan limits. */
  limits?: Partial<Limits>;
  /** Called once per message. */
  log?: (e: ProxyEvent) => void;
  /** Host name in the banner and EHLO (default avbench-proxy.localhost). */
  name?: string;
}

/** A proxy instance. */
export interface SmtpProxy {
  /** Start listening; resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }>;
  /**
   * Stop accepting, let sessions end, close next-hop connections. Sessions still open at
   * `deadline` (epoch ms; default now + timeouts.closeMs) get 421 and are cut: a message
   * not yet answered 250 stays with its sender, who retries.
   */
  close(o?: { deadline?: number }): Promise<void>;
  /** Cut every open session now (421); resolves to the messages that were in flight. */
  cut(): number;
  /**
   * Scan with these adapters from the next message on (SIGHUP). Messages already being
   * scanned finish with the set they started with; the caller closes the old adapters.
   */
  setScanners(scanners: readonly Adapter[]): void;
  /** Messages between end of DATA and their reply. */
  readonly inFlight: number;
  /** Bound address (port 0 until listen() resolved). */
  readonly address: { host: string; port: number };
}

type Reply = { code: number; text: string };
type DataCallback = (err?: Error | null, message?: string | Array<string | Error>) => void;

/** An SMTP reply for smtp-server's callback. */
function smtpError(code: number, text: string): Error {
  const err = new Error(text) as Error & { responseCode: number };
  err.responseCode = code;
  return err;
}

function replyOf(r: SmtpReply): Reply {
  return { code: r.code, text: r.lines.join(' ') };
}

/** Safe, content-independent quarantine file name. */
function quarantineName(): string {
  const stamp = new Date().toISOString().replace(/[-:.TZ]/g, '');
  return `${stamp}-${randomBytes(8).toString('hex')}.eml`;
}

/** A message's reply (one, or one per recipient with LMTP) and its log event without the reply and time. */
type Handled = { reply: Reply | Reply[]; event: Omit<ProxyEvent, 'reply' | 'ms'> };

/**
 * The proxy: the listener, the next-hop pool, the scanner set and the in-flight count live
 * here; a message's own state (its chunks, size, the client's callback) lives in the
 * handlers {@link SmtpProxyServer.onData} attaches to its DATA stream.
 */
class SmtpProxyServer implements SmtpProxy {
  /** Bound address (port 0 until listen() resolved). */
  readonly address: { host: string; port: number };
  private readonly onInfected: InfectedAction;
  private readonly onFail: FailAction;
  private readonly maxSize: number;
  private readonly nextHopMs: number;
  private readonly lmtp: boolean;
  private scanners: readonly Adapter[];
  private scannerLabel: string;
  private inFlightCount = 0;
  private readonly pool: NextHopPool;
  private readonly server: SMTPServer;
  private quarantineReady: Promise<unknown> | undefined;

  constructor(private readonly opts: SmtpProxyOptions) {
    if (opts.scanners.length === 0) throw new TypeError('smtp proxy: no scanners given');
    const { onInfected, onFail } = resolvePolicy(opts, 'smtp proxy');
    if (onInfected === 'quarantine' && (opts.quarantineDir === undefined || opts.quarantineDir === '')) {
      throw new TypeError('smtp proxy: onInfected quarantine needs quarantineDir');
    }
    this.onInfected = onInfected;
    this.onFail = onFail;
    const maxSize = opts.maxSize ?? 25 * 1024 * 1024;
    if (!(maxSize > 0)) throw new TypeError('smtp proxy: maxSize must be positive');
    this.maxSize = maxSize;
    const maxClients = opts.maxClients ?? 100;
    const maxRecipients = opts.maxRecipients ?? 1000;
    if (!(Number.isInteger(maxRecipients) && maxRecipients > 0)) throw new TypeError('smtp proxy: maxRecipients must be a positive integer');
    this.nextHopMs = opts.timeouts?.nextHopMs ?? 30_000;
    const lmtp = opts.lmtp === true;
    this.lmtp = lmtp;
    this.scanners = opts.scanners;
    this.scannerLabel = scannedValue(this.scanners.map((s) => s.name));
    const name = opts.name ?? 'avbench-proxy.localhost';
    this.address = { host: opts.listen?.host ?? '127.0.0.1', port: opts.listen?.port ?? 0 };
    this.pool = new NextHopPool({ endpoint: opts.forward, lmtp, heloName: name, maxIdle: Math.min(maxClients, 64) });

    const server = new SMTPServer({
      name,
      banner: 'avbench virus-scanning proxy',
      logger: false,
      lmtp,
      size: maxSize,
      maxClients,
      maxRecipients,
      socketTimeout: opts.timeouts?.socketMs ?? 60_000,
      closeTimeout: opts.timeouts?.closeMs ?? 5_000,
      disableReverseLookup: true,
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      hideSMTPUTF8: true,
      onData: (stream, session, callback) => this.onData(stream, session, callback),
    });
    server.on('error', () => undefined);
    // Greeting at once (not after smtp-server's fixed 100 ms), TCP_NODELAY, and the replies of
    // one event-loop turn (a pipelined MAIL/RCPT/DATA batch) in one write: see socket.ts.
    tuneSmtpServer(server);
    this.server = server;
  }

  listen(): Promise<{ host: string; port: number }> {
    const { server, address } = this;
    return new Promise((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(address.port, address.host, () => {
        server.server.off('error', reject);
        const a = server.server.address();
        if (typeof a === 'object' && a !== null) address.port = a.port;
        resolve({ ...address });
      });
    });
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  setScanners(list: readonly Adapter[]): void {
    if (list.length === 0) throw new TypeError('smtp proxy: no scanners given');
    this.scanners = list;
    this.scannerLabel = scannedValue(list.map((s) => s.name));
  }

  cut(): number {
    const n = this.inFlightCount;
    for (const c of (this.server as unknown as { connections: Set<{ send(code: number, text: string): void; close(): void }> }).connections) {
      c.send(421, '4.3.2 avbench proxy shutting down, try again later');
      c.close();
    }
    return n;
  }

  async close(o: { deadline?: number } = {}): Promise<void> {
    // smtp-server reads its grace period when close() is called.
    const opt = (this.server as unknown as { options: { closeTimeout?: number } }).options;
    if (o.deadline !== undefined) opt.closeTimeout = Math.max(1, o.deadline - Date.now());
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.pool.close();
  }

  /** Forward to the next hop; a NetError becomes a 451 (never a 250). */
  private async forward(session: SMTPServerSession, body: Buffer): Promise<{ result?: TransactionResult; error?: Reply; hop?: string }> {
    const from = session.envelope.mailFrom === false ? '' : asciiDomain(session.envelope.mailFrom.address);
    const to = session.envelope.rcptTo.map((r) => asciiDomain(r.address));
    const params = session.envelope.bodyType === '8bitmime' ? ['BODY=8BITMIME'] : [];
    const deadline = Date.now() + this.nextHopMs;
    for (let attempt = 0; attempt < 2; attempt++) {
      let reused = false;
      try {
        const acq = await this.pool.acquire(deadline);
        reused = acq.reused;
        const result = await acq.client.send({ from, to, params }, body, deadline);
        this.pool.release(acq.client);
        return { result, hop: formatReply(result.decisive) };
      } catch (err) {
        const e = asNetError(err);
        // A stale pooled connection (closed by the next hop while idle, before it answered
        // anything: the body was never sent): try once on a fresh one. Not after the body —
        // the next hop may have taken it, and a second copy would be a duplicate.
        if (reused && err instanceof UnansweredError && err.code === 'CONNECT_FAILED' && attempt === 0) continue;
        const what = e.code === 'TIMEOUT' ? 'next hop did not answer in time' : `next hop unavailable (${e.code})`;
        return { error: { code: 451, text: `4.4.1 ${what}, try again later` }, hop: e.message };
      }
    }
    return { error: { code: 451, text: '4.4.1 next hop unavailable, try again later' } };
  }

  /** Map the next hop's answer to the client's reply (the no-loss rule). */
  private relay(res: { result?: TransactionResult; error?: Reply }, okText: string): Reply | Array<Reply> {
    if (res.result === undefined) return res.error ?? { code: 451, text: '4.3.0 forwarding failed' };
    const r = res.result;
    if (this.lmtp && r.stage === 'done') {
      // One reply per client recipient: refused RCPTs keep their refusal, the others take the final replies in order.
      let k = 0;
      return r.rcpt.map((rc) => {
        if (rc.code >= 400) return relayRefusal(rc);
        const f = r.final[k++];
        return f === undefined ? { code: 451, text: '4.3.0 next hop gave no reply for this recipient' } : f.code === 250 ? { code: 250, text: okText } : relayRefusal(f);
      });
    }
    const d = r.decisive;
    if (r.stage === 'done' && d.code === 250) return { code: 250, text: okText };
    return relayRefusal(d);
  }

  /** Scan one received message, apply the policy's decision, forward when it says so. */
  private async handle(session: SMTPServerSession, raw: Buffer, started: number): Promise<Handled> {
    const from = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
    const to = session.envelope.rcptTo.map((r) => r.address);
    const scanned = this.scannerLabel;
    const opts = this.opts;
    const scan = await scanMessageDetailed(raw, opts.limits === undefined ? { scanners: this.scanners } : { scanners: this.scanners, limits: opts.limits });
    const d = decide(scan.verdict, { onInfected: this.onInfected, onFail: this.onFail });
    const scanMs = performance.now() - started;
    const tagged = (): Buffer => withStatusHeaders(raw, statusHeaderLines(d, scanned));
    const list = d.list;
    // One event object, filled in below (object spreads here were ~10 us per message).
    const ev: Handled['event'] = { session: session.id, from, to, bytes: raw.length, verdict: d.verdict, names: d.names, scanMs, action: '' };
    if (d.errorCode !== undefined) ev.errorCode = d.errorCode;
    switch (d.action) {
      case 'accept': {
        const res = await this.forward(session, tagged());
        ev.action = 'forwarded';
        if (res.hop !== undefined) ev.nextHop = res.hop;
        return { reply: this.relay(res, '2.0.0 Ok: scanned clean and delivered'), event: ev };
      }
      case 'reject':
      case 'tempfail': {
        const r = d.refusal as NonNullable<typeof d.refusal>;
        ev.action = d.action === 'reject' ? 'rejected' : 'tempfailed';
        return { reply: { code: r.code, text: `${r.enhanced} ${r.text}` }, event: ev };
      }
      case 'drop':
        ev.action = 'dropped';
        return { reply: { code: 250, text: `2.0.0 Ok: virus found (${list}), message discarded` }, event: ev };
      case 'quarantine': {
        const dir = opts.quarantineDir as string;
        const file = join(dir, quarantineName());
        try {
          this.quarantineReady ??= mkdir(dir, { recursive: true, mode: 0o700 });
          await this.quarantineReady;
          await writeFile(file, raw, { mode: 0o600, flag: 'wx' });
        } catch (err) {
          this.quarantineReady = undefined;
          return {
            reply: { code: 451, text: '4.3.0 quarantine failed, try again later' },
            event: { ...ev, action: 'tempfailed', errorCode: 'QUARANTINE_FAILED', nextHop: (err as Error).message },
          };
        }
        return { reply: { code: 250, text: `2.0.0 Ok: virus found (${list}), message quarantined` }, event: { ...ev, action: 'quarantined', file } };
      }
      case 'tag': {
        const res = await this.forward(session, tagged());
        if (d.verdict === 'infected') return { reply: this.relay(res, `2.0.0 Ok: virus found (${list}), delivered tagged`), event: { ...ev, action: 'tagged', ...hop(res) } };
        return { reply: this.relay(res, `2.0.0 Ok: not scanned (${d.errorCode}), delivered tagged`), event: { ...ev, action: 'unchecked-forwarded', ...hop(res) } };
      }
    }
  }

  /** Log the message and give the client its reply (one, or one per recipient). */
  private answer(callback: DataCallback, started: number, reply: Reply | Reply[], event: Handled['event']): void {
    const list = Array.isArray(reply) ? reply : [reply];
    const log = this.opts.log;
    if (log !== undefined) {
      // The message's own event object (handle() made it), completed in place.
      const e = event as ProxyEvent;
      e.reply = list.map((r) => `${r.code} ${r.text}`).join(' | ');
      e.ms = performance.now() - started;
      log(e);
    }
    if (Array.isArray(reply)) {
      callback(null, reply.map((r) => (r.code === 250 ? r.text : smtpError(r.code, r.text))));
    } else if (reply.code === 250) {
      callback(null, reply.text);
    } else {
      callback(smtpError(reply.code, reply.text));
    }
  }

  /** smtp-server's DATA handler: buffer the message (up to maxSize), then handle and answer it. */
  private onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: DataCallback): void {
    const started = performance.now();
    const maxSize = this.maxSize;
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (over) return;
      if (size > maxSize) {
        over = true;
        chunks.length = 0; // stop buffering: the rest is counted and discarded
        return;
      }
      chunks.push(chunk);
    });
    stream.on('end', () => {
      const from = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
      const to = session.envelope.rcptTo.map((r) => r.address);
      if (over || stream.sizeExceeded) {
        this.answer(callback, started, { code: 552, text: `5.3.4 Message size exceeds fixed maximum message size (${maxSize} bytes)` }, {
          session: session.id, from, to, bytes: size, verdict: 'oversize', names: [], action: 'rejected', scanMs: 0,
        });
        return;
      }
      const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      this.inFlightCount++;
      this.handle(session, raw, started)
        .then(
          ({ reply, event }) => this.answer(callback, started, reply, event),
          (err: unknown) =>
            this.answer(callback, started, { code: 451, text: '4.3.0 internal error, try again later' }, {
              session: session.id, from, to, bytes: size, verdict: 'error', names: [], errorCode: 'INTERNAL',
              action: 'tempfailed', nextHop: err instanceof Error ? err.message : String(err), scanMs: 0,
            }),
        )
        .finally(() => this.inFlightCount--);
    });
  }
}

/**
 * Build the proxy (not listening yet). Throws for bad configuration (no scanners,
 * quarantine without a folder, a non-loopback listen address is allowed but must be
 * given explicitly).
 */
export function createSmtpProxy(opts: SmtpProxyOptions): SmtpProxy {
  return new SmtpProxyServer(opts);
}

function relayRefusal(r: SmtpReply | Reply): Reply {
  const rep = 'lines' in r ? replyOf(r) : r;
  if (rep.code >= 500) return rep;
  // 4xx, or anything odd (2xx/3xx where a refusal was expected): tempfail, the client retries.
  if (rep.code >= 400) return { code: 451, text: `4.4.0 next hop said: ${rep.code} ${rep.text}`.slice(0, 400) };
  return { code: 451, text: `4.3.0 next hop gave an unexpected reply: ${rep.code} ${rep.text}`.slice(0, 400) };
}

/**
 * smtp-server turns an IDNA domain (`xn--bcher-kva.example`) into Unicode (`bücher.example`);
 * the next hop must get the ASCII form the client sent (we offer no SMTPUTF8).
 */
function asciiDomain(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 0) return address;
  const domain = address.slice(at + 1);
  if (/^[\x00-\x7f]*$/.test(domain) || domain.startsWith('[')) return address;
  const ascii = domainToASCII(domain);
  return ascii === '' ? address : `${address.slice(0, at + 1)}${ascii}`;
}

function hop(res: { hop?: string }): { nextHop?: string } {
  return res.hop === undefined ? {} : { nextHop: res.hop };
}
