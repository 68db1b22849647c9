/**
 * `avbench serve smtp --listen HOST:PORT --forward HOST:PORT --scanner NAME [...]`:
 * run our scanning SMTP proxy (point A) until SIGINT/SIGTERM, one log line per message on
 * stderr. The `serve` parent command is wired in main.ts:
 * `.command('serve <kind>', ..., (y) => y.command(serveSmtpCommand(state)))`.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { adapterByName } from '../../../adapters/index.js';
import { ConfigError, loadConfig } from '../../config/config.js';
import type { Adapter } from '../../core/types.js';
import { createSmtpProxy, type FailAction, type InfectedAction, type ProxyEvent } from '../../modes/smtp/proxy.js';
import type { CliState } from '../main.js';

interface ServeSmtpArgs {
  listen: string;
  forward: string;
  scanner: string[];
  onInfected: InfectedAction;
  onFail: FailAction;
  maxSize: string;
  maxClients: number;
  maxRecipients: number;
  quarantine?: string;
  lmtp: boolean;
  config?: string;
  nextHopTimeout: number;
  socketTimeout: number;
  quiet: boolean;
}

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

/** One stderr line for a handled message. */
export function formatProxyEvent(e: ProxyEvent): string {
  const parts = [
    new Date().toISOString(),
    `session=${e.session}`,
    `from=<${e.from}>`,
    `to=<${e.to.join(',')}>`,
    `bytes=${e.bytes}`,
    `verdict=${e.verdict}`,
    ...(e.names.length > 0 ? [`names=${JSON.stringify(e.names.join(', '))}`] : []),
    ...(e.errorCode === undefined ? [] : [`error=${e.errorCode}`]),
    `action=${e.action}`,
    `reply=${JSON.stringify(e.reply)}`,
    ...(e.nextHop === undefined ? [] : [`next_hop=${JSON.stringify(e.nextHop)}`]),
    ...(e.file === undefined ? [] : [`file=${JSON.stringify(e.file)}`]),
    `scan_ms=${e.scanMs.toFixed(1)}`,
    `ms=${e.ms.toFixed(1)}`,
  ];
  return parts.join(' ');
}

/** The `smtp` subcommand of `avbench serve`. */
export function serveSmtpCommand(state: CliState): CommandModule<object, ServeSmtpArgs> {
  return {
    command: 'smtp',
    describe: 'Run the scanning SMTP proxy (point A): scan at end of DATA, forward to one next hop',
    builder: (y: Argv) =>
      y
        .option('listen', { alias: 'l', type: 'string', default: '127.0.0.1:10025', describe: 'HOST:PORT to listen on (loopback by default)' })
        .option('forward', { alias: 'f', type: 'string', demandOption: true, describe: 'HOST:PORT of the one next hop (the MTA)' })
        .option('scanner', { alias: 's', type: 'string', array: true, nargs: 1, default: ['embedded'], describe: 'scanner name (repeatable)' })
        .option('on-infected', { choices: ['reject', 'drop', 'tag', 'quarantine'] as const, default: 'reject' as const, describe: 'reject: 550 5.7.1; drop: 250 and discard; tag: forward with X-Virus-Status; quarantine: keep in --quarantine, 250' })
        .option('on-fail', { choices: ['tempfail', 'accept-tagged'] as const, default: 'tempfail' as const, describe: 'scanner error: 451 (default), or forward tagged Unchecked' })
        .option('max-size', { type: 'string', default: '25M', describe: 'message size limit (bytes, or 512K / 25M), enforced while receiving: 552' })
        .option('max-clients', { type: 'number', default: 100, describe: 'concurrent client connections' })
        .option('max-recipients', { type: 'number', default: 1000, describe: 'RCPT TO per message; past it: 452 (as Postfix)' })
        .option('quarantine', { alias: 'q', type: 'string', describe: 'quarantine folder (with --on-infected quarantine)' })
        .option('lmtp', { type: 'boolean', default: false, describe: 'speak LMTP on both sides (one reply per recipient)' })
        .option('config', { alias: 'c', type: 'string', describe: 'config file (default: ./avbench.config.json when present)' })
        .option('next-hop-timeout', { type: 'number', default: 30_000, describe: 'ms for the next hop to take a message; past it: 451' })
        .option('socket-timeout', { type: 'number', default: 60_000, describe: 'ms of client inactivity before the connection is closed' })
        .option('quiet', { type: 'boolean', default: false, describe: 'no per-message log lines' })
        .example('$0 serve smtp --listen 127.0.0.1:10025 --forward 127.0.0.1:10026 --scanner clamd', 'Postfix content_filter / smtpd_proxy_filter target') as unknown as Argv<ServeSmtpArgs>,
    handler: async (args: ArgumentsCamelCase<ServeSmtpArgs>) => {
      state.exitCode = await runServeSmtp(args);
    },
  };
}

async function runServeSmtp(args: ServeSmtpArgs): Promise<number> {
  const { config } = await loadConfig(args.config);
  const listen = parseHostPort(args.listen, '--listen');
  const forward = parseHostPort(args.forward, '--forward');
  if (args.onInfected === 'quarantine' && args.quarantine === undefined) throw new ConfigError('--on-infected quarantine needs --quarantine DIR');
  const maxSize = parseSize(args.maxSize);
  const adapters: Adapter[] = [...new Set(args.scanner)].map((n) => adapterByName(n, config));
  try {
    for (const a of adapters) {
      const p = await a.probe();
      if (!p.available) process.stderr.write(`avbench: warning: scanner ${a.name} is not available now (${p.reason ?? 'no reason'}); mail will get ${args.onFail === 'tempfail' ? '451' : 'tagged Unchecked'} until it is\n`);
    }
    const proxy = createSmtpProxy({
      listen,
      forward,
      scanners: adapters,
      onInfected: args.onInfected,
      onFail: args.onFail,
      maxSize,
      maxClients: args.maxClients,
      maxRecipients: args.maxRecipients,
      ...(args.quarantine === undefined ? {} : { quarantineDir: args.quarantine }),
      lmtp: args.lmtp,
      timeouts: { nextHopMs: args.nextHopTimeout, socketMs: args.socketTimeout },
      ...(args.quiet ? {} : { log: (e: ProxyEvent) => process.stderr.write(formatProxyEvent(e) + '\n') }),
    });
    const bound = await proxy.listen();
    process.stderr.write(
      `avbench serve smtp: listening on ${bound.host}:${bound.port}, forwarding to ${forward.host}:${forward.port}, scanners ${adapters.map((a) => a.name).join(', ')}, on infected ${args.onInfected}, on fail ${args.onFail}\n`,
    );
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    process.stderr.write('avbench serve smtp: stopping\n');
    await proxy.close();
    return 0;
  } finally {
    await Promise.all(adapters.map((a) => a.close().catch(() => undefined)));
  }
}
