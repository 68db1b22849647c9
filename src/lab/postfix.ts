/**
 * A private Postfix instance for end-to-end runs (RUNBOOK.md "A private Postfix instance"):
 * its own main.cf / master.cf in a private config folder, its own queue and data folders,
 * listening on one loopback port, relaying everything to a sink, optionally with
 * `smtpd_milters` (point B) or a before-queue `smtpd_proxy_filter` (point A). /etc/postfix
 * is never touched. Started and stopped with `postfix -c DIR start|stop` (as root).
 *
 * Layout of the private folder (chmod 711: master opens its lock file as user postfix):
 * ```
 * FOLDER/etc/main.cf, master.cf     the config folder (postfix -c FOLDER/etc)
 * FOLDER/queue/                     queue_directory (postfix start makes its subfolders)
 * FOLDER/data/                      data_directory
 * FOLDER/log/maillog                maillog_file (written by postlogd)
 * ```
 */
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, which } from '../core/exec.js';
import { freePort } from '../core/net.js';
import { alive, readPid } from '../daemon/pidfile.js';
import { delay, endProcesses, logTail, pollUntil, smtpGreets } from './util.js';

/** Options of {@link startPostfix}. */
export interface StartPostfixOptions {
  /** Port the instance's smtpd listens on (127.0.0.1; default a free port). */
  listenPort?: number;
  /** Where all mail is relayed (`relayhost = [127.0.0.1]:PORT`): the sink. */
  relayPort: number;
  /**
   * `smtpd_milters` value, e.g. `inet:127.0.0.1:7357`, `inet:7357@127.0.0.1` (converted) or
   * `unix:/path/milter.sock` (the socket and its folders must be reachable by user postfix).
   */
  milter?: string;
  /** `milter_default_action` when the milter cannot be reached (default tempfail). */
  milterDefaultAction?: 'tempfail' | 'accept' | 'reject' | 'quarantine';
  /**
   * A before-queue content filter: `smtpd_proxy_filter = 127.0.0.1:PORT` on the public
   * smtpd. The filter must forward to `reinjectPort` (a second smtpd of this instance).
   */
  proxyFilter?: string;
  /** Port of the re-injection smtpd for a proxy filter (default a free port; only with proxyFilter). */
  reinjectPort?: number;
  /**
   * Local delivery agents as Postfix `pipe` transports (point C): mail for `domain` goes to
   * `argv` (the message on stdin, no shell) run as `user` (not root, not postfix). The
   * exit code is sysexits: 0 sent, 75 deferred (retried), others bounced.
   */
  pipeTransports?: readonly PipeTransport[];
  /** Extra main.cf lines (`key = value`). */
  extraMain?: readonly string[];
  /** Parent folder for the private folder (default the OS temp folder). */
  dir?: string;
  /** How long to wait for the 220 greeting (ms, default 30 000). */
  readyTimeoutMs?: number;
  /**
   * A command prefix `postfix -c DIR start|stop` runs under (e.g. `['/usr/bin/nsenter',
   * '--mount=FILE']`: master and every process it starts live in that namespace). Default none.
   */
  launcher?: readonly string[];
}

/** A Postfix pipe(8) transport for one recipient domain. */
export interface PipeTransport {
  /** master.cf service name (letters, digits, `-`). */
  name: string;
  /** Recipient domain routed to it (added to relay_domains). */
  domain: string;
  /** Command and arguments (no white space inside an argument: pipe splits on it). */
  argv: readonly string[];
  /** Unprivileged user it runs as (e.g. nobody). */
  user: string;
}

