/**
 * The one door for child processes. Everything that runs a program goes through here:
 * execa with an argument array, never a shell, always an absolute deadline.
 */
import type { execa as Execa } from 'execa';

let execaLoading: Promise<typeof Execa> | undefined;
/**
 * execa, loaded on the first run: a process that never starts a program (`avbench scan -s
 * clamd`, `serve smtp`) does not pay for loading it (measured: ~95 ms of CPU at start-up).
 */
function loadExeca(): Promise<typeof Execa> {
  execaLoading ??= import('execa').then((m) => m.execa);
  return execaLoading;
}

export interface RunOptions {
  /** Absolute deadline (Date.now() based). The process is killed (SIGKILL after SIGTERM) when it passes. */
  deadline?: number;
  signal?: AbortSignal;
  /** Bytes or text written to stdin (stdin is closed after). */
  input?: Buffer | string;
  /** An open file descriptor the child gets as its stdin, as `< FILE` in a shell gives a file, not a pipe (not with `input`). */
  stdinFd?: number;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Cap on captured stdout/stderr, bytes each (default 16 MiB). */
  maxBuffer?: number;
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
      /** NOT_AVAILABLE: could not start it (ENOENT, EACCES); TIMEOUT: deadline; ABORTED; SCANNER_EXIT: killed by a signal. */
      reason: 'NOT_AVAILABLE' | 'TIMEOUT' | 'ABORTED' | 'SCANNER_EXIT';
      message: string;
      exitCode?: number;
      signal?: string;
      stdout: string;
      stderr: string;
      ms: number;
    };

/**
 * Run `file` with `args` (no shell). Resolves with the exit code for any normal exit,
 * whatever its value; resolves `ok: false` when it could not start, was killed, or
 * ran past its deadline.
 */
export async function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const execa = await loadExeca();
  const started = Date.now();
  const timeout = opts.deadline === undefined ? undefined : Math.max(1, opts.deadline - started);
  // The child leads its own process group, so the deadline and an abort kill everything it
  // started (a vendor scanner is often a shell wrapper whose grandchild holds stdout open).
  const sub = execa(file, args, {
    reject: false,
    shell: false,
    detached: true,
    cleanup: true,
    stripFinalNewline: false,
    encoding: 'utf8',
    maxBuffer: opts.maxBuffer ?? 16 * 1024 * 1024,
    windowsHide: true,
    // (execa hands an integer to spawn() as the child's own fd; its types list only 0 and 3-9.)
    ...(opts.input !== undefined ? { input: opts.input } : opts.stdinFd !== undefined ? { stdin: opts.stdinFd as 3 } : { stdin: 'ignore' as const }),
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    ...(opts.env === undefined ? {} : { env: opts.env, extendEnv: true }),
  });
  if (sub.pid !== undefined) liveGroups.add(sub.pid);
  let ended: 'TIMEOUT' | 'ABORTED' | undefined;
  let forceTimer: NodeJS.Timeout | undefined;
  const killGroup = (why: 'TIMEOUT' | 'ABORTED'): void => {
    if (ended !== undefined) return;
    ended = why;
    signalGroup(sub.pid, 'SIGTERM');
    forceTimer = setTimeout(() => signalGroup(sub.pid, 'SIGKILL'), 2_000);
  };
  const deadlineTimer = timeout === undefined ? undefined : setTimeout(() => killGroup('TIMEOUT'), timeout);
  const onAbort = (): void => killGroup('ABORTED');
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  let result;
  try {
    result = await sub;
  } finally {
    if (sub.pid !== undefined) liveGroups.delete(sub.pid);
    clearTimeout(deadlineTimer);
    clearTimeout(forceTimer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const ms = Date.now() - started;
  const stdout = typeof result.stdout === 'string' ? result.stdout : '';
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  if (ended === 'TIMEOUT') {
    return { ok: false, reason: 'TIMEOUT', message: `${file} ran past its deadline (${timeout ?? 0} ms) and was killed`, stdout, stderr, ms };
  }
  if (ended === 'ABORTED') {
    return { ok: false, reason: 'ABORTED', message: `${file} was aborted`, stdout, stderr, ms };
  }
  const code = (result as { code?: string }).code;
  if (result.exitCode === undefined && result.signal === undefined && result.failed) {
    const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not executable' : (result.shortMessage ?? 'could not start');
    return { ok: false, reason: 'NOT_AVAILABLE', message: `${file}: ${why}`, stdout, stderr, ms };
  }
  if (result.signal !== undefined) {
    return {
      ok: false,
      reason: 'SCANNER_EXIT',
      message: `${file} was killed by ${result.signal}`,
      signal: result.signal,
      stdout,
      stderr,
      ms,
    };
  }
  return { ok: true, exitCode: result.exitCode ?? 0, stdout, stderr, ms };
}

/** Process groups of running `run()` children: killed if this process exits first (detached children are not cleaned up by execa). */
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
