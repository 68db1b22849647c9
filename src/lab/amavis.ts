/**
 * Start a real amavisd-new (Debian `amavisd-new`) on loopback as an after-queue content
 * filter (issue 15.1): Postfix hands each queued message to amavisd's SMTP/LMTP listener
 * (`$inet_socket_port`), amavisd has it scanned and forwards what passes to Postfix's
 * re-injection listener (`$forward_method 'smtp:[127.0.0.1]:REINJECT'`), which delivers it
 * to the sink. See {@link startPostfixAfterQueue} for the Postfix side.
 *
 * The generated config (`amavisd -c FILE foreground`, no Debian conf.d files read) keeps
 * everything in a private temp folder — `$MYHOME`, `$TEMPBASE`, `$db_home`,
 * `$QUARANTINEDIR`, the pid and lock files, the log — and turns off what this lab does not
 * measure: spam checks (`@bypass_spam_checks_maps = (1)`, SpamAssassin is not loaded),
 * banned-file and bad-header checks, DKIM, DNS, syslog. `@av_scanners` holds one entry,
 * ClamAV-clamd over the lab clamd's unix socket with CONTSCAN: amavisd decodes the MIME
 * parts (and unpacks archives) into `$TEMPBASE` itself and asks clamd to scan that folder
 * by path, so clamd must be able to read it (the lab clamd runs as root; amavisd's folder
 * is reachable by path).
 *
 * amavisd refuses to run as root: it is started as root and drops to `$daemon_user`
 * (the `amavis` account the Debian package creates) after binding its port. Its
 * Net::Server parent stays in the foreground (the PID recorded here); its pre-forked
 * children (`$max_servers`) run as amavis and end with it.
 *
 * A virus: `$final_virus_destiny = D_REJECT`. After the queue there is no SMTP client to
 * reject: amavisd answers Postfix's feeding transport `554 5.7.0 Reject`, and Postfix then
 * bounces the message — a delivery status notification from the gateway itself goes to
 * the envelope sender (through the relayhost: the sink sees it as a message with a null
 * sender and no `X-Avbench-Id`). The sender of the infected message got `250` for it;
 * the message never arrives. No quarantine, no notices to the sender or to an admin.
 *
 * Before the queue: {@link startAmavisdMilter} (Debian `amavisd-milter`) talks AM.PDP to the
 * same amavisd (`pdpSocket: true`), and D_REJECT is a real 554 at the end of DATA.
 * {@link startAmavisGateway} starts amavisd, the Postfix in front and, when asked, the milter.
 */
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { which } from '../core/exec.js';
import { freePort } from '../core/net.js';
import { milterListener, requireProgram, smtpListener, startLabDaemon, whenGreeting, whenListening, type LabListener, type LabProcess } from './daemon.js';
import { startPostfixAfterQueue, type LabPostfix } from './postfix.js';
import { alive } from '../daemon/pidfile.js';
import { childrenOf, endProcesses } from './util.js';

/** What amavisd does with a message clamd calls infected (`$final_virus_destiny`). */
export type AmavisVirusDestiny = 'reject' | 'bounce' | 'discard' | 'pass';

/** Options of {@link startAmavis}. */
export interface StartAmavisOptions {
  /** The lab clamd's unix socket (its folder must be traversable by user amavis: made 0711 here). */
  clamdSocket: string;
  /** Port of Postfix's re-injection smtpd on 127.0.0.1 (`$forward_method`, `$notify_method`). */
  reinjectPort: number;
  /** `$inet_socket_port` (default: a free one). */
  port?: number;
  /** `$max_servers`: pre-forked children, each handling one message at a time (default 8). */
  maxServers?: number;
  /** `$final_virus_destiny` (default 'reject'). */
  virusDestiny?: AmavisVirusDestiny;
  /** `$log_level` 0..5 (default 0: one line per message). */
  logLevel?: number;
  /** Parent folder for the private folder (default: the OS temp folder; it must be traversable by user amavis, e.g. 0711). */
  dir?: string;
  /** Unprivileged account amavisd runs as (default `amavis`, created by the Debian package). */
  user?: string;
  /** How long to wait for the 220 greeting (ms, default 60 000: amavisd loads many Perl modules). */
  readyTimeoutMs?: number;
  /**
   * Also listen on a unix socket `$MYHOME/amavisd.sock` speaking AM.PDP (the policy bank
   * amavisd-milter talks to; see {@link startAmavisdMilter}). Default false.
   */
  pdpSocket?: boolean;
}

