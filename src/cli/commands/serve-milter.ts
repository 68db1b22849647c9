/**
 * `avbench serve milter --listen inet:PORT@HOST|unix:PATH --scanner NAME [--on-infected ...]
 * [--on-fail ...] [--config FILE]`: our milter front end (point B), until SIGINT/SIGTERM.
 * Logs one line per message on stderr. The lead wires it under `serve`.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { adapterByName } from '../../../adapters/index.js';
import { loadConfig } from '../../config/config.js';
import type { Adapter } from '../../core/types.js';
import { createMilterServer, ON_FAIL, ON_INFECTED, REPLY_STEPS, type MilterMessageEvent, type OnFail, type OnInfected, type ReplySteps } from '../../modes/milter/server.js';
import type { CliState } from '../main.js';

/** Options of `serve milter` (the parsed command line). */
export interface ServeMilterArgs {
  listen: string;
  scanner: string[];
  onInfected: OnInfected;
  onFail: OnFail;
  rejectMessage: string;
  addHeader: boolean;
  config?: string;
  timeout: number;
  /** unix socket mode, octal text (default 660; 666 lets an MTA running as another user in, e.g. Postfix's smtpd). */
  socketMode?: string;
  /** Which milter steps are answered (server `replySteps`; default auto). */
  replySteps?: ReplySteps;
}

/** Parse an octal socket mode (`660`, `0666`); throws for anything else. */
export function parseSocketMode(text: string): number {
  if (!/^0?[0-7]{3}$/.test(text)) throw new TypeError(`--socket-mode must be octal like 660 or 0666, got ${JSON.stringify(text)}`);
  return Number.parseInt(text, 8);
}

/** One log line for a message: time, connection, queue id, sender, size, verdict, action, ms. */
export function formatMilterEvent(e: MilterMessageEvent): string {
  const what =
    e.verdict.status === 'infected'
      ? `infected ${[...new Set(e.verdict.detections.map((d) => d.name))].join(',')}`
      : e.verdict.status === 'error'
        ? `error ${e.verdict.error.code} (${e.verdict.error.message})`
        : 'clean';
  return `${new Date().toISOString()} conn=${e.connection} id=${e.queueId ?? '-'} from=${e.from ?? '-'} client=${e.client ?? '-'} bytes=${e.bytes} ${what} action=${JSON.stringify(e.action)} ms=${e.ms.toFixed(1)}`;
}

/** The `serve milter` command module (mount it under a `serve` parent command). */
export function serveMilterCommand(state: CliState): CommandModule<object, ServeMilterArgs> {
  return {
    command: 'milter',
    describe: 'Run our milter (Postfix smtpd_milters / Sendmail INPUT_MAIL_FILTER) around a scanner',
    builder: (y: Argv) =>
      y
        .option('listen', { alias: 'l', type: 'string', default: 'inet:7357@127.0.0.1', describe: 'inet:PORT@HOST or unix:PATH' })
        .option('scanner', { alias: 's', type: 'string', array: true, nargs: 1, default: ['embedded'], describe: 'scanner name (repeatable)' })
        .option('on-infected', { type: 'string', choices: ON_INFECTED as string[], default: 'reject', describe: 'action for an infected message' })
        .option('on-fail', { type: 'string', choices: ON_FAIL as string[], default: 'tempfail', describe: 'action when the scan fails (accept = fail open, marked Unchecked)' })
        .option('reject-message', { type: 'string', default: 'Virus found: %v', describe: 'text after "550 5.7.1 "; %v = virus names' })
        .option('add-header', { type: 'boolean', default: true, describe: 'add X-Virus-Scanned / X-Virus-Status (--no-add-header to skip)' })
        .option('reply-steps', { type: 'string', choices: REPLY_STEPS as string[], default: 'auto', describe: 'steps the MTA waits for an answer to: auto = fewest on unix, data on TCP (docs/milter.md)' })
        .option('socket-mode', { type: 'string', default: '660', describe: 'unix socket mode (octal); 666 when the MTA runs as another user' })
        .check((a) => {
          parseSocketMode(String(a['socketMode'] ?? '660'));
          return true;
        })
        .option('timeout', { type: 'number', default: 30_000, describe: 'scan time limit per message (ms)' })
        .option('config', { alias: 'c', type: 'string', describe: 'config file (default: ./avbench.config.json when present)' })
        .example('$0 serve milter --listen inet:7357@127.0.0.1 --scanner clamd', 'Postfix: smtpd_milters = inet:127.0.0.1:7357') as unknown as Argv<ServeMilterArgs>,
    handler: async (args: ArgumentsCamelCase<ServeMilterArgs>) => {
      state.exitCode = await runServeMilter(args);
    },
  };
}

