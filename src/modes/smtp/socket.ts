/**
 * Socket tuning for our smtp-server listeners (proxy and sink), in one place:
 *
 * - **Greeting at once.** smtp-server (3.x) waits a fixed 100 ms after accepting a
 *   connection before it sends its 220 greeting ("early talker" detection, a hard-coded
 *   `setTimeout(connectionReady, 100)` in SMTPConnection.init(), with no option to turn it
 *   off). A sending MTA that opens a connection per message (Postfix's smtp-source, any
 *   MTA without a connection cache, every MTA on port 25) paid it on every message: it was
 *   most of the proxy's ~105 ms fixed per-connection cost. {@link greetAtOnce} greets as
 *   soon as the connection is set up (the same code path, only without the wait).
 * - **No Nagle stalls.** TCP_NODELAY on every accepted socket.
 * - **No idle hops.** smtp-server's default onConnect / onMailFrom / onRcptTo accept
 *   through `setImmediate(callback)`: one more event-loop turn before each of the
 *   greeting, the MAIL reply and every RCPT reply. We have nothing to check there, so
 *   they accept synchronously (smtp-server's parser supports that, it loops instead of
 *   recursing); handlers given in the options are left alone.
 * - **One write per batch.** smtp-server writes each reply with its own write(), so the
 *   replies to a pipelined MAIL/RCPT/DATA batch would cost three syscalls and three
 *   segments (and wake the peer three times); {@link coalesceWrites} makes them one.
 * - **No per-connection extras** ({@link acceptAtOnce}): smtp-server gives every accepted
 *   connection an id from crypto.randomBytes (~18 µs), waits one more event-loop turn
 *   (setImmediate) before setting it up, and asks the kernel for the local address
 *   (getsockname) — all for a PROXY-protocol header we never expect. The id comes from a
 *   counter instead, the set-up is synchronous, and the local address is the listening one.
 * - **Closed at once after QUIT** ({@link quitThenClose}): smtp-server answers QUIT with
 *   221, half-closes (shutdown) and reads until the client has closed too. smtp-source and
 *   most MTAs close at once on the 221 — smtp-source with a reset — so every connection
 *   ended with a shutdown that failed (ENOTCONN) and a read that failed (ECONNRESET), and Node
 *   built an Error with a stack trace for it (~25 µs per connection in a profile). Postfix's
 *   smtpd closes right after its 221 too.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { SMTPServer } from 'smtp-server';

/**
 * Make the writes of one synchronous run leave as one writev: cork on the first write,
 * uncork when the current call stack has finished (process.nextTick). smtp-server answers
 * the commands of one received chunk synchronously (with the accept handlers of
 * {@link tuneSmtpServer}), so the replies to a pipelined MAIL/RCPT/DATA batch are one
 * write, and a lone reply leaves without waiting for another event-loop turn.
 */
export function coalesceWrites(socket: Socket): void {
  const write = socket.write;
  let corked = false;
  const flush = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>): boolean {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      process.nextTick(flush);
    }
    return write.apply(this, args);
  } as Socket['write'];
}

/** The parts of smtp-server's internal SMTPConnection that {@link greetAtOnce} and {@link quitThenClose} rely on. */
interface SmtpConnectionInternals {
  _socket?: unknown;
  _ready?: boolean;
  _closing?: boolean;
  _closed?: boolean;
  connectionReady?: (next?: () => void) => void;
  handler_QUIT?: (command: unknown, callback: () => void) => void;
}

/** The parts of SMTPServer that {@link greetAtOnce} relies on. */
interface SmtpServerInternals {
  connect?: (socket: Socket, options: unknown) => void;
  connections?: Set<SmtpConnectionInternals>;
}

/**
 * Send the 220 greeting as soon as smtp-server has set a new connection up, instead of
 * after its fixed 100 ms early-talker wait. Wraps the instance's `connect` (the point
 * where smtp-server creates the SMTPConnection and arms the 100 ms timer): right after
 * it, the connection's `connectionReady()` runs, and the timer's own later call becomes a
 * no-op. A connection refused by `maxClients` (already closing) is left alone. The
 * connection's QUIT handler becomes {@link quitThenClose} here too. Returns
 * false, changing nothing, when smtp-server's internals are not what this expects (a new
 * major version): the greeting then keeps its delay, nothing breaks.
 */
