/**
 * Start a real Sendmail (Debian's `sendmail-bin`, 8.17) as a filtering gateway on loopback:
 * one `INPUT_MAIL_FILTER` → a milter (our `avbench serve milter`, clamav-milter, any), and
 * everything it accepts relayed by the `relay` mailer to the next hop (the bench driver's
 * sink, `?sink=PORT`). The milter's reject is Sendmail's reply at the end of DATA; a milter
 * that cannot be reached or times out tempfails the message (`F=T`).
 *
 * Sendmail is not installed as a package (Debian's MTAs conflict; Postfix stays, and so does
 * its /usr/sbin/sendmail): scripts/install-sendmail.sh unpacks the .deb into a private prefix
 * (default /opt/avbench/sendmail). {@link findSendmail} looks there (or at `$AVBENCH_SENDMAIL`,
 * or a `sendmail-mta` on the PATH — never the PATH's `sendmail`, which is Postfix's here).
 *
 * `sendmail.cf` is made as an administrator makes it: m4 with Sendmail's own cf macros
 * (Debian `sendmail-cf`, /usr/share/sendmail/cf) from a generated `sendmail.mc`
 * ({@link sendmailMc}, `OSTYPE(debian)`, every path it names moved into the private folder).
 * Everything lives in that folder: sendmail.mc, sendmail.cf, `mqueue/` (the queue, Sendmail's
 * working folder), the pid file, the statistics file, the hosts and service switch files.
 * The daemon runs as root in the foreground (`-bD`, plus a queue runner every minute), so its
 * PID is recorded; it forks a process per connection and, in background delivery mode, one per
 * delivery, all with their working folder in `mqueue/`: stop() ends those too.
 *
 * No DNS: `hosts files` only (a private hosts file), `FEATURE(nocanonify)`, the smart host is
 * an IP literal, no ident. Sendmail insists on a qualified name for its own host before it
 * reads any config ("My unqualified host name (vm) unknown; sleeping for retry": 60 s) and this
 * machine's name has no dot, so the daemon runs in a private UTS namespace (`unshare --uts`,
 * `nsenter`) whose host name is `127.0.0.1` — qualified, and resolved without a lookup; its
 * SMTP name (`$j`) is set by the config. The machine's own host name is not touched.
 */
import { mkdir, mkdtemp, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, which } from '../core/exec.js';
import { freePort } from '../core/net.js';
import { startLabDaemon, smtpListener, type LabListener, type LabProcess } from './daemon.js';
import { endProcesses, waitForSmtpGreeting } from './util.js';

/** Default prefix scripts/install-sendmail.sh unpacks Sendmail into. */
export const DEFAULT_SENDMAIL_PREFIX = '/opt/avbench/sendmail';

/** Sendmail's cf macros (Debian sendmail-cf). */
export const SENDMAIL_CF_DIR = '/usr/share/sendmail/cf';

/** The SMTP name of a lab Sendmail (`$j`, in its greeting and Received header). */
export const SENDMAIL_HOSTNAME = 'sendmail.avbench.localhost';

/** A Sendmail binary that runs. */
export interface SendmailInstall {
  /** The `sendmail` binary (the MTA, not Postfix's compatibility command). */
  bin: string;
  /** e.g. `8.17.1.9`. */
  version: string;
  /** Was it built with the milter interface (`MILTER` among its compile options)? */
  milter: boolean;
}

/** Candidate Sendmail binaries, in order: `$AVBENCH_SENDMAIL`, the install script's prefix, Debian's installed path, `sendmail-mta` on the PATH. */
async function candidates(): Promise<string[]> {
  const out: string[] = [];
  const env = process.env['AVBENCH_SENDMAIL'];
  if (env !== undefined && env !== '') out.push(env);
  out.push(join(process.env['AVBENCH_SENDMAIL_PREFIX'] ?? DEFAULT_SENDMAIL_PREFIX, 'usr', 'libexec', 'sendmail', 'sendmail'));
  out.push('/usr/libexec/sendmail/sendmail');
  const mta = await which('sendmail-mta');
  if (mta !== undefined) out.push(mta);
  return out;
}