/** A running private Postfix. */
export interface LabPostfix {
  host: string;
  /** The public smtpd port. */
  port: number;
  /** The re-injection port (with a proxy filter). */
  reinjectPort?: number;
  /** The private folder. */
  dir: string;
  /** The config folder (`postfix -c configDir`). */
  configDir: string;
  maillog: string;
  /** master's pid (from queue/pid/master.pid). */
  pid: number;
  /** How many deliveries the maillog shows as ` status=sent `. */
  sentCount(): Promise<number>;
  /** Wait until at least `n` deliveries show ` status=sent ` (false when the deadline passes). */
  waitForSent(n: number, deadline: number): Promise<boolean>;
  /** The maillog's text ('' when absent). */
  log(): Promise<string>;
  /** `postfix -c DIR stop`, wait for master to exit (SIGKILL by pid after 20 s), remove the folder. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * A milter address in Postfix's syntax: Sendmail-style `inet:PORT@HOST` (as libmilter,
 * clamav-milter and our milter print it) becomes `inet:HOST:PORT`; `inet:HOST:PORT` and
 * `unix:PATH` pass unchanged.
 */
export function postfixMilterAddress(a: string): string {
  const m = /^inet:(\d+)@(.+)$/.exec(a.trim());
  return m ? `inet:${m[2]}:${m[1]}` : a.trim();
}

/** main.cf for the instance. */
export function postfixMainCf(o: {
  dir: string;
  relayPort: number;
  milter?: string;
  milterDefaultAction?: string;
  pipeTransports?: readonly PipeTransport[];
  extra?: readonly string[];
}): string {
  const lines = [
    '# generated by avbench lab: a private Postfix instance (docs/install.md)',
    'compatibility_level = 3.6',
    `queue_directory = ${join(o.dir, 'queue')}`,
    `data_directory = ${join(o.dir, 'data')}`,
    'myhostname = avbench-postfix.localhost',
    'mydomain = localhost',
    'myorigin = $myhostname',
    'inet_interfaces = loopback-only',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    'mydestination =',
    'relay_domains =',
    'local_recipient_maps =',
    'alias_maps =',
    'alias_database =',
    'local_transport = error:local delivery is disabled',
    `relayhost = [127.0.0.1]:${o.relayPort}`,
    'smtp_dns_support_level = disabled',
    'smtp_host_lookup = native',
    'smtpd_peername_lookup = no',
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
    'smtp_tls_security_level = none',
    'smtpd_tls_security_level = none',
    'biff = no',
    'message_size_limit = 52428800',
    `maillog_file = ${join(o.dir, 'log', 'maillog')}`,
    `maillog_file_prefixes = ${o.dir}`,
    // Retry soon: a tempfailed delivery to the sink in a test should not wait 5 minutes.
    'minimal_backoff_time = 5s',
    'maximal_backoff_time = 10s',
    'queue_run_delay = 5s',
    'default_destination_concurrency_limit = 20',
    'smtp_connection_cache_on_demand = yes',
  ];
  if (o.milter !== undefined) {
    lines.push(`smtpd_milters = ${postfixMilterAddress(o.milter)}`, `milter_default_action = ${o.milterDefaultAction ?? 'tempfail'}`, 'milter_protocol = 6');
  }
  const pipes = o.pipeTransports ?? [];
  if (pipes.length > 0) {
    lines.push(
      `relay_domains = ${pipes.map((p) => p.domain).join(', ')}`,
      `transport_maps = inline:{ ${pipes.map((p) => `${p.domain}=${p.name}:`).join(', ')} }`,
      ...pipes.map((p) => `${p.name}_destination_recipient_limit = 1`),
    );
  }
  lines.push(...(o.extra ?? []));
  return `${lines.join('\n')}\n`;
}

/**
 * master.cf `-o` lines of a re-injection smtpd (the listener a filter hands mail back to):
 * XFORWARD from loopback, no client/helo/sender checks, relay for loopback only.
 */
const REINJECT_SMTPD_OPTIONS: readonly string[] = [
  '  -o smtpd_authorized_xforward_hosts=127.0.0.0/8',
  '  -o smtpd_client_restrictions=',
  '  -o smtpd_helo_restrictions=',
  '  -o smtpd_sender_restrictions=',
  '  -o smtpd_recipient_restrictions=permit_mynetworks,reject',
  '  -o smtpd_relay_restrictions=permit_mynetworks,reject',
  '  -o mynetworks=127.0.0.0/8',
];

/** master.cf for the instance: one (or two, with a proxy filter) loopback smtpd and the internal services, no chroot. */
export function postfixMasterCf(o: { port: number; proxyFilter?: string; reinjectPort?: number; pipeTransports?: readonly PipeTransport[] }): string {
  const pipes = (o.pipeTransports ?? []).flatMap((p) => {
    if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(p.name)) throw new TypeError(`pipe transport name must be letters, digits and -: ${p.name}`);
    if (!/^[A-Za-z0-9._-]+$/.test(p.domain)) throw new TypeError(`pipe transport domain: ${p.domain}`);
    if (p.user === 'root' || p.user === 'postfix' || !/^[a-z_][a-z0-9_-]*$/.test(p.user)) throw new TypeError(`pipe transport user must be an unprivileged account: ${p.user}`);
    for (const a of p.argv) if (a === '' || /\s/.test(a)) throw new TypeError(`pipe transport argument with white space (pipe splits on it): ${JSON.stringify(a)}`);
    return [`${p.name} unix  -       n       n       -       -       pipe`, `  flags=R user=${p.user} argv=${p.argv.join(' ')}`];
  });
  const smtpd =
    o.proxyFilter === undefined
      ? [`127.0.0.1:${o.port} inet n - n - - smtpd`]
      : [
          `127.0.0.1:${o.port} inet n - n - - smtpd`,
          `  -o smtpd_proxy_filter=${o.proxyFilter}`,
          '  -o smtpd_proxy_options=speed_adjust',
          `127.0.0.1:${o.reinjectPort} inet n - n - - smtpd`,
          '  -o smtpd_proxy_filter=',
          ...REINJECT_SMTPD_OPTIONS,
          '  -o receive_override_options=no_unknown_recipient_checks',
        ];
  return [
    '# generated by avbench lab',
    '# service type  private unpriv  chroot  wakeup  maxproc command',
    ...smtpd,
    'cleanup   unix  n       -       n       -       0       cleanup',
    'qmgr      unix  n       -       n       300     1       qmgr',
    'rewrite   unix  -       -       n       -       -       trivial-rewrite',
    'bounce    unix  -       -       n       -       0       bounce',
    'defer     unix  -       -       n       -       0       bounce',
    'trace     unix  -       -       n       -       0       bounce',
    'verify    unix  -       -       n       -       1       verify',
    'flush     unix  n       -       n       1000?   0       flush',
    'proxymap  unix  -       -       n       -       -       proxymap',
    'proxywrite unix -       -       n       -       1       proxymap',
    'smtp      unix  -       -       n       -       -       smtp',
    'relay     unix  -       -       n       -       -       smtp',
    'showq     unix  n       -       n       -       -       showq',
    'error     unix  -       -       n       -       -       error',
    'retry     unix  -       -       n       -       -       error',
    'discard   unix  -       -       n       -       -       discard',
    'anvil     unix  -       -       n       -       1       anvil',
    'scache    unix  -       -       n       -       1       scache',
    'postlog   unix-dgram n  -       n       -       1       postlogd',
    ...pipes,
    '',
  ].join('\n');
}

