/**
 * Our milter front end (interception point B, the clamav-milter role): speaks milter
 * protocol v6 on an inet or unix socket, rebuilds each message from its headers and body
 * chunks, scans it with the scanning core, and answers at end of message with reject
 * (550 5.7.1 naming the virus), tempfail, discard, quarantine or accept, adding
 * X-Virus-Scanned / X-Virus-Status headers when asked. A scanner error tempfails unless
 * fail-open is configured (then the message is marked `X-Virus-Status: Unchecked`).
 */
import { unlink } from 'node:fs/promises';
import * as net from 'node:net';
import { scanMessageDetailed } from '../../core/scan.js';
import type { Limits } from '../../core/limits.js';
import type { Adapter, Verdict } from '../../core/types.js';
import { decide, FAIL_ACTIONS, INFECTED_ACTIONS, resolvePolicy, scannedValue, SCANNED_HEADER, STATUS_HEADER, type FailAction, type InfectedAction } from '../policy.js';
import { clearStaleSocket, secureUnixSocket } from '../../daemon/unix-socket.js';
import {
  DEFAULT_MAX_PACKET,
  encodeReply,
  MilterProtocolError,
  PacketDecoder,
  parseCommand,
  SMFI_VERSION,
  SMFIF,
  SMFIP,
  type MilterCommand,
  type MilterReply,
} from './codec.js';
import { formatMilterSocket, parseMilterSocket, type MilterSocketSpec } from './socket-spec.js';

/** What to do with an infected message: the policy's words (src/modes/policy.ts); `discard` and `accept` are old spellings of drop and tag. */
export type OnInfected = InfectedAction;
/** What to do when the scan fails (error verdict): tempfail (default) or fail open (accept, marked Unchecked). */
export type OnFail = FailAction;

/** The values {@link OnInfected} can take (for CLI choices). */
export const ON_INFECTED: readonly OnInfected[] = INFECTED_ACTIONS;
/**
 * Which milter steps are answered:
 * - 'fewest': only end of message. Connect, MAIL, headers and body chunks get no reply
 *   (SMFIP_NR_*), HELO, RCPT, DATA, end of headers and unknown commands are skipped.
 * - 'data': as 'fewest', but the DATA step is sent and answered. Over TCP this matters:
 *   Postfix's smtpd writes the connect .. DATA steps (and the macros of skipped steps) and
 *   its cleanup process then writes headers .. end of message on the same socket; with
 *   Nagle's algorithm on (Postfix leaves it on) cleanup's write waits for the ACK of
 *   smtpd's unanswered one, i.e. our delayed ACK, ~40 ms per message. Answering DATA
 *   acknowledges smtpd's write first. Two answers per message.
 * - 'every': every step the MTA sends is answered (HELO, end of headers and unknown
 *   commands still skipped).
 */
export type ReplySteps = 'auto' | 'fewest' | 'data' | 'every';
/** The values {@link ReplySteps} can take. */
export const REPLY_STEPS: readonly ReplySteps[] = ['auto', 'fewest', 'data', 'every'];

/** The values {@link OnFail} can take. */
export const ON_FAIL: readonly OnFail[] = FAIL_ACTIONS;

/** Options of {@link createMilterServer}. */
export interface MilterServerOptions {
  /** Adapters to scan with (the scanning core's `scanners`). */
  scanners: readonly Adapter[];
  /** `inet:PORT@HOST` (PORT 0: any free port; `inet:PORT` = 127.0.0.1) or `unix:PATH`. */
  listen: string;
  /** Default 'reject'. */
  onInfected?: OnInfected;
  /** Default 'tempfail'. */
  onFail?: OnFail;
  /** Text after `550 5.7.1 ` on reject; `%v` becomes the virus names. Default `Virus found: %v`. */
  rejectMessage?: string;
  /** Add X-Virus-Scanned and X-Virus-Status (replacing ones the message came with). Default true. */
  addHeader?: boolean;
  /** Scan limits of the core. */
  limits?: Partial<Limits>;
  /** Largest message buffered (headers + body); beyond it the scan is an error (SIZE_LIMIT). Default 50 MiB. */
  maxMessageBytes?: number;
  /** Largest protocol packet accepted (default 1 MiB); above it the connection is dropped. */
  maxPacket?: number;
  /** Close a connection idle this long (ms, default 300 000). */
  idleTimeoutMs?: number;
  /** unix socket mode (default 0o660). */
  socketMode?: number;
  /** unix socket owner and group ids, set after binding (-1 or absent: as created). */
  socketOwner?: { uid: number; gid: number };
  /**
   * Which steps the MTA waits for our answer to (see {@link ReplySteps}). Default 'auto':
   * 'fewest' on a unix socket, 'data' over TCP.
   */
  replySteps?: ReplySteps;
  /** Called once per message scanned (for logging). */
  onMessage?: (event: MilterMessageEvent) => void;
  /** Called for a connection that failed (protocol error, socket error). */
  onConnectionError?: (error: Error) => void;
}

