/**
 * The SMTP driver (harness side of point A): replays messages into any SMTP system under
 * test and records each message's fate. Every message gets an `X-Avbench-Id` header; the
 * sink behind the system under test reports whether it arrived and whether it was tagged.
 *
 * Load shapes (the options `connection`, `sessions`, `rate`):
 *   kept-open   — N sessions opened up front and reused, MAIL/RCPT/DATA pipelined when
 *                 offered (an MTA's connection cache, a submission client, Postfix in
 *                 front of a content filter); the default of the library
 *   per-message — connect, EHLO, MAIL, RCPT, DATA, QUIT, close for every message, at most
 *                 N connections at a time (an internet MTA on port 25; smtp-source without -d)
 *   rate        — an open-loop arrival schedule: message k of the schedule is not sent
 *                 before start + k/rate s, whatever became of the earlier ones (a late
 *                 message goes out at once; the schedule does not slide); flat out when absent
 *
 *   250 + arrived unchanged → delivered (clean)     250 + arrived tagged → tagged (infected)
 *   250 + arrived with a sent line cut or changed → delivered (error ALTERED)
 *   250 saying "discarded"  → dropped (infected)    250 + never arrived  → dropped (infected)
 *   5xx → rejected (infected when it names a virus / 5.7.x, else error)
 *   4xx → tempfailed (error)                        connection died → lost (error)
 *   closed or silent before answering anything (body never sent) → tempfailed (error
 *   CONNECT_FAILED / TIMEOUT);
 *   on a kept-open session the server let go while idle, the message is first retried once
 *   on a new session, as an MTA's connection cache does (per-message connections are new:
 *   no retry)
 */
import { randomBytes } from 'node:crypto';
import { IdlePool, asNetError, type Endpoint } from '../../core/net.js';
import type { MessageOutcome, ModeDriver, OutgoingMessage } from '../types.js';
import { SmtpClient, UnansweredError } from './client.js';
import { createSmtpSink, ID_HEADER, type Arrival, type SmtpSink } from './sink.js';
import { parseVirusStatus, splitNames, virusNamesIn } from '../policy.js';
import { formatReply, lineEnding, type SmtpReply } from './wire.js';

/** Options of {@link createSmtpDriver}. */
export interface SmtpDriverOptions {
  /** The system under test, `smtp://HOST:PORT` (or `lmtp://HOST:PORT`). */
  url: string;
  /**
   * Where the system under test delivers: a sink to watch (created by the driver, on a
   * free port, when not given — read it from `driver.sink` to configure the SUT), or
   * `false` when the SUT is itself the final hop (e.g. Postfix's smtp-sink): a 250 is then
   * `delivered` with no arrival check.
   */
  sink?: SmtpSink | false;
  /** Concurrent sessions: connections open at a time (default 1). */
  sessions?: number;
  /**
   * `kept-open` (default): the sessions are opened by open() and reused for every message.
   * `per-message`: a new connection per message (connect, EHLO, transaction, QUIT, close).
   */
  connection?: SmtpConnectionShape;
  /**
   * Messages per second across all sessions, as an open-loop arrival schedule (see
   * {@link plannedOffsetMs}); absent: flat out (each session sends as soon as it is free).
   * With fewer sessions than the rate needs, messages queue for a session and go out late.
   */
  rate?: number;
  /** Pipeline MAIL/RCPT/DATA when the server offers it (default true). */
  pipelining?: boolean;
  /**
   * Per message, connect to final reply (ms, default 30 000). Keep it above the system under
   * test's own timeouts (clamsmtpd `TimeOut`, its next hop's): a message the SUT would still
   * answer is otherwise recorded `lost`.
   */
  timeoutMs?: number;
  /** How long after its 250 a message may take to reach the sink (ms, default 5 000). */
  graceMs?: number;
  /** Envelope sender (default avbench@sender.localhost). */
  from?: string;
  /** Envelope recipient (default sink@recipient.localhost). */
  to?: string;
}

/** How the driver uses connections: one per message, or N kept open and reused. */
export type SmtpConnectionShape = 'per-message' | 'kept-open';

/** The connection shapes, for option parsing. */
export const SMTP_CONNECTION_SHAPES: readonly SmtpConnectionShape[] = ['per-message', 'kept-open'];

/**
 * When message `k` (0-based, in send() order) of an arrival schedule at `rate` msgs/s is
 * due, in ms after the schedule's start: k × 1000 / rate. A message is never sent before
 * it is due, so n messages take at least (n − 1) / rate seconds.
 */
export function plannedOffsetMs(k: number, rate: number): number {
  return (k * 1000) / rate;
}

