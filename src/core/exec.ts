/**
 * The one door for child processes. Everything that runs a program goes through here:
 * an argument array, never a shell, always an absolute deadline.
 *
 * `run()` is built on node:child_process's spawn(), not on execa: it is on the per-message
 * path of `avbench deliver` (the MTA starts one avbench per message, which starts the
 * delivery COMMAND), where execa cost ~9 ms of a ~62 ms delivery — loading and evaluating
 * it and the built-ins it pulls in (measured 2026-12-04 with NODE_EXTRA_CA_CERTS unset:
 * 61.6 → 52.6 ms, medians of 40 alternating runs, the same delivery through spawn()).
 * `spawnDaemon` and `spawnPiped` start long-lived lab processes, where that cost does not
 * matter, and keep execa for its clean-up of children when avbench exits or is signalled.
 */
import type * as ChildProcesses from 'node:child_process';
import type { execa as Execa } from 'execa';

let execaLoading: Promise<typeof Execa> | undefined;
/**
 * execa, loaded on the first spawnDaemon/spawnPiped: a process that starts no daemon does
 * not pay for loading it (measured: ~95 ms of CPU at start-up).
 */
function loadExeca(): Promise<typeof Execa> {
  execaLoading ??= import('execa').then((m) => m.execa);
  return execaLoading;
}

let childProcesses: typeof ChildProcesses | undefined;
/** node:child_process, loaded on the first run() (~3 ms: `scan -s clamd` or `serve smtp` never loads it). */
function spawner(): typeof ChildProcesses.spawn {
  childProcesses ??= process.getBuiltinModule('node:child_process');
  return childProcesses.spawn;
}

/** Default cap on each of stdout and stderr: 16 MiB. */
const DEFAULT_MAX_BUFFER = 16 * 1024 * 1024;
/** Grace between SIGTERM and SIGKILL for a group killed at its deadline, abort or output cap. */
const KILL_GRACE_MS = 2_000;

export interface RunOptions {
  /** Absolute deadline (Date.now() based). The process is killed (SIGKILL after SIGTERM) when it passes. */
  deadline?: number;
  signal?: AbortSignal;
  /** Bytes or text written to stdin (stdin is closed after). */
  input?: Buffer | string;
  /** An open file descriptor the child gets as its stdin, as `< FILE` in a shell gives a file, not a pipe (not with `input`). */
  stdinFd?: number;
  cwd?: string;
  /** Variables added to (or, when undefined, removed from) this process's environment. */
  env?: Record<string, string | undefined>;
  /**
   * Cap on captured stdout and on captured stderr, bytes each (default 16 MiB). What happens
   * past it is `onOverflow`'s choice.
   */
  maxBuffer?: number;
  /**
   * Output past `maxBuffer`: `fail` (default) kills the group and resolves `LIMIT_EXCEEDED`
   * (a scanner's report cut short must not become a verdict); `truncate` keeps the first
   * `maxBuffer` bytes, reads on and discards the rest, and lets the program run to its own
   * exit (output that is only diagnostics, e.g. a delivery agent's).
   */
  onOverflow?: 'fail' | 'truncate';
}

/** Outcome of one process run. Never thrown: a failing program is data. */
export type RunResult =
  | {
      ok: true;
      exitCode: number;
      stdout: string;
      stderr: string;
      ms: number;
    }
  | {
      ok: false;
      /**
       * NOT_AVAILABLE: could not start it (ENOENT, EACCES); TIMEOUT: deadline; ABORTED;
       * SCANNER_EXIT: killed by a signal; LIMIT_EXCEEDED: wrote more than `maxBuffer` (killed).
       */
      reason: 'NOT_AVAILABLE' | 'TIMEOUT' | 'ABORTED' | 'SCANNER_EXIT' | 'LIMIT_EXCEEDED';
      message: string;
      exitCode?: number;
      signal?: string;
      stdout: string;
      stderr: string;
      ms: number;
    };