/**
 * A private UTS namespace whose host name is `127.0.0.1`, kept by a bind mount on `file`
 * (made here): run a program in it with `nsenter --uts=FILE PROGRAM...` (nsenter execs it,
 * so the PID is the program's); `release()` unmounts it. Throws when util-linux's unshare,
 * nsenter or the hostname command is missing or fails.
 */
export async function privateUts(file: string): Promise<{ nsenter: string; args: string[]; release(): Promise<void> }> {
  const [unshare, nsenter, umount, hostname] = [await need('unshare'), await need('nsenter'), await need('umount'), await need('hostname')];
  await writeFile(file, '');
  await must(unshare, [`--uts=${file}`, 'true']);
  const release = async (): Promise<void> => void (await run(umount, [file], { deadline: Date.now() + 10_000 }));
  try {
    await must(nsenter, [`--uts=${file}`, hostname, '127.0.0.1']);
  } catch (e) {
    await release();
    throw e;
  }
  return { nsenter, args: [`--uts=${file}`], release };
}

/**
 * Find a Sendmail that runs (`sendmail -C /dev/null -d0.1 -bt`, in a private UTS namespace,
 * prints its version and compile options, then stops at the empty config) and has the milter
 * interface; `undefined` when there is none (run scripts/install-sendmail.sh) or when this is
 * not root (a lab Sendmail runs as root, and so does the namespace).
 */