/** Counts a driver keeps across a run. */
export interface SmtpDriverStats {
  sent: number;
  /** Messages at the sink the driver never sent (no or unknown X-Avbench-Id), plus duplicates. */
  extras: number;
}

/** The SMTP driver. */
export interface SmtpDriver extends ModeDriver {
  readonly mode: 'smtp';
  /** The sink it watches (undefined with `sink: false`). */
  readonly sink: SmtpSink | undefined;
  /** Sent count and extras (call after close() for the final figure). */
  stats(): SmtpDriverStats;
  /** Connections it opened and got a greeting and EHLO answer on, so far (retries included). */
  readonly connections: number;
  /** The load shape it drives. */
  readonly shape: { connection: SmtpConnectionShape; sessions: number; rate?: number };
  /**
   * Start a new arrival schedule (with `rate`): the next send() is message 0, due at once.
   * Call between passes over a corpus, after every message was answered.
   */
  restartSchedule(): void;
}

/** Parse `smtp://HOST:PORT` into an endpoint. Throws TypeError for anything else. */
export function parseSmtpUrl(url: string): { endpoint: Endpoint; lmtp: boolean } {
  const m = /^(smtp|lmtp):\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(url);
  if (m === null) throw new TypeError(`not an smtp://HOST:PORT url: ${url}`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new TypeError(`bad port in ${url}`);
  return { endpoint: { host: (m[2] as string).replace(/^\[|\]$/g, ''), port }, lmtp: m[1] === 'lmtp' };
}

/**
 * The driver: the endpoint, the sessions (free count and the messages waiting for one), the
 * idle connections, the arrival schedule and the counts live here.
 */
class SmtpClientDriver implements SmtpDriver {
  readonly mode = 'smtp' as const;
  readonly sut: string;
  readonly shape: { connection: SmtpConnectionShape; sessions: number; rate?: number };
  private readonly endpoint: Endpoint;
  private readonly lmtp: boolean;
  private readonly sessions: number;
  private readonly rate: number | undefined;
  private readonly perMessage: boolean;
  private readonly timeoutMs: number;
  private readonly graceMs: number;
  private readonly pipelining: boolean;
  private readonly from: string;
  private readonly to: string;
  private readonly runId = randomBytes(6).toString('hex');
  private seq = 0;
  private sent = 0;
  private sinkRef: SmtpSink | undefined;
  private readonly ownsSink: boolean;
  private readonly ours = new Set<string>();
  /** Sessions free to take a message (`sessions` once open), and the messages waiting for one, in order. */
  private free = 0;
  private readonly waiting: Array<() => void> = [];
  /** The idle connections (see {@link SmtpClientDriver.newPool}); a new pool after close(). */
  private clients: IdlePool<SmtpClient>;
  /** Connections opened and greeted so far (`connections`). */
  private opened = 0;
  /** QUITs of per-message connections still under way (each frees its session when done). */
  private readonly quitting = new Set<Promise<void>>();
  /** The arrival schedule (with rate): its start (performance.now()) and the next message's index. */
  private scheduleStart: number | undefined;
  private scheduled = 0;

  constructor(opts: SmtpDriverOptions) {
    const { endpoint, lmtp } = parseSmtpUrl(opts.url);
    this.endpoint = endpoint;
    this.lmtp = lmtp;
    const sessions = opts.sessions ?? 1;
    if (!(Number.isInteger(sessions) && sessions >= 1)) throw new TypeError('smtp driver: sessions must be a positive integer');
    this.sessions = sessions;
    const connection = opts.connection ?? 'kept-open';
    if (!SMTP_CONNECTION_SHAPES.includes(connection)) throw new TypeError(`smtp driver: connection must be ${SMTP_CONNECTION_SHAPES.join(' or ')}`);
    const rate = opts.rate;
    if (rate !== undefined && !(Number.isFinite(rate) && rate > 0)) throw new TypeError('smtp driver: rate must be a number of messages per second > 0');
    this.rate = rate;
    this.perMessage = connection === 'per-message';
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.graceMs = opts.graceMs ?? 5_000;
    this.pipelining = opts.pipelining !== false;
    this.from = opts.from ?? 'avbench@sender.localhost';
    this.to = opts.to ?? 'sink@recipient.localhost';
    this.sinkRef = opts.sink === false ? undefined : opts.sink;
    this.ownsSink = opts.sink === undefined;
    this.clients = this.newPool();
    this.sut = opts.url;
    this.shape = { connection, sessions, ...(rate === undefined ? {} : { rate }) };
  }

  get sink(): SmtpSink | undefined {
    return this.sinkRef;
  }

  get connections(): number {
    return this.opened;
  }

  restartSchedule(): void {
    this.scheduleStart = undefined;
    this.scheduled = 0;
  }

  async open(): Promise<void> {
    if (this.ownsSink && this.sinkRef === undefined) this.sinkRef = await createSmtpSink();
    if (this.clients.closed) this.clients = this.newPool();
    this.free = this.sessions;
    if (this.perMessage) return;
    // Open the sessions up front (failures are retried per message).
    await Promise.all(
      Array.from({ length: this.sessions }, async () => {
        try {
          this.clients.put(this.endpoint, await this.openClient(Date.now() + this.timeoutMs));
        } catch {
          /* opened when a message needs it */
        }
      }),
    );
  }

  async send(msg: OutgoingMessage): Promise<MessageOutcome> {
    const id = `${this.runId}.${++this.seq}`;
    this.ours.add(id);
    const nl = lineEnding(msg.raw);
    const head = Buffer.from(`${ID_HEADER}: ${id}${nl}`, 'latin1');
    const body = Buffer.concat([head, msg.raw]);
    // The sink checks what arrives against what was sent; released once the fate is known.
    this.sinkRef?.expect(id, body);
    try {
      await this.due();
      await this.take();
      // Timed from when a session is free: queueing behind busy sessions is not the SUT's time.
      // (Per message, that includes connecting and EHLO, as the SUT's client sees it.)
      const t0 = performance.now();
      let answer: SmtpReply | MessageOutcome;
      let client: SmtpClient | undefined;
      try {
        ({ answer, client } = await this.transact(body, t0, Date.now() + this.timeoutMs));
      } finally {
        this.release(client);
      }
      return 'fate' in answer ? answer : await this.outcomeFromReply(answer, id, t0);
    } finally {
      this.sinkRef?.forget(id);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.quitting]);
    this.free = 0;
    await this.clients.closeAll();
    if (this.ownsSink && this.sinkRef !== undefined) {
      await this.sinkRef.close();
    }
  }

  stats(): SmtpDriverStats {
    let extras = 0;
    const sink = this.sinkRef;
    if (sink !== undefined) {
      extras = sink.unidentified.length + sink.duplicates.length;
      for (const id of sink.arrivals.keys()) if (!this.ours.has(id)) extras++;
    }
    return { sent: this.sent, extras };
  }

  /** Kept-open: the idle connections (at most one per session). Per message: none kept (max 0). */
  private newPool(): IdlePool<SmtpClient> {
    return new IdlePool<SmtpClient>({ max: this.perMessage ? 0 : this.sessions, usable: (c) => c.usable, dispose: (c) => c.quit() });
  }

  private async openClient(deadline: number): Promise<SmtpClient> {
    const c = await SmtpClient.open(this.endpoint, { deadline, lmtp: this.lmtp });
    this.opened++;
    return c;
  }

  /** Wait until the next message of the schedule is due (never before; at once when late). */
  private async due(): Promise<void> {
    const rate = this.rate;
    if (rate === undefined) return;
    const k = this.scheduled++;
    this.scheduleStart ??= performance.now();
    const at = this.scheduleStart + plannedOffsetMs(k, rate);
    // Timers may fire a little early against performance.now(): wait until it is really due.
    for (let wait = at - performance.now(); wait > 0; wait = at - performance.now()) {
      await new Promise<void>((resolve) => setTimeout(resolve, Math.ceil(wait)));
    }
  }

  /** Wait for a free session (first come, first served). */
  private take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private give(): void {
    const w = this.waiting.shift();
    if (w !== undefined) w();
    else this.free++;
  }

  private async outcomeFromReply(reply: SmtpReply, id: string, t0: number): Promise<MessageOutcome> {
    const text = formatReply(reply);
    const ms = (): number => performance.now() - t0;
    if (reply.code >= 500) {
      const names = virusNamesIn(text);
      const infected = names.length > 0 || /\b5\.7\.\d+\b/.test(text) || /virus/i.test(text);
      if (infected) return { fate: 'rejected', verdict: 'infected', names, ms: ms(), smtpReply: text };
      const errorCode = reply.code === 552 ? 'SIZE_LIMIT' : 'REJECTED';
      return { fate: 'rejected', verdict: 'error', names: [], errorCode, ms: ms(), smtpReply: text };
    }
    if (reply.code >= 400) return { fate: 'tempfailed', verdict: 'error', names: [], errorCode: 'TEMPFAIL', ms: ms(), smtpReply: text };
    if (reply.code !== 250) return { fate: 'lost', verdict: 'error', names: [], errorCode: 'PROTOCOL', ms: ms(), smtpReply: text };
    if (/discard|quarantin/i.test(text)) {
      return { fate: 'dropped', verdict: 'infected', names: virusNamesIn(text), ms: ms(), smtpReply: text };
    }
    const sink = this.sinkRef;
    if (sink === undefined) return { fate: 'delivered', verdict: 'clean', names: [], ms: ms(), smtpReply: text };
    const arrival = await sink.waitFor(id, Date.now() + this.graceMs);
    if (arrival === undefined) return { fate: 'dropped', verdict: 'infected', names: [], ms: ms(), smtpReply: text };
    return arrivalOutcome(arrival, text, ms());
  }

  /**
   * One message on an idle connection (kept-open) or a new one: the decisive reply, or the
   * fate when there was none; `client`, the connection to give back (absent when it broke).
   */
  private async transact(body: Buffer, t0: number, deadline: number): Promise<{ answer: SmtpReply | MessageOutcome; client?: SmtpClient }> {
    for (let attempt = 1; ; attempt++) {
      let client: SmtpClient;
      let reused: boolean;
      try {
        // The retry goes out on a new connection, not on another idle one.
        ({ item: client, reused } = attempt === 1 ? await this.clients.acquire(this.endpoint, () => this.openClient(deadline)) : { item: await this.openClient(deadline), reused: false });
      } catch (err) {
        const e = asNetError(err);
        return { answer: { fate: 'tempfailed', verdict: 'error', names: [], errorCode: e.code, ms: performance.now() - t0, smtpReply: e.message } };
      }
      if (attempt === 1) this.sent++;
      try {
        return { answer: (await client.send({ from: this.from, to: [this.to] }, body, deadline, { pipelining: this.pipelining })).decisive, client };
      } catch (err) {
        // A kept-open session the server closed while idle took nothing: one more try on a new one.
        if (err instanceof UnansweredError && err.code === 'CONNECT_FAILED' && reused && attempt === 1) continue;
        const e = asNetError(err);
        // Closed or silent before any answer, body never sent: not taken (a sender keeps it and retries), not lost.
        const fate = err instanceof UnansweredError ? 'tempfailed' : 'lost';
        return { answer: { fate, verdict: 'error', names: [], errorCode: e.code === 'TIMEOUT' ? 'TIMEOUT' : 'CONNECT_FAILED', ms: performance.now() - t0, smtpReply: e.message } };
      }
    }
  }

  /**
   * The session is done with its message. Kept-open: its connection goes back to the pool.
   * Per message: QUIT and close it in the background; the session is free once it is closed.
   */
  private release(c: SmtpClient | undefined): void {
    if (c === undefined || !this.perMessage) {
      if (c !== undefined) this.clients.put(this.endpoint, c);
      this.give();
      return;
    }
    const q = c.quit(Date.now() + Math.min(this.timeoutMs, 5_000)).finally(() => {
      this.quitting.delete(q);
      this.give();
    });
    this.quitting.add(q);
  }
}

