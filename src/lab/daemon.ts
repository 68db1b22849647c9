/**
 * The one skeleton of a lab daemon: a private folder, a generated config written into it,
 * the program spawned through the process door (src/core/exec.ts), a wait until it serves,
 * its PID recorded, and a `stop()` = signal + wait + remove the folder. Each starter
 * (clamd.ts, clamsmtpd.ts, rspamd.ts...) says only what differs: its folder's contents, its
 * command line and how to tell it is ready.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnDaemon, which, type Daemon } from '../core/exec.js';
import { freePort, type Endpoint } from '../core/net.js';
import { logTail, waitForListening, waitForSmtpGreeting } from './util.js';

/** What every running lab daemon has. */
export interface LabProcess {
  /** The process the lab started and waits for (the one `state.json` and `?pid=` name). */
  pid: number;
  /** The private folder (config, logs, sockets); removed by stop(). */
  folder: string;
  /** SIGTERM, SIGKILL after a grace period; removes the folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** Where a lab daemon listens on loopback. */
export interface LabListener {
  /** e.g. `smtp://127.0.0.1:PORT` */
  url: string;
  host: string;
  port: number;
}

/** The listener of an SMTP daemon on 127.0.0.1:port. */
export function smtpListener(port: number): LabListener {
  return { url: `smtp://127.0.0.1:${port}`, host: '127.0.0.1', port };
}

/** Where a lab milter listens. */
export interface LabMilterListener {
  /** `milter://127.0.0.1:PORT` or `milter+unix:///PATH` (for the milter driver / `--sut`). */
  url: string;
  /** `inet:PORT@127.0.0.1` or `unix:PATH` (for Postfix `smtpd_milters`, a milter's own config). */
  socket: string;
  endpoint: Endpoint;
}

/** A milter listener on the unix socket `unixPath`, else on 127.0.0.1:port (default: a free port). */
export async function milterListener(unixPath: string | undefined, port?: number): Promise<LabMilterListener> {
  if (unixPath !== undefined) return { url: `milter+unix://${unixPath}`, socket: `unix:${unixPath}`, endpoint: { path: unixPath } };
  const p = port ?? (await freePort());
  return { url: `milter://127.0.0.1:${p}`, socket: `inet:${p}@127.0.0.1`, endpoint: { host: '127.0.0.1', port: p } };
}

/** The path of an installed program, or an Error `NAME is not installed (HOW)`. */
export async function requireProgram(name: string, how: string): Promise<string> {
  const bin = await which(name);
  if (bin === undefined) throw new Error(`${name} is not installed (${how})`);
  return bin;
}

/** When a lab daemon is ready (part of {@link LabLaunch}). */
export interface LabReadiness {
  /** Is it serving? Checked until `deadline` while `alive()` (the starter polls its own way). */
  ready(deadline: number, alive: () => boolean): Promise<boolean>;
  /** How long it may take to become ready (ms). */
  readyTimeoutMs: number;
  /** What the error says when it still runs at the deadline, e.g. `did not greet in time`. */
  notReady: string;
}

/** Ready once 127.0.0.1:port greets with 220 (`greeting: false`: once it accepts connections). */
export function whenGreeting(port: number, readyTimeoutMs: number, greeting = true): LabReadiness {
  return { ready: (deadline, alive) => waitForSmtpGreeting(port, deadline, alive, greeting), readyTimeoutMs, notReady: 'did not greet in time' };
}

/** Ready once every endpoint accepts connections. */
export function whenListening(endpoints: readonly Endpoint[], readyTimeoutMs: number): LabReadiness {
  return { ready: (deadline, alive) => waitForListening(endpoints, deadline, alive), readyTimeoutMs, notReady: 'did not listen in time' };
}

/** How to launch a lab daemon once its folder is ready (what a starter's `setup` returns). */
export interface LabLaunch extends LabReadiness {
  /** The program and its arguments (no shell). */
  bin: string;
  args: readonly string[];
  /** The file its stdout and stderr are appended to (in its folder). */
  outFile: string;
  /** Logs whose tails the error carries, in order (default: `outFile`). */
  logs?: readonly string[];
}

/** Options of {@link startLabDaemon}. */
export interface LabDaemonSpec<L extends LabLaunch> {
  /** The name errors use (`clamsmtpd`, `Exim`). */
  name: string;
  /** The private folder is `avbench-SLUG-XXXXXX` (default: `name`). */
  slug?: string;
  /** Parent of the private folder (default: the OS temp folder). */
  dir?: string | undefined;
  /** Record the PID in this file of the folder (for programs that write no pid file of their own). */
  pidFile?: string;
  /** Grace before SIGKILL on stop() (ms). */
  stopGraceMs: number;
  /** Grace before SIGKILL when the start fails (ms, default 2 000). */
  failGraceMs?: number;
  /**
   * After the process has exited and before the folders go: end what it left behind (the
   * processes it forked). `failed`: the start failed.
   */
  afterExit?: (failed: boolean) => Promise<void>;
  /**
   * Fill the fresh folder (config, sub-folders) and say how to launch. `alsoRemove(path)`
   * names a folder outside it that stop() removes too (before the private folder).
   */
  setup(folder: string, alsoRemove: (path: string) => void): Promise<L>;
}

/** A lab daemon started by {@link startLabDaemon}. */
export interface LabStarted<L extends LabLaunch> extends LabProcess {
  /** What `setup` returned (ports, config paths...). */
  launch: L;
}

/**
 * Start one lab daemon: make its private folder, let `setup` fill it, spawn the program
 * (cwd = the folder), record its PID, wait until `ready`. Throws, with the tails of its
 * logs, when it cannot start, exits, or is not ready in time — having stopped it and removed
 * its folders. `stop()` is SIGTERM, SIGKILL after `stopGraceMs`, `afterExit`, then the
 * folders removed; every call returns the same promise.
 */
export async function startLabDaemon<L extends LabLaunch>(spec: LabDaemonSpec<L>): Promise<LabStarted<L>> {
  const folder = await mkdtemp(join(spec.dir ?? tmpdir(), `avbench-${spec.slug ?? spec.name}-`));
  const folders = [folder];
  let daemon: Daemon | undefined;
  const end = async (graceMs: number, failed: boolean): Promise<void> => {
    await daemon?.stop(graceMs);
    await spec.afterExit?.(failed);
    for (const f of folders) await rm(f, { recursive: true, force: true });
  };
  try {
    const launch = await spec.setup(folder, (path) => folders.unshift(path));
    const d = await spawnDaemon(launch.bin, launch.args, { cwd: folder, logFile: launch.outFile });
    daemon = d;
    if (spec.pidFile !== undefined) await writeFile(join(folder, spec.pidFile), `${d.pid}\n`, { mode: 0o600 });
    if (!(await launch.ready(Date.now() + launch.readyTimeoutMs, d.running))) {
      const tails = await Promise.all((launch.logs ?? [launch.outFile]).map((f) => logTail(f)));
      throw new Error(`${spec.name} ${d.running() ? launch.notReady : 'exited'}: ${tails.join('')}`);
    }
    let stopped: Promise<void> | undefined;
    return { launch, pid: d.pid, folder, stop: () => (stopped ??= end(spec.stopGraceMs, false)) };
  } catch (e) {
    await end(spec.failGraceMs ?? 2_000, true);
    throw e;
  }
}