/** One message's record, given to `onMessage`. */
export interface MilterMessageEvent {
  /** Connection number (1-based, per server). */
  connection: number;
  /** The MTA's queue id (macro `i`) when it sent one. */
  queueId?: string;
  /** Envelope sender, when the MTA sent MAIL. */
  from?: string;
  /** Client address from the connect step. */
  client?: string;
  bytes: number;
  verdict: Verdict;
  /** The final action sent: accept, reject, tempfail, discard, quarantine, or `replycode <text>`. */
  action: string;
  /** Scan time (ms). */
  ms: number;
}

/** A milter server; create with {@link createMilterServer}. */
export interface MilterServer {
  /** Start listening (resolves when bound). */
  listen(): Promise<void>;
  /** Stop listening, end every connection now, remove the unix socket. */
  close(): Promise<void>;
  /**
   * Stop accepting; connections with no message under way are ended at once, the others
   * after their end-of-message reply; at `deadline` (epoch ms) the rest are cut (the MTA
   * got no final reply, so the message stays with the sender). Resolves once every
   * connection is gone, to how many messages were cut. A second call cuts at once and
   * resolves with the first.
   */
  drain(deadline: number): Promise<{ cut: number }>;
  /** Scan messages that reach end of message from now on with these (SIGHUP reload). */
  setScanners(scanners: readonly Adapter[]): void;
  /** Connections with a message under way (MAIL seen, final reply not yet sent). */
  readonly inFlight: number;
  /** Where it listens, as `inet:PORT@HOST` (the bound port) or `unix:PATH`. */
  readonly address: string;
  /** Open connections now. */
  readonly connections: number;
}

const DEFAULT_MAX_MESSAGE = 50 * 1024 * 1024;
const STATUS = STATUS_HEADER;
const SCANNED = SCANNED_HEADER;

/** Replace `%v` with the (header-safe) names list, and keep the text on one line. */
function formatReject(template: string, list: string): string {
  return template.replaceAll('%v', list).replace(/[\r\n\0]+/g, ' ');
}

