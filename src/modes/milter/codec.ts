/**
 * The milter protocol, version 6 (libmilter's mfdef.h is the reference), written here:
 * packet framing, an incremental decoder, and typed encoders/parsers for every command
 * (MTA → milter) and every reply (milter → MTA).
 *
 * A packet is `<u32 BE length><command byte><data>`, where the length counts the command
 * byte and the data. Strings in packets are NUL-terminated bytes; this module keeps them
 * as *binary* (latin1) JS strings so that every byte survives a round trip unchanged
 * (header values in UTF-8 or anything else included).
 */

/** The protocol version we speak and offer. */
export const SMFI_VERSION = 6;
/** Largest body chunk an MTA sends without SMFIP_MDS_* (MILTER_CHUNK_SIZE). */
export const MILTER_CHUNK_SIZE = 65535;
/** Default cap of one packet's length (command byte + data) the decoder accepts. */
export const DEFAULT_MAX_PACKET = 1024 * 1024;

/** Command bytes, MTA → milter (SMFIC_*). */
export const SMFIC = {
  ABORT: 'A',
  BODY: 'B',
  CONNECT: 'C',
  MACRO: 'D',
  BODYEOB: 'E',
  HELO: 'H',
  QUIT_NC: 'K',
  HEADER: 'L',
  MAIL: 'M',
  EOH: 'N',
  OPTNEG: 'O',
  QUIT: 'Q',
  RCPT: 'R',
  DATA: 'T',
  UNKNOWN: 'U',
} as const;

/** Reply bytes, milter → MTA (SMFIR_*). OPTNEG replies with 'O' too. */
export const SMFIR = {
  ADDRCPT: '+',
  DELRCPT: '-',
  ADDRCPT_PAR: '2',
  SHUTDOWN: '4',
  ACCEPT: 'a',
  REPLBODY: 'b',
  CONTINUE: 'c',
  DISCARD: 'd',
  CHGFROM: 'e',
  CONN_FAIL: 'f',
  ADDHEADER: 'h',
  INSHEADER: 'i',
  SETSYMLIST: 'l',
  CHGHEADER: 'm',
  PROGRESS: 'p',
  QUARANTINE: 'q',
  REJECT: 'r',
  SKIP: 's',
  TEMPFAIL: 't',
  REPLYCODE: 'y',
  OPTNEG: 'O',
} as const;

/** Action flags (SMFIF_*): what the milter may do at end of message. */
export const SMFIF = {
  ADDHDRS: 0x1,
  CHGBODY: 0x2,
  ADDRCPT: 0x4,
  DELRCPT: 0x8,
  CHGHDRS: 0x10,
  QUARANTINE: 0x20,
  CHGFROM: 0x40,
  ADDRCPT_PAR: 0x80,
  SETSYMLIST: 0x100,
} as const;
/** Every action flag of version 6. */
export const SMFIF_ALL = 0x1ff;

/** Protocol flags (SMFIP_*): steps the MTA skips (NO*), steps without a reply (NR_*), extras. */
export const SMFIP = {
  NOCONNECT: 0x1,
  NOHELO: 0x2,
  NOMAIL: 0x4,
  NORCPT: 0x8,
  NOBODY: 0x10,
  NOHDRS: 0x20,
  NOEOH: 0x40,
  NR_HDR: 0x80,
  NOUNKNOWN: 0x100,
  NODATA: 0x200,
  SKIP: 0x400,
  RCPT_REJ: 0x800,
  NR_CONN: 0x1000,
  NR_HELO: 0x2000,
  NR_MAIL: 0x4000,
  NR_RCPT: 0x8000,
  NR_DATA: 0x10000,
  NR_UNKN: 0x20000,
  NR_EOH: 0x40000,
  NR_BODY: 0x80000,
  HDR_LEADSPC: 0x100000,
  MDS_256K: 0x10000000,
  MDS_1M: 0x20000000,
} as const;
/** Every version-6 protocol flag an MTA can offer (without the MDS_* size flags). */
export const SMFIP_ALL = 0x1fffff;

