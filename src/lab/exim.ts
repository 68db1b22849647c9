/**
 * Start a real Exim (Debian's `exim4-daemon-heavy`, the build with content scanning) as a
 * filtering gateway on loopback: its built-in `malware = *` ACL condition in acl_smtp_data
 * asks the lab clamd (`av_scanner = clamd:...`), a virus is rejected with 550 at the end of
 * DATA, a scanner failure deferred with 451 (the condition defers, so the `deny` does), and
 * what passes is relayed by a `manualroute` router to the next hop (the bench driver's sink,
 * `?sink=PORT`).
 *
 * Exim is not installed as a package (Debian's MTAs conflict; Postfix stays): scripts/install-exim.sh
 * unpacks the .deb into a private prefix (default /opt/avbench/exim) and installs its libraries.
 * {@link findExim} looks there (or at `$AVBENCH_EXIM`, or an `exim4` on the PATH).
 *
 * Everything lives in a private temp folder: the generated `exim.conf` (run with `-C`; root
 * keeps its privilege with -C), `spool/` (Exim's queue and the `scan/` folder the malware
 * condition writes each message to), `log/` (mainlog, rejectlog, paniclog) and the pidfile.
 * The daemon runs in the foreground (`-bdf`), so its PID is recorded; it forks a process per
 * connection (running as the Exim user, Debian-exim) and one per delivery. No DNS: no host
 * lookups, no ident, the next hop is an IP address.
 */
import { chmod, chown, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { run, which } from '../core/exec.js';
import { freePort } from '../core/net.js';
import { smtpListener, startLabDaemon, whenGreeting, type LabListener, type LabProcess } from './daemon.js';
import { endProcesses } from './util.js';

/** Default prefix scripts/install-exim.sh unpacks Exim into. */
export const DEFAULT_EXIM_PREFIX = '/opt/avbench/exim';

/** An Exim binary that runs. */
export interface EximInstall {
  /** The `exim4` binary. */
  bin: string;
  /** e.g. `4.96`. */
  version: string;
  /** Does `-bV` list clamd among its malware scanners (a build with content scanning)? */
  clamd: boolean;
}

/** Candidate Exim binaries, in order: `$AVBENCH_EXIM`, the install script's prefix, the PATH. */
async function candidates(): Promise<string[]> {
  const out: string[] = [];
  const env = process.env['AVBENCH_EXIM'];
  if (env !== undefined && env !== '') out.push(env);
  out.push(join(process.env['AVBENCH_EXIM_PREFIX'] ?? DEFAULT_EXIM_PREFIX, 'usr', 'sbin', 'exim4'));
  for (const name of ['exim4', 'exim']) {
    const p = await which(name);
    if (p !== undefined) out.push(p);
  }
  return out;
}

/**
 * Find an Exim that runs (`exim4 -C /dev/null -bV`) with the clamd malware interface;
 * `undefined` when there is none (run scripts/install-exim.sh).
 */
export async function findExim(): Promise<EximInstall | undefined> {
  for (const bin of await candidates()) {
    const r = await run(bin, ['-C', '/dev/null', '-bV'], { deadline: Date.now() + 10_000 });
    if (!r.ok || r.exitCode !== 0) continue;
    const version = /^Exim version (\S+)/m.exec(r.stdout)?.[1];
    if (version === undefined) continue;
    const clamd = /^Malware:.*\bclamd\b/m.test(r.stdout);
    if (clamd) return { bin, version, clamd };
  }
  return undefined;
}

/** Options of {@link startExim} and {@link eximConfig}. */
export interface StartEximOptions {
  /** The lab clamd: its unix socket path (Exim passes clamd the spool file's name), or its TCP listener (Exim streams the message). */
  clamd: string | { host: string; port: number };
  /** Port of the next hop on 127.0.0.1 (the sink) for the manualroute router. */
  forwardPort: number;
  /** Listen port (default: a free one). */
  port?: number;
  /** Parent folder for the private temp folder (default: the OS temp folder). */
  dir?: string;
  /** Recipient domains Exim relays (default `recipient.localhost`, the SMTP driver's). */
  domains?: readonly string[];
  /** Largest message accepted (Exim's message_size_limit, default `100M`). */
  messageSizeLimit?: string;
  /** How long to wait for the greeting (ms, default 20 000). */
  readyTimeoutMs?: number;
}

/**
 * A running lab Exim (`url` = `smtp://127.0.0.1:PORT`; `pid`: the listening daemon, `-bdf`;
 * `folder`: exim.conf, spool/, log/). stop() signals the daemon and then every process of
 * this instance (SIGKILL after a grace period) and removes the folder.
 */
export interface LabExim extends LabListener, LabProcess {
  configFile: string;
  /** Exim's main log (one line per message received, delivered, rejected). */
  mainLog: string;
  version: string;
  bin: string;
}

/** The `av_scanner` value for the lab clamd. */
function avScanner(clamd: StartEximOptions['clamd']): string {
  return typeof clamd === 'string' ? `clamd:${clamd}` : `clamd:${clamd.host} ${clamd.port}`;
}

/**
 * The generated Exim configuration (run with `-C`). Pure: the test and the docs read what a
 * lab Exim runs with.
 */
export function eximConfig(opts: StartEximOptions & { port: number; folder: string; bin: string }): string {
  const domains = (opts.domains ?? ['recipient.localhost']).join(' : ');
  return [
    '# generated by avbench lab: Exim as a filtering relay, clamd via the malware ACL condition',
    `exim_path = ${opts.bin}`,
    'primary_hostname = exim.avbench.localhost',
    'qualify_domain = avbench.localhost',
    `spool_directory = ${join(opts.folder, 'spool')}`,
    `log_file_path = ${join(opts.folder, 'log', '%slog')}`,
    `pid_file_path = ${join(opts.folder, 'exim.pid')}`,
    'local_interfaces = 127.0.0.1',
    `daemon_smtp_ports = ${opts.port}`,
    '# No DNS, no ident: nothing leaves loopback',
    'host_lookup =',
    'rfc1413_hosts =',
    'rfc1413_query_timeout = 0s',
    '# No TLS (no certificate), no CHUNKING: plain SMTP as the driver speaks it',
    'tls_advertise_hosts =',
    'chunking_advertise_hosts =',
    '# Root runs the daemon; nothing is delivered locally',
    'never_users =',
    'keep_environment =',
    '# Deliver at once every message of a kept-open connection (the default queues after 10)',
    'smtp_accept_queue_per_connection = 0',
    'smtp_accept_max = 100',
    `message_size_limit = ${opts.messageSizeLimit ?? '100M'}`,
    `domainlist relay_to_domains = ${domains}`,
    `av_scanner = ${avScanner(opts.clamd)}`,
    'acl_smtp_rcpt = acl_check_rcpt',
    'acl_smtp_data = acl_check_data',
    '',
    'begin acl',
    '',
    'acl_check_rcpt:',
    '  accept domains = +relay_to_domains',
    '  deny   message = relay not permitted',
    '',
    'acl_check_data:',
    '  # A virus: 550 naming it. A scanner error or timeout: the condition defers, so 451.',
    '  deny   malware = *',
    '         message = This message contains a virus ($malware_name).',
    '  accept',
    '',
    'begin routers',
    '',
    'to_sink:',
    '  driver = manualroute',
    '  domains = +relay_to_domains',
    `  route_list = * 127.0.0.1::${opts.forwardPort}`,
    '  transport = remote_smtp',
    '  self = send',
    '',
    'begin transports',
    '',
    'remote_smtp:',
    '  driver = smtp',
    '  allow_localhost',
    '  hosts_avoid_tls = *',
    '',
    'begin retry',
    '',
    '*  *  F,2h,1m',
    '',
  ].join('\n');
}

/** PIDs of the processes running with this config (`-C FILE` in their command line): the daemon's children. */
export async function eximProcesses(configFile: string): Promise<number[]> {
  const pids: number[] = [];
  for (const e of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(e)) continue;
    const cmd = await readFile(join('/proc', e, 'cmdline'), 'latin1').catch(() => '');
    const args = cmd.split('\0');
    const i = args.indexOf('-C');
    if (i >= 0 && args[i + 1] === configFile) pids.push(Number(e));
  }
  return pids;
}

