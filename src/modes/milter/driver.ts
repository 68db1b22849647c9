/**
 * The milter driver: acts as the MTA with no MTA (like milter-manager's
 * milter-test-server). It negotiates options, sends connect/helo once per connection and
 * mail/rcpt/data/headers/eoh/body/eom per message — honouring the milter's protocol flags
 * (steps it asked to skip, steps it asked not to answer) — and reads the replies up to the
 * final action. Connections are reused for several messages, as Postfix does, with an
 * abort between them. Each message's action becomes a fate and a verdict (docs/milter.md).
 */
import { randomBytes } from 'node:crypto';
import { asNetError, connect, type Connection } from '../../core/net.js';
import type { MessageOutcome, ModeDriver, OutgoingMessage } from '../types.js';
import {
  bodyChunks,
  DEFAULT_MAX_PACKET,
  encodeCommand,
  MilterProtocolError,
  packetHeader,
  parseReply,
  SMFIC,
  SMFI_VERSION,
  SMFIF_ALL,
  SMFIP,
  SMFIP_ALL,
  type MilterCommand,
  type MilterReply,
} from './codec.js';
import { parseVirusStatus } from '../policy.js';
import { milterEndpoint, milterUrl, parseMilterUrl, type MilterSocketSpec } from './socket-spec.js';

/** Options of {@link createMilterDriver}. */
export interface MilterDriverOptions {
  /** `milter://HOST:PORT`, `milter+unix:///PATH` (or an `inet:PORT@HOST` / `unix:PATH` spec). */
  url: string;
  /** Connections at most (default 8); `send` calls beyond it wait for a free one. */
  concurrency?: number;
  /** Absolute time allowed per message, from its first byte to the final action (ms, default 30 000). */
  timeoutMs?: number;
  /** Messages per connection before it is closed and a new one opened (default 100; 1 = a connection per message). */
  messagesPerConnection?: number;
  /** Envelope sender (default `<sender@avbench.test>`). */
  sender?: string;
  /** Envelope recipient (default `<rcpt@avbench.test>`). */
  recipient?: string;
  /** Largest reply packet accepted (default 1 MiB). */
  maxPacket?: number;
  /**
   * How to pull virus names out of a reply text / quarantine reason: a RegExp whose first
   * group holds them (comma or space separated). Default: what follows the last `: `
   * (`550 5.7.1 Virus found: NAME`).
   */
  namePattern?: RegExp;
}

/** A header change the milter asked for at end of message. */
export type MilterModification =
  | { type: 'addHeader'; name: string; value: string }
  | { type: 'insertHeader'; index: number; name: string; value: string }
  | { type: 'changeHeader'; index: number; name: string; value: string }
  | { type: 'quarantine'; reason: string }
  | { type: 'replaceBody'; bytes: number }
  | { type: 'addRcpt' | 'delRcpt' | 'changeFrom'; value: string };

/** A message outcome with the milter's modifications. */
export interface MilterOutcome extends MessageOutcome {
  milterAction: string;
  modifications: MilterModification[];
}

/** The milter driver: a ModeDriver whose outcomes carry the milter's action and modifications. */
export interface MilterDriver extends ModeDriver {
  send(msg: OutgoingMessage): Promise<MilterOutcome>;
}

/** Steps of a message: their skip flag and no-reply flag. */
const STEP = {
  connect: { skip: SMFIP.NOCONNECT, noReply: SMFIP.NR_CONN },
  helo: { skip: SMFIP.NOHELO, noReply: SMFIP.NR_HELO },
  mail: { skip: SMFIP.NOMAIL, noReply: SMFIP.NR_MAIL },
  rcpt: { skip: SMFIP.NORCPT, noReply: SMFIP.NR_RCPT },
  data: { skip: SMFIP.NODATA, noReply: SMFIP.NR_DATA },
  header: { skip: SMFIP.NOHDRS, noReply: SMFIP.NR_HDR },
  eoh: { skip: SMFIP.NOEOH, noReply: SMFIP.NR_EOH },
  body: { skip: SMFIP.NOBODY, noReply: SMFIP.NR_BODY },
} as const;

/** Ends a message early: a reply other than continue before end of message, or the final one. */
class Final {
  constructor(
    readonly reply: MilterReply,
    /** The connection cannot carry another message. */
    readonly connectionLevel: boolean,
  ) {}
}

/** A header field line: a name of printable ASCII without colon, optional blanks, a colon. */
const FIELD = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/;