/**
 * A running lab amavisd-new (`url` = `smtp://127.0.0.1:PORT`, amavisd's own listener: speaks
 * SMTP and LMTP; `pid`: the Net::Server parent, its children end with it; `folder`: config
 * and `home/` = $MYHOME).
 */
export interface LabAmavis extends LabListener, LabProcess {
  configFile: string;
  logFile: string;
  /** With `pdpSocket`: the AM.PDP unix socket (amavisd-milter's `-S PATH`). */
  pdpSocket?: string;
  /**
   * With `pdpSocket`: `$MYHOME/milter`, owned by amavis — amavisd-milter's `-w` working folder
   * (amavisd accepts AM.PDP message folders only below its $MYHOME or $TEMPBASE).
   */
  pdpWorkDir?: string;
}

const DESTINY: Record<AmavisVirusDestiny, string> = { reject: 'D_REJECT', bounce: 'D_BOUNCE', discard: 'D_DISCARD', pass: 'D_PASS' };

/** A Perl single-quoted string literal. */
function perlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The generated amavisd.conf (Perl). */
export function amavisConfig(o: { home: string; port: number; reinjectPort: number; clamdSocket: string; maxServers?: number; virusDestiny?: AmavisVirusDestiny; logLevel?: number; user?: string; pdpSocket?: boolean }): string {
  const home = perlString(o.home);
  const forward = perlString(`smtp:[127.0.0.1]:${o.reinjectPort}`);
  const user = perlString(o.user ?? 'amavis');
  return `# generated by avbench lab: amavisd-new as an after-queue content filter (src/lab/amavis.ts)
use strict;
$daemon_user  = ${user};
$daemon_group = ${user};
$myhostname = 'avbench-amavis.localhost';
$mydomain   = 'localhost';
$MYHOME         = ${home};
$TEMPBASE       = "$MYHOME/tmp";
$db_home        = "$MYHOME/db";
$helpers_home   = "$MYHOME";
$QUARANTINEDIR  = "$MYHOME/quarantine";
$pid_file       = "$MYHOME/amavisd.pid";
$lock_file      = "$MYHOME/amavisd.lock";
$daemon_chroot_dir = undef;
${
    o.pdpSocket === true
      ? `$unix_socketname = "$MYHOME/amavisd.sock";
$unix_socket_mode = 0660;
$interface_policy{'SOCK'} = 'AM.PDP-SOCK';
$policy_bank{'AM.PDP-SOCK'} = { protocol => 'AM.PDP', auth_required_release => 0 };`
      : '$unix_socketname = undef;'
  }
$inet_socket_bind = '127.0.0.1';
$inet_socket_port = ${o.port};
@inet_acl = qw(127.0.0.1);
@mynetworks = qw(127.0.0.0/8);
$max_servers = ${o.maxServers ?? 8};
$max_requests = 1000;
$child_timeout = 120;
$forward_method = ${forward};
$notify_method  = ${forward};
$do_syslog = 0;
$LOGFILE = "$MYHOME/amavisd.log";
$log_level = ${o.logLevel ?? 0};
$enable_db = 0;
$enable_zmq = 0;
$nanny_details_level = 0;
$enable_dkim_verification = 0;
$enable_dkim_signing = 0;
$enable_ldap = 0;
@lookup_sql_dsn = ();
@storage_sql_dsn = ();
@local_domains_maps = (1);
@bypass_spam_checks_maps   = (1);
@bypass_banned_checks_maps = (1);
@bypass_header_checks_maps = (1);
@bypass_virus_checks_maps  = (0);
$final_virus_destiny      = ${DESTINY[o.virusDestiny ?? 'reject']};
$final_banned_destiny     = D_PASS;
$final_spam_destiny       = D_PASS;
$final_bad_header_destiny = D_PASS;
$virus_admin = undef;
$virus_quarantine_to = undef;
$banned_quarantine_to = undef;
$spam_quarantine_to = undef;
$bad_header_quarantine_to = undef;
$warnvirussender = 0;
$warnvirusrecip = 0;
$warnbannedsender = 0;
$warnbadhsender = 0;
$mailfrom_notify_admin = undef;
$defang_virus = 0;
$X_HEADER_TAG = 'X-Virus-Scanned';
$X_HEADER_LINE = "by amavisd-new at $myhostname";
@av_scanners = (
  ['ClamAV-clamd', \\&ask_daemon, ["CONTSCAN {}\\n", ${perlString(o.clamdSocket)}],
    qr/\\bOK$/m, qr/\\bFOUND$/m, qr/^.*?: (?!Infected Archive)(.*) FOUND$/m ],
);
@av_scanners_backup = ();
1;
`;
}