/** Macro stages (SMFIM_*), as used by SMFIR_SETSYMLIST. */
export const SMFIM = { CONNECT: 0, HELO: 1, ENVFROM: 2, ENVRCPT: 3, DATA: 4, EOM: 5, EOH: 6 } as const;

/** Connection address families (SMFIA_*). */
export type Family = 'U' | 'L' | '4' | '6';

/** A malformed packet or payload: the connection cannot go on (code PROTOCOL). */
export class MilterProtocolError extends Error {
  override readonly name = 'MilterProtocolError';
  readonly code = 'PROTOCOL' as const;
}

/** One framed packet: its command/reply byte (as a one-character string) and data. */
export interface Packet {
  cmd: string;
  data: Buffer;
}

/** Frame `data` under command byte `cmd`. */
export function encodePacket(cmd: string, data: Buffer = EMPTY): Buffer {
  if (cmd.length !== 1) throw new TypeError(`milter command must be one byte, got ${JSON.stringify(cmd)}`);
  const out = Buffer.allocUnsafe(5 + data.length);
  out.writeUInt32BE(data.length + 1, 0);
  out[4] = cmd.charCodeAt(0) & 0xff;
  data.copy(out, 5);
  return out;
}

const EMPTY: Buffer = Buffer.alloc(0);

/** The 5-byte packet header for `dataLength` bytes of data (to write a large body chunk without copying it). */
export function packetHeader(cmd: string, dataLength: number): Buffer {
  const h = Buffer.allocUnsafe(5);
  h.writeUInt32BE(dataLength + 1, 0);
  h[4] = cmd.charCodeAt(0) & 0xff;
  return h;
}

/**
 * Incremental decoder: push bytes as they arrive, in any split, and get whole packets.
 * A length of 0 or above `maxPacket` throws MilterProtocolError at once (before any of
 * it is buffered), so a hostile peer cannot make us hold gigabytes. Bytes are joined
 * once per packet (linear in the input, however it is split); a packet that arrived in
 * one piece is handed out as a view without copying.
 */
export class PacketDecoder {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(readonly maxPacket: number = DEFAULT_MAX_PACKET) {}

  /** Bytes held that do not yet make a whole packet. */
  get buffered(): number {
    return this.size;
  }

  /** Add bytes; returns the packets they complete (possibly none). */
  push(chunk: Buffer): Packet[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const out: Packet[] = [];
    while (this.size >= 4) {
      const len = this.peekLength();
      if (len === 0) throw new MilterProtocolError('milter packet of length 0');
      if (len > this.maxPacket) throw new MilterProtocolError(`milter packet of ${len} bytes exceeds the ${this.maxPacket}-byte limit`);
      if (this.size < 4 + len) break;
      const packet = this.take(4 + len);
      out.push({ cmd: String.fromCharCode(packet[4] as number), data: packet.subarray(5) });
    }
    return out;
  }

  private peekLength(): number {
    const first = this.chunks[0] as Buffer;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.alloc(4);
    let got = 0;
    for (const c of this.chunks) {
      got += c.copy(head, got, 0, Math.min(c.length, 4 - got));
      if (got === 4) break;
    }
    return head.readUInt32BE(0);
  }