let pending: string[] = [];
let flushTimer: NodeJS.Timeout | undefined;
let exitHooked = false;

/** Write the buffered log lines now (one write). */
function flushStderrLog(): void {
  if (flushTimer !== undefined) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (pending.length === 0) return;
  const text = pending.join('');
  pending = [];
  process.stderr.write(text);
}

/**
 * The default log: lines to stderr, gathered for at most 20 ms and written together.
 * stderr redirected to a file is a synchronous write per call in Node; one per message was
 * ~15 % of the milter's CPU behind Postfix at 300 msg/s (profile in docs/milter.md).
 */
function stderrLog(line: string): void {
  pending.push(`${line}\n`);
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', flushStderrLog);
  }
  if (pending.length >= 256) flushStderrLog();
  else flushTimer ??= setTimeout(flushStderrLog, 20).unref();
}

/**
 * Run the milter until SIGINT/SIGTERM (or until `stop` aborts, for tests and embedding);
 * resolves to the exit code (0 after a clean stop, 2 for a scanner or listen problem).
 * `log` receives the per-message lines (default: stderr).
 */
export async function runServeMilter(
  args: ServeMilterArgs,
  stop?: AbortSignal,
  log: (line: string) => void = stderrLog,
): Promise<number> {
  const { config } = await loadConfig(args.config);
  const adapters: Adapter[] = [...new Set(args.scanner)].map((n) => adapterByName(n, config));
  try {
    for (const a of adapters) {
      const p = await a.probe();
      if (!p.available) {
        log(`avbench: scanner ${a.name} is not available: ${p.reason ?? 'no reason given'}`);
        return 2;
      }
    }
    const server = createMilterServer({
      scanners: adapters,
      listen: args.listen,
      onInfected: args.onInfected,
      onFail: args.onFail,
      rejectMessage: args.rejectMessage,
      addHeader: args.addHeader,
      limits: { timeoutMs: args.timeout },
      ...(args.replySteps === undefined ? {} : { replySteps: args.replySteps }),
      ...(args.socketMode === undefined ? {} : { socketMode: parseSocketMode(args.socketMode) }),
      onMessage: (e) => log(formatMilterEvent(e)),
      onConnectionError: (e) => log(`${new Date().toISOString()} connection error: ${e.message}`),
    });
    try {
      await server.listen();
    } catch (err) {
      log(`avbench: cannot listen on ${args.listen}: ${(err as Error).message}`);
      return 2;
    }
    log(`avbench milter listening on ${server.address} (scanners: ${adapters.map((a) => a.name).join(', ')}; on infected: ${args.onInfected}; on fail: ${args.onFail})`);
    const why = await new Promise<string>((resolve) => {
      const onInt = (): void => done('SIGINT');
      const onTerm = (): void => done('SIGTERM');
      const onStop = (): void => done('stopped');
      function done(w: string): void {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        stop?.removeEventListener('abort', onStop);
        resolve(w);
      }
      if (stop?.aborted) return done('stopped');
      process.once('SIGINT', onInt);
      process.once('SIGTERM', onTerm);
      stop?.addEventListener('abort', onStop, { once: true });
    });
    log(`avbench milter: ${why}, closing`);
    await server.close();
    return 0;
  } finally {
    flushStderrLog();
    await Promise.all(adapters.map((a) => a.close().catch(() => undefined)));
  }
}
