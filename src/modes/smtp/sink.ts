/**
 * The in-process SMTP sink: a real SMTP server (smtp-server) on a free loopback port that
 * plays the next hop behind a system under test and records what arrives. Each arrival is
 * matched to the driver's message by its `X-Avbench-Id` header and noted as changed when
 * it carries `X-Virus-Status: Infected ...` (or clamsmtpd's `X-Virus-Infected`). Only the header
 * block is looked at, unless the driver registered what it sent ({@link SmtpSink.expect}):
 * then the arrival is also checked line by line against it (`intact`).
 */
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { freePort } from '../../core/net.js';
import { parseVirusStatus } from '../policy.js';
import { tuneSmtpServer } from './socket.js';
import { carriedIntact, headerBlockEnd, headerValues } from './wire.js';

/** The header the driver adds to every message it sends. */
export const ID_HEADER = 'X-Avbench-Id';

/** One message that reached the sink. */
export interface Arrival {
  /** The X-Avbench-Id value ('' when the message had none). */
  id: string;
  /** X-Virus-Status values (first first). */
  virusStatus: string[];
  /** X-Virus-Scanned values. */
  virusScanned: string[];
  /** X-Virus-Infected values (clamsmtpd's `Action: pass` marks infected mail with it). */
  virusInfected: string[];
  /** True when an X-Virus-Status says Infected, or an X-Virus-Infected header is present. */
  tagged: boolean;
  /** Bytes received (after un-stuffing). */
  bytes: number;
  /** performance.now() at arrival. */
  at: number;
  /** Envelope as received. */
  from: string;
  to: string[];
  /**
   * Whether every line the driver sent arrived unchanged and in order (lines the system
   * under test added do not count against it). Undefined when nothing was registered for
   * this id with {@link SmtpSink.expect}.
   */
  intact?: boolean;
  /** With `intact: false`: the first sent line (1-based) that did not arrive as sent. */
  alteredLine?: number;
}

/** A reply the sink gives instead of 250 (to play a failing next hop). */
export interface SinkRefusal {
  code: number;
  message: string;
}

/** Options of {@link createSmtpSink}. */
export interface SmtpSinkOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default: a free port. */
  port?: number;
  /** Speak LMTP. */
  lmtp?: boolean;
  /** Decide the reply per arrival (default: 250 for everything). A refused message is not recorded as arrived. */
  respond?: (arrival: Arrival) => SinkRefusal | undefined;
  /** Keep each arrival's full bytes (default false: only the header block is kept in memory briefly). */
  keepMessages?: boolean;
  /** Header bytes looked at (default 64 KiB). */
  headerLimit?: number;
}

type Waiter = (a: Arrival) => void;

/** A running sink. */
export interface SmtpSink {
  /** `smtp://127.0.0.1:PORT` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Arrivals by id (the first one; later copies are counted in `duplicates`). */
  readonly arrivals: ReadonlyMap<string, Arrival>;
  /** Messages that arrived without an id known to anyone (no X-Avbench-Id header). */
  readonly unidentified: Arrival[];
  /** Second and later arrivals of the same id. */
  readonly duplicates: Arrival[];
  /** Full bytes by id (only with keepMessages). */
  readonly messages: ReadonlyMap<string, Buffer>;
  /** Total messages accepted. */
  readonly received: number;
  /** The arrival for `id`, waiting until `deadline` (absolute, Date.now() based); undefined if it never came. */
  waitFor(id: string, deadline: number): Promise<Arrival | undefined>;
  /**
   * Register what was sent under `id`: when it arrives, the arrival's `intact` says whether
   * every sent line came through unchanged. The sink holds `sent` until the arrival or
   * {@link forget}, whichever comes first.
   */
  expect(id: string, sent: Buffer): void;
  /** Drop a registration (the message was refused, or its arrival is no longer awaited). */
  forget(id: string): void;
  /** Forget everything recorded so far. */
  clear(): void;
  close(): Promise<void>;
}

