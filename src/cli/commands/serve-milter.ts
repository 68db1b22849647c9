/**
 * `avbench serve milter --listen inet:PORT@HOST|unix:PATH --scanner NAME [--on-infected ...]
 * [--on-fail ...] [--config FILE]`: our milter front end (point B) run as a daemon the way
 * clamav-milter runs (docs/daemons.md), on the same kit as `serve smtp` (src/cli/daemon.ts):
 * SIGHUP reloads the config and scanners without dropping MTA connections, SIGTERM lets
 * the messages under way finish within --drain then exits 0, --pid-file, --user/--group
 * after binding, a unix socket given --socket-mode/--socket-owner/--socket-group before
 * root is dropped, one key=value log line per event on stderr or syslog (--syslog).
 * Every usage and config problem is found before anything is bound (exit 2).
 */
import type { CommandModule } from 'yargs';
import { ConfigError, loadConfig } from '../../config/config.js';
import { ownerOf } from '../../daemon/privileges.js';
import { parseSocketMode, resolveSocketOwner } from '../../daemon/unix-socket.js';
import { createMilterServer, REPLY_STEPS, type MilterMessageEvent, type ReplySteps } from '../../modes/milter/server.js';
import { parseTimeout, policyFrom, virusNames } from '../../modes/policy.js';
import { parseMilterSocket } from '../../modes/milter/socket-spec.js';
import { frontEndCommand, runDaemon, type DaemonArgs } from '../daemon.js';
import type { CliState } from '../types.js';

/** Options of `serve milter` (the parsed command line). */
export interface ServeMilterArgs extends DaemonArgs {
  listen: string;
  scanner: string[];
  /** The policy's words (src/modes/policy.ts; discard/accept: old spellings of drop/tag, warned). Unset: the config file's policy, else reject. */
  onInfected?: string;
  /** tempfail | accept. Unset: the config file's policy, else tempfail. */
  onFail?: string;
  rejectMessage: string;
  addHeader: boolean;
  config?: string;
  /** Scan time limit per message: seconds or a duration (`30s`, `500ms`); a bare number ≥ 1000 is the old milliseconds (warned). */
  timeout: string;
  /** unix socket mode, octal text (default 660; 666 lets an MTA running as another user in, e.g. Postfix's smtpd). */
  socketMode?: string;
  /** unix socket owner (user name or uid; default the --user). */
  socketOwner?: string;
  /** unix socket group (group name or gid; default the --group, else the --user's group). */
  socketGroup?: string;
  /** Which milter steps are answered (server `replySteps`; default auto). */
  replySteps?: ReplySteps;
}

/** The one parser of socket modes (src/daemon/unix-socket.ts), re-exported for existing callers. */
export { parseSocketMode };

/** What the MTA was told, in the log's past tense (the same words as serve smtp where they mean the same). */
function milterActionWord(e: MilterMessageEvent): { action: string; reply?: string } {
  if (e.action.startsWith('replycode ')) {
    const reply = e.action.slice('replycode '.length);
    return { action: reply.startsWith('4') ? 'tempfailed' : 'rejected', reply };
  }
  switch (e.action) {
    case 'tempfail':
      return { action: 'tempfailed' };
    case 'discard':
      return { action: 'dropped' };
    case 'quarantine':
      return { action: 'quarantined' };
    case 'accept':
      return { action: e.verdict.status === 'clean' ? 'accepted' : e.verdict.status === 'infected' ? 'tagged' : 'unchecked-accepted' };
    default:
      return { action: e.action };
  }
}

/**
 * The fields of one `event=message` log line (docs/daemons.md):
 * `conn=3 queue_id=4XyZ from=<a@b> client=127.0.0.1:40112 bytes=1534 verdict=infected
 * names=Eicar-Test-Signature action=rejected reply="550 5.7.1 ..." ms=1.9`.
 */
export function milterEventFields(e: MilterMessageEvent): Record<string, string | number | undefined> {
  const v = e.verdict;
  const { action, reply } = milterActionWord(e);
  return {
    conn: e.connection,
    queue_id: e.queueId,
    from: e.from,
    client: e.client,
    bytes: e.bytes,
    verdict: v.status,
    names: v.status === 'infected' ? virusNames(v).join(', ') : undefined,
    error: v.status === 'error' ? v.error.code : undefined,
    error_text: v.status === 'error' ? v.error.message : undefined,
    action,
    reply,
    ms: Number(e.ms.toFixed(1)),
  };
}

