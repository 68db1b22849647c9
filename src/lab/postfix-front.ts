/**
 * Postfix in front (issue 15 points 6 and 7): a private Postfix ({@link startPostfix}) as an
 * administrator deploys it in front of a virus filter, exposed as one `smtp://` `--sut` URL
 * whose `sink=` is the bench driver's sink (Postfix's `relayhost`).
 *
 * - {@link startPostfixReinject}: Postfix FILTER_README's "simple content filter" with
 *   `avbench deliver` as the filter, AVPKeeper-style: the public smtpd queues every message
 *   with `-o content_filter=avscan:dummy`; the queue manager hands it to the pipe(8) service
 *   `avscan`, which runs `avbench deliver [options] -- /usr/sbin/sendmail -C CONFIGDIR -G -i
 *   -f ${sender} -- ${recipient}`; what passes is re-injected through sendmail → postdrop →
 *   pickup (which has no content_filter: no loop) and relayed to the sink. An infected
 *   message makes deliver exit 77 (EX_NOPERM): Postfix bounces it (the DSN goes to the
 *   envelope sender, i.e. to the sink, without the driver's id) and it never arrives.
 * - {@link startPostfixFront}: `smtpd_milters` = a milter (clamav-milter, `avbench serve
 *   milter`, amavisd-milter, rspamd) or `smtpd_proxy_filter` = an SMTP gateway (clamsmtpd,
 *   `avbench serve smtp`) that forwards to this instance's re-injection smtpd.
 */
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, which } from '../core/exec.js';
import { freePort } from '../core/net.js';
import { startPostfix, type LabPostfix, type StartPostfixOptions } from './postfix.js';
import { delay, smtpGreets } from './util.js';

/**
 * The `--sut` URL of a Postfix in front: `smtp://127.0.0.1:PORT?sink=SINK[&grace=S]&name=NAME&pid=P,...`.
 * The name is percent-encoded: a `+` in a query is a space, so `postfix+clamav-milter` is written `postfix%2Bclamav-milter`.
 */
export function postfixFrontSutUrl(o: { port: number; sinkPort: number; name: string; pids: readonly number[]; graceSec?: number }): string {
  const grace = o.graceSec === undefined ? '' : `&grace=${o.graceSec}`;
  const pids = o.pids.length === 0 ? '' : `&pid=${o.pids.join(',')}`;
  return `smtp://127.0.0.1:${o.port}?sink=${o.sinkPort}${grace}&name=${encodeURIComponent(o.name)}${pids}`;
}

/** Options of {@link startPostfixReinject}. */
export interface StartPostfixReinjectOptions extends Omit<StartPostfixOptions, 'milter' | 'milterDefaultAction' | 'proxyFilter' | 'reinjectPort' | 'pipeTransports'> {
  /**
   * The command that runs `avbench deliver` up to and including the word `deliver`, e.g.
   * `[process.execPath, '/usr/lib/avbench/dist/src/cli/bin.js', 'deliver']` (readable by `user`).
   */
  deliver: readonly string[];
  /** deliver's options before its `--` (`--scanner clamd --config FILE`, `--on-infected reject`...). */
  deliverOptions: readonly string[];
  /** Account the pipe runs as (default `nobody`). */
  user?: string;
  /** The pipe service's maxproc: parallel deliver processes (default 10). */
  maxproc?: number;
  /** The sendmail the filter re-injects with (default `sendmail` on PATH, /usr/sbin/sendmail). */
  sendmail?: string;
  /** Seconds the bench driver waits for an accepted message at the sink (`grace=` of {@link LabPostfixReinject.sutUrl}; default 10: in the tests a passing message reached the sink in 130–234 ms median, 1.7 s at most). */
  graceSec?: number;
}

