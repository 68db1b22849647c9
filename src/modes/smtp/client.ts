/**
 * A small, fast SMTP/LMTP client over src/core/net.ts (the socket door): one connection,
 * greeting + EHLO/LHLO, then transactions with PIPELINING when the server offers it
 * (MAIL, RCPTs and DATA in one write, the dot-stuffed body and terminator in a second),
 * replies read from the buffered reader. Used by the proxy's next-hop pool and the driver.
 *
 * Network trouble rejects with a NetError (CONNECT_FAILED, TIMEOUT, PROTOCOL, ABORTED);
 * SMTP refusals are data (the replies).
 */
import { connect, NetError, type Connection, type Endpoint } from '../../core/net.js';
import { dotStuff, type SmtpReply } from './wire.js';

/** Options of {@link SmtpClient.open}. */
export interface SmtpClientOptions {
  /** Absolute deadline for connecting, greeting and EHLO. */
  deadline: number;
  /** Name sent with EHLO/LHLO (default `avbench.localhost`). */
  heloName?: string;
  /** Speak LMTP (LHLO; one final reply per accepted recipient). */
  lmtp?: boolean;
}

/** A message envelope. */
export interface Envelope {
  from: string;
  to: readonly string[];
  /** MAIL FROM parameters, e.g. `BODY=8BITMIME` (sent only if the server offers the extension). */
  params?: readonly string[];
}

/** Where a transaction ended. */
export type TransactionStage = 'mail' | 'rcpt' | 'data' | 'done';

/** Replies of one transaction. */
export interface TransactionResult {
  /** `done` when the body was sent and final replies read; otherwise the step that refused. */
  stage: TransactionStage;
  mail: SmtpReply;
  rcpt: SmtpReply[];
  /** DATA's reply (354 or a refusal); absent when it was not sent. */
  data?: SmtpReply;
  /** After the body: one reply (SMTP) or one per accepted recipient (LMTP). */
  final: SmtpReply[];
  /** The reply that decides the message: the first refusal, or the (first) final reply. */
  decisive: SmtpReply;
}

const MAX_REPLY_LINE = 4096;
const MAX_REPLY_LINES = 200;

/** Read one (possibly multi-line) reply. Rejects with PROTOCOL on a malformed line. */
export async function readReply(conn: Connection): Promise<SmtpReply> {
  const lines: string[] = [];
  for (;;) {
    const raw = await conn.readUntil('\n', { maxBytes: MAX_REPLY_LINE });
    const line = raw.toString('utf8').replace(/\r$/, '');
    const code = Number(line.slice(0, 3));
    const sep = line[3];
    if (!/^[2-5]\d\d$/.test(line.slice(0, 3)) || (sep !== undefined && sep !== ' ' && sep !== '-')) {
      throw new NetError('PROTOCOL', `${conn.label}: not an SMTP reply: ${JSON.stringify(line.slice(0, 80))}`);
    }
    lines.push(line.slice(4));
    if (sep !== '-') return { code, lines };
    if (lines.length > MAX_REPLY_LINES) throw new NetError('PROTOCOL', `${conn.label}: reply of more than ${MAX_REPLY_LINES} lines`);
  }
}

/**
 * The connection closed (`CONNECT_FAILED`) or the deadline passed (`TIMEOUT`) before the
 * server answered any command of the transaction: the body was never sent, so nothing was
 * taken. A close is typical of a reused session the server let go while it sat idle
 * (clamsmtpd's TimeOut); a client retries that on a new connection.
 */
export class UnansweredError extends NetError {
  constructor(cause: NetError) {
    super(cause.code, `${cause.message} (before answering any command of this transaction: nothing was sent)`, cause.sysCode);
  }
}

/** One SMTP/LMTP client connection. */
export class SmtpClient {
  /** EHLO keywords offered by the server (upper case), e.g. PIPELINING, 8BITMIME, SIZE. */
  readonly extensions: Set<string>;
  /** True when the last transaction did not finish cleanly and RSET must precede the next. */
  private dirty = false;
  private broken = false;
  /** Replies read in the current transaction. */
  private answered = 0;