/** uid and gid of the mail_owner (postfix) account, from /etc/passwd. */
async function postfixOwner(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === 'postfix' && f[2] !== undefined && f[3] !== undefined) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error('no postfix user in /etc/passwd (apt-get install postfix)');
}

/** Count ` status=sent ` in a maillog text. */
export function countSent(log: string): number {
  let n = 0;
  let i = log.indexOf(' status=sent ');
  while (i >= 0) {
    n++;
    i = log.indexOf(' status=sent ', i + 1);
  }
  return n;
}

/**
 * Start a private Postfix (must run as root; throws with the log when it cannot start).
 * The caller starts the sink (and the milter / proxy filter) first.
 */
export async function startPostfix(opts: StartPostfixOptions): Promise<LabPostfix> {
  const postfix = await which('postfix');
  if (postfix === undefined) throw new Error('postfix is not installed (apt-get install postfix; see docs/install.md)');
  if (process.getuid?.() !== 0) throw new Error('a private Postfix instance needs root (postfix -c DIR start)');
  if (opts.proxyFilter !== undefined && opts.milter !== undefined) throw new TypeError('startPostfix: give milter or proxyFilter, not both');
  const dir = await mkdtemp(join(opts.dir ?? tmpdir(), 'avbench-postfix-'));
  await chmod(dir, 0o711);
  const configDir = join(dir, 'etc');
  const maillog = join(dir, 'log', 'maillog');
  const launch = [...(opts.launcher ?? []), postfix];
  let started = false;
  const stopAndRemove = async (): Promise<void> => {
    const pid = await readPid(join(dir, 'queue', 'pid', 'master.pid'));
    if (started) await run(launch[0]!, [...launch.slice(1), '-c', configDir, 'stop'], { deadline: Date.now() + 30_000 });
    // master exits once its children have: SIGKILL only when it has not after 20 s.
    if (pid !== undefined) await endProcesses(async () => (alive(pid) ? [pid] : []), 20_000, false);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await mkdir(configDir, { mode: 0o755 });
    await mkdir(join(dir, 'log'), { mode: 0o755 });
    // postfix start makes the queue's subfolders, not the folder itself; data belongs to postfix.
    await mkdir(join(dir, 'queue'), { mode: 0o755 });
    await mkdir(join(dir, 'data'), { mode: 0o700 });
    const owner = await postfixOwner();
    await chown(join(dir, 'data'), owner.uid, owner.gid);
    const port = opts.listenPort ?? (await freePort());
    const reinjectPort = opts.proxyFilter === undefined ? undefined : (opts.reinjectPort ?? (await freePort()));
    await writeFile(
      join(configDir, 'main.cf'),
      postfixMainCf({
        dir,
        relayPort: opts.relayPort,
        ...(opts.milter === undefined ? {} : { milter: opts.milter }),
        ...(opts.milterDefaultAction === undefined ? {} : { milterDefaultAction: opts.milterDefaultAction }),
        ...(opts.pipeTransports === undefined ? {} : { pipeTransports: opts.pipeTransports }),
        ...(opts.extraMain === undefined ? {} : { extra: opts.extraMain }),
      }),
      { mode: 0o644 },
    );
    await writeFile(
      join(configDir, 'master.cf'),
      postfixMasterCf({ port, ...(opts.pipeTransports === undefined ? {} : { pipeTransports: opts.pipeTransports }), ...(opts.proxyFilter === undefined ? {} : { proxyFilter: opts.proxyFilter, reinjectPort: reinjectPort! }) }),
      { mode: 0o644 },
    );
    const r = await run(launch[0]!, [...launch.slice(1), '-c', configDir, 'start'], { deadline: Date.now() + 60_000 });
    if (!r.ok || r.exitCode !== 0) {
      throw new Error(`postfix -c ${configDir} start failed: ${r.ok ? `exit ${r.exitCode}` : r.message}: ${r.stderr}${r.stdout}`);
    }
    started = true;
    const ready = await pollUntil((d) => smtpGreets(port, d), Date.now() + (opts.readyTimeoutMs ?? 30_000), () => true, { tryMs: 2_000 });
    const pid = await readPid(join(dir, 'queue', 'pid', 'master.pid'));
    if (!ready || pid === undefined) throw new Error(`postfix did not greet on 127.0.0.1:${port} in time: ${await logTail(maillog)}`);
    const readLog = (): Promise<string> => readFile(maillog, 'utf8').catch(() => '');
    let stopped: Promise<void> | undefined;
    return {
      host: '127.0.0.1',
      port,
      ...(reinjectPort === undefined ? {} : { reinjectPort }),
      dir,
      configDir,
      maillog,
      pid,
      sentCount: async () => countSent(await readLog()),
      async waitForSent(n: number, until: number): Promise<boolean> {
        for (;;) {
          if (countSent(await readLog()) >= n) return true;
          if (Date.now() >= until) return false;
          await delay(100);
        }
      },
      log: readLog,
      stop() {
        stopped ??= stopAndRemove();
        return stopped;
      },
    };
  } catch (e) {
    await stopAndRemove();
    throw e;
  }
}