/** A running Postfix with `avbench deliver` as its simple content filter. */
export interface LabPostfixReinject extends LabPostfix {
  /** The pipe's argv as master.cf has it (Postfix expands `${sender}` and `${recipient}`). */
  filterArgv: string[];
  /** `smtp://127.0.0.1:PORT?sink=SINK&grace=S&name=NAME&pid=MASTER[,extra]` (name default `postfix+avbench-deliver`). */
  sutUrl(sinkPort: number, o?: { name?: string; pids?: readonly number[] }): string;
}

/** A master.cf argv word: pipe(8) splits on white space and has no quoting for it. */
function pipeWord(a: string): string {
  if (a === '' || /\s/.test(a)) throw new TypeError(`postfix pipe argv: an argument with white space or empty (pipe splits on it): ${JSON.stringify(a)}`);
  return a;
}

/**
 * master.cf lines of the simple content filter: `pickup` (how sendmail's re-injected mail
 * enters; no content_filter there, so no loop) and the pipe service `avscan` running as `user`.
 */
export function postfixReinjectMasterCf(o: { argv: readonly string[]; user: string; maxproc: number }): string {
  if (o.user === 'root' || o.user === 'postfix' || !/^[a-z_][a-z0-9_-]*$/.test(o.user)) throw new TypeError(`pipe user must be an unprivileged account: ${o.user}`);
  return [
    '# simple content filter (Postfix FILTER_README), avbench lab: avbench deliver re-injects through sendmail',
    'pickup    unix  n       -       n       60      1       pickup',
    `avscan    unix  -       n       n       -       ${o.maxproc}      pipe`,
    `  flags=Rq user=${o.user} argv=${o.argv.map(pipeWord).join(' ')}`,
    '',
  ].join('\n');
}

/** Run a program; throw with its output when it fails. */
async function must(bin: string, args: readonly string[]): Promise<void> {
  const r = await run(bin, args, { deadline: Date.now() + 30_000 });
  if (!r.ok || r.exitCode !== 0) throw new Error(`${bin} ${args.join(' ')} failed: ${r.ok ? `exit ${r.exitCode}` : r.message}: ${r.stderr}${r.stdout}`);
}

/**
 * A private mount namespace whose /etc/postfix is a copy of the host's plus a main.cf naming
 * the private instance in `alternate_config_directories` — what an administrator writes into
 * the default main.cf for a second instance, here without touching the host's /etc/postfix.
 *
 * Why: the re-injecting `sendmail -C DIR` hands the message to the set-gid `postdrop`, which
 * (run by an unprivileged user such as the pipe's) accepts a non-default config folder only
 * when the default main.cf lists it there ("unauthorized configuration directory name"
 * otherwise). Master is started with `launcher` (`nsenter --mount=FILE`), so it and everything
 * it starts (pipe → deliver → sendmail → postdrop) see the copy. `release()` (after Postfix
 * has stopped) unmounts the namespace file and removes the folder.
 */
async function postfixEtcNamespace(parent: string | undefined): Promise<{ launcher: string[]; allow(configDir: string): Promise<void>; release(): Promise<void> }> {
  const bins: string[] = [];
  for (const p of ['unshare', 'nsenter', 'mount', 'umount']) {
    const b = await which(p);
    if (b === undefined) throw new Error(`${p} is not installed (util-linux; the re-injection lab needs a private mount namespace)`);
    bins.push(b);
  }
  const [unshare, nsenter, mount, umount] = bins as [string, string, string, string];
  const folder = await mkdtemp(join(parent ?? tmpdir(), 'avbench-postfix-etc-'));
  await chmod(folder, 0o755);
  const ns = join(folder, 'ns');
  const etc = join(folder, 'etc');
  const file = join(ns, 'mnt');
  const mounted: string[] = [];
  const release = async (): Promise<void> => {
    for (const m of mounted.reverse()) await run(umount, [m], { deadline: Date.now() + 10_000 });
    mounted.length = 0;
    await rm(folder, { recursive: true, force: true });
  };
  try {
    await mkdir(ns);
    await cp('/etc/postfix', etc, { recursive: true, preserveTimestamps: true });
    await chmod(etc, 0o755);
    // A namespace file must sit on a private mount: bind the folder onto itself, make it private.
    await must(mount, ['--bind', ns, ns]);
    mounted.push(ns);
    await must(mount, ['--make-private', ns]);
    await writeFile(file, '');
    await must(unshare, [`--mount=${file}`, '--propagation', 'private', 'true']);
    mounted.push(file);
    await must(nsenter, [`--mount=${file}`, mount, '--bind', etc, '/etc/postfix']);
  } catch (e) {
    await release();
    throw e;
  }
  return {
    launcher: [nsenter, `--mount=${file}`],
    allow: (configDir) => writeFile(join(etc, 'main.cf'), `# avbench lab: the private instance sendmail -C may name (postdrop's check)\nalternate_config_directories = ${configDir}\n`, { mode: 0o644 }),
    release,
  };
}

