/**
 * What `serve smtp` and `serve milter` share as daemons (issue 12.4; docs/daemons.md):
 * options, start-up order, signals, reload, shutdown. Start-up order, as clamd's:
 *
 *   1. every option and the config file checked, --user/--group resolved, the log opened
 *      (a usage or config problem exits 2 before anything is bound);
 *   2. scanners opened and probed with a deadline (one not available now is logged: its
 *      mail tempfails, or is tagged with --on-fail accept, until it is back);
 *   3. the listener bound (EADDRINUSE: one line saying what to do, exit 2), a unix socket
 *      given its mode and owner;
 *   4. the pid file written, then root dropped for --user/--group;
 *   5. served until SIGTERM/SIGINT (drained within --drain), SIGHUP reloads.
 */
import type { ArgumentsCamelCase, Argv, CommandModule, Options } from 'yargs';
import { openScanners } from '../../adapters/open.js';
import { ConfigError, type AvbenchConfig } from '../config/config.js';
import { parseDuration } from '../config/duration.js';
import type { Adapter } from '../core/types.js';
import { serveUntilStopped } from '../daemon/lifecycle.js';
import { tuneDaemonHeap } from '../daemon/heap.js';
import { flushGatheredStderr, openDaemonLog, type DaemonLog, type LogFields } from '../daemon/log.js';
import { writePidFile, type PidFile } from '../daemon/pidfile.js';
import { dropPrivileges, resolveRunAs, type RunAs } from '../daemon/privileges.js';
import { FAIL_CHOICES, INFECTED_CHOICES } from '../modes/policy.js';
import { CONFIG_OPTION } from './options.js';
import type { CliState } from './types.js';

/** The daemon options both `serve` commands take. */
export interface DaemonArgs {
  scanner: string[];
  config?: string;
  pidFile?: string;
  user?: string;
  group?: string;
  syslog: boolean;
  syslogSocket?: string;
  drain: string;
}

/** yargs options of {@link DaemonArgs} (`--scanner` and `--config` are each command's own). */
export const daemonOptions: Record<string, Options> = {
  'pid-file': { type: 'string', describe: 'write the pid here once listening (removed on exit); a live pid in it refuses to start' },
  user: { type: 'string', describe: 'run as this user after binding (start as root)' },
  group: { type: 'string', describe: "run as this group after binding (default: the user's group)" },
  syslog: { type: 'boolean', default: false, describe: 'log to syslog (facility mail) instead of stderr' },
  'syslog-socket': { type: 'string', hidden: true, describe: 'syslog socket (tests)' },
  drain: { type: 'string', default: '30s', describe: 'on SIGTERM, how long messages in flight may take to finish (seconds, or 500ms, 2m)' },
};

/**
 * The options every front end has besides its own: `--scanner NAME` (repeatable, default
 * embedded) and the policy's `--on-infected` / `--on-fail`, whose help says what each choice
 * means on that front end's wire.
 */
export function frontEndOptions(help: { onInfected: string; onFail: string }): Record<string, Options> {
  return {
    scanner: { alias: 's', type: 'string', array: true, nargs: 1, default: ['embedded'], describe: 'scanner name (repeatable)' },
    'on-infected': { type: 'string', choices: INFECTED_CHOICES as string[], describe: help.onInfected },
    'on-fail': { type: 'string', choices: FAIL_CHOICES as string[], describe: help.onFail },
  };
}

/** What differs between the front ends' command modules (`serve smtp`, `serve milter`). */
export interface FrontEndCommandSpec<A> {
  command: string;
  describe: string;
  /** `--listen` / `-l`: its default and help. */
  listen: { default: string; describe: string };
  /** What `--on-infected` and `--on-fail` mean on this front end's wire. */
  policyHelp: { onInfected: string; onFail: string };
  /** The front end's own options: after --listen, --scanner and the policy's, before --config and the daemon options. */
  options(y: Argv): Argv;
  examples: readonly (readonly [string, string])[];
  epilogue: string;
  /** Run the front end until it is stopped; resolves to the exit code. */
  run(args: ArgumentsCamelCase<A>): Promise<number>;
}

/**
 * A front end's yargs module: `--listen`, {@link frontEndOptions}, its own options,
 * `--config`, {@link daemonOptions}; the handler sets the exit code `run` resolves to.
 */
export function frontEndCommand<A>(state: CliState, spec: FrontEndCommandSpec<A>): CommandModule<object, A> {
  return {
    command: spec.command,
    describe: spec.describe,
    builder: (y: Argv) => {
      let b = spec
        .options(y.option('listen', { alias: 'l', type: 'string', ...spec.listen }).options(frontEndOptions(spec.policyHelp)))
        .option('config', CONFIG_OPTION)
        .options(daemonOptions);
      for (const [cmd, what] of spec.examples) b = b.example(cmd, what);
      return b.epilogue(spec.epilogue) as unknown as Argv<A>;
    },
    handler: async (args: ArgumentsCamelCase<A>) => {
      state.exitCode = await spec.run(args);
    },
  };
}

/** Add {@link daemonOptions} to a command's builder. */
export function withDaemonOptions<T>(y: Argv<T>): Argv<T> {
  return y.options(daemonOptions) as Argv<T>;
}

