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
import { milterEndpoint, milterUrl, parseMilterUrl, type MilterSocketSpec } from './socket.js';

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

interface Session {
  conn: Connection;
  protocol: number;
  actions: number;
  messages: number;
  usable: boolean;
  /** Bytes waiting to be written with the next step that needs a reply. */
  pending: Buffer[];
  pendingBytes: number;
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

/** Create a milter driver (mode 'milter'); see the module comment. */
export function createMilterDriver(opts: MilterDriverOptions): MilterDriver {
  const spec: MilterSocketSpec = parseMilterUrl(opts.url);
  const endpoint = milterEndpoint(spec);
  const concurrency = opts.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError('concurrency must be a positive integer');
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const perConnection = opts.messagesPerConnection ?? 100;
  const sender = opts.sender ?? '<sender@avbench.test>';
  const recipient = opts.recipient ?? '<rcpt@avbench.test>';
  const maxPacket = opts.maxPacket ?? DEFAULT_MAX_PACKET;
  const sut = milterUrl(spec);

  const idle: Session[] = [];
  const all = new Set<Session>();
  const waiters: ((s: Session | undefined) => void)[] = [];
  let opening = 0;
  let closed = false;
  let queueCounter = 0;
  const runTag = randomBytes(3).toString('hex').toUpperCase();

  /** A free session, or undefined meaning "open a new one yourself". */
  function acquire(): Promise<Session | undefined> {
    const s = idle.pop();
    if (s !== undefined) return Promise.resolve(s);
    if (all.size + opening < concurrency) {
      opening++;
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => waiters.push(resolve));
  }

  function release(s: Session | undefined, wasOpening: boolean): void {
    if (wasOpening) opening--;
    if (s !== undefined && s.usable && !s.conn.closed && !closed && s.messages < perConnection) {
      const w = waiters.shift();
      if (w !== undefined) w(s);
      else idle.push(s);
      return;
    }
    if (s !== undefined) {
      all.delete(s);
      quit(s);
    }
    const w = waiters.shift();
    if (w !== undefined) {
      opening++;
      w(undefined);
    }
  }

  function quit(s: Session): void {
    if (!s.conn.closed) {
      void s.conn.write(encodeCommand({ type: 'quit' })).catch(() => undefined);
      s.conn.close();
    }
  }

  function queue(s: Session, c: MilterCommand): void {
    if (c.type === 'body' && c.chunk.length > 4096) {
      // Header + the chunk itself: no copy of the body.
      s.pending.push(packetHeader(SMFIC.BODY, c.chunk.length), c.chunk);
      s.pendingBytes += 5 + c.chunk.length;
      return;
    }
    const b = encodeCommand(c);
    s.pending.push(b);
    s.pendingBytes += b.length;
  }

  /** Write what is queued: small pieces joined, large body chunks as they are, in one corked write. */
  async function flush(s: Session): Promise<void> {
    if (s.pending.length === 0) return;
    const pieces = s.pending;
    s.pending = [];
    s.pendingBytes = 0;
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
    await s.conn.write(...out);
  }

  async function readReply(s: Session): Promise<MilterReply> {
    const head = await s.conn.readExactly(4);
    const len = head.readUInt32BE(0);
    if (len === 0 || len > maxPacket) throw new MilterProtocolError(`milter reply of ${len} bytes (limit ${maxPacket})`);
    const rest = await s.conn.readExactly(len);
    return parseReply({ cmd: String.fromCharCode(rest[0] as number), data: rest.subarray(1) });
  }

  /** Send a step; when it expects an answer, flush and read it; a non-continue ends the message. */
  async function step(s: Session, c: MilterCommand, kind: keyof typeof STEP, connectionLevel = false): Promise<'sent' | 'skipped' | 'skip-rest'> {
    const f = STEP[kind];
    if ((s.protocol & f.skip) !== 0) return 'skipped';
    queue(s, c);
    if ((s.protocol & f.noReply) !== 0) {
      if (s.pendingBytes >= 256 * 1024) await flush(s);
      return 'sent';
    }
    await flush(s);
    for (;;) {
      const r = await readReply(s);
      if (r.type === 'continue') return 'sent';
      if (r.type === 'progress') continue;
      if (r.type === 'skip' && kind === 'body') return 'skip-rest';
      if (r.type === 'accept' || r.type === 'reject' || r.type === 'tempfail' || r.type === 'discard' || r.type === 'replycode' || r.type === 'connFail' || r.type === 'shutdown') {
        throw new Final(r, connectionLevel || r.type === 'connFail' || r.type === 'shutdown');
      }
      throw new MilterProtocolError(`unexpected milter reply ${r.type} to ${kind}`);
    }
  }

  async function openSession(deadline: number): Promise<Session> {
    const conn = await connect(endpoint, { deadline });
    const s: Session = { conn, protocol: 0, actions: 0, messages: 0, usable: true, pending: [], pendingBytes: 0 };
    all.add(s);
    try {
      await conn.write(encodeCommand({ type: 'optneg', version: SMFI_VERSION, actions: SMFIF_ALL, protocol: SMFIP_ALL }));
      const r = await readReply(s);
      if (r.type !== 'optneg') throw new MilterProtocolError(`expected an option negotiation reply, got ${r.type}`);
      if (r.version < 2) throw new MilterProtocolError(`milter speaks protocol version ${r.version}`);
      s.protocol = r.protocol & SMFIP_ALL;
      s.actions = r.actions;
      queue(s, {
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
      await step(s, { type: 'connect', hostname: 'localhost', family: '4', port: 25000 + (all.size % 1000), address: '127.0.0.1' }, 'connect', true);
      queue(s, { type: 'macro', stage: 'H', macros: [['{tls_version}', '']] });
      await step(s, { type: 'helo', name: 'avbench.localhost' }, 'helo', true);
      return s;
    } catch (err) {
      s.usable = false;
      all.delete(s);
      quit(s);
      throw err;
    }
  }

  async function transact(s: Session, raw: Buffer, outcome: { mods: MilterModification[] }): Promise<MilterReply> {
    if (s.messages > 0) queue(s, { type: 'abort' });
    s.messages++;
    const queueId = `${runTag}${(++queueCounter).toString(16).toUpperCase().padStart(6, '0')}`;
    queue(s, { type: 'macro', stage: 'M', macros: [['i', queueId], ['{mail_addr}', sender.replace(/^<|>$/g, '')]] });
    await step(s, { type: 'mail', args: [sender] }, 'mail');
    queue(s, { type: 'macro', stage: 'R', macros: [['{rcpt_addr}', recipient.replace(/^<|>$/g, '')]] });
    await step(s, { type: 'rcpt', args: [recipient] }, 'rcpt');
    await step(s, { type: 'data' }, 'data');
    const { headers, body } = splitMessage(raw);
    const leadSpace = (s.protocol & SMFIP.HDR_LEADSPC) !== 0;
    for (const h of headers) {
      await step(s, { type: 'header', name: h.name, value: leadSpace ? h.value : h.value.replace(/^[ \t]+/, '') }, 'header');
    }
    await step(s, { type: 'eoh' }, 'eoh');
    if ((s.protocol & SMFIP.NOBODY) === 0) {
      for (const chunk of bodyChunks(body)) {
        if ((await step(s, { type: 'body', chunk }, 'body')) === 'skip-rest') break;
      }
    }
    queue(s, { type: 'macro', stage: 'E', macros: [] });
    queue(s, { type: 'eom', chunk: Buffer.alloc(0) });
    await flush(s);
    for (;;) {
      const r = await readReply(s);
      switch (r.type) {
        case 'progress':
          continue;
        case 'addHeader':
        case 'insertHeader':
        case 'changeHeader':
          // With SMFIP_HDR_LEADSPC the milter sends values with their leading space (the MTA
          // writes them verbatim after the colon); record the value as a header reader sees it.
          outcome.mods.push(leadSpace && r.value.startsWith(' ') ? { ...r, value: r.value.slice(1) } : r);
          continue;
        case 'quarantine':
          outcome.mods.push(r);
          continue;
        case 'replaceBody':
          outcome.mods.push({ type: 'replaceBody', bytes: r.chunk.length });
          continue;
        case 'addRcpt':
        case 'delRcpt':
          outcome.mods.push({ type: r.type, value: r.rcpt });
          continue;
        case 'addRcptPar':
          outcome.mods.push({ type: 'addRcpt', value: r.rcpt });
          continue;
        case 'changeFrom':
          outcome.mods.push({ type: 'changeFrom', value: r.from });
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
          s.usable = false;
          return r;
        default:
          throw new MilterProtocolError(`unexpected milter reply ${r.type} at end of message`);
      }
    }
  }

  function outcomeOf(r: MilterReply, mods: MilterModification[], ms: number): MilterOutcome {
    const quarantine = mods.find((m): m is Extract<MilterModification, { type: 'quarantine' }> => m.type === 'quarantine');
    const base = { ms, modifications: mods };
    const pattern = opts.namePattern;
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

  return {
    mode: 'milter',
    sut,
    async open() {
      closed = false;
    },
    async send(msg: OutgoingMessage): Promise<MilterOutcome> {
      if (closed) return { fate: 'tempfailed', verdict: 'error', names: [], errorCode: 'CONNECT_FAILED', ms: 0, milterAction: 'none', modifications: [] };
      let s = await acquire();
      const wasOpening = s === undefined;
      if (closed) {
        release(s, wasOpening);
        return { fate: 'tempfailed', verdict: 'error', names: [], errorCode: 'CONNECT_FAILED', ms: 0, milterAction: 'none', modifications: [] };
      }
      const started = performance.now();
      const deadline = Date.now() + timeoutMs;
      const mods: MilterModification[] = [];
      try {
        if (s === undefined) s = await openSession(deadline);
        else s.conn.setDeadline(deadline);
        const final = await transact(s, msg.raw, { mods });
        return outcomeOf(final, mods, performance.now() - started);
      } catch (err) {
        const ms = performance.now() - started;
        if (err instanceof Final) {
          if (err.connectionLevel && s !== undefined) s.usable = false;
          return outcomeOf(err.reply, mods, ms);
        }
        if (s !== undefined) s.usable = false;
        const code = err instanceof MilterProtocolError ? 'PROTOCOL' : asNetError(err).code;
        return { fate: 'tempfailed', verdict: 'error', names: [], errorCode: code === 'ABORTED' ? 'CONNECT_FAILED' : code, ms, milterAction: 'none', modifications: mods };
      } finally {
        release(s, wasOpening);
      }
    },
    async close() {
      closed = true;
      for (const s of all) quit(s);
      all.clear();
      idle.length = 0;
      for (const w of waiters.splice(0)) w(undefined);
    },
  };
}