export function greetAtOnce(server: SMTPServer): boolean {
  const s = server as unknown as SmtpServerInternals;
  const connect = s.connect;
  const connections = s.connections;
  const proto = Object.getPrototypeOf(server) as SmtpServerInternals;
  if (typeof connect !== 'function' || !(connections instanceof Set) || proto.connect !== connect) return false;
  // The connection smtp-server creates is the one it adds to `connections` during connect():
  // catch it there (O(1), however many clients are connected). The catcher is set once, as
  // the Set's own `add` (defining and deleting it per connection cost ~6 µs each time).
  let added: SmtpConnectionInternals | undefined;
  const catchAdd = function (this: Set<SmtpConnectionInternals>, c: SmtpConnectionInternals): Set<SmtpConnectionInternals> {
    added ??= c;
    return Set.prototype.add.call(this, c) as Set<SmtpConnectionInternals>;
  };
  Object.defineProperty(connections, 'add', { value: catchAdd, configurable: true, writable: true });
  s.connect = function (this: SmtpServerInternals, socket: Socket, options: unknown): void {
    added = undefined;
    connect.call(this, socket, options);
    const conn = added as SmtpConnectionInternals | undefined; // set by catchAdd during connect()
    added = undefined;
    if (conn?._socket !== socket) return;
    const proto = Object.getPrototypeOf(conn) as SmtpConnectionInternals;
    if (conn.handler_QUIT === proto.handler_QUIT && typeof proto.handler_QUIT === 'function') conn.handler_QUIT = quitThenClose;
    const ready = conn.connectionReady;
    if (typeof ready !== 'function' || conn._ready !== false || conn._closing === true || conn._closed === true) return;
    conn.connectionReady = noop; // the armed 100 ms timer now does nothing
    ready.call(conn);
  };
  return true;
}

function noop(): void {}

type QuitHandler = (command: unknown, callback: () => void) => void;

/**
 * smtp-server's own QUIT handler (221, then its close(): a half-close, the rest of the
 * input read and thrown away), then the descriptor closed at once when the 221 is already
 * in the kernel: no shutdown(), no read of the client's close or reset. The 221 still
 * leaves before the FIN. When the 221 could not be handed over whole (a client that does
 * not read and filled the socket buffer), smtp-server's half-close and timeout stay in charge.
 */
function quitThenClose(this: SmtpConnectionInternals, command: unknown, callback: () => void): void {
  (Object.getPrototypeOf(this) as { handler_QUIT: QuitHandler }).handler_QUIT.call(this, command, callback);
  // close() ended the socket: its end() flushed the 221 (a write the kernel took whole leaves
  // writableLength at 0) and queued a shutdown that a destroy now makes unnecessary.
  const socket = this._socket as Socket;
  if (!socket.destroyed && socket.writableLength === 0) socket.destroy();
}

type Accept = (...args: unknown[]) => void;

/** Replace smtp-server's setImmediate-deferred default accept handlers by synchronous ones (only where they are the defaults). */
function acceptSynchronously(server: SMTPServer): void {
  const s = server as unknown as Record<string, Accept | undefined>;
  const proto = Object.getPrototypeOf(server) as Record<string, Accept | undefined>;
  for (const name of ['onConnect', 'onMailFrom', 'onRcptTo']) {
    const current = s[name];
    if (current === undefined || current !== proto[name]) continue; // given in the options: keep it
    s[name] = (...args: unknown[]): void => {
      (args[args.length - 1] as () => void)();
    };
  }
}

/** The parts of SMTPServer that {@link acceptAtOnce} relies on. */
interface SmtpServerProxyInternals {
  options?: { useProxy?: unknown; ignoredHosts?: unknown };
  _handleProxy?: (socket: Socket, callback: (err: Error | null, socketOptions: Record<string, unknown>) => void) => void;
}

/**
 * Set an accepted connection up at once, as smtp-server does when no PROXY header is
 * expected, without what only the PROXY path needs: the session id is a per-server random
 * prefix and a counter (smtp-server draws 10 random bytes per connection), there is no
 * setImmediate before the set-up, and the local address is the listening one (no
 * getsockname) when the server listens on one address. Left alone (returns false) when
 * the server expects PROXY headers, ignores hosts, or smtp-server's internals differ.
 */
export function acceptAtOnce(server: SMTPServer): boolean {
  const s = server as unknown as SmtpServerProxyInternals;
  const proto = Object.getPrototypeOf(server) as SmtpServerProxyInternals;
  const o = s.options;
  if (typeof s._handleProxy !== 'function' || s._handleProxy !== proto._handleProxy || o === undefined) return false;
  if ((o.useProxy !== undefined && o.useProxy !== false) || (o.ignoredHosts !== undefined && o.ignoredHosts !== false)) return false;
  // 16 base-32 characters like smtp-server's ids: 8 random for this server, 8 of a counter.
  const prefix = BigInt('0x' + randomBytes(5).toString('hex')).toString(32).padStart(8, '0');
  let counter = 0;
  let local: { localAddress: string; localPort: number } | undefined;
  server.server.prependListener('listening', () => {
    const a = server.server.address();
    local = typeof a === 'object' && a !== null && a.address !== '0.0.0.0' && a.address !== '::' ? { localAddress: a.address, localPort: a.port } : undefined;
  });
  s._handleProxy = (socket, callback): void => {
    counter = (counter + 1) % 0x10000000000;
    const id = prefix + counter.toString(32).padStart(8, '0');
    callback(null, local === undefined ? { id } : { id, localAddress: local.localAddress, localPort: local.localPort });
  };
  return true;
}

/** Everything above for one smtp-server instance; returns whether the greeting is immediate. */
export function tuneSmtpServer(server: SMTPServer): boolean {
  acceptSynchronously(server);
  acceptAtOnce(server);
  server.server.prependListener('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    coalesceWrites(socket);
  });
  return greetAtOnce(server);
}