/** Options of {@link startPostfixAfterQueue}. */
export interface StartPostfixAfterQueueOptions extends Omit<StartPostfixOptions, 'milter' | 'milterDefaultAction' | 'proxyFilter' | 'reinjectPort'> {
  /** The after-queue content filter's SMTP/LMTP listener on 127.0.0.1 (amavisd's `$inet_socket_port`, or our `serve smtp`). */
  filterPort: number;
  /** Parallel deliveries to the filter (the feeding transport's maxproc; match the filter's own process count). Default 8. */
  filterConcurrency?: number;
  /** Port of the re-injection smtpd the filter forwards to (default a free port). */
  reinjectPort?: number;
}

/**
 * master.cf lines of an after-queue content filter (docs/smtp-proxy.md): the feeding `smtp`
 * transport `avbench-filter` (XFORWARD on, no MIME conversion, one recipient list per
 * message) and the re-injection smtpd on 127.0.0.1:reinjectPort, whose `-o content_filter=`
 * keeps filtered mail from looping back to the filter.
 */
export function postfixAfterQueueMasterCf(o: { filterConcurrency: number; reinjectPort: number }): string {
  return [
    '# after-queue content filter (avbench lab): the transport to the filter and the listener it forwards to',
    `avbench-filter unix -    -       n       -       ${o.filterConcurrency}       smtp`,
    '  -o smtp_send_xforward_command=yes',
    '  -o disable_mime_output_conversion=yes',
    '  -o smtp_data_done_timeout=1200',
    '  -o max_use=20',
    `127.0.0.1:${o.reinjectPort} inet n - n - - smtpd`,
    '  -o content_filter=',
    '  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters',
    ...REINJECT_SMTPD_OPTIONS,
    '  -o smtpd_error_sleep_time=0',
    '  -o smtpd_client_connection_count_limit=0',
    '  -o smtpd_client_connection_rate_limit=0',
    '',
  ].join('\n');
}