/**
 * Split a raw message as an MTA does before handing it to a milter: header fields
 * (unfolded: the line break before white space removed; NUL bytes, which the milter
 * protocol cannot carry, dropped) and the body — the bytes after the blank line, unchanged.
 * Like Postfix, the first line that is neither a header field nor a continuation ends
 * the headers and starts the body (a message without headers is all body).
 */
export function splitMessage(raw: Buffer): { headers: { name: string; value: string }[]; body: Buffer } {
  const headers: { name: string; value: string }[] = [];
  let pos = 0;
  while (pos < raw.length) {
    const nl = raw.indexOf(0x0a, pos);
    const eol = nl < 0 ? raw.length : nl;
    const next = nl < 0 ? raw.length : nl + 1;
    let line = raw.toString('latin1', pos, eol > pos && raw[eol - 1] === 0x0d ? eol - 1 : eol);
    if (line === '') return { headers, body: raw.subarray(next) };
    line = line.replaceAll('\0', '');
    const last = headers[headers.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== undefined) {
      last.value += line;
    } else {
      const m = FIELD.exec(line);
      if (m === null) return { headers, body: raw.subarray(pos) };
      headers.push({ name: m[1] as string, value: line.slice((m[0] as string).length) });
    }
    pos = next;
  }
  return { headers, body: raw.subarray(raw.length) };
}

/**
 * Virus names in a reply text, quarantine reason, or status header. A status header value
 * (`Infected (A, B)`) is read by the policy's parser (src/modes/policy.ts), as the other
 * drivers read it; a reply or reason by `pattern`, else what follows its last `: `.
 */
