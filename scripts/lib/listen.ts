/**
 * Wait until a freshly started server accepts connections (through the socket door,
 * src/core/net.ts): a connect that succeeds, or for an SMTP server its 220 greeting.
 */
import { connect, describeEndpoint, type Endpoint } from '../../src/core/net.js';

/** Options of {@link waitListening}. */
export interface WaitListeningOptions {
  /** How long to keep trying, ms (default 20 s). */
  timeoutMs?: number;
  /** False once the server process has exited: stop waiting at once. */
  alive?: () => boolean;
  /** `smtp`: the server must send a 220 greeting (answered with QUIT); `connect` (default): a connect is enough. */
  expect?: 'connect' | 'smtp';
  /** Pause between attempts, ms (default 50). */
  retryMs?: number;
  /** What the error says is missing (default: the endpoint). */
  what?: string;
}

/** Resolves once `ep` accepts (see {@link WaitListeningOptions}); throws when the time is up or the process died. */
export async function waitListening(ep: Endpoint, opts: WaitListeningOptions = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  const alive = opts.alive ?? (() => true);
  while (Date.now() < deadline && alive()) {
    try {
      const c = await connect(ep, { deadline: Math.min(deadline, Date.now() + 1_000) });
      try {
        if (opts.expect !== 'smtp') return;
        if ((await c.readUntil('\n')).toString('latin1').startsWith('220')) {
          await c.write(Buffer.from('QUIT\r\n', 'latin1')).catch(() => undefined);
          return;
        }
      } finally {
        c.destroy();
      }
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, opts.retryMs ?? 50));
  }
  const ms = opts.timeoutMs ?? 20_000;
  throw new Error(`${opts.what ?? describeEndpoint(ep)} did not ${opts.expect === 'smtp' ? 'greet' : 'listen'} within ${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s${alive() ? '' : ' (its process exited)'}`);
}

/** The TCP endpoint 127.0.0.1:port. */
export function loopback(port: number): Endpoint {
  return { host: '127.0.0.1', port };
}