/** What a started front end gives back to {@link runDaemon}. */
export interface RunningFrontEnd {
  /** Where it listens (for the one-line start and bind messages). */
  where: string;
  /** Fields of the `started` log line. */
  fields: LogFields;
  /** Swap the scanner set (SIGHUP). */
  setScanners(scanners: readonly Adapter[]): void;
  /** Stop accepting; finish what is in flight by `deadline`, cut the rest; called again (deadline now) on a second signal. */
  drain(deadline: number): Promise<{ cut: number }>;
}

/** How {@link runDaemon} starts one front end. */
export interface DaemonSpec<A extends DaemonArgs> {
  daemon: 'smtp' | 'milter';
  args: A;
  /** The address it will listen on, as the user wrote it (for bind errors). */
  listen: string;
  config: AvbenchConfig;
  /** Re-read the config file (SIGHUP). */
  reloadConfig(): Promise<AvbenchConfig>;
  /** How log lines reach stderr (default: gathered for up to 20 ms, daemon/log.ts gatheredStderr). */
  stderr?: (line: string) => void;
  /** Bind and serve with these scanners (throws on a bind error). */
  start(ctx: { scanners: readonly Adapter[]; log: DaemonLog; runAs: RunAs; drainMs: number }): Promise<RunningFrontEnd>;
}

/** A bind error as one line that says what to do. */
function bindProblem(err: unknown, where: string): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return `cannot listen on ${where}: the address is in use (another MTA, milter or avbench there?); stop it or choose another --listen`;
  if (code === 'EACCES') return `cannot listen on ${where}: permission denied (ports below 1024 need root; start as root with --user)`;
  if (code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: no such local address`;
  return undefined;
}

/**
 * Run a front end as a daemon (the order in this file's comment). Resolves to the exit
 * code: 0 after a clean stop, 2 when it could not start. Throws ConfigError for usage and
 * config problems (the CLI prints them, exit 2).
 */
export async function runDaemon<A extends DaemonArgs>(spec: DaemonSpec<A>): Promise<number> {
  const { args } = spec;
  const drainMs = parseDuration(args.drain, '--drain');
  let runAs: RunAs;
  try {
    runAs = resolveRunAs(args.user, args.group);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  let log: DaemonLog;
  try {
    log = await openDaemonLog({
      daemon: spec.daemon,
      syslog: args.syslog,
      ...(args.syslogSocket === undefined ? {} : { syslogSocket: args.syslogSocket }),
      ...(spec.stderr === undefined ? {} : { stderr: spec.stderr }),
    });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const names = [...new Set(args.scanner)];
  let current = await openScanners(names, spec.config, { require: false }).catch(async (err: unknown) => {
    await log.close();
    throw err;
  });
  const retired: Adapter[][] = [];
  for (const u of current.unavailable) log.write('warning', 'scanner-unavailable', { scanner: u.name, reason: u.reason, until_back: 'mail is tempfailed (or tagged with --on-fail accept)' });

  let running: RunningFrontEnd;
  tuneDaemonHeap(); // messages in flight are Buffers: fewer full collections (src/daemon/heap.ts)
  try {
    running = await spec.start({ scanners: current.adapters, log, runAs, drainMs });
  } catch (err) {
    const line = bindProblem(err, spec.listen) ?? `could not start: ${(err as Error).message}`;
    flushGatheredStderr(); // the log lines before it come first
    process.stderr.write(`avbench serve ${spec.daemon}: ${line}\n`);
    await current.close();
    await log.close();
    return 2;
  }

  let pid: PidFile | undefined;
  if (args.pidFile !== undefined) {
    try {
      pid = await writePidFile(args.pidFile);
    } catch (err) {
      flushGatheredStderr();
      process.stderr.write(`avbench serve ${spec.daemon}: ${(err as Error).message}\n`);
      await running.drain(Date.now());
      await current.close();
      await log.close();
      return 2;
    }
  }
  dropPrivileges(runAs);
  log.write('info', 'started', {
    ...running.fields,
    scanners: current.adapters.map((a) => a.name).join(','),
    pid: process.pid,
    user: runAs.user?.name,
    group: runAs.group?.name,
  });

  await serveUntilStopped(
    log,
    {
      reload: async () => {
        const config = await spec.reloadConfig();
        // A reload requires its scanners (a failed one keeps the old set running).
        const next = await openScanners(names, config, { require: true });
        const adapters = next.adapters;
        const probes = next.probes.map((p) => p.probe);
        running.setScanners(adapters);
        // Messages already being scanned finish with the old set: close it when they are done.
        const old = current.adapters;
        retired.push(old);
        setTimeout(() => void Promise.all(old.map((a) => a.close().catch(() => undefined))), (config.limits?.timeoutMs ?? 30_000) + 1_000).unref();
        current = { ...current, adapters, close: async () => void (await Promise.all(adapters.map((a) => a.close().catch(() => undefined)))) };
        return { scanners: adapters.map((a) => a.name).join(','), versions: probes.map((p) => p.version ?? '?').join(',') };
      },
      drain: (deadline) => running.drain(deadline),
    },
    { drainMs },
  );
  await pid?.remove().catch((err: unknown) => log.write('warning', 'pid-file', { error: `not removed: ${(err as Error).message}` }));
  await current.close();
  await Promise.all(retired.flat().map((a) => a.close().catch(() => undefined)));
  await log.close();
  return 0;
}