/** UTF-8 text → the binary (latin1) string the codec writes byte for byte. */
function bin(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** Create our milter server (not yet listening). Throws for bad options. */
export function createMilterServer(opts: MilterServerOptions): MilterServer {
  if (opts.scanners.length === 0) throw new TypeError('createMilterServer: no scanners given');
  const spec: MilterSocketSpec = parseMilterSocket(opts.listen);
  const { onInfected, onFail } = resolvePolicy(opts, 'createMilterServer');
  const replySteps = opts.replySteps ?? 'auto';
  if (!REPLY_STEPS.includes(replySteps)) throw new TypeError(`replySteps must be one of ${REPLY_STEPS.join(', ')}`);
  const cfg: Config = {
    scanners: opts.scanners,
    onInfected,
    onFail,
    rejectMessage: opts.rejectMessage ?? 'Virus found: %v',
    addHeader: opts.addHeader ?? true,
    ...(opts.limits === undefined ? {} : { limits: opts.limits }),
    maxMessageBytes: opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE,
    maxPacket: opts.maxPacket ?? DEFAULT_MAX_PACKET,
    idleTimeoutMs: opts.idleTimeoutMs ?? 300_000,
    protocol: wantedProtocol(replySteps === 'auto' ? (spec.kind === 'unix' ? 'fewest' : 'data') : replySteps),
    scannerLabel: scannedValue(opts.scanners.map((s) => s.name)),
    ...(opts.onMessage === undefined ? {} : { onMessage: opts.onMessage }),
    ...(opts.onConnectionError === undefined ? {} : { onConnectionError: opts.onConnectionError }),
  };

  const sockets = new Set<MilterConnection>();
  let counter = 0;
  let bound: MilterSocketSpec = spec;
  let listening = false;
  let draining: { cutNow(): void; done: Promise<{ cut: number }> } | undefined;
  const server = net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => {
    const c = new MilterConnection(socket, ++counter, cfg, () => sockets.delete(c));
    sockets.add(c);
  });

  const drain = (deadline: number): Promise<{ cut: number }> => {
    if (draining !== undefined) {
      draining.cutNow();
      return draining.done;
    }
    if (!listening) return Promise.resolve({ cut: 0 });
    listening = false;
    let cut = 0;
    let timer: NodeJS.Timeout | undefined;
    const cutNow = (): void => {
      clearTimeout(timer);
      for (const c of sockets) {
        if (c.inFlight) cut++;
        c.shutdown();
      }
    };
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of [...sockets]) c.drain();
    timer = setTimeout(cutNow, Math.max(0, deadline - Date.now()));
    const done = closed.then(async () => {
      clearTimeout(timer);
      // After root was dropped the folder may not be ours any more: the next start removes a stale socket.
      if (spec.kind === 'unix') await unlink(spec.path).catch(() => undefined);
      return { cut };
    });
    draining = { cutNow, done };
    return done;
  };

  return {
    get address() {
      return formatMilterSocket(bound);
    },
    get connections() {
      return sockets.size;
    },
    get inFlight() {
      let n = 0;
      for (const c of sockets) if (c.inFlight) n++;
      return n;
    },
    setScanners(list) {
      if (list.length === 0) throw new TypeError('setScanners: no scanners given');
      cfg.scanners = list;
      cfg.scannerLabel = scannedValue(list.map((s) => s.name));
    },
    async listen() {
      if (listening) return;
      if (spec.kind === 'unix') await clearStaleSocket(spec.path);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const done = (): void => {
          server.off('error', reject);
          resolve();
        };
        if (spec.kind === 'unix') server.listen({ path: spec.path, exclusive: true }, done);
        else server.listen({ host: spec.host, port: spec.port, exclusive: true }, done);
      });
      server.on('error', (e) => opts.onConnectionError?.(e));
      listening = true;
      if (spec.kind === 'unix') {
        try {
          await secureUnixSocket(spec.path, { mode: opts.socketMode ?? 0o660, uid: opts.socketOwner?.uid ?? -1, gid: opts.socketOwner?.gid ?? -1 });
        } catch (err) {
          await drain(Date.now());
          throw err;
        }
      } else {
        const a = server.address();
        if (a !== null && typeof a === 'object') bound = { kind: 'inet', host: spec.host, port: a.port };
      }
    },
    async close() {
      await drain(Date.now());
    },
    drain,
  };
}

interface Config {
  /** Replaced on reload (a scan already started keeps the list it was given). */
  scanners: readonly Adapter[];
  onInfected: OnInfected;
  onFail: OnFail;
  rejectMessage: string;
  addHeader: boolean;
  limits?: Partial<Limits>;
  maxMessageBytes: number;
  maxPacket: number;
  idleTimeoutMs: number;
  /** The protocol flags we want (of those the MTA offers). */
  protocol: number;
  scannerLabel: string;
  onMessage?: (event: MilterMessageEvent) => void;
  onConnectionError?: (error: Error) => void;
}

/** The message being received on a connection. */
interface MessageState {
  parts: Buffer[];
  bytes: number;
  tooBig: boolean;
  inBody: boolean;
  /** How many X-Virus-Status / X-Virus-Scanned headers it came with (to replace them). */
  statusHeaders: number;
  scannedHeaders: number;
  from?: string;
}

const CRLF = Buffer.from('\r\n');