/**
 * Build an SMTP driver. `open()` starts the sink (when the driver owns it) and the
 * sessions; `send()` never throws; `close()` says QUIT and stops an owned sink.
 */
export function createSmtpDriver(opts: SmtpDriverOptions): SmtpDriver {
  return new SmtpClientDriver(opts);
}

/** The fate of a message that reached the sink. */
export function arrivalOutcome(a: Arrival, smtpReply: string, ms: number): MessageOutcome {
  const raw = a.virusStatus[0];
  const status = raw === undefined ? undefined : parseVirusStatus(raw);
  if (a.tagged) {
    const names = status?.verdict === 'infected' ? status.names : a.virusInfected.flatMap(namesOfInfectedHeader);
    return { fate: 'tagged', verdict: 'infected', names, ms, smtpReply };
  }
  if (status?.verdict === 'error') {
    return { fate: 'delivered', verdict: 'error', names: [], errorCode: status.errorCode ?? 'UNCHECKED', ms, smtpReply };
  }
  // Delivered, but not as sent: the mail the recipient gets is not the mail that was scanned.
  if (a.intact === false) return { fate: 'delivered', verdict: 'error', names: [], errorCode: 'ALTERED', ms, smtpReply };
  return { fate: 'delivered', verdict: 'clean', names: [], ms, smtpReply };
}

/** Names in an `X-Virus-Infected` value: `Virus Detected; NAME`, `NAME`, or `Infected (A, B)`. */
function namesOfInfectedHeader(v: string): string[] {
  const named = virusNamesIn(v);
  if (named.length > 0) return named;
  const last = v.split(';').pop()?.trim() ?? '';
  return last === '' || /^(yes|virus detected!?)$/i.test(last) ? [] : splitNames(last);
}