/**
 * uid and gid of the account amavisd / amavisd-milter run as (default `amavis`), from
 * /etc/passwd. Throws when this process is not root (`asRoot` says why it must be) or there
 * is no such account.
 */
async function amavisAccount(name: string | undefined, asRoot: string): Promise<{ uid: number; gid: number }> {
  if (process.getuid?.() !== 0) throw new Error(asRoot);
  const user = name ?? 'amavis';
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f[2] !== undefined && f[3] !== undefined) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error(`no ${user} account (the amavisd-new package creates it)`);
}

/**
 * stop() of the Net::Server parent, then wait for its pre-forked children (which it signals
 * on SIGTERM) to be gone too — SIGKILL after 5 s — so nothing of amavisd is left.
 */
function stopWithChildren(pid: number, stopParent: () => Promise<void>): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  const run = async (): Promise<void> => {
    const children = await childrenOf(pid);
    await stopParent();
    await endProcesses(async () => children.filter(alive), 5_000, false);
  };
  return () => {
    stopped ??= run();
    return stopped;
  };
}

/** Where the amavisd program is (Debian: /usr/sbin/amavisd; `amavisd-new` on older releases). */
export async function findAmavisd(): Promise<string | undefined> {
  return (await which('amavisd')) ?? (await which('amavisd-new'));
}

/** Start amavisd-new (must run as root; throws, with its log's tail, if it cannot start). */
export async function startAmavis(opts: StartAmavisOptions): Promise<LabAmavis> {
  const bin = await findAmavisd();
  if (bin === undefined) throw new Error('amavisd-new is not installed (apt-get install amavisd-new; see docs/gateways.md)');
  const owner = await amavisAccount(opts.user, 'amavisd-new is started as root and drops to user amavis (run as root)');
  const port = opts.port ?? (await freePort());
  const { launch, ...proc } = await startLabDaemon({
    name: 'amavisd',
    slug: 'amavis',
    dir: opts.dir,
    stopGraceMs: 10_000,
    failGraceMs: 5_000,
    async setup(folder) {
      await chmod(folder, 0o711);
      // amavisd (user amavis) connects to clamd's socket (mode 666): its folder must be traversable.
      await chmod(dirname(opts.clamdSocket), 0o711);
      const home = join(folder, 'home');
      for (const d of [home, join(home, 'tmp'), join(home, 'db'), join(home, 'quarantine'), ...(opts.pdpSocket === true ? [join(home, 'milter')] : [])]) {
        await mkdir(d, { mode: 0o750 });
        await chown(d, owner.uid, owner.gid);
      }
      const configFile = join(folder, 'amavisd.conf');
      await writeFile(
        configFile,
        amavisConfig({
          home,
          port,
          reinjectPort: opts.reinjectPort,
          clamdSocket: opts.clamdSocket,
          user: opts.user ?? 'amavis',
          ...(opts.maxServers === undefined ? {} : { maxServers: opts.maxServers }),
          ...(opts.virusDestiny === undefined ? {} : { virusDestiny: opts.virusDestiny }),
          ...(opts.logLevel === undefined ? {} : { logLevel: opts.logLevel }),
          ...(opts.pdpSocket === true ? { pdpSocket: true } : {}),
        }),
        { mode: 0o644 },
      );
      const logFile = join(home, 'amavisd.log');
      const outFile = join(folder, 'amavisd.out');
      return {
        bin,
        args: ['-c', configFile, 'foreground'],
        outFile,
        ...whenGreeting(port, opts.readyTimeoutMs ?? 60_000),
        logs: [outFile, logFile],
        home,
        configFile,
        logFile,
      };
    },
  });
  const { home } = launch;
  return {
    ...proc,
    ...smtpListener(port),
    configFile: launch.configFile,
    logFile: launch.logFile,
    ...(opts.pdpSocket === true ? { pdpSocket: join(home, 'amavisd.sock'), pdpWorkDir: join(home, 'milter') } : {}),
    stop: stopWithChildren(proc.pid, proc.stop),
  };
}