/** The `serve milter` command module (mount it under a `serve` parent command). */
export function serveMilterCommand(state: CliState): CommandModule<object, ServeMilterArgs> {
  return frontEndCommand<ServeMilterArgs>(state, {
    command: 'milter',
    describe: 'Run our milter (Postfix smtpd_milters / Sendmail INPUT_MAIL_FILTER) around a scanner',
    listen: { default: 'inet:7357@127.0.0.1', describe: 'inet:PORT@HOST or unix:PATH' },
    policyHelp: {
      onInfected: 'infected: reject = 550 5.7.1 (default); tempfail; drop = discard; tag = accept with X-Virus-Status: Infected; quarantine (discard/accept: old spellings of drop/tag)',
      onFail: 'scan failed: tempfail = 451 4.3.0 (default), or accept = fail open, marked Unchecked',
    },
    options: (y) =>
      y
        .option('reject-message', { type: 'string', default: 'Virus found: %v', describe: 'text after "550 5.7.1 "; %v = virus names' })
        .option('add-header', { type: 'boolean', default: true, describe: 'add X-Virus-Scanned / X-Virus-Status (--no-add-header to skip)' })
        .option('reply-steps', { type: 'string', choices: REPLY_STEPS as string[], default: 'auto', describe: 'steps the MTA waits for an answer to: auto = fewest on unix, data on TCP (docs/milter.md)' })
        .option('socket-mode', { type: 'string', default: '660', describe: 'unix socket mode (octal), set after binding; with --socket-group, 660 lets that group in' })
        .option('socket-owner', { type: 'string', describe: 'unix socket owner (default: the --user)' })
        .option('socket-group', { type: 'string', describe: "unix socket group, e.g. postfix (Postfix's smtpd connects as user postfix)" })
        .check((a) => {
          parseSocketMode(String(a['socketMode'] ?? '660'));
          return true;
        })
        .option('timeout', { type: 'string', default: '30s', describe: 'scan time limit per message: seconds, or 500ms, 2m (a bare number of 1000 or more: old milliseconds, deprecated)' }),
    examples: [
      ['$0 serve milter --listen inet:7357@127.0.0.1 --scanner clamd', 'Postfix: smtpd_milters = inet:127.0.0.1:7357'],
      ['$0 serve milter -l unix:/run/avbench/milter.sock -s clamd --user avbench --socket-group postfix --socket-mode 660', 'as the systemd unit of docs/daemons.md runs it (smtpd_milters = unix:/run/avbench/milter.sock)'],
    ],
    epilogue: 'Signals: SIGHUP reloads the config file and scanners (MTA connections go on); SIGTERM/SIGINT let the messages under way finish (--drain), then exit 0.',
    run: runServeMilter,
  });
}

/**
 * Run the milter as a daemon until SIGTERM/SIGINT (src/cli/daemon.ts: signals, pid file,
 * privileges, log); resolves to the exit code (0 after a clean stop, 2 when it could not
 * listen). Throws ConfigError for usage and config problems, before anything is bound.
 */
export async function runServeMilter(args: ServeMilterArgs): Promise<number> {
  // Usage and config problems first: nothing is bound until all of them are checked.
  const { config } = await loadConfig(args.config);
  let socketMode: number;
  let socketOwner: { uid: number; gid: number };
  try {
    const spec = parseMilterSocket(args.listen);
    socketMode = parseSocketMode(args.socketMode ?? '660');
    if (spec.kind !== 'unix' && (args.socketOwner !== undefined || args.socketGroup !== undefined)) throw new Error('--socket-owner/--socket-group are for a unix socket (--listen unix:PATH)');
    socketOwner = resolveSocketOwner(args.socketOwner, args.socketGroup);
  } catch (err) {
    throw new ConfigError(`--listen/--socket-*: ${(err as Error).message}`);
  }
  const policy = policyFrom(args, config.policy);
  const timeoutMs = parseTimeout(args.timeout, '--timeout', { legacyMs: true });
  return runDaemon({
    daemon: 'milter',
    args,
    listen: args.listen,
    config,
    reloadConfig: async () => (await loadConfig(args.config)).config,
    start: async ({ scanners, log, runAs }) => {
      // The socket belongs to the account the daemon runs as unless told otherwise (as clamav-milter's).
      const runAsOwner = ownerOf(runAs);
      const server = createMilterServer({
        scanners,
        listen: args.listen,
        onInfected: policy.onInfected,
        onFail: policy.onFail,
        rejectMessage: args.rejectMessage,
        addHeader: args.addHeader,
        limits: { timeoutMs },
        ...(args.replySteps === undefined ? {} : { replySteps: args.replySteps }),
        socketMode,
        socketOwner: { uid: socketOwner.uid !== -1 ? socketOwner.uid : runAsOwner.uid, gid: socketOwner.gid !== -1 ? socketOwner.gid : runAsOwner.gid },
        onMessage: (e) => log.write(e.verdict.status === 'error' ? 'warning' : 'info', 'message', milterEventFields(e)),
        onConnectionError: (e) => log.write('warning', 'connection-error', { error: e.message }),
      });
      await server.listen();
      return {
        where: args.listen,
        fields: { listen: server.address, on_infected: policy.onInfected, on_fail: policy.onFail, socket_mode: args.listen.startsWith('unix:') || args.listen.startsWith('local:') ? `0${socketMode.toString(8)}` : undefined },
        setScanners: (list) => server.setScanners(list),
        drain: (deadline) => server.drain(deadline),
      };
    },
  });
}