export function namesFromText(text: string, pattern?: RegExp): string[] {
  let list: string | undefined;
  if (pattern !== undefined) list = pattern.exec(text)?.[1];
  else {
    const status = /^\s*infected\s*\(/i.test(text) ? parseVirusStatus(text) : undefined;
    if (status !== undefined) return status.names;
    const lastLine = text.split(/\r?\n/).filter((l) => l.trim() !== '').pop() ?? '';
    const i = lastLine.lastIndexOf(': ');
    if (i >= 0) list = lastLine.slice(i + 2);
    else if (/^\s*infected\s+\S/i.test(text)) list = text.trim().replace(/^infected\s+/i, '');
  }
  if (list === undefined) return [];
  return [...new Set(list.split(/[,\s]+/).map((s) => s.trim()).filter((s) => s !== '' && s !== 'FOUND' && s !== '...'))];
}

/** What a session needs from its driver's options. */
interface SessionConfig {
  maxPacket: number;
  sender: string;
  recipient: string;
}

/**
 * One connection to the milter, as the MTA side: option negotiation, connect and helo once,
 * then one message after another (an abort between them). Small commands are queued and
 * written together with the next step that needs a reply.
 */
class MilterSession {
  private protocol = 0;
  /** Actions the milter asked for at negotiation. */
  actions = 0;
  /** Messages begun on this connection. */
  messages = 0;
  /** False once the connection cannot carry another message. */
  usable = true;
  /** Bytes waiting to be written with the next step that needs a reply. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    readonly conn: Connection,
    private readonly cfg: SessionConfig,
  ) {}

  /** Negotiate options, then send connect (from `port`) and helo; a Final here is connection-level. */
  async negotiate(port: number): Promise<void> {
    await this.conn.write(encodeCommand({ type: 'optneg', version: SMFI_VERSION, actions: SMFIF_ALL, protocol: SMFIP_ALL }));
    const r = await this.readReply();
    if (r.type !== 'optneg') throw new MilterProtocolError(`expected an option negotiation reply, got ${r.type}`);
    if (r.version < 2) throw new MilterProtocolError(`milter speaks protocol version ${r.version}`);
    this.protocol = r.protocol & SMFIP_ALL;
    this.actions = r.actions;
    this.queue({
      type: 'macro',
      stage: 'C',
      macros: [
        ['j', 'avbench.localhost'],
        ['_', 'localhost [127.0.0.1]'],
        ['{daemon_name}', 'avbench'],
        ['v', 'avbench milter driver'],
        ['{client_addr}', '127.0.0.1'],
        ['{client_name}', 'localhost'],
      ],
    });
    await this.step({ type: 'connect', hostname: 'localhost', family: '4', port, address: '127.0.0.1' }, 'connect', true);
    this.queue({ type: 'macro', stage: 'H', macros: [['{tls_version}', '']] });
    await this.step({ type: 'helo', name: 'avbench.localhost' }, 'helo', true);
  }

  /** Say quit and close (once). */
  quit(): void {
    if (!this.conn.closed) {
      void this.conn.write(encodeCommand({ type: 'quit' })).catch(() => undefined);
      this.conn.close();
    }
  }

  private queue(c: MilterCommand): void {
    if (c.type === 'body' && c.chunk.length > 4096) {
      // Header + the chunk itself: no copy of the body.
      this.pending.push(packetHeader(SMFIC.BODY, c.chunk.length), c.chunk);
      this.pendingBytes += 5 + c.chunk.length;
      return;
    }
    const b = encodeCommand(c);
    this.pending.push(b);
    this.pendingBytes += b.length;
  }

  /** Write what is queued: small pieces joined, large body chunks as they are, in one corked write. */
  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const pieces = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    const out: Buffer[] = [];
    let small: Buffer[] = [];
    for (const p of pieces) {
      if (p.length > 4096) {
        if (small.length > 0) out.push(small.length === 1 ? (small[0] as Buffer) : Buffer.concat(small));
        small = [];
        out.push(p);
      } else small.push(p);
    }
    if (small.length > 0) out.push(small.length === 1 ? (small[0] as Buffer) : Buffer.concat(small));
    await this.conn.write(...out);
  }

  private async readReply(): Promise<MilterReply> {
    const head = await this.conn.readExactly(4);
    const len = head.readUInt32BE(0);
    const { maxPacket } = this.cfg;
    if (len === 0 || len > maxPacket) throw new MilterProtocolError(`milter reply of ${len} bytes (limit ${maxPacket})`);
    const rest = await this.conn.readExactly(len);
    return parseReply({ cmd: String.fromCharCode(rest[0] as number), data: rest.subarray(1) });
  }

  /** Send a step; when it expects an answer, flush and read it; a non-continue ends the message. */
  private async step(c: MilterCommand, kind: keyof typeof STEP, connectionLevel = false): Promise<'sent' | 'skipped' | 'skip-rest'> {
    const f = STEP[kind];
    if ((this.protocol & f.skip) !== 0) return 'skipped';
    this.queue(c);
    if ((this.protocol & f.noReply) !== 0) {
      if (this.pendingBytes >= 256 * 1024) await this.flush();
      return 'sent';
    }
    await this.flush();
    for (;;) {
      const r = await this.readReply();
      if (r.type === 'continue') return 'sent';
      if (r.type === 'progress') continue;
      if (r.type === 'skip' && kind === 'body') return 'skip-rest';
      if (r.type === 'accept' || r.type === 'reject' || r.type === 'tempfail' || r.type === 'discard' || r.type === 'replycode' || r.type === 'connFail' || r.type === 'shutdown') {
        throw new Final(r, connectionLevel || r.type === 'connFail' || r.type === 'shutdown');
      }
      throw new MilterProtocolError(`unexpected milter reply ${r.type} to ${kind}`);
    }
  }

  /** One message (queue id `queueId`) up to the final action; modifications are pushed to `mods` as they come. */
  async transact(raw: Buffer, queueId: string, mods: MilterModification[]): Promise<MilterReply> {
    const { sender, recipient } = this.cfg;
    if (this.messages > 0) this.queue({ type: 'abort' });
    this.messages++;
    this.queue({ type: 'macro', stage: 'M', macros: [['i', queueId], ['{mail_addr}', sender.replace(/^<|>$/g, '')]] });
    await this.step({ type: 'mail', args: [sender] }, 'mail');
    this.queue({ type: 'macro', stage: 'R', macros: [['{rcpt_addr}', recipient.replace(/^<|>$/g, '')]] });
    await this.step({ type: 'rcpt', args: [recipient] }, 'rcpt');
    await this.step({ type: 'data' }, 'data');
    const { headers, body } = splitMessage(raw);
    const leadSpace = (this.protocol & SMFIP.HDR_LEADSPC) !== 0;
    for (const h of headers) {
      await this.step({ type: 'header', name: h.name, value: leadSpace ? h.value : h.value.replace(/^[ \t]+/, '') }, 'header');
    }
    await this.step({ type: 'eoh' }, 'eoh');
    if ((this.protocol & SMFIP.NOBODY) === 0) {
      for (const chunk of bodyChunks(body)) {
        if ((await this.step({ type: 'body', chunk }, 'body')) === 'skip-rest') break;
      }
    }
    this.queue({ type: 'macro', stage: 'E', macros: [] });
    this.queue({ type: 'eom', chunk: Buffer.alloc(0) });
    await this.flush();
    for (;;) {
      const r = await this.readReply();
      switch (r.type) {
        case 'progress':
          continue;
        case 'addHeader':
        case 'insertHeader':
        case 'changeHeader':
          // With SMFIP_HDR_LEADSPC the milter sends values with their leading space (the MTA
          // writes them verbatim after the colon); record the value as a header reader sees it.
          mods.push(leadSpace && r.value.startsWith(' ') ? { ...r, value: r.value.slice(1) } : r);
          continue;
        case 'quarantine':
          mods.push(r);
          continue;
        case 'replaceBody':
          mods.push({ type: 'replaceBody', bytes: r.chunk.length });
          continue;
        case 'addRcpt':
        case 'delRcpt':
          mods.push({ type: r.type, value: r.rcpt });
          continue;
        case 'addRcptPar':
          mods.push({ type: 'addRcpt', value: r.rcpt });
          continue;
        case 'changeFrom':
          mods.push({ type: 'changeFrom', value: r.from });
          continue;
        case 'setSymList':
          continue;
        case 'accept':
        case 'continue':
        case 'reject':
        case 'tempfail':
        case 'discard':
        case 'replycode':
          return r;
        case 'connFail':
        case 'shutdown':
          this.usable = false;
          return r;
        default:
          throw new MilterProtocolError(`unexpected milter reply ${r.type} at end of message`);
      }
    }
  }
}