  /** Remove and return the next `n` bytes (a view when they sit in one chunk). */
  private take(n: number): Buffer {
    this.size -= n;
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0] as Buffer;
      const want = n - got;
      if (c.length <= want) {
        c.copy(out, got);
        got += c.length;
        this.chunks.shift();
      } else {
        c.copy(out, got, 0, want);
        this.chunks[0] = c.subarray(want);
        got = n;
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------- string helpers

function cstr(s: string): Buffer {
  if (s.includes('\0')) throw new TypeError('milter strings cannot contain NUL');
  const b = Buffer.allocUnsafe(s.length + 1);
  b.write(s, 0, 'latin1');
  b[s.length] = 0;
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** Read NUL-terminated strings from `data` starting at `offset`. */
class Reader {
  constructor(
    private readonly data: Buffer,
    private pos = 0,
    private readonly what = 'packet',
  ) {}
  get offset(): number {
    return this.pos;
  }
  get done(): boolean {
    return this.pos >= this.data.length;
  }
  str(): string {
    const end = this.data.indexOf(0, this.pos);
    if (end < 0) throw new MilterProtocolError(`${this.what}: string not NUL-terminated`);
    const s = this.data.toString('latin1', this.pos, end);
    this.pos = end + 1;
    return s;
  }
  u32(): number {
    if (this.pos + 4 > this.data.length) throw new MilterProtocolError(`${this.what}: truncated (u32 expected)`);
    const v = this.data.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u16(): number {
    if (this.pos + 2 > this.data.length) throw new MilterProtocolError(`${this.what}: truncated (u16 expected)`);
    const v = this.data.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  byte(): string {
    if (this.pos >= this.data.length) throw new MilterProtocolError(`${this.what}: truncated (byte expected)`);
    return String.fromCharCode(this.data[this.pos++] as number);
  }
  rest(): Buffer {
    const b = this.data.subarray(this.pos);
    this.pos = this.data.length;
    return b;
  }
  /** All remaining NUL-terminated strings. */
  strings(): string[] {
    const out: string[] = [];
    while (!this.done) out.push(this.str());
    return out;
  }
  end(): void {
    if (!this.done) throw new MilterProtocolError(`${this.what}: ${this.data.length - this.pos} unexpected trailing bytes`);
  }
}

// ---------------------------------------------------------------- commands (MTA → milter)

/** Option negotiation (both directions): version, action flags, protocol flags. */
export interface OptNeg {
  version: number;
  actions: number;
  protocol: number;
}

/** A decoded command, MTA → milter. Strings are binary (latin1). */
export type MilterCommand =
  | ({ type: 'optneg' } & OptNeg)
  | { type: 'connect'; hostname: string; family: Family; port: number; address: string }
  | { type: 'macro'; stage: string; macros: [string, string][] }
  | { type: 'helo'; name: string }
  | { type: 'mail'; args: string[] }
  | { type: 'rcpt'; args: string[] }
  | { type: 'data' }
  | { type: 'header'; name: string; value: string }
  | { type: 'eoh' }
  | { type: 'body'; chunk: Buffer }
  | { type: 'eom'; chunk: Buffer }
  | { type: 'abort' }
  | { type: 'quit' }
  | { type: 'quitNewConn' }
  | { type: 'unknown'; command: string };

/** The command type names. */
export type MilterCommandType = MilterCommand['type'];

/** Encode a command as one packet. Body chunks above MILTER_CHUNK_SIZE are the caller's to split. */
export function encodeCommand(c: MilterCommand): Buffer {
  switch (c.type) {
    case 'optneg':
      return encodePacket(SMFIC.OPTNEG, Buffer.concat([u32(c.version), u32(c.actions), u32(c.protocol)]));
    case 'connect': {
      const parts = [cstr(c.hostname), Buffer.from(c.family, 'latin1')];
      if (c.family !== 'U') {
        const p = Buffer.allocUnsafe(2);
        p.writeUInt16BE(c.port & 0xffff, 0);
        parts.push(p, cstr(c.address));
      }
      return encodePacket(SMFIC.CONNECT, Buffer.concat(parts));
    }
    case 'macro': {
      if (c.stage.length !== 1) throw new TypeError('macro stage must be one command byte');
      const parts: Buffer[] = [Buffer.from(c.stage, 'latin1')];
      for (const [k, v] of c.macros) parts.push(cstr(k), cstr(v));
      return encodePacket(SMFIC.MACRO, Buffer.concat(parts));
    }
    case 'helo':
      return encodePacket(SMFIC.HELO, cstr(c.name));
    case 'mail':
      return encodePacket(SMFIC.MAIL, Buffer.concat(c.args.map(cstr)));
    case 'rcpt':
      return encodePacket(SMFIC.RCPT, Buffer.concat(c.args.map(cstr)));
    case 'data':
      return encodePacket(SMFIC.DATA);
    case 'header':
      return encodePacket(SMFIC.HEADER, Buffer.concat([cstr(c.name), cstr(c.value)]));
    case 'eoh':
      return encodePacket(SMFIC.EOH);
    case 'body':
      return encodePacket(SMFIC.BODY, c.chunk);
    case 'eom':
      return encodePacket(SMFIC.BODYEOB, c.chunk);
    case 'abort':
      return encodePacket(SMFIC.ABORT);
    case 'quit':
      return encodePacket(SMFIC.QUIT);
    case 'quitNewConn':
      return encodePacket(SMFIC.QUIT_NC);
    case 'unknown':
      return encodePacket(SMFIC.UNKNOWN, cstr(c.command));
  }
}

function family(ch: string): Family {
  if (ch === 'U' || ch === 'L' || ch === '4' || ch === '6') return ch;
  throw new MilterProtocolError(`connect: unknown address family ${JSON.stringify(ch)}`);
}

/** Parse a packet from an MTA. Throws MilterProtocolError for an unknown command or a malformed payload. */
export function parseCommand(p: Packet): MilterCommand {
  const r = new Reader(p.data, 0, `command ${JSON.stringify(p.cmd)}`);
  switch (p.cmd) {
    case SMFIC.OPTNEG: {
      const version = r.u32();
      const actions = r.u32();
      const protocol = r.u32();
      return { type: 'optneg', version, actions, protocol };
    }
    case SMFIC.CONNECT: {
      const hostname = r.str();
      const fam = family(r.byte());
      if (fam === 'U') {
        return { type: 'connect', hostname, family: fam, port: 0, address: '' };
      }
      const port = r.u16();
      const address = r.str();
      r.end();
      return { type: 'connect', hostname, family: fam, port, address };
    }
    case SMFIC.MACRO: {
      const stage = r.byte();
      const list = r.strings();
      if (list.length % 2 !== 0) throw new MilterProtocolError('macro: name without value');
      const macros: [string, string][] = [];
      for (let i = 0; i < list.length; i += 2) macros.push([list[i] as string, list[i + 1] as string]);
      return { type: 'macro', stage, macros };
    }
    case SMFIC.HELO: {
      const name = r.str();
      return { type: 'helo', name };
    }
    case SMFIC.MAIL:
    case SMFIC.RCPT: {
      const args = r.strings();
      if (args.length === 0) throw new MilterProtocolError(`${p.cmd === 'M' ? 'mail' : 'rcpt'}: no address`);
      return { type: p.cmd === SMFIC.MAIL ? 'mail' : 'rcpt', args };
    }
    case SMFIC.DATA:
      return { type: 'data' };
    case SMFIC.HEADER: {
      const name = r.str();
      const value = r.str();
      r.end();
      return { type: 'header', name, value };
    }
    case SMFIC.EOH:
      return { type: 'eoh' };
    case SMFIC.BODY:
      return { type: 'body', chunk: p.data };
    case SMFIC.BODYEOB:
      return { type: 'eom', chunk: p.data };
    case SMFIC.ABORT:
      return { type: 'abort' };
    case SMFIC.QUIT:
      return { type: 'quit' };
    case SMFIC.QUIT_NC:
      return { type: 'quitNewConn' };
    case SMFIC.UNKNOWN: {
      // The SMTP command as sent; be lenient about a missing NUL.
      const end = p.data.indexOf(0);
      return { type: 'unknown', command: p.data.toString('latin1', 0, end < 0 ? p.data.length : end) };
    }
    default:
      throw new MilterProtocolError(`unknown milter command byte ${JSON.stringify(p.cmd)} (0x${p.cmd.charCodeAt(0).toString(16)})`);
  }
}

// ---------------------------------------------------------------- replies (milter → MTA)

/** A decoded reply, milter → MTA. Strings are binary (latin1). */
export type MilterReply =
  | ({ type: 'optneg' } & OptNeg & { extra?: Buffer })
  | { type: 'accept' }
  | { type: 'continue' }
  | { type: 'reject' }
  | { type: 'tempfail' }
  | { type: 'discard' }
  | { type: 'skip' }
  | { type: 'progress' }
  | { type: 'connFail' }
  | { type: 'shutdown' }
  /** SMFIR_REPLYCODE: e.g. `550 5.7.1 Virus found: X` (may hold CRLF-separated lines). */
  | { type: 'replycode'; text: string }
  | { type: 'quarantine'; reason: string }
  | { type: 'addHeader'; name: string; value: string }
  | { type: 'insertHeader'; index: number; name: string; value: string }
  /** SMFIR_CHGHEADER: the index-th (1-based) header of that name; an empty value deletes it. */
  | { type: 'changeHeader'; index: number; name: string; value: string }
  | { type: 'replaceBody'; chunk: Buffer }
  | { type: 'addRcpt'; rcpt: string }
  | { type: 'addRcptPar'; rcpt: string; args: string }
  | { type: 'delRcpt'; rcpt: string }
  | { type: 'changeFrom'; from: string; args: string }
  | { type: 'setSymList'; stage: number; macros: string };

/** The reply type names. */
export type MilterReplyType = MilterReply['type'];

/** Replies that end a step's exchange with the MTA (the others are modifications or progress). */
export const FINAL_REPLIES: ReadonlySet<MilterReplyType> = new Set(['accept', 'continue', 'reject', 'tempfail', 'discard', 'replycode', 'skip', 'connFail', 'shutdown']);

/** Encode a reply as one packet. */
export function encodeReply(r: MilterReply): Buffer {
  switch (r.type) {
    case 'optneg':
      return encodePacket(SMFIR.OPTNEG, Buffer.concat([u32(r.version), u32(r.actions), u32(r.protocol), r.extra ?? EMPTY]));
    case 'accept':
      return encodePacket(SMFIR.ACCEPT);
    case 'continue':
      return encodePacket(SMFIR.CONTINUE);
    case 'reject':
      return encodePacket(SMFIR.REJECT);
    case 'tempfail':
      return encodePacket(SMFIR.TEMPFAIL);
    case 'discard':
      return encodePacket(SMFIR.DISCARD);
    case 'skip':
      return encodePacket(SMFIR.SKIP);
    case 'progress':
      return encodePacket(SMFIR.PROGRESS);
    case 'connFail':
      return encodePacket(SMFIR.CONN_FAIL);
    case 'shutdown':
      return encodePacket(SMFIR.SHUTDOWN);
    case 'replycode':
      return encodePacket(SMFIR.REPLYCODE, cstr(r.text));
    case 'quarantine':
      return encodePacket(SMFIR.QUARANTINE, cstr(r.reason));
    case 'addHeader':
      return encodePacket(SMFIR.ADDHEADER, Buffer.concat([cstr(r.name), cstr(r.value)]));
    case 'insertHeader':
      return encodePacket(SMFIR.INSHEADER, Buffer.concat([u32(r.index), cstr(r.name), cstr(r.value)]));
    case 'changeHeader':
      return encodePacket(SMFIR.CHGHEADER, Buffer.concat([u32(r.index), cstr(r.name), cstr(r.value)]));
    case 'replaceBody':
      return encodePacket(SMFIR.REPLBODY, r.chunk);
    case 'addRcpt':
      return encodePacket(SMFIR.ADDRCPT, cstr(r.rcpt));
    case 'addRcptPar':
      return encodePacket(SMFIR.ADDRCPT_PAR, Buffer.concat([cstr(r.rcpt), cstr(r.args)]));
    case 'delRcpt':
      return encodePacket(SMFIR.DELRCPT, cstr(r.rcpt));
    case 'changeFrom':
      return encodePacket(SMFIR.CHGFROM, Buffer.concat([cstr(r.from), cstr(r.args)]));
    case 'setSymList':
      return encodePacket(SMFIR.SETSYMLIST, Buffer.concat([u32(r.stage), cstr(r.macros)]));
  }
}

/** Parse a packet from a milter. Throws MilterProtocolError for an unknown reply or a malformed payload. */
export function parseReply(p: Packet): MilterReply {
  const r = new Reader(p.data, 0, `reply ${JSON.stringify(p.cmd)}`);
  const noData = <T extends MilterReply>(v: T): T => v;
  switch (p.cmd) {
    case SMFIR.OPTNEG: {
      const version = r.u32();
      const actions = r.u32();
      const protocol = r.u32();
      const extra = r.rest();
      return extra.length > 0 ? { type: 'optneg', version, actions, protocol, extra: Buffer.from(extra) } : { type: 'optneg', version, actions, protocol };
    }
    case SMFIR.ACCEPT:
      return noData({ type: 'accept' });
    case SMFIR.CONTINUE:
      return noData({ type: 'continue' });
    case SMFIR.REJECT:
      return noData({ type: 'reject' });
    case SMFIR.TEMPFAIL:
      return noData({ type: 'tempfail' });
    case SMFIR.DISCARD:
      return noData({ type: 'discard' });
    case SMFIR.SKIP:
      return noData({ type: 'skip' });
    case SMFIR.PROGRESS:
      return noData({ type: 'progress' });
    case SMFIR.CONN_FAIL:
      return noData({ type: 'connFail' });
    case SMFIR.SHUTDOWN:
      return noData({ type: 'shutdown' });
    case SMFIR.REPLYCODE:
      return { type: 'replycode', text: r.str() };
    case SMFIR.QUARANTINE:
      return { type: 'quarantine', reason: r.str() };
    case SMFIR.ADDHEADER: {
      const name = r.str();
      const value = r.str();
      return { type: 'addHeader', name, value };
    }
    case SMFIR.INSHEADER:
    case SMFIR.CHGHEADER: {
      const index = r.u32();
      const name = r.str();
      const value = r.str();
      return { type: p.cmd === SMFIR.INSHEADER ? 'insertHeader' : 'changeHeader', index, name, value };
    }
    case SMFIR.REPLBODY:
      return { type: 'replaceBody', chunk: p.data };
    case SMFIR.ADDRCPT:
      return { type: 'addRcpt', rcpt: r.str() };
    case SMFIR.ADDRCPT_PAR: {
      const rcpt = r.str();
      const args = r.done ? '' : r.str();
      return { type: 'addRcptPar', rcpt, args };
    }
    case SMFIR.DELRCPT:
      return { type: 'delRcpt', rcpt: r.str() };
    case SMFIR.CHGFROM: {
      const from = r.str();
      const args = r.done ? '' : r.str();
      return { type: 'changeFrom', from, args };
    }
    case SMFIR.SETSYMLIST: {
      const stage = r.u32();
      const macros = r.str();
      return { type: 'setSymList', stage, macros };
    }
    default:
      throw new MilterProtocolError(`unknown milter reply byte ${JSON.stringify(p.cmd)} (0x${p.cmd.charCodeAt(0).toString(16)})`);
  }
}

/** Split a body into chunks of at most `size` bytes (views, no copies). */
export function bodyChunks(body: Buffer, size: number = MILTER_CHUNK_SIZE): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) out.push(body.subarray(i, Math.min(body.length, i + size)));
  return out;
}