  private constructor(
    private readonly conn: Connection,
    extensions: Set<string>,
    /** The greeting line. */
    readonly greeting: SmtpReply,
    private readonly lmtp: boolean,
  ) {
    this.extensions = extensions;
  }

  /**
   * Connect, read the greeting and say EHLO (LHLO for LMTP; HELO when EHLO is refused).
   * Rejects with a NetError, or with PROTOCOL when the greeting is not 220.
   */
  static async open(endpoint: Endpoint, opts: SmtpClientOptions): Promise<SmtpClient> {
    const conn = await connect(endpoint, { deadline: opts.deadline });
    try {
      const greeting = await readReply(conn);
      if (greeting.code !== 220) {
        throw new NetError('PROTOCOL', `${conn.label}: greeting ${greeting.code} ${greeting.lines.join(' ')}`);
      }
      const name = opts.heloName ?? 'avbench.localhost';
      const lmtp = opts.lmtp === true;
      await conn.write(Buffer.from(`${lmtp ? 'LHLO' : 'EHLO'} ${name}\r\n`, 'latin1'));
      let hello = await readReply(conn);
      if (hello.code !== 250 && !lmtp) {
        await conn.write(Buffer.from(`HELO ${name}\r\n`, 'latin1'));
        hello = await readReply(conn);
      }
      if (hello.code !== 250) {
        throw new NetError('PROTOCOL', `${conn.label}: ${lmtp ? 'LHLO' : 'EHLO/HELO'} refused: ${hello.code} ${hello.lines.join(' ')}`);
      }
      const ext = new Set(hello.lines.slice(1).map((l) => (l.split(' ')[0] ?? '').toUpperCase()));
      return new SmtpClient(conn, ext, greeting, lmtp);
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  /** True when the server offers PIPELINING. */
  get pipelining(): boolean {
    return this.extensions.has('PIPELINING');
  }

  /** False once the connection closed or a transaction broke it; it must then be discarded. */
  get usable(): boolean {
    return !this.broken && !this.conn.closed;
  }

  /** Where it is connected. */
  get label(): string {
    return this.conn.label;
  }

  /**
   * Send one message. `body` is the message as it should arrive (not dot-stuffed; the
   * client stuffs it). Rejects with a NetError on network trouble (the connection is then
   * unusable); SMTP refusals resolve with the replies. `deadline` is absolute.
   */
  async send(env: Envelope, body: Buffer | readonly Buffer[], deadline: number, opts: { pipelining?: boolean } = {}): Promise<TransactionResult> {
    if (env.to.length === 0) throw new TypeError('SmtpClient.send: no recipients');
    this.conn.setDeadline(deadline);
    const pieces = Array.isArray(body) ? dotStuffPieces(body as readonly Buffer[]) : dotStuff(body as Buffer);
    this.answered = 0;
    try {
      const res = await this.transact(env, pieces, opts.pipelining !== false && this.pipelining);
      this.dirty = res.stage !== 'done';
      return res;
    } catch (err) {
      this.broken = true;
      this.conn.destroy();
      if (this.answered === 0 && err instanceof NetError && (err.code === 'CONNECT_FAILED' || err.code === 'TIMEOUT')) throw new UnansweredError(err);
      throw err;
    }
  }

  /** Read one reply of the current transaction. */
  private async reply(): Promise<SmtpReply> {
    const r = await readReply(this.conn);
    this.answered++;
    return r;
  }

  private async transact(env: Envelope, stuffed: Buffer[], pipelining: boolean): Promise<TransactionResult> {
    const params = (env.params ?? []).filter((p) => {
      const key = (p.split('=')[0] ?? '').toUpperCase();
      return key === 'BODY' ? this.extensions.has('8BITMIME') : key === 'SIZE' ? this.extensions.has('SIZE') : true;
    });
    const mailCmd = `MAIL FROM:<${env.from}>${params.length > 0 ? ' ' + params.join(' ') : ''}\r\n`;
    const rcptCmds = env.to.map((t) => `RCPT TO:<${t}>\r\n`);
    const rset = this.dirty;
    let mail: SmtpReply;
    const rcpt: SmtpReply[] = [];
    let data: SmtpReply;
    if (pipelining) {
      await this.conn.write(Buffer.from(`${rset ? 'RSET\r\n' : ''}${mailCmd}${rcptCmds.join('')}DATA\r\n`, 'latin1'));
      if (rset) await this.reply();
      mail = await this.reply();
      for (let i = 0; i < rcptCmds.length; i++) rcpt.push(await this.reply());
      data = await this.reply();
    } else {
      if (rset) {
        await this.conn.write(Buffer.from('RSET\r\n', 'latin1'));
        await this.reply();
      }
      await this.conn.write(Buffer.from(mailCmd, 'latin1'));
      mail = await this.reply();
      if (mail.code !== 250) return { stage: 'mail', mail, rcpt, final: [], decisive: mail };
      for (const c of rcptCmds) {
        await this.conn.write(Buffer.from(c, 'latin1'));
        rcpt.push(await this.reply());
      }
      if (!rcpt.some((r) => r.code === 250 || r.code === 251)) {
        return { stage: 'rcpt', mail, rcpt, final: [], decisive: firstRefusal(rcpt) ?? mail };
      }
      await this.conn.write(Buffer.from('DATA\r\n', 'latin1'));
      data = await this.reply();
    }
    const accepted = rcpt.filter((r) => r.code === 250 || r.code === 251).length;
    if (mail.code !== 250) {
      if (data.code === 354) await this.abortData();
      return { stage: 'mail', mail, rcpt, data, final: [], decisive: mail };
    }
    if (accepted === 0) {
      if (data.code === 354) await this.abortData();
      return { stage: 'rcpt', mail, rcpt, data, final: [], decisive: firstRefusal(rcpt) ?? data };
    }
    if (data.code !== 354) return { stage: 'data', mail, rcpt, data, final: [], decisive: data };
    await this.conn.write(...stuffed);
    const final: SmtpReply[] = [];
    const n = this.lmtp ? accepted : 1;
    for (let i = 0; i < n; i++) final.push(await this.reply());
    const refused = firstRefusal(final);
    const partial = rcpt.length > accepted ? firstRefusal(rcpt) : undefined;
    return { stage: 'done', mail, rcpt, data, final, decisive: refused ?? partial ?? (final[0] as SmtpReply) };
  }

  /** DATA was accepted when it should not have been: the transaction cannot be finished safely. */
  private async abortData(): Promise<void> {
    // Ending DATA would deliver an empty message; cutting the connection makes the server drop it.
    this.broken = true;
    this.conn.destroy();
    await Promise.resolve();
  }

  /** Say QUIT and close (best effort, bounded by `deadline`). */
  async quit(deadline = Date.now() + 1_000): Promise<void> {
    if (!this.usable) {
      this.conn.destroy();
      return;
    }
    try {
      this.conn.setDeadline(deadline);
      await this.conn.write(Buffer.from('QUIT\r\n', 'latin1'));
      await readReply(this.conn);
    } catch {
      /* closing anyway */
    } finally {
      this.conn.close();
    }
  }

  /** Tear the connection down at once. */
  destroy(): void {
    this.broken = true;
    this.conn.destroy();
  }
}

function firstRefusal(replies: readonly SmtpReply[]): SmtpReply | undefined {
  return replies.find((r) => r.code >= 400);
}

/** Dot-stuff a message given as pieces (headers to prepend, then the body). */
function dotStuffPieces(pieces: readonly Buffer[]): Buffer[] {
  return dotStuff(pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces as Buffer[]));
}
