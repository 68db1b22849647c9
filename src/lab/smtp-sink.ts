/**
 * Start Postfix's `smtp-sink` (the load-test SMTP server that throws mail away) on
 * loopback: the reference ceiling for SMTP benchmarks. `smtp-sink -u postfix
 * 127.0.0.1:PORT BACKLOG` (as root it drops to the postfix user).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { spawnDaemon, which, type Daemon } from '../core/exec.js';
import { connect, freePort } from '../core/net.js';
import { delay, discard, logTail, stopOnce } from './util.js';

/** Options of {@link startSmtpSink}. */
export interface StartSmtpSinkOptions {
  /** Default: a free port. */
  port?: number;
  /** Listen backlog (default 256). */
  backlog?: number;
  /** User to run as when started by root (default postfix). */
  user?: string;
  /** Extra smtp-sink options (before the address), e.g. ['-c']. */
  extraArgs?: readonly string[];
  /** Parent folder for its private folder (default: the OS temp folder). */
  dir?: string;
}

/** A running smtp-sink. */
export interface LabSmtpSink {
  /** `smtp://127.0.0.1:PORT` */
  url: string;
  host: string;
  port: number;
  pid: number;
  /** SIGTERM, SIGKILL after a grace period; removes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** Start smtp-sink and wait for its greeting (throws when it cannot start). */
export async function startSmtpSink(opts: StartSmtpSinkOptions = {}): Promise<LabSmtpSink> {
  const bin = (await which('smtp-sink')) ?? (await which('/usr/sbin/smtp-sink'));
  if (bin === undefined) throw new Error('smtp-sink is not installed (apt-get install postfix; see docs/install.md)');
  const folder = await mkdtemp(join(opts.dir ?? tmpdir(), 'avbench-smtp-sink-'));
  let daemon: Daemon | undefined;
  try {
    const port = opts.port ?? (await freePort());
    const asRoot = userInfo().uid === 0;
    const args = [...(asRoot ? ['-u', opts.user ?? 'postfix'] : []), ...(opts.extraArgs ?? []), `127.0.0.1:${port}`, String(opts.backlog ?? 256)];
    const logFile = join(folder, 'smtp-sink.log');
    daemon = await spawnDaemon(bin, args, { cwd: folder, logFile });
    await writeFile(join(folder, 'smtp-sink.pid'), `${daemon.pid}\n`, { mode: 0o600 });
    const d = daemon;
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (!ready && Date.now() < deadline && d.running()) {
      try {
        const c = await connect({ host: '127.0.0.1', port }, { deadline: Math.min(deadline, Date.now() + 1_000) });
        try {
          ready = (await c.readUntil('\n')).toString('latin1').startsWith('220');
          await c.write(Buffer.from('QUIT\r\n', 'latin1')).catch(() => undefined);
        } finally {
          c.destroy();
        }
      } catch {
        await delay(50);
      }
    }
    if (!ready) throw new Error(`smtp-sink ${d.running() ? 'did not greet in time' : 'exited'}: ${await logTail(logFile)}`);
    return {
      url: `smtp://127.0.0.1:${port}`,
      host: '127.0.0.1',
      port,
      pid: d.pid,
      stop: stopOnce(d, [folder], 3_000),
    };
  } catch (e) {
    await discard(daemon, [folder], 2_000);
    throw e;
  }
}