/** The Exim user and group (Debian's build: Debian-exim) as uid/gid, from /etc/passwd. */
async function eximUser(): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === 'Debian-exim' || f[0] === 'exim') return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/**
 * Let the Exim user reach `dir` (its reception process connects to clamd's socket, its
 * delivery process reads the spool): every folder on the way must be searchable by others.
 * The lab's own private folders (`avbench-*`, made 0700 by mkdtemp) are made 0711 —
 * searchable, not listable; any other folder that is not searchable is an error, not changed.
 */
async function searchable(dir: string): Promise<void> {
  for (let d = dir; ; d = dirname(d)) {
    const mode = (await stat(d)).mode & 0o777;
    if ((mode & 0o001) === 0) {
      if (!basename(d).startsWith('avbench-')) throw new Error(`Exim runs as its own user and cannot reach ${dir}: ${d} is not searchable by others (mode ${mode.toString(8)})`);
      await chmod(d, mode | 0o711);
    }
    if (dirname(d) === d) return;
  }
}

/** Start Exim (throws, with its log's tail, if it is not installed or cannot start). */
export async function startExim(opts: StartEximOptions): Promise<LabExim> {
  const install = await findExim();
  if (install === undefined) throw new Error('Exim (exim4-daemon-heavy) is not installed: run scripts/install-exim.sh (see docs/gateways.md)');
  const port = opts.port ?? (await freePort());
  let configFile = '';
  // The daemon forks a process per connection and per delivery: end those too.
  const killRest = (graceMs: number): Promise<void> => endProcesses(async () => (configFile === '' ? [] : eximProcesses(configFile)), graceMs);
  const { launch, ...proc } = await startLabDaemon({
    name: 'Exim',
    slug: 'exim',
    dir: opts.dir,
    stopGraceMs: 5_000,
    afterExit: (failed) => killRest(failed ? 2_000 : 3_000),
    async setup(folder) {
      configFile = join(folder, 'exim.conf');
      // The reception and delivery processes run as the Exim user: they need the spool and the
      // log (owned by it), and the way to the folder (searchable, not listable by others).
      const user = await eximUser();
      await searchable(folder);
      if (typeof opts.clamd === 'string') await searchable(dirname(opts.clamd));
      for (const sub of ['spool', 'log']) {
        await mkdir(join(folder, sub), { mode: 0o750 });
        if (user !== undefined) await chown(join(folder, sub), user.uid, user.gid);
      }
      await writeFile(configFile, eximConfig({ ...opts, port, folder, bin: install.bin }), { mode: 0o644 });
      const mainLog = join(folder, 'log', 'mainlog');
      const outFile = join(folder, 'exim.out');
      return {
        bin: install.bin,
        args: ['-C', configFile, '-bdf', '-oX', `${port}`, '-oP', join(folder, 'exim.pid')],
        outFile,
        ...whenGreeting(port, opts.readyTimeoutMs ?? 20_000),
        logs: [outFile, join(folder, 'log', 'paniclog'), mainLog],
        configFile,
        mainLog,
      };
    },
  });
  return { ...proc, ...smtpListener(port), configFile: launch.configFile, mainLog: launch.mainLog, version: install.version, bin: install.bin };
}