/** Rewrite master.cf (add `-o` lines to the public smtpd, append `tail`) and `postfix reload`; wait until the public smtpd greets again. */
async function reconfigure(pf: LabPostfix, publicOptions: readonly string[], tail: string, readyTimeoutMs: number): Promise<void> {
  const masterCf = join(pf.configDir, 'master.cf');
  const public_ = `127.0.0.1:${pf.port} inet n - n - - smtpd`;
  const text = await readFile(masterCf, 'utf8');
  if (!text.includes(`${public_}\n`)) throw new Error(`postfix: no public smtpd line in ${masterCf}`);
  await writeFile(masterCf, text.replace(`${public_}\n`, `${public_}\n${publicOptions.map((l) => `  ${l}\n`).join('')}`) + tail, { mode: 0o644 });
  const postfix = await which('postfix');
  if (postfix === undefined) throw new Error('postfix is not installed');
  const r = await run(postfix, ['-c', pf.configDir, 'reload'], { deadline: Date.now() + 30_000 });
  if (!r.ok || r.exitCode !== 0) throw new Error(`postfix -c ${pf.configDir} reload failed: ${r.ok ? `exit ${r.exitCode}` : r.message}: ${r.stderr}${r.stdout}`);
  const deadline = Date.now() + readyTimeoutMs;
  // master re-creates its listeners on reload; give it a moment, then wait for a greeting.
  await delay(300);
  while (!(await smtpGreets(pf.port, Math.min(deadline, Date.now() + 2_000)))) {
    if (Date.now() >= deadline) throw new Error(`postfix: 127.0.0.1:${pf.port} did not greet after reload: ${(await pf.log()).slice(-2_000)}`);
    await delay(100);
  }
}

/**
 * Start a private Postfix whose public smtpd sends every message through `avbench deliver`
 * (a pipe(8) content filter) and re-injects what passes with sendmail (point C in front of
 * the queue manager, AVPKeeper-style). Needs root; the caller starts the sink (relayPort)
 * and the scanner first. Mail the filter refuses is bounced by Postfix, never relayed.
 */