/** A message's outcome from the milter's final reply and its modifications (names read with `pattern`). */
function outcomeOf(r: MilterReply, mods: MilterModification[], ms: number, pattern: RegExp | undefined): MilterOutcome {
  const quarantine = mods.find((m): m is Extract<MilterModification, { type: 'quarantine' }> => m.type === 'quarantine');
  const base = { ms, modifications: mods };
  if (r.type === 'replycode') {
    const text = r.text;
    const code = /^\s*(\d)/.exec(text)?.[1];
    if (code === '5') return { ...base, fate: 'rejected', verdict: 'infected', names: namesFromText(text, pattern), milterAction: `replycode ${text}` };
    if (code === '4') return { ...base, fate: 'tempfailed', verdict: 'error', names: [], errorCode: 'TEMPFAIL', milterAction: `replycode ${text}` };
    return { ...base, fate: 'tempfailed', verdict: 'error', names: [], errorCode: 'PROTOCOL', milterAction: `replycode ${text}` };
  }
  switch (r.type) {
    case 'reject':
      return { ...base, fate: 'rejected', verdict: 'infected', names: [], milterAction: 'reject' };
    case 'tempfail':
      return { ...base, fate: 'tempfailed', verdict: 'error', names: [], errorCode: 'TEMPFAIL', milterAction: 'tempfail' };
    case 'connFail':
    case 'shutdown':
      return { ...base, fate: 'tempfailed', verdict: 'error', names: [], errorCode: 'TEMPFAIL', milterAction: r.type };
    case 'discard':
      return { ...base, fate: 'dropped', verdict: 'infected', names: quarantine === undefined ? [] : namesFromText(quarantine.reason, pattern), milterAction: 'discard' };
    default:
      break;
  }
  // accept / continue
  if (quarantine !== undefined) {
    return { ...base, fate: 'dropped', verdict: 'infected', names: namesFromText(quarantine.reason, pattern), milterAction: 'quarantine' };
  }
  const status = [...mods]
    .reverse()
    .find((m): m is Extract<MilterModification, { name: string }> => 'name' in m && m.name.toLowerCase() === 'x-virus-status' && m.value !== '');
  const action = r.type;
  const said = status === undefined ? undefined : parseVirusStatus(status.value);
  if (status !== undefined && /^\s*infected/i.test(status.value)) {
    // `Infected (A, B)` through the policy's parser; clamav-milter's other forms through namesFromText.
    return { ...base, fate: 'tagged', verdict: 'infected', names: said?.verdict === 'infected' && said.names.length > 0 ? said.names : namesFromText(status.value.trim(), undefined), milterAction: action };
  }
  if (said?.verdict === 'error') {
    return { ...base, fate: 'delivered', verdict: 'error', names: [], errorCode: said.errorCode ?? 'UNCHECKED', milterAction: action };
  }
  return { ...base, fate: 'delivered', verdict: 'clean', names: [], milterAction: action };
}

/** What `send` answers when the driver is closed. */
function closedOutcome(): MilterOutcome {
  return { fate: 'tempfailed', verdict: 'error', names: [], errorCode: 'CONNECT_FAILED', ms: 0, milterAction: 'none', modifications: [] };
}