/** A whole after-queue gateway: a private Postfix in front, amavisd-new as its content filter. */
export interface LabAmavisGateway {
  amavis: LabAmavis;
  postfix: LabPostfix & { reinjectPort: number };
  /** `--sut` URL: `smtp://127.0.0.1:PORT?sink=SINKPORT&name=amavisd-new&pid=POSTFIX,AMAVISD[,CLAMD]`. */
  sut: string;
  /** With `milter: true`: amavisd-milter in front of the same amavisd (before the queue). */
  milter?: LabAmavisdMilter;
  /** With `milter: true`: `milter://127.0.0.1:PORT?name=amavisd-milter&pid=MILTER,AMAVISD[,CLAMD]`. */
  milterSut?: string;
  /** Stops Postfix, then amavisd (safe to call twice). */
  stop(): Promise<void>;
}

/**
 * Start amavisd-new and a private Postfix whose public smtpd hands every queued message to
 * it (`content_filter`), whose re-injection listener takes amavisd's output, and whose
 * relayhost is 127.0.0.1:sinkPort (the bench driver's sink). `clamdPid` is added to the
 * `--sut` URL's pid list. Needs root and the postfix and amavisd-new packages.
 */
export async function startAmavisGateway(opts: { clamdSocket: string; sinkPort: number; clamdPid?: number; maxServers?: number; dir?: string; milter?: boolean }): Promise<LabAmavisGateway> {
  const reinjectPort = await freePort();
  const maxServers = opts.maxServers ?? 8;
  const amavis = await startAmavis({ clamdSocket: opts.clamdSocket, reinjectPort, maxServers, pdpSocket: opts.milter === true, ...(opts.dir === undefined ? {} : { dir: opts.dir }) });
  let postfix: (LabPostfix & { reinjectPort: number }) | undefined;
  let milter: LabAmavisdMilter | undefined;
  try {
    postfix = await startPostfixAfterQueue({ relayPort: opts.sinkPort, filterPort: amavis.port, filterConcurrency: maxServers, reinjectPort, ...(opts.dir === undefined ? {} : { dir: opts.dir }) });
    if (opts.milter === true) milter = await startAmavisdMilter({ amavisSocket: amavis.pdpSocket!, workDir: amavis.pdpWorkDir!, maxConns: maxServers, ...(opts.dir === undefined ? {} : { dir: opts.dir }) });
  } catch (e) {
    await postfix?.stop();
    await amavis.stop();
    throw e;
  }
  const pf = postfix;
  const clamd = opts.clamdPid === undefined ? [] : [opts.clamdPid];
  let stopped: Promise<void> | undefined;
  return {
    amavis,
    postfix: pf,
    sut: `smtp://127.0.0.1:${pf.port}?sink=${opts.sinkPort}&name=amavisd-new&pid=${[pf.pid, amavis.pid, ...clamd].join(',')}`,
    ...(milter === undefined ? {} : { milter, milterSut: `${milter.url}?name=amavisd-milter&pid=${[milter.pid, amavis.pid, ...clamd].join(',')}` }),
    stop() {
      stopped ??= (async () => {
        await milter?.stop();
        await pf.stop();
        await amavis.stop();
      })();
      return stopped;
    },
  };
}