export async function findSendmail(): Promise<SendmailInstall | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const bins: string[] = [];
  for (const bin of new Set(await candidates())) if (await stat(bin).then((s) => s.isFile(), () => false)) bins.push(bin);
  if (bins.length === 0) return undefined;
  const tmp = await mkdtemp(join(tmpdir(), 'avbench-sendmail-probe-'));
  try {
    const uts = await privateUts(join(tmp, 'uts')).catch(() => undefined);
    if (uts === undefined) return undefined;
    try {
      for (const bin of bins) {
        const r = await run(uts.nsenter, [...uts.args, bin, '-C', '/dev/null', '-d0.1', '-bt'], { deadline: Date.now() + 10_000, input: '' });
        if (!r.ok) continue;
        const version = /^Version (\S+)/m.exec(r.stdout)?.[1];
        if (version === undefined) continue;
        const milter = /\bMILTER\b/.test(r.stdout);
        if (milter) return { bin, version, milter };
      }
      return undefined;
    } finally {
      await uts.release();
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Options of {@link startSendmail} and {@link sendmailMc}. */
export interface StartSendmailOptions {
  /** The milter, as Sendmail's `S=` takes it: `inet:PORT@127.0.0.1` or `unix:/path` (a lab milter's `socket`). */
  milter: string;
  /** Its name in the config and in Sendmail's messages (default `avbench`). */
  milterName?: string;
  /** When the milter cannot be reached or times out: `T` tempfail (default), `R` reject, `` accept unscanned. */
  milterFailFlag?: 'T' | 'R' | '';
  /** The milter's timeouts (Sendmail's `T=`; default `C:10s;S:1m;R:1m;E:5m`). */
  milterTimeouts?: string;
  /** Port of the next hop on 127.0.0.1 (the sink): the smart host `relay:[127.0.0.1]` on this port. */
  forwardPort: number;
  /** Listen port (default: a free one). */
  port?: number;
  /** Parent folder of the private temp folder (default: the OS temp folder). */
  dir?: string;
  /** Recipient domains Sendmail relays (`RELAY_DOMAIN`, default `recipient.localhost`, the SMTP driver's). */
  domains?: readonly string[];
  /** Sendmail's DeliveryMode (default `background`: 250, then a forked process delivers). */
  deliveryMode?: 'background' | 'interactive' | 'queueonly';
  /** Largest message accepted, bytes (default 100 MiB). */
  maxMessageSize?: number;
  /** How long to wait for the greeting (ms, default 20 000). */
  readyTimeoutMs?: number;
}

/** A running lab Sendmail. */
export interface LabSendmail extends LabProcess, LabListener {
  /** sendmail.mc as generated, and the sendmail.cf m4 made of it (run with `-C`). */
  mcFile: string;
  configFile: string;
  /** The queue (Sendmail's working folder). */
  queueDir: string;
  /** stdout and stderr of the daemon (Sendmail logs to syslog; what it says without one lands here). */
  outFile: string;
  version: string;
  bin: string;
}

/** m4's quotes around a value. */
function q(v: string | number): string {
  return `\`${v}'`;
}

/**
 * The generated sendmail.mc (m4 makes sendmail.cf of it with Sendmail's cf macros). Pure:
 * the test and the docs read what a lab Sendmail runs with.
 */
export function sendmailMc(opts: StartSendmailOptions & { port: number; folder: string }): string {
  const f = (name: string) => join(opts.folder, name);
  const name = opts.milterName ?? 'avbench';
  const flag = opts.milterFailFlag ?? 'T';
  const milter = [`S=${opts.milter}`, ...(flag === '' ? [] : [`F=${flag}`]), `T=${opts.milterTimeouts ?? 'C:10s;S:1m;R:1m;E:5m'}`].join(', ');
  const d = (k: string, v: string | number) => `define(${q(k)}, ${q(v)})dnl`;
  return [
    'divert(-1)dnl',
    '# generated by avbench lab: Sendmail as a filtering relay, one input milter, the smart host = the sink',
    'divert(0)dnl',
    `include(${q(join(SENDMAIL_CF_DIR, 'm4', 'cf.m4'))})dnl`,
    `VERSIONID(${q('avbench lab')})dnl`,
    `OSTYPE(${q('debian')})dnl`,
    'dnl Every path in the private folder (OSTYPE(debian) names /etc/mail and /var/lib/sendmail)',
    d('confDOMAIN_NAME', SENDMAIL_HOSTNAME),
    d('QUEUE_DIR', f('mqueue')),
    d('confPID_FILE', f('sendmail.pid')),
    d('STATUS_FILE', f('statistics')),
    d('confDEAD_LETTER_DROP', f('dead.letter')),
    d('confHELP_FILE', f('helpfile')),
    d('confCW_FILE', `-o ${f('local-host-names')}`),
    d('confCR_FILE', `-o ${f('relay-domains')} %[^\\#]`),
    d('confCT_FILE', `-o ${f('trusted-users')} %[^\\#]`),
    d('ALIAS_FILE', f('aliases')),
    `undefine(${q('confHOST_STATUS_DIRECTORY')})dnl`,
    'dnl No DNS: host names from a private hosts file only, no canonification, no ident',
    d('confSERVICE_SWITCH_FILE', f('service.switch')),
    d('confHOSTS_FILE', f('hosts')),
    d('confTO_IDENT', '0'),
    d('confDONT_PROBE_INTERFACES', 'true'),
    `FEATURE(${q('nocanonify')})dnl`,
    `FEATURE(${q('accept_unresolvable_domains')})dnl`,
    `FEATURE(${q('accept_unqualified_senders')})dnl`,
    `FEATURE(${q('no_default_msa')})dnl`,
    'dnl Relay the driver\'s domains to the sink (an IP literal: no MX lookup), 8-bit passed as is',
    ...(opts.domains ?? ['recipient.localhost']).map((dom) => `RELAY_DOMAIN(${q(dom)})dnl`),
    d('SMART_HOST', 'relay:[127.0.0.1]'),
    d('RELAY_MAILER_ARGS', `TCP $h ${opts.forwardPort}`),
    d('ESMTP_MAILER_ARGS', `TCP $h ${opts.forwardPort}`),
    d('confEIGHT_BIT_HANDLING', 'pass8'),
    d('confDELIVERY_MODE', opts.deliveryMode ?? 'background'),
    d('confMAX_MESSAGE_SIZE', opts.maxMessageSize ?? 100 * 1024 * 1024),
    'dnl A shared 2-core machine: do not queue or refuse because of the load average',
    d('confQUEUE_LA', '1000'),
    d('confREFUSE_LA', '1000'),
    `DAEMON_OPTIONS(${q(`Port=${opts.port}, Addr=127.0.0.1, Name=MTA, Listen=128`)})dnl`,
    `INPUT_MAIL_FILTER(${q(name)}, ${q(milter)})dnl`,
    `MAILER(${q('smtp')})dnl`,
    '',
  ].join('\n');
}

/** Make sendmail.cf of a sendmail.mc with m4 and Sendmail's cf macros; throws with m4's message when it fails. */
export async function sendmailCf(mcFile: string): Promise<string> {
  const r = await run('m4', [mcFile], { deadline: Date.now() + 20_000 });
  if (!r.ok || r.exitCode !== 0 || r.stderr.trim() !== '') throw new Error(`m4 ${mcFile} failed (is sendmail-cf installed?): ${r.stderr || (r.ok ? '' : r.message)}`);
  return r.stdout;
}

/** PIDs of the processes whose working folder is `dir` or under it (a Sendmail works in its queue folder). */
export async function processesIn(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const e of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const cwd = await readlink(join('/proc', e, 'cwd')).catch(() => '');
    if (cwd === dir || cwd.startsWith(`${dir}/`)) pids.push(Number(e));
  }
  return pids;
}

/** A program of util-linux that the namespace needs, or an Error. */
async function need(name: string): Promise<string> {
  const p = await which(name);
  if (p === undefined) throw new Error(`${name} (util-linux) is not installed: a lab Sendmail runs in a private UTS namespace`);
  return p;
}

/** Run a helper program; throws with its output when it fails. */
async function must(bin: string, args: readonly string[]): Promise<void> {
  const r = await run(bin, args, { deadline: Date.now() + 10_000 });
  if (!r.ok || r.exitCode !== 0) throw new Error(`${bin} ${args.join(' ')} failed: ${r.stderr || (r.ok ? `exit ${r.exitCode}` : r.message)}`);
}

/** Start Sendmail as root (throws, with its output's tail, if it is not installed or cannot start). */
export async function startSendmail(opts: StartSendmailOptions): Promise<LabSendmail> {
  if (process.getuid?.() !== 0) throw new Error('a lab Sendmail runs as root (its daemon binds, forks and delivers as root)');
  const install = await findSendmail();
  if (install === undefined) throw new Error('Sendmail (sendmail-bin) is not installed: run scripts/install-sendmail.sh (see docs/gateways.md)');
  let queueDir = '';
  let uts: Awaited<ReturnType<typeof privateUts>> | undefined;
  /** End what the daemon forked (connection and delivery processes), then drop the namespace. */
  const afterExit = async (): Promise<void> => {
    if (queueDir !== '') await endProcesses(() => processesIn(queueDir), 3_000);
    await uts?.release();
  };
  const { launch, ...proc } = await startLabDaemon({
    name: 'Sendmail',
    slug: 'sendmail',
    dir: opts.dir,
    stopGraceMs: 5_000,
    afterExit,
    async setup(folder) {
      const port = opts.port ?? (await freePort());
      queueDir = join(folder, 'mqueue');
      await mkdir(queueDir, { mode: 0o700 });
      await writeFile(join(folder, 'hosts'), `127.0.0.1 localhost ${SENDMAIL_HOSTNAME}\n`, { mode: 0o644 });
      await writeFile(join(folder, 'service.switch'), 'hosts files\naliases files\n', { mode: 0o644 });
      await writeFile(join(folder, 'aliases'), '', { mode: 0o644 });
      const mcFile = join(folder, 'sendmail.mc');
      const configFile = join(folder, 'sendmail.cf');
      await writeFile(mcFile, sendmailMc({ ...opts, port, folder }), { mode: 0o644 });
      await writeFile(configFile, await sendmailCf(mcFile), { mode: 0o644 });
      // The private UTS namespace, kept by a bind mount on a file of the folder.
      uts = await privateUts(join(folder, 'uts'));
      const outFile = join(folder, 'sendmail.out');
      return {
        // nsenter enters the namespace and execs Sendmail: the PID is the daemon's.
        bin: uts.nsenter,
        args: [...uts.args, install.bin, '-C', configFile, '-bD', '-q1m', '-L', 'sm-avbench'],
        outFile,
        ready: (deadline: number, alive: () => boolean) => waitForSmtpGreeting(port, deadline, alive),
        readyTimeoutMs: opts.readyTimeoutMs ?? 20_000,
        notReady: 'did not greet in time',
        port,
        mcFile,
        configFile,
      };
    },
  });
  return {
    ...proc,
    ...smtpListener(launch.port),
    mcFile: launch.mcFile,
    configFile: launch.configFile,
    queueDir,
    outFile: launch.outFile,
    version: install.version,
    bin: install.bin,
  };
}
