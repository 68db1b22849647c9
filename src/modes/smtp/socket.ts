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
 */
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

/** The parts of smtp-server's internal SMTPConnection that {@link greetAtOnce} relies on. */
interface SmtpConnectionInternals {
  _socket?: unknown;
  _ready?: boolean;
  _closing?: boolean;
  _closed?: boolean;
  connectionReady?: (next?: () => void) => void;
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
 * no-op. A connection refused by `maxClients` (already closing) is left alone. Returns
 * false, changing nothing, when smtp-server's internals are not what this expects (a new
 * major version): the greeting then keeps its delay, nothing breaks.
 */
export function greetAtOnce(server: SMTPServer): boolean {
  const s = server as unknown as SmtpServerInternals;
  const connect = s.connect;
  const connections = s.connections;
  const proto = Object.getPrototypeOf(server) as SmtpServerInternals;
  if (typeof connect !== 'function' || !(connections instanceof Set) || proto.connect !== connect) return false;
  s.connect = function (this: SmtpServerInternals, socket: Socket, options: unknown): void {
    // The connection smtp-server creates is the one it adds to `connections` during this
    // call: catch it there (O(1), however many clients are connected).
    let conn: SmtpConnectionInternals | undefined;
    const catchAdd = (c: SmtpConnectionInternals): Set<SmtpConnectionInternals> => {
      conn ??= c;
      return Set.prototype.add.call(connections, c) as Set<SmtpConnectionInternals>;
    };
    Object.defineProperty(connections, 'add', { value: catchAdd, configurable: true, writable: true });
    try {
      connect.call(this, socket, options);
    } finally {
      delete (connections as { add?: unknown }).add; // back to Set.prototype.add
    }
    if (conn?._socket !== socket) return;
    const ready = conn.connectionReady;
    if (typeof ready !== 'function' || conn._ready !== false || conn._closing === true || conn._closed === true) return;
    conn.connectionReady = () => undefined; // the armed 100 ms timer now does nothing
    ready.call(conn);
  };
  return true;
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

/** Everything above for one smtp-server instance; returns whether the greeting is immediate. */
export function tuneSmtpServer(server: SMTPServer): boolean {
  acceptSynchronously(server);
  server.server.prependListener('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    coalesceWrites(socket);
  });
  return greetAtOnce(server);
}
