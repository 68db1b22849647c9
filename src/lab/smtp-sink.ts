/**
 * Start Postfix's `smtp-sink` (the load-test SMTP server that throws mail away) on
 * loopback: the reference ceiling for SMTP benchmarks. `smtp-sink -u postfix
 * 127.0.0.1:PORT BACKLOG` (as root it drops to the postfix user).
 */
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../core/net.js';
import { requireProgram, smtpListener, startLabDaemon, whenGreeting, type LabListener, type LabProcess } from './daemon.js';

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

/** A running smtp-sink (`url` = `smtp://127.0.0.1:PORT`). */
export interface LabSmtpSink extends LabListener, LabProcess {}

/** Start smtp-sink and wait for its greeting (throws when it cannot start). */
export async function startSmtpSink(opts: StartSmtpSinkOptions = {}): Promise<LabSmtpSink> {
  const bin = await requireProgram('smtp-sink', 'apt-get install postfix; see docs/install.md');
  const port = opts.port ?? (await freePort());
  const { pid, folder, stop } = await startLabDaemon({
    name: 'smtp-sink',
    dir: opts.dir,
    pidFile: 'smtp-sink.pid',
    stopGraceMs: 3_000,
    setup: async (folder) => ({
      bin,
      args: [...(userInfo().uid === 0 ? ['-u', opts.user ?? 'postfix'] : []), ...(opts.extraArgs ?? []), `127.0.0.1:${port}`, String(opts.backlog ?? 256)],
      outFile: join(folder, 'smtp-sink.log'),
      ...whenGreeting(port, 10_000),
    }),
  });
  return { pid, folder, stop, ...smtpListener(port) };
}
