/**
 * FAKE servers for faults a real one cannot be made to show on demand, each named as a
 * fake: a clamd that accepts and never answers, a next hop that answers too late, and a
 * relay that cuts (or reports) a connection after N bytes — to put a fault in the middle
 * of a message body deterministically.
 */
import * as net from 'node:net';

/** A fake listening on loopback; `close()` destroys its sockets. */
export interface Fake {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

function serve(onSocket: (s: net.Socket) => void): Promise<Fake> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const srv = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    onSocket(s);
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      resolve({
        port: (srv.address() as net.AddressInfo).port,
        get accepted() {
          return accepted;
        },
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            srv.close(() => r());
          }),
      });
    });
  });
}

/** FAKE clamd: accepts, reads whatever is sent (zIDSESSION, INSTREAM chunks), never answers. */
export function fakeHangingClamd(): Promise<Fake> {
  return serve((s) => {
    s.on('data', () => undefined);
  });
}

/**
 * FAKE next hop that is slow: `'banner'` waits `delayMs` before its 220 greeting;
 * `'final'` answers every command at once but the end of DATA only after `delayMs`.
 */
export function fakeSlowNextHop(where: 'banner' | 'final', delayMs: number): Promise<Fake> {
  return serve((s) => {
    const timers: NodeJS.Timeout[] = [];
    s.on('close', () => timers.forEach(clearTimeout));
    const later = (f: () => void): void => {
      timers.push(setTimeout(() => !s.destroyed && f(), delayMs));
    };
    let buf = '';
    let inData = false;
    const onLine = (line: string): void => {
      const u = line.toUpperCase();
      if (u.startsWith('EHLO') || u.startsWith('LHLO')) s.write('250-fake-slow\r\n250 PIPELINING\r\n');
      else if (u.startsWith('HELO')) s.write('250 fake-slow\r\n');
      else if (u.startsWith('MAIL') || u.startsWith('RCPT') || u.startsWith('RSET') || u.startsWith('NOOP')) s.write('250 ok\r\n');
      else if (u.startsWith('DATA')) {
        inData = true;
        s.write('354 go\r\n');
      } else if (u.startsWith('QUIT')) s.end('221 bye\r\n');
      else s.write('500 what\r\n');
    };
    s.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) {
            buf = buf.slice(-4);
            return;
          }
          buf = buf.slice(end + 5);
          inData = false;
          later(() => s.write('250 accepted (late)\r\n'));
          continue;
        }
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        onLine(line);
      }
    });
    if (where === 'banner') later(() => s.write('220 fake-slow ESMTP\r\n'));
    else s.write('220 fake-slow ESMTP\r\n');
  });
}

/** Options of {@link byteRelay}. */
export interface RelayOptions {
  /** Where to relay to. */
  target: { host: string; port: number };
  /**
   * Called once per connection when the client→target byte count passes `afterBytes`;
   * `cut()` destroys both sides of that connection at once.
   */
  afterBytes: number;
  onThreshold: (cut: () => void) => void;
}

/** A TCP relay (a test tool, not a server under test) that reports when N bytes of a connection went through. */
export function byteRelay(opts: RelayOptions): Promise<Fake> {
  return serve((client) => {
    const upstream = net.connect(opts.target.port, opts.target.host);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    let n = 0;
    let fired = false;
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (d: Buffer) => {
      n += d.length;
      upstream.write(d);
      if (!fired && n > opts.afterBytes) {
        fired = true;
        opts.onThreshold(cut);
      }
    });
    upstream.on('data', (d: Buffer) => {
      if (!client.destroyed) client.write(d);
    });
  });
}

export { until } from '../helpers/wait.js';
