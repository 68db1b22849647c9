/** Small helpers shared by the lab's daemon starters. */
import { readFile, rm } from 'node:fs/promises';
import type { Daemon } from '../core/exec.js';
import { connect } from '../core/net.js';

/** Last `n` bytes of a log file ('' when it cannot be read), for error messages. */
export async function logTail(file: string, n = 2_000): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.slice(-n);
  } catch {
    return '';
  }
}

/** Sleep `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A lab daemon's `stop()`: stop the process (SIGTERM, SIGKILL after `graceMs`), then remove
 * its private folders. Idempotent: every call returns the same promise.
 */
export function stopOnce(daemon: Daemon, folders: readonly string[], graceMs: number): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= discard(daemon, folders, graceMs);
    return stopped;
  };
}

/** Stop a daemon (if it was started) and remove its folders: the failed-start path. */
export async function discard(daemon: Daemon | undefined, folders: readonly string[], graceMs: number): Promise<void> {
  await daemon?.stop(graceMs);
  for (const f of folders) await rm(f, { recursive: true, force: true });
}

/**
 * Wait until an SMTP server at 127.0.0.1:port greets with `220` (then QUIT), polling every
 * 100 ms, while `alive()`; false at the deadline or when the process died. With
 * `greeting: false`, an accepted connection is enough (a server that greets only once its
 * own next hop answers, as clamsmtpd does).
 */
export async function waitForSmtpGreeting(port: number, deadline: number, alive: () => boolean, greeting = true): Promise<boolean> {
  while (Date.now() < deadline && alive()) {
    try {
      const c = await connect({ host: '127.0.0.1', port }, { deadline: Math.min(deadline, Date.now() + 1_000) });
      if (!greeting) {
        c.destroy();
        return true;
      }
      try {
        const line = (await c.readUntil('\n')).toString('latin1');
        if (line.startsWith('220')) {
          await c.write(Buffer.from('QUIT\r\n', 'latin1')).catch(() => undefined);
          return true;
        }
      } finally {
        c.destroy();
      }
    } catch {
      /* not yet */
    }
    await delay(100);
  }
  return false;
}