/**
 * The driver: up to `concurrency` sessions, reused for `messagesPerConnection` messages
 * each; a `send` beyond them waits for a free one.
 */
class MilterClientDriver implements MilterDriver {
  readonly mode = 'milter' as const;
  readonly sut: string;
  private readonly endpoint: ReturnType<typeof milterEndpoint>;
  private readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly perConnection: number;
  private readonly cfg: SessionConfig;
  private readonly namePattern: RegExp | undefined;
  private readonly idle: MilterSession[] = [];
  private readonly all = new Set<MilterSession>();
  private readonly waiters: ((s: MilterSession | undefined) => void)[] = [];
  /** Sessions being opened (counted against the concurrency). */
  private opening = 0;
  private closed = false;
  private queueCounter = 0;
  private readonly runTag = randomBytes(3).toString('hex').toUpperCase();

  constructor(opts: MilterDriverOptions) {
    const spec: MilterSocketSpec = parseMilterUrl(opts.url);
    this.endpoint = milterEndpoint(spec);
    this.concurrency = opts.concurrency ?? 8;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new TypeError('concurrency must be a positive integer');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.perConnection = opts.messagesPerConnection ?? 100;
    this.cfg = { sender: opts.sender ?? '<sender@avbench.test>', recipient: opts.recipient ?? '<rcpt@avbench.test>', maxPacket: opts.maxPacket ?? DEFAULT_MAX_PACKET };
    this.namePattern = opts.namePattern;
    this.sut = milterUrl(spec);
  }

  /** A free session, or undefined meaning "open a new one yourself". */
  private acquire(): Promise<MilterSession | undefined> {
    const s = this.idle.pop();
    if (s !== undefined) return Promise.resolve(s);
    if (this.all.size + this.opening < this.concurrency) {
      this.opening++;
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(s: MilterSession | undefined, wasOpening: boolean): void {
    if (wasOpening) this.opening--;
    if (s !== undefined && s.usable && !s.conn.closed && !this.closed && s.messages < this.perConnection) {
      const w = this.waiters.shift();
      if (w !== undefined) w(s);
      else this.idle.push(s);
      return;
    }
    if (s !== undefined) {
      this.all.delete(s);
      s.quit();
    }
    const w = this.waiters.shift();
    if (w !== undefined) {
      this.opening++;
      w(undefined);
    }
  }

  private async openSession(deadline: number): Promise<MilterSession> {
    const conn = await connect(this.endpoint, { deadline });
    const s = new MilterSession(conn, this.cfg);
    this.all.add(s);
    try {
      await s.negotiate(25000 + (this.all.size % 1000));
      return s;
    } catch (err) {
      s.usable = false;
      this.all.delete(s);
      s.quit();
      throw err;
    }
  }

  async open(): Promise<void> {
    this.closed = false;
  }

  async send(msg: OutgoingMessage): Promise<MilterOutcome> {
    if (this.closed) return closedOutcome();
    let s = await this.acquire();
    const wasOpening = s === undefined;
    if (this.closed) {
      this.release(s, wasOpening);
      return closedOutcome();
    }
    const started = performance.now();
    const deadline = Date.now() + this.timeoutMs;
    const mods: MilterModification[] = [];
    try {
      if (s === undefined) s = await this.openSession(deadline);
      else s.conn.setDeadline(deadline);
      const queueId = `${this.runTag}${(++this.queueCounter).toString(16).toUpperCase().padStart(6, '0')}`;
      const final = await s.transact(msg.raw, queueId, mods);
      return outcomeOf(final, mods, performance.now() - started, this.namePattern);
    } catch (err) {
      const ms = performance.now() - started;
      if (err instanceof Final) {
        if (err.connectionLevel && s !== undefined) s.usable = false;
        return outcomeOf(err.reply, mods, ms, this.namePattern);
      }
      if (s !== undefined) s.usable = false;
      const code = err instanceof MilterProtocolError ? 'PROTOCOL' : asNetError(err).code;
      return { fate: 'tempfailed', verdict: 'error', names: [], errorCode: code === 'ABORTED' ? 'CONNECT_FAILED' : code, ms, milterAction: 'none', modifications: mods };
    } finally {
      this.release(s, wasOpening);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.all) s.quit();
    this.all.clear();
    this.idle.length = 0;
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}

/** Create a milter driver (mode 'milter'); see the module comment. */
export function createMilterDriver(opts: MilterDriverOptions): MilterDriver {
  return new MilterClientDriver(opts);
}