/** The protocol flags (SMFIP_*) we ask for, of those the MTA offers, for a {@link ReplySteps} choice. */
export function wantedProtocol(steps: Exclude<ReplySteps, 'auto'>): number {
  // Always: skip HELO, end of headers, unknown commands; header values with their leading space.
  const base = SMFIP.NOHELO | SMFIP.NOUNKNOWN | SMFIP.NOEOH | SMFIP.HDR_LEADSPC;
  const quiet = SMFIP.NORCPT | SMFIP.NR_CONN | SMFIP.NR_MAIL | SMFIP.NR_HDR | SMFIP.NR_BODY;
  if (steps === 'fewest') return base | quiet | SMFIP.NODATA;
  if (steps === 'data') return base | quiet;
  return base;
}

/** One MTA connection: decoder, per-connection macros, the current message. */
class MilterConnection {
  private readonly decoder: PacketDecoder;
  private readonly queue: MilterCommand[] = [];
  private busy = false;
  private closed = false;
  private protocol = 0;
  private actions = 0;
  private negotiated = false;
  private macros = new Map<string, string>();
  private client: string | undefined;
  private msg: MessageState | undefined;
  private scan: AbortController | undefined;
  /** Set by {@link drain}: end the connection once no message is under way. */
  private draining = false;
  private ending = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly id: number,
    private readonly cfg: Config,
    private readonly onGone: () => void,
  ) {
    this.decoder = new PacketDecoder(cfg.maxPacket);
    socket.setNoDelay(true);
    socket.setTimeout(cfg.idleTimeoutMs, () => this.fail(new Error(`milter connection ${id}: idle for ${cfg.idleTimeoutMs} ms`)));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err, true));
    socket.on('end', () => this.teardown());
    socket.on('close', () => this.teardown());
  }

  /** End the connection now (server closing; a message under way is cut). */
  shutdown(): void {
    this.teardown();
  }

  /** A message is under way: MAIL (or a header) seen, final reply not yet sent. */
  get inFlight(): boolean {
    return !this.closed && this.msg !== undefined;
  }

  /** Server draining: end now if idle, else right after this message's final reply. */
  drain(): void {
    this.draining = true;
    if (!this.busy) this.endIfIdle();
  }

  /** While draining, with no message under way: end gracefully (our last reply is flushed first). */
  private endIfIdle(): void {
    if (!this.draining || this.ending || this.closed || this.msg !== undefined) return;
    this.ending = true;
    this.socket.end();
    // The MTA closes its side on seeing our FIN; if it does not, do not wait for it.
    setTimeout(() => this.teardown(), 2_000).unref();
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.ending) return;
    try {
      for (const p of this.decoder.push(chunk)) this.queue.push(parseCommand(p));
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    void this.pump();
  }

  /** Handle queued commands in order; an end-of-message scan pauses the socket until answered. */
  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.closed) {
        const c = this.queue.shift();
        if (c === undefined) break;
        const out = await this.handle(c);
        if (this.closed) break;
        if (out !== undefined && out.length > 0) this.send(out);
      }
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.busy = false;
    }
    this.endIfIdle();
  }

  /** Write every reply packet of a step in ONE write (no Nagle / delayed-ACK stall). */
  private send(replies: MilterReply[]): void {
    const buf = replies.length === 1 ? encodeReply(replies[0] as MilterReply) : Buffer.concat(replies.map(encodeReply));
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(buf);
  }

  private reply(noReplyFlag: number): MilterReply[] {
    return (this.protocol & noReplyFlag) !== 0 ? [] : [{ type: 'continue' }];
  }

  private message(): MessageState {
    this.msg ??= { parts: [], bytes: 0, tooBig: false, inBody: false, statusHeaders: 0, scannedHeaders: 0 };
    return this.msg;
  }

  private append(m: MessageState, b: Buffer): void {
    if (m.tooBig || b.length === 0) return;
    m.bytes += b.length;
    if (m.bytes > this.cfg.maxMessageBytes) {
      m.tooBig = true;
      m.parts = [];
      return;
    }
    m.parts.push(b);
  }

  private resetMessage(): void {
    this.msg = undefined;
    for (const k of [...this.macros.keys()]) if (k === 'i' || k.startsWith('{mail_') || k.startsWith('{rcpt_')) this.macros.delete(k);
  }

  private async handle(c: MilterCommand): Promise<MilterReply[] | undefined> {
    if (!this.negotiated && c.type !== 'optneg') throw new MilterProtocolError(`milter command ${c.type} before option negotiation`);
    switch (c.type) {
      case 'optneg': {
        if (c.version < 2) throw new MilterProtocolError(`MTA speaks milter protocol ${c.version}; at least 2 is needed`);
        let want = 0;
        if (this.cfg.addHeader || this.cfg.onInfected === 'tag' || this.cfg.onInfected === 'quarantine' || this.cfg.onFail === 'accept') want |= SMFIF.ADDHDRS;
        // Always: status headers the sender wrote are deleted, whatever we add.
        want |= SMFIF.CHGHDRS;
        if (this.cfg.onInfected === 'quarantine') want |= SMFIF.QUARANTINE;
        this.actions = want & c.actions;
        this.protocol = this.cfg.protocol & c.protocol;
        this.negotiated = true;
        return [{ type: 'optneg', version: Math.min(c.version, SMFI_VERSION), actions: this.actions, protocol: this.protocol }];
      }
      case 'macro':
        for (const [k, v] of c.macros) this.macros.set(k, v);
        return undefined;
      case 'connect':
        this.client = c.family === 'U' ? c.hostname : c.family === 'L' ? `unix:${c.address}` : `${c.address}:${c.port}`;
        return this.reply(SMFIP.NR_CONN);
      case 'helo':
        return this.reply(SMFIP.NR_HELO);
      case 'mail': {
        this.msg = undefined;
        const m = this.message();
        m.from = c.args[0] as string;
        return this.reply(SMFIP.NR_MAIL);
      }
      case 'rcpt':
        return this.reply(SMFIP.NR_RCPT);
      case 'data':
        return this.reply(SMFIP.NR_DATA);
      case 'unknown':
        return this.reply(SMFIP.NR_UNKN);
      case 'header': {
        const m = this.message();
        const lower = c.name.toLowerCase();
        if (lower === 'x-virus-status') m.statusHeaders++;
        else if (lower === 'x-virus-scanned') m.scannedHeaders++;
        const lead = (this.protocol & SMFIP.HDR_LEADSPC) !== 0 ? '' : ' ';
        // Folded values arrive with bare LF line breaks: give the scanner CRLF.
        const value = c.value.replace(/\r?\n/g, '\r\n');
        this.append(m, Buffer.from(`${c.name}:${lead}${value}\r\n`, 'latin1'));
        return this.reply(SMFIP.NR_HDR);
      }
      case 'eoh': {
        const m = this.message();
        if (!m.inBody) {
          m.inBody = true;
          this.append(m, CRLF);
        }
        return this.reply(SMFIP.NR_EOH);
      }
      case 'body': {
        const m = this.message();
        if (!m.inBody) {
          m.inBody = true;
          this.append(m, CRLF);
        }
        this.append(m, c.chunk);
        return this.reply(SMFIP.NR_BODY);
      }
      case 'eom': {
        const m = this.message();
        if (!m.inBody) {
          m.inBody = true;
          this.append(m, CRLF);
        }
        this.append(m, c.chunk);
        return this.endOfMessage(m);
      }
      case 'abort':
        this.resetMessage();
        return undefined;
      case 'quitNewConn':
        this.resetMessage();
        this.macros = new Map();
        this.client = undefined;
        return undefined;
      case 'quit':
        this.teardown();
        return undefined;
    }
  }

  private async endOfMessage(m: MessageState): Promise<MilterReply[]> {
    const queueId = this.macros.get('i');
    this.socket.pause();
    const started = performance.now();
    let verdict: Verdict;
    const bytes = m.tooBig ? m.bytes : m.parts.reduce((n, b) => n + b.length, 0);
    try {
      if (m.tooBig) {
        verdict = { status: 'error', error: { code: 'SIZE_LIMIT', message: `message larger than ${this.cfg.maxMessageBytes} bytes` } };
      } else {
        this.scan = new AbortController();
        const raw = Buffer.concat(m.parts, bytes);
        const res = await scanMessageDetailed(raw, {
          scanners: this.cfg.scanners,
          signal: this.scan.signal,
          ...(this.cfg.limits === undefined ? {} : { limits: this.cfg.limits }),
        });
        verdict = res.verdict;
      }
    } catch (err) {
      verdict = { status: 'error', error: { code: 'INTERNAL', message: (err as Error).message } };
    } finally {
      this.scan = undefined;
      if (!this.closed) this.socket.resume();
    }
    const replies = this.decide(verdict, m);
    this.msg = undefined;
    const final = replies[replies.length - 1] as MilterReply;
    const quarantined = replies.some((r) => r.type === 'quarantine');
    const action = final.type === 'replycode' ? `replycode ${final.text}` : quarantined ? 'quarantine' : final.type;
    this.cfg.onMessage?.({
      connection: this.id,
      ...(queueId === undefined ? {} : { queueId }),
      ...(m.from === undefined ? {} : { from: m.from }),
      ...(this.client === undefined ? {} : { client: this.client }),
      bytes,
      verdict,
      action,
      ms: performance.now() - started,
    });
    return replies;
  }

  /** The replies for a verdict (the policy's decision in milter form): modifications first, then the final action. */
  private decide(v: Verdict, m: MessageState): MilterReply[] {
    const cfg = this.cfg;
    const d = decide(v, { onInfected: cfg.onInfected, onFail: cfg.onFail });
    const canAdd = (this.actions & SMFIF.ADDHDRS) !== 0;
    const canChange = (this.actions & SMFIF.CHGHDRS) !== 0;
    // Status headers the message came with go, whatever the action (a sender cannot forge a "Clean").
    // Last first, so indexes do not shift.
    const strip: MilterReply[] = [];
    if (canChange) {
      for (let i = m.statusHeaders; i >= 1; i--) strip.push({ type: 'changeHeader', index: i, name: STATUS, value: '' });
      for (let i = m.scannedHeaders; i >= 1; i--) strip.push({ type: 'changeHeader', index: i, name: SCANNED, value: '' });
    }
    const headers = (add: boolean, withScanned: boolean): MilterReply[] => {
      if (!canAdd || !add) return strip;
      // With SMFIP_HDR_LEADSPC negotiated the MTA writes values as given: add the space after the colon ourselves.
      const lead = (this.protocol & SMFIP.HDR_LEADSPC) !== 0 ? ' ' : '';
      const out = [...strip];
      if (withScanned) out.push({ type: 'addHeader', name: SCANNED, value: lead + cfg.scannerLabel });
      out.push({ type: 'addHeader', name: STATUS, value: lead + d.status });
      return out;
    };
    switch (d.action) {
      case 'accept':
        return [...headers(cfg.addHeader, true), { type: 'accept' }];
      case 'tag':
        // A passed-on infected or unchecked message is always marked, X-Virus-Scanned only with addHeader.
        return [...headers(true, cfg.addHeader), { type: 'accept' }];
      case 'reject':
        return [{ type: 'replycode', text: bin(`550 5.7.1 ${formatReject(cfg.rejectMessage, d.list)}`) }];
      case 'tempfail':
        // An infected message: the MTA's own 4xx (as clamav-milter's Defer); a scanner failure: the one text of every front end.
        if (d.verdict === 'infected') return [{ type: 'tempfail' }];
        return [{ type: 'replycode', text: `${d.refusal?.code} ${d.refusal?.enhanced} ${d.refusal?.text}` }];
      case 'drop':
        return [{ type: 'discard' }];
      case 'quarantine':
        // The MTA cannot quarantine: fail safe.
        if ((this.actions & SMFIF.QUARANTINE) === 0) return [{ type: 'replycode', text: bin(`550 5.7.1 ${formatReject(cfg.rejectMessage, d.list)}`) }];
        return [...headers(true, cfg.addHeader), { type: 'quarantine', reason: `Virus found: ${d.list}` }, { type: 'accept' }];
    }
  }

  private fail(err: Error, quiet = false): void {
    if (this.closed) return;
    if (!quiet || (err as { code?: string }).code !== 'ECONNRESET') this.cfg.onConnectionError?.(err);
    this.teardown();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    this.scan?.abort();
    this.msg = undefined;
    this.queue.length = 0;
    this.socket.destroy();
    this.onGone();
  }
}