/** Options of {@link startAmavisdMilter}. */
export interface StartAmavisdMilterOptions {
  /** amavisd's AM.PDP unix socket ({@link LabAmavis.pdpSocket}: start amavisd with `pdpSocket: true`). */
  amavisSocket: string;
  /** `-w`: where it writes each message for amavisd ({@link LabAmavis.pdpWorkDir}: below amavisd's $MYHOME, owned by amavis). */
  workDir: string;
  /** Milter port on 127.0.0.1 (default a free one). */
  port?: number;
  /** `-m`: concurrent amavisd connections; must equal amavisd's `$max_servers` (default 8). */
  maxConns?: number;
  /** `-T` / `-M`: amavisd connection and message timeouts in seconds (default 120). */
  timeoutSec?: number;
  /** Parent folder (default the OS temp folder; traversable by user amavis). */
  dir?: string;
  /** Account it runs as (default amavis: amavisd reads the message files it writes). */
  user?: string;
  /** How long to wait until it listens (ms, default 20 000). */
  readyTimeoutMs?: number;
  /** `-d`: debug level 1..9, traces to its `amavisd-milter.out` in the private folder (default none). */
  debugLevel?: number;
}

/** A running amavisd-milter (`url` = `milter://127.0.0.1:PORT`). */
export interface LabAmavisdMilter extends LabListener, LabProcess {}

/**
 * Start a real amavisd-milter (Debian `amavisd-milter`): the milter that hands each message
 * to amavisd-new over AM.PDP (before the queue, point B). It writes every message into its
 * working folder and amavisd reads it there, so it runs as the amavis account (through
 * `setpriv`, no shell), in the foreground (`-f`), on 127.0.0.1. Delivery stays with the MTA
 * (`-D client`, the default): amavisd answers with milter actions — a virus under D_REJECT
 * is `554 5.7.0 Reject` at end of DATA, before the MTA queues anything.
 */
export async function startAmavisdMilter(opts: StartAmavisdMilterOptions): Promise<LabAmavisdMilter> {
  const bin = await requireProgram('amavisd-milter', 'apt-get install amavisd-milter; see docs/gateways.md');
  const setpriv = await which('setpriv');
  if (setpriv === undefined) throw new Error('setpriv (util-linux) is needed to run amavisd-milter as user amavis');
  const owner = await amavisAccount(opts.user, 'amavisd-milter is started as root and runs as user amavis (run as root)');
  const port = opts.port ?? (await freePort());
  const milter = await milterListener(undefined, port);
  const { pid, folder, stop } = await startLabDaemon({
    name: 'amavisd-milter',
    dir: opts.dir,
    stopGraceMs: 5_000,
    async setup(folder) {
      await chmod(folder, 0o750);
      await chown(folder, owner.uid, owner.gid);
      const t = String(opts.timeoutSec ?? 120);
      const args = [
        `--reuid=${owner.uid}`,
        `--regid=${owner.gid}`,
        '--init-groups',
        '--',
        bin,
        '-f',
        ...(opts.debugLevel === undefined ? [] : ['-d', String(opts.debugLevel)]),
        '-s',
        milter.socket,
        '-S',
        opts.amavisSocket,
        '-w',
        opts.workDir,
        '-p',
        join(folder, 'amavisd-milter.pid'),
        '-m',
        String(opts.maxConns ?? 8),
        '-T',
        t,
        '-M',
        t,
      ];
      return {
        bin: setpriv,
        args,
        outFile: join(folder, 'amavisd-milter.out'),
        ...whenListening([milter.endpoint], opts.readyTimeoutMs ?? 20_000),
      };
    },
  });
  return { pid, folder, stop, url: milter.url, host: '127.0.0.1', port };
}