/** Start a sink listening on loopback. */
export async function createSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort());
  const headerLimit = opts.headerLimit ?? 64 * 1024;
  const arrivals = new Map<string, Arrival>();
  const messages = new Map<string, Buffer>();
  const unidentified: Arrival[] = [];
  const duplicates: Arrival[] = [];
  const waiters = new Map<string, Waiter[]>();
  const expected = new Map<string, Buffer>();
  let received = 0;

  const record = (a: Arrival, full: Buffer | undefined): void => {
    received++;
    if (a.id === '') {
      unidentified.push(a);
      return;
    }
    if (arrivals.has(a.id)) {
      duplicates.push(a);
      return;
    }
    arrivals.set(a.id, a);
    if (full !== undefined) messages.set(a.id, full);
    const ws = waiters.get(a.id);
    if (ws !== undefined) {
      waiters.delete(a.id);
      for (const w of ws) w(a);
    }
  };

  const onData = (stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void => {
    const head: Buffer[] = [];
    const all: Buffer[] = [];
    let headBytes = 0;
    let headerDone = false;
    // Whole bytes are needed to keep the message or to check it against what was sent.
    const keepAll = opts.keepMessages === true || expected.size > 0;
    stream.on('data', (chunk: Buffer) => {
      if (keepAll) all.push(chunk);
      if (headerDone) return;
      head.push(chunk);
      headBytes += chunk.length;
      if (headBytes >= headerLimit) headerDone = true;
      else if (chunk.includes('\n\n') || chunk.includes('\r\n\r\n')) headerDone = true;
    });
    stream.on('end', () => {
      const buf = head.length === 1 ? (head[0] as Buffer) : Buffer.concat(head);
      const { headerEnd } = headerBlockEnd(buf, headerLimit);
      const block = buf.subarray(0, headerEnd);
      const status = headerValues(block, 'x-virus-status');
      const infectedHdr = headerValues(block, 'x-virus-infected');
      const a: Arrival = {
        id: headerValues(block, ID_HEADER)[0] ?? '',
        virusStatus: status,
        virusScanned: headerValues(block, 'x-virus-scanned'),
        virusInfected: infectedHdr,
        tagged: infectedHdr.length > 0 || status.some((s) => parseVirusStatus(s)?.verdict === 'infected'),
        bytes: stream.byteLength,
        at: performance.now(),
        from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
        to: session.envelope.rcptTo.map((r) => r.address),
      };
      const refusal = opts.respond?.(a);
      if (refusal !== undefined) {
        const err = new Error(refusal.message) as Error & { responseCode: number };
        err.responseCode = refusal.code;
        callback(err);
        return;
      }
      const full = keepAll ? Buffer.concat(all) : undefined;
      const sent = expected.get(a.id);
      if (sent !== undefined && full !== undefined && !arrivals.has(a.id)) {
        expected.delete(a.id);
        const carried = carriedIntact(sent, full);
        a.intact = carried.intact;
        if (!carried.intact) a.alteredLine = carried.line;
      }
      record(a, opts.keepMessages === true ? full : undefined);
      callback(null, 'Ok: received');
    });
  };

  const server = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    lmtp: opts.lmtp === true,
    banner: 'avbench sink',
    name: 'avbench-sink.localhost',
    socketTimeout: 60_000,
    closeTimeout: 1_000,
    onData,
  });
  server.on('error', () => undefined);
  tuneSmtpServer(server);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });

  return {
    url: `smtp://${host}:${port}`,
    host,
    port,
    arrivals,
    unidentified,
    duplicates,
    messages,
    get received() {
      return received;
    },
    waitFor(id: string, deadline: number): Promise<Arrival | undefined> {
      const got = arrivals.get(id);
      if (got !== undefined) return Promise.resolve(got);
      const wait = deadline - Date.now();
      if (wait <= 0) return Promise.resolve(undefined);
      return new Promise<Arrival | undefined>((resolve) => {
        const w: Waiter = (a) => {
          clearTimeout(timer);
          resolve(a);
        };
        const timer = setTimeout(() => {
          const list = waiters.get(id);
          if (list !== undefined) {
            const rest = list.filter((x) => x !== w);
            if (rest.length === 0) waiters.delete(id);
            else waiters.set(id, rest);
          }
          resolve(undefined);
        }, wait);
        const list = waiters.get(id);
        if (list === undefined) waiters.set(id, [w]);
        else list.push(w);
      });
    },
    expect(id: string, sent: Buffer) {
      expected.set(id, sent);
    },
    forget(id: string) {
      expected.delete(id);
    },
    clear() {
      expected.clear();
      arrivals.clear();
      messages.clear();
      unidentified.length = 0;
      duplicates.length = 0;
      received = 0;
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
