/**
 * `avbench serve smtp --listen HOST:PORT --forward HOST:PORT --scanner NAME [...]`:
 * run our scanning SMTP proxy (point A) as a daemon, the way clamd runs (docs/daemons.md):
 * SIGHUP reloads the config and scanners without dropping sessions, SIGTERM drains the
 * messages in flight within --drain then exits 0, --pid-file, --user/--group after
 * binding, one key=value log line per event on stderr or syslog (--syslog).
 * Every usage and config problem is found before anything is bound (exit 2).
 */
import type { CommandModule } from 'yargs';
import { ConfigError, loadConfig } from '../../config/config.js';
import { parseTimeout, policyFrom } from '../../modes/policy.js';
import { createSmtpProxy, type ProxyEvent } from '../../modes/smtp/proxy.js';
import { frontEndCommand, runDaemon, type DaemonArgs } from '../daemon.js';
import type { CliState } from '../types.js';

interface ServeSmtpArgs {
  listen: string;
  forward: string;
  scanner: string[];
  /** The policy's words (src/modes/policy.ts); unset: the config file's policy, else reject. */
  onInfected?: string;
  /** tempfail | accept (old: accept-tagged); unset: the config file's policy, else tempfail. */
  onFail?: string;
  maxSize: string;
  maxClients: number;
  maxRecipients: number;
  quarantine?: string;
  lmtp: boolean;
  config?: string;
  /** Seconds or a duration (`30s`, `500ms`, `2m`); a bare number ≥ 1000 is the old milliseconds (warned). */
  nextHopTimeout: string;
  /** As nextHopTimeout. */
  socketTimeout: string;
  quiet: boolean;
}

type ServeSmtpCliArgs = ServeSmtpArgs & DaemonArgs;