/**
 * A private Postfix with an after-queue content filter (point A after the queue: amavisd-new's
 * classic place): the public smtpd queues each message with
 * `-o content_filter=avbench-filter:[127.0.0.1]:FILTERPORT` (on that listener only, so Postfix's
 * own bounces are not sent through the filter), the queue manager hands it to the filter, and
 * the filter forwards what passes to the re-injection smtpd, which relays it to `relayPort`.
 * A message the filter refuses with 5xx is bounced by Postfix (a DSN to the envelope sender,
 * relayed to `relayPort` like any mail); the SMTP client had already been told 250.
 *
 * Built on {@link startPostfix}: the instance is started, its master.cf gains the filter's
 * lines, and `postfix reload` makes them live (no mail has been accepted before that).
 */
export async function startPostfixAfterQueue(opts: StartPostfixAfterQueueOptions): Promise<LabPostfix & { reinjectPort: number }> {
  const pf = await startPostfix(opts);
  try {
    const reinjectPort = opts.reinjectPort ?? (await freePort());
    const masterCf = join(pf.configDir, 'master.cf');
    const public_ = `127.0.0.1:${pf.port} inet n - n - - smtpd`;
    const text = await readFile(masterCf, 'utf8');
    if (!text.includes(`${public_}\n`)) throw new Error(`startPostfixAfterQueue: no public smtpd line in ${masterCf}`);
    const filtered = text.replace(`${public_}\n`, `${public_}\n  -o content_filter=avbench-filter:[127.0.0.1]:${opts.filterPort}\n`);
    await writeFile(masterCf, filtered + postfixAfterQueueMasterCf({ filterConcurrency: opts.filterConcurrency ?? 8, reinjectPort }), { mode: 0o644 });
    const postfix = (await which('postfix'))!;
    const r = await run(postfix, ['-c', pf.configDir, 'reload'], { deadline: Date.now() + 30_000 });
    if (!r.ok || r.exitCode !== 0) throw new Error(`postfix -c ${pf.configDir} reload failed: ${r.ok ? `exit ${r.exitCode}` : r.message}: ${r.stderr}${r.stdout}`);
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
    // master re-creates its listeners on reload: both must greet again.
    while (!((await smtpGreets(reinjectPort, Math.min(deadline, Date.now() + 2_000))) && (await smtpGreets(pf.port, Math.min(deadline, Date.now() + 2_000))))) {
      if (Date.now() >= deadline) throw new Error(`postfix: the re-injection listener 127.0.0.1:${reinjectPort} did not greet after reload: ${(await pf.log()).slice(-2_000)}`);
      await delay(100);
    }
    return { ...pf, reinjectPort };
  } catch (e) {
    await pf.stop();
    throw e;
  }
}