export async function startPostfixReinject(opts: StartPostfixReinjectOptions): Promise<LabPostfixReinject> {
  const sendmail = opts.sendmail ?? (await which('sendmail'));
  if (sendmail === undefined) throw new Error('sendmail (Postfix) is not installed (apt-get install postfix)');
  const { deliver, deliverOptions, user, maxproc, graceSec, sendmail: _s, ...base } = opts;
  const ns = await postfixEtcNamespace(opts.dir);
  let pf: LabPostfix;
  try {
    pf = await startPostfix({ ...base, launcher: ns.launcher });
  } catch (e) {
    await ns.release();
    throw e;
  }
  try {
    await ns.allow(pf.configDir);
    const argv = [...deliver, ...deliverOptions, '--', sendmail, '-C', pf.configDir, '-G', '-i', '-f', '${sender}', '--', '${recipient}'];
    await reconfigure(pf, ['-o content_filter=avscan:dummy'], postfixReinjectMasterCf({ argv, user: user ?? 'nobody', maxproc: maxproc ?? 10 }), opts.readyTimeoutMs ?? 30_000);
    let stopped: Promise<void> | undefined;
    return {
      ...pf,
      stop: () =>
        (stopped ??= (async () => {
          await pf.stop();
          await ns.release();
        })()),
      filterArgv: argv,
      sutUrl: (sinkPort, o = {}) => postfixFrontSutUrl({ port: pf.port, sinkPort, graceSec: graceSec ?? 10, name: o.name ?? 'postfix+avbench-deliver', pids: [pf.pid, ...(o.pids ?? [])] }),
    };
  } catch (e) {
    await pf.stop();
    await ns.release();
    throw e;
  }
}

/** Options of {@link startPostfixFront}: a milter, an SMTP proxy filter, or neither (Postfix alone, the baseline). */
export interface StartPostfixFrontOptions extends Omit<StartPostfixOptions, 'milter' | 'proxyFilter' | 'relayPort'> {
  /** The bench driver's sink (`relayhost`). */
  sinkPort: number;
  /** The `--sut` name, e.g. `postfix+clamav-milter`. */
  name: string;
  /** The filter's processes (and its scanner's) for the `pid=` of the URL; master's pid comes first. */
  pids?: readonly number[];
  /** `smtpd_milters`: `inet:PORT@HOST`, `inet:HOST:PORT`, `milter://HOST:PORT`, `milter+unix:///PATH` or `unix:PATH`. */
  milter?: string;
  /**
   * `smtpd_proxy_filter = 127.0.0.1:PORT` (or `smtp://127.0.0.1:PORT`): the gateway must forward
   * to this instance's re-injection smtpd — pass `reinjectPort` (e.g. {@link reinjectPortFor})
   * and start the gateway with it as its next hop before starting Postfix.
   */
  proxyFilter?: string;
}

/** A running Postfix in front of a filter, with its `--sut` URL. */
export interface LabPostfixFront extends LabPostfix {
  /** `smtp://127.0.0.1:PORT?sink=SINK&name=NAME&pid=MASTER,...` */
  sut: string;
}

/** `milter://HOST:PORT` as Postfix's `inet:HOST:PORT`; other forms pass to {@link startPostfix} unchanged. */
function milterAddress(m: string): string {
  const u = /^milter:\/\/([^:/]+):(\d+)\/?$/.exec(m);
  if (u !== null) return `inet:${u[1]}:${u[2]}`;
  const x = /^milter\+unix:\/\/(\/.+)$/.exec(m);
  return x !== null ? `unix:${x[1]}` : m;
}

/**
 * Start a private Postfix with a milter or a before-queue proxy filter in front of the
 * driver's sink: every gateway as an administrator deploys it (point 7). The milter or
 * proxy filter must be running (a proxy filter forwarding to `reinjectPort`).
 */
export async function startPostfixFront(opts: StartPostfixFrontOptions): Promise<LabPostfixFront> {
  const { sinkPort, name, pids, milter, proxyFilter, ...base } = opts;
  const pf = await startPostfix({
    ...base,
    relayPort: sinkPort,
    ...(milter === undefined ? {} : { milter: milterAddress(milter) }),
    ...(proxyFilter === undefined ? {} : { proxyFilter: proxyFilter.replace(/^smtp:\/\//, '').replace(/\/$/, '') }),
  });
  return { ...pf, sut: postfixFrontSutUrl({ port: pf.port, sinkPort, name, pids: [pf.pid, ...(pids ?? [])] }) };
}

/** A free port for a proxy filter's next hop (the re-injection smtpd), to give both the gateway and {@link startPostfixFront}. */
export function reinjectPortFor(): Promise<number> {
  return freePort();
}