/**
 * Run `file` with `args` (no shell). Resolves with the exit code for any normal exit,
 * whatever its value; resolves `ok: false` when it could not start, was killed, ran past
 * its deadline or wrote more than its output cap (unless `onOverflow: 'truncate'`).
 *
 * The child leads its own process group, so the deadline, an abort and the output cap kill
 * everything it started (a vendor scanner is often a shell wrapper whose grandchild holds
 * stdout open): SIGTERM to the group, SIGKILL 2 s later. The result comes when the child has
 * exited and its stdout and stderr are closed.
 */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const timeout = opts.deadline === undefined ? undefined : Math.max(1, opts.deadline - started);
  const cap = opts.maxBuffer ?? DEFAULT_MAX_BUFFER;
  let child: ChildProcesses.ChildProcess;
  try {
    child = spawner()(file, args, {
      shell: false,
      detached: true,
      windowsHide: true,
      stdio: [opts.input !== undefined ? 'pipe' : (opts.stdinFd ?? 'ignore'), 'pipe', 'pipe'],
      ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
      ...(opts.env === undefined ? {} : { env: { ...process.env, ...opts.env } }),
    });
  } catch (err) {
    // What Node throws rather than emits (an argument with a NUL byte, a bad option).
    return Promise.resolve({ ok: false, reason: 'NOT_AVAILABLE', message: `${file}: could not start (${(err as Error).message})`, stdout: '', stderr: '', ms: Date.now() - started });
  }
  return new Promise<RunResult>((resolve) => {
    const pid = child.pid;
    if (pid !== undefined) liveGroups.add(pid);
    let ended: 'TIMEOUT' | 'ABORTED' | 'LIMIT_EXCEEDED' | undefined;
    let overflowed: 'stdout' | 'stderr' | undefined;
    let forceTimer: NodeJS.Timeout | undefined;
    const killGroup = (why: NonNullable<typeof ended>): void => {
      if (ended !== undefined) return;
      ended = why;
      signalGroup(pid, 'SIGTERM');
      forceTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
    };
    /** Keep up to `cap` bytes of a stream; past it, read on to the end (discarding) and, unless truncating, kill the group. */
    const capture = (stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr'): Buffer[] => {
      const chunks: Buffer[] = [];
      let room = cap;
      stream?.on('data', (chunk: Buffer) => {
        if (room < 0) return;
        if (chunk.length <= room) {
          chunks.push(chunk);
          room -= chunk.length;
          return;
        }
        if (room > 0) chunks.push(chunk.subarray(0, room));
        room = -1;
        if (opts.onOverflow === 'truncate') return;
        overflowed ??= name;
        killGroup('LIMIT_EXCEEDED');
      });
      stream?.on('error', () => undefined);
      return chunks;
    };
    const out = capture(child.stdout, 'stdout');
    const err = capture(child.stderr, 'stderr');
    if (opts.input !== undefined && child.stdin !== null) {
      // EPIPE when the child exits without reading all of it: its exit status says what happened.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
    const deadlineTimer = timeout === undefined ? undefined : setTimeout(() => killGroup('TIMEOUT'), timeout);
    const onAbort = (): void => killGroup('ABORTED');
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });

    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, startError?: NodeJS.ErrnoException): void => {
      if (settled) return;
      settled = true;
      if (pid !== undefined) liveGroups.delete(pid);
      clearTimeout(deadlineTimer);
      clearTimeout(forceTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      const ms = Date.now() - started;
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (ended === 'TIMEOUT') {
        resolve({ ok: false, reason: 'TIMEOUT', message: `${file} ran past its deadline (${timeout ?? 0} ms) and was killed`, stdout, stderr, ms });
      } else if (ended === 'ABORTED') {
        resolve({ ok: false, reason: 'ABORTED', message: `${file} was aborted`, stdout, stderr, ms });
      } else if (ended === 'LIMIT_EXCEEDED') {
        resolve({ ok: false, reason: 'LIMIT_EXCEEDED', message: `${file} wrote more than ${cap} bytes on ${overflowed ?? 'stdout'} (maxBuffer) and was killed`, stdout, stderr, ms });
      } else if (startError !== undefined) {
        const why = startError.code === 'ENOENT' ? 'not found' : startError.code === 'EACCES' ? 'not executable' : `could not start (${startError.message})`;
        resolve({ ok: false, reason: 'NOT_AVAILABLE', message: `${file}: ${why}`, stdout, stderr, ms });
      } else if (signal !== null) {
        resolve({ ok: false, reason: 'SCANNER_EXIT', message: `${file} was killed by ${signal}`, signal, stdout, stderr, ms });
      } else {
        resolve({ ok: true, exitCode: code ?? 0, stdout, stderr, ms });
      }
    };
    // 'error' without a pid: it did not start (ENOENT, EACCES, EMFILE...). With one, Node emits
    // it only for a failed kill() or IPC, neither used here: the 'close' that follows settles.
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (child.pid === undefined) finish(null, null, e);
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => finish(code, signal));
  });
}

/** Process groups of running `run()` children: killed if this process exits first (a detached child is not killed with it). */
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pid of liveGroups) signalGroup(pid, 'SIGKILL');
});