/** `HOST:PORT` (IPv6 as `[::1]:PORT`) → parts; throws ConfigError when malformed. */
export function parseHostPort(s: string, what: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(s.trim());
  const port = Number(m?.[2]);
  if (m === null || !(port >= 1 && port <= 65535)) throw new ConfigError(`${what}: expected HOST:PORT, got ${JSON.stringify(s)}`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** `25M`, `512K`, `1048576` → bytes; throws ConfigError when malformed. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(s.trim());
  if (m === null) throw new ConfigError(`--max-size: expected bytes or a size such as 25M, got ${JSON.stringify(s)}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g'];
  const n = Math.floor(Number(m[1]) * mult);
  if (!(n > 0)) throw new ConfigError('--max-size must be positive');
  return n;
}

/** The log fields of a handled message (one `event=message` line). */
export function proxyEventFields(e: ProxyEvent): Record<string, string | number | undefined> {
  return {
    session: e.session,
    from: `<${e.from}>`,
    to: `<${e.to.join(',')}>`,
    bytes: e.bytes,
    verdict: e.verdict,
    names: e.names.length > 0 ? e.names.join(', ') : undefined,
    error: e.errorCode,
    action: e.action,
    reply: e.reply,
    next_hop: e.nextHop,
    file: e.file,
    scan_ms: Number(e.scanMs.toFixed(1)),
    ms: Number(e.ms.toFixed(1)),
  };
}

/** The `smtp` subcommand of `avbench serve`. */
export function serveSmtpCommand(state: CliState): CommandModule<object, ServeSmtpCliArgs> {
  return frontEndCommand<ServeSmtpCliArgs>(state, {
    command: 'smtp',
    describe: 'Run the scanning SMTP proxy (point A): scan at end of DATA, forward to one next hop',
    listen: { default: '127.0.0.1:10025', describe: 'HOST:PORT to listen on (loopback by default)' },
    policyHelp: {
      onInfected: 'reject: 550 5.7.1 (default); tempfail: 451 4.7.1; drop: 250 and discard; tag: forward with X-Virus-Status: Infected; quarantine: keep in --quarantine, 250',
      onFail: 'scanner error: tempfail = 451 4.3.0 (default), or accept = forward tagged Unchecked (accept-tagged: old spelling)',
    },
    options: (y) =>
      y
        .option('forward', { alias: 'f', type: 'string', demandOption: true, describe: 'HOST:PORT of the one next hop (the MTA)' })
        .option('max-size', { type: 'string', default: '25M', describe: 'message size limit (bytes, or 512K / 25M), enforced while receiving: 552' })
        .option('max-clients', { type: 'number', default: 100, describe: 'concurrent client connections' })
        .option('max-recipients', { type: 'number', default: 1000, describe: 'RCPT TO per message; past it: 452 (as Postfix)' })
        .option('quarantine', { alias: 'q', type: 'string', describe: 'quarantine folder (with --on-infected quarantine)' })
        .option('lmtp', { type: 'boolean', default: false, describe: 'speak LMTP on both sides (one reply per recipient)' })
        .option('next-hop-timeout', { type: 'string', default: '30s', describe: 'time for the next hop to take a message (seconds, or 500ms, 2m); past it: 451' })
        .option('socket-timeout', { type: 'string', default: '60s', describe: 'client inactivity before the connection is closed (seconds, or 500ms, 2m)' })
        .option('quiet', { type: 'boolean', default: false, describe: 'no per-message log lines' }),
    examples: [
      ['$0 serve smtp --listen 127.0.0.1:10025 --forward 127.0.0.1:10026 --scanner clamd', 'Postfix content_filter / smtpd_proxy_filter target'],
      ['$0 serve smtp -l 0.0.0.0:25 -f 127.0.0.1:10026 -s clamd --user avbench --pid-file /run/avbench/smtp.pid --syslog', 'on port 25, as the systemd unit of docs/daemons.md runs it'],
    ],
    epilogue: 'Signals: SIGHUP reloads the config file and scanners (sessions go on); SIGTERM/SIGINT drain the messages in flight (--drain), then exit 0.',
    run: runServeSmtp,
  });
}

async function runServeSmtp(args: ServeSmtpCliArgs): Promise<number> {
  // Usage and config problems first: nothing is bound until all of them are checked.
  const { config } = await loadConfig(args.config);
  const listen = parseHostPort(args.listen, '--listen');
  const forward = parseHostPort(args.forward, '--forward');
  const policy = policyFrom(args, config.policy);
  if (policy.onInfected === 'quarantine' && args.quarantine === undefined) throw new ConfigError('--on-infected quarantine needs --quarantine DIR');
  const nextHopMs = parseTimeout(args.nextHopTimeout, '--next-hop-timeout', { legacyMs: true });
  const socketMs = parseTimeout(args.socketTimeout, '--socket-timeout', { legacyMs: true });
  const maxSize = parseSize(args.maxSize);
  return runDaemon({
    daemon: 'smtp',
    args,
    listen: args.listen,
    config,
    reloadConfig: async () => (await loadConfig(args.config)).config,
    start: async ({ scanners, log, drainMs }) => {
      const proxy = createSmtpProxy({
        listen,
        forward,
        scanners,
        onInfected: policy.onInfected,
        onFail: policy.onFail,
        maxSize,
        maxClients: args.maxClients,
        maxRecipients: args.maxRecipients,
        ...(args.quarantine === undefined ? {} : { quarantineDir: args.quarantine }),
        lmtp: args.lmtp,
        timeouts: { nextHopMs, socketMs, closeMs: drainMs },
        ...(config.limits === undefined ? {} : { limits: config.limits }),
        ...(args.quiet ? {} : { log: (e: ProxyEvent) => log.write(e.verdict === 'error' ? 'warning' : 'info', 'message', proxyEventFields(e)) }),
      });
      const bound = await proxy.listen();
      let closing: Promise<void> | undefined;
      return {
        where: `${bound.host}:${bound.port}`,
        fields: { listen: `${bound.host}:${bound.port}`, forward: `${forward.host}:${forward.port}`, on_infected: policy.onInfected, on_fail: policy.onFail },
        setScanners: (list) => proxy.setScanners(list),
        drain: async (deadline) => {
          // A second signal (deadline now) cuts every session at once.
          if (closing !== undefined) return { cut: proxy.cut() };
          let cut = 0;
          const atDeadline = setTimeout(() => (cut = proxy.inFlight), Math.max(0, deadline - Date.now() - 10));
          closing = proxy.close({ deadline });
          await closing;
          clearTimeout(atDeadline);
          return { cut };
        },
      };
    },
  });
}