/** Send `sig` to the process group led by `pid` (falls back to the process alone). */
function signalGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** Is `file` runnable? Looks it up on PATH without running it. */
export async function which(file: string): Promise<string | undefined> {
  const { access, constants } = await import('node:fs/promises');
  const { delimiter, join, isAbsolute } = await import('node:path');
  const candidates = isAbsolute(file) || file.includes('/')
    ? [file]
    : (process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter).concat(['/usr/sbin', '/sbin']).map((d) => join(d, file));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Options of {@link spawnDaemon}. */
export interface DaemonOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** stdout and stderr are appended to this file (else discarded). */
  logFile?: string;
  /**
   * Outlive this process: own process group, not killed when avbench exits, not holding
   * avbench's event loop open (`avbench lab up --detach`).
   */
  detached?: boolean;
}

/** How a daemon ended. */
export interface DaemonExit {
  exitCode?: number;
  signal?: string;
}

/** A long-running child process started by {@link spawnDaemon}. */
export interface Daemon {
  readonly pid: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<DaemonExit>;
  /** True once the process has exited. */
  readonly running: () => boolean;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5 s); resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** What {@link started} needs of an execa child (whatever its options). */
interface StartingChild extends Promise<{ exitCode?: number | undefined; signal?: string | undefined }> {
  readonly pid?: number | undefined;
  once(event: 'spawn' | 'error', listener: (e: Error) => void): unknown;
}

/**
 * Wait until a long-running child has started; its pid, a promise of how it ended (never
 * rejects) and whether it still runs. Throws when it could not start.
 */
async function started(sub: StartingChild, file: string): Promise<{ pid: number; exited: Promise<DaemonExit>; running: () => boolean }> {
  let done = false;
  const exited: Promise<DaemonExit> = sub.then(
    (r) => {
      done = true;
      return { ...(r.exitCode === undefined ? {} : { exitCode: r.exitCode }), ...(r.signal === undefined ? {} : { signal: r.signal }) };
    },
    () => {
      done = true;
      return {};
    },
  );
  await new Promise<void>((resolve, reject) => {
    sub.once('spawn', () => resolve());
    sub.once('error', (e) => reject(new Error(`${file}: could not start (${e.message})`)));
  });
  const pid = sub.pid;
  if (pid === undefined) throw new Error(`${file}: could not start (no pid)`);
  return { pid, exited, running: () => !done };
}

/**
 * Start a daemon that stays in the foreground (no shell, argument array). Unlike
 * {@link run} it does not wait for the exit. The child is killed if this process exits.
 * Throws when the program cannot be started at all (a configuration problem).
 */
export async function spawnDaemon(file: string, args: readonly string[], opts: DaemonOptions = {}): Promise<Daemon> {
  const out = opts.logFile === undefined ? ('ignore' as const) : { file: opts.logFile, append: true };
  const execa = await loadExeca();
  const sub = execa(file, args, {
    reject: false,
    shell: false,
    cleanup: opts.detached !== true,
    detached: opts.detached === true,
    stdin: 'ignore',
    stdout: out,
    stderr: out,
    windowsHide: true,
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    ...(opts.env === undefined ? {} : { env: opts.env, extendEnv: true }),
  });
  const { pid, exited, running } = await started(sub, file);
  if (opts.detached === true) sub.unref();
  return {
    pid,
    exited,
    running,
    async stop(graceMs = 5_000): Promise<void> {
      if (!running()) return;
      sub.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (running()) sub.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A long-running child that reads lines on its stdin (see {@link spawnPiped}). */
export interface PipedProcess {
  readonly pid: number;
  /** Write to its stdin (dropped once it has exited). */
  write(text: string): void;
  /** True until it has exited. */
  running(): boolean;
  /** Close its stdin and wait for it to exit (SIGKILL after `graceMs`, default 2 s). */
  end(graceMs?: number): Promise<DaemonExit>;
}

/**
 * Start a program that reads our writes on its stdin (no shell, argument array), e.g.
 * `logger` for syslog. Its stdout and stderr are discarded; it is killed if this process
 * exits. Throws when it cannot be started.
 */
export async function spawnPiped(file: string, args: readonly string[]): Promise<PipedProcess> {
  const execa = await loadExeca();
  const sub = execa(file, args, { reject: false, shell: false, cleanup: true, stdin: 'pipe', stdout: 'ignore', stderr: 'ignore', windowsHide: true });
  const { pid, exited, running } = await started(sub, file);
  sub.stdin?.on('error', () => undefined);
  return {
    pid,
    write(text) {
      if (running() && sub.stdin?.writable === true) sub.stdin.write(text);
    },
    running,
    async end(graceMs = 2_000) {
      sub.stdin?.end();
      const timer = setTimeout(() => {
        if (running()) sub.kill('SIGKILL');
      }, graceMs);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}
