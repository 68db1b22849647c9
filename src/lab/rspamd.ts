/**
 * Start a real rspamd (interception point B, third party: its proxy worker in milter mode)
 * on loopback with a generated configuration reduced to its antivirus module: one `clamav`
 * rule pointing at a (lab) clamd, `action = "reject"`. Everything lives in a private temp
 * folder (config, dbdir, rundir, log); no system file of /etc/rspamd is read.
 *
 * What the config leaves out, so that it starts in about two seconds and needs nothing but
 * clamd: the rule set (`lua = rules/rspamd.lua`: hundreds of regexps compiled by hyperscan),
 * the C filters (chartable, dkim, regexp, fuzzy_check), the controller worker, and every
 * other Lua plugin (rspamd disables a plugin that has no config section). Hyperscan is
 * off and the public-suffix list is a seven-line file (compiling the real one took > 30 s
 * here). DNS points at a closed port: nothing in this config resolves names.
 * **No Redis**: the antivirus module uses Redis only to cache verdicts by digest when a
 * `redis` section exists; without one every part is scanned by clamd.
 *
 * Workers: a `normal` worker (the scanner) on a free port and an `rspamd_proxy` with
 * `milter = yes` on another (or a unix socket), forwarding to it over HTTP. As root, rspamd runs as `-u/-g` (default
 * `_rspamd`, the Debian package's account); the folder is chowned to it.
 */
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lookupAccount } from '../daemon/privileges.js';
import { freePort } from '../core/net.js';
import { milterListener, requireProgram, startLabDaemon, whenListening, type LabMilterListener, type LabProcess } from './daemon.js';
import { childrenOf, delay } from './util.js';

/** Where the clamav rule sends its INSTREAM requests. */
export type RspamdClamdTarget = { host: string; port: number } | { socket: string };

/** Options of {@link startRspamd}. */
export interface StartRspamdOptions {
  /** The clamd the antivirus module scans with (TCP is the safe choice: rspamd's workers do not run as root). */
  clamd: RspamdClamdTarget;
  /** The antivirus rule's action on a detection (default 'reject'). */
  action?: 'reject' | 'soft reject' | 'add header' | 'rewrite subject' | 'discard';
  /**
   * The antivirus rule's `scan_mime_parts` (default false: the whole message goes to clamd
   * in one INSTREAM, which parses MIME itself, as clamav-milter does). True is rspamd's
   * default: only the parts rspamd picks (attachments and parts whose detected type wants
   * an AV check; text and images only with scan_text_mime/scan_image_mime) — see docs/milter.md.
   */
  scanMimeParts?: boolean;
  /**
   * A clamd failure: 'tempfail' (default; a `force_actions` rule turns the rule's
   * `CLAM_VIRUS_FAIL` symbol into `soft reject`, so an unscanned message is deferred, as
   * clamav-milter's OnFail Defer does) or 'accept' (rspamd's own behaviour: the failure is
   * a zero-score symbol and the message passes).
   */
  onFail?: 'tempfail' | 'accept';
  /** Seconds the clamav rule waits for clamd (default 60; rspamd's default is 5). */
  clamdTimeoutSec?: number;
  /**
   * Where the milter (proxy worker) listens: 'inet' (default: a free 127.0.0.1 port, as
   * Debian's localhost:11332) or 'unix' (`rspamd-milter.sock` in the private folder, mode
   * 0666: Nagle's algorithm does not apply to a unix socket — see docs/gateways.md).
   */
  listen?: 'inet' | 'unix';
  /** Normal (scanner) worker processes (default: rspamd's own default, one per CPU). The proxy has one, as Debian's config. */
  normalWorkers?: number;
  /** Account rspamd runs as when started as root (default `_rspamd`, else `nobody`). */
  user?: string;
  /** Parent folder of the private temp folder (default: the OS temp folder). */
  dir?: string;
  /** How long to wait until the milter port accepts connections (ms, default 30 000). */
  readyTimeoutMs?: number;
  /** Grace before SIGKILL on stop (ms, default 5 000). */
  stopGraceMs?: number;
  /** Extra lines inside the `clamav { }` rule (UCL, e.g. `scan_text_mime = true;`). */
  extraRule?: readonly string[];
}

/** A running lab rspamd: `pid` is the main process; stop() signals it (it stops its workers). */
export interface LabRspamd extends Omit<LabMilterListener, 'endpoint'>, LabProcess {
  /** The main process and its workers (proxy, normal, hs_helper) as started (for CPU and RSS sampling). */
  pids: number[];
  /** The normal (scanner) worker's port. */
  normalPort: number;
  configFile: string;
  logFile: string;
}

/** A UCL double-quoted string. */
function q(s: string): string {
  return JSON.stringify(s);
}

/** The generated rspamd.conf (UCL). */
export function rspamdConfig(o: {
  folder: string;
  /** A port on 127.0.0.1, or a unix socket path. */
  milter: number | string;
  normalPort: number;
  clamd: RspamdClamdTarget;
  action: string;
  scanMimeParts: boolean;
  onFail: 'tempfail' | 'accept';
  clamdTimeoutSec: number;
  normalWorkers?: number;
  extraRule?: readonly string[];
}): string {
  const db = join(o.folder, 'db');
  const run = join(o.folder, 'run');
  const servers = 'socket' in o.clamd ? o.clamd.socket : `${o.clamd.host}:${o.clamd.port}`;
  const lines = [
    '# generated by avbench lab: rspamd reduced to its antivirus module (src/lab/rspamd.ts)',
    'options {',
    `  pidfile = ${q(join(run, 'rspamd.pid'))};`,
    '  filters = "";',
    `  dynamic_conf = ${q(join(db, 'rspamd_dynamic'))};`,
    `  cache_file = ${q(join(db, 'symbols.cache'))};`,
    `  hs_cache_dir = ${q(`${db}/`)};`,
    `  control_socket = ${q(`${join(run, 'rspamd.sock')} mode=0600`)};`,
    `  tempdir = ${q(run)};`,
    `  url_tld = ${q(join(o.folder, 'tld.dat'))};`,
    '  disable_hyperscan = true;',
    '  allow_raw_input = true;',
    '  check_all_filters = false;',
    `  task_timeout = ${o.clamdTimeoutSec * 2 + 10}s;`,
    '  dns { nameserver = ["127.0.0.1:1"]; timeout = 1s; retransmits = 1; }',
    '}',
    'logging {',
    '  type = "file";',
    `  filename = ${q(join(o.folder, 'rspamd.log'))};`,
    '  level = "info";',
    '}',
    'modules { path = "${PLUGINSDIR}"; }',
    'worker "normal" {',
    `  bind_socket = ${q(`127.0.0.1:${o.normalPort}`)};`,
    '  mime = true;',
    ...(o.normalWorkers === undefined ? [] : [`  count = ${o.normalWorkers};`]),
    '}',
    'worker "rspamd_proxy" {',
    `  bind_socket = ${q(typeof o.milter === 'number' ? `127.0.0.1:${o.milter}` : `${o.milter} mode=0666`)};`,
    '  milter = yes;',
    `  timeout = ${o.clamdTimeoutSec * 2 + 20}s;`,
    '  count = 1;',
    '  upstream "local" {',
    '    default = yes;',
    `    hosts = ${q(`127.0.0.1:${o.normalPort}`)};`,
    '  }',
    '  discard_on_reject = false;',
    '  quarantine_on_reject = false;',
    '}',
    'antivirus {',
    '  clamav {',
    '    type = "clamav";',
    '    symbol = "CLAM_VIRUS";',
    `    servers = ${q(servers)};`,
    `    action = ${q(o.action)};`,
    // No quotes around the name: the milter driver reads names after the last ': '.
    `    message = ${q('${SCANNER}: virus found: ${VIRUS}')};`,
    `    scan_mime_parts = ${o.scanMimeParts ? 'true' : 'false'};`,
    `    timeout = ${o.clamdTimeoutSec};`,
    '    retransmits = 1;',
    '    log_clean = true;',
    ...(o.extraRule ?? []).map((l) => `    ${l}`),
    '  }',
    '}',
  ];
  if (o.onFail === 'tempfail') {
    lines.push(
      'force_actions {',
      '  rules {',
      '    AVBENCH_AV_FAIL {',
      '      action = "soft reject";',
      '      expression = "CLAM_VIRUS_FAIL";',
      '      message = "antivirus scan failed, try again later";',
      '    }',
      '  }',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** A few public suffixes: rspamd compiles this list at start (the full one takes > 30 s). */
const TLD_LIST = ['com', 'net', 'org', 'test', 'example', 'invalid', 'localhost'].join('\n') + '\n';

/** The account rspamd runs as when started as root: the wanted one, else `nobody`. */
function runAccount(wanted: string | undefined): { user: string; group: string; uid: number; gid: number } {
  for (const name of wanted === undefined ? ['_rspamd', 'nobody'] : [wanted]) {
    const u = lookupAccount('/etc/passwd', name);
    if (u === undefined) continue;
    const gid = Number(u[3]);
    const g = lookupAccount('/etc/group', String(gid));
    return { user: name, group: g?.[0] ?? String(gid), uid: Number(u[2]), gid };
  }
  throw new Error(`rspamd: no account ${wanted ?? '_rspamd or nobody'} in /etc/passwd to run it as (it refuses to run as root)`);
}

/** Start rspamd (throws, with its log's tail, if it cannot start or never listens). */
export async function startRspamd(opts: StartRspamdOptions): Promise<LabRspamd> {
  const bin = await requireProgram('rspamd', 'apt-get install rspamd; see docs/install.md');
  const { launch, ...proc } = await startLabDaemon({
    name: 'rspamd',
    dir: opts.dir,
    stopGraceMs: opts.stopGraceMs ?? 5_000,
    failGraceMs: 1_000,
    async setup(folder) {
      const milter = await milterListener(opts.listen === 'unix' ? join(folder, 'rspamd-milter.sock') : undefined);
      const normalPort = await freePort();
      const configFile = join(folder, 'rspamd.conf');
      const logFile = join(folder, 'rspamd.log');
      const outFile = join(folder, 'rspamd.out');
      await mkdir(join(folder, 'db'), { mode: 0o700 });
      await mkdir(join(folder, 'run'), { mode: 0o700 });
      await writeFile(join(folder, 'tld.dat'), TLD_LIST, { mode: 0o644 });
      await writeFile(
        configFile,
        rspamdConfig({
          folder,
          milter: 'path' in milter.endpoint ? milter.endpoint.path : milter.endpoint.port,
          normalPort,
          clamd: opts.clamd,
          action: opts.action ?? 'reject',
          scanMimeParts: opts.scanMimeParts ?? false,
          onFail: opts.onFail ?? 'tempfail',
          clamdTimeoutSec: opts.clamdTimeoutSec ?? 60,
          ...(opts.normalWorkers === undefined ? {} : { normalWorkers: opts.normalWorkers }),
          ...(opts.extraRule === undefined ? {} : { extraRule: opts.extraRule }),
        }),
        { mode: 0o644 },
      );
      const args = ['-f', '-c', configFile];
      if (process.getuid?.() === 0) {
        const acc = runAccount(opts.user);
        args.push('-u', acc.user, '-g', acc.group);
        for (const p of [folder, join(folder, 'db'), join(folder, 'run'), configFile, join(folder, 'tld.dat')]) await chown(p, acc.uid, acc.gid);
        await chmod(folder, 0o755);
      }
      return {
        bin,
        args,
        outFile,
        ...whenListening([milter.endpoint, { host: '127.0.0.1', port: normalPort }], opts.readyTimeoutMs ?? 30_000),
        logs: [logFile, outFile],
        milter,
        normalPort,
        configFile,
        logFile,
      };
    },
  });
  // The main process binds the ports, then forks its workers: wait until their list settles.
  let workers = await childrenOf(proc.pid);
  for (let same = 0, until = Date.now() + 5_000; same < 3 && Date.now() < until; ) {
    await delay(100);
    const now = await childrenOf(proc.pid);
    same = now.length >= 2 && now.join() === workers.join() ? same + 1 : 0;
    workers = now;
  }
  return {
    ...proc,
    url: launch.milter.url,
    socket: launch.milter.socket,
    pids: [proc.pid, ...workers],
    normalPort: launch.normalPort,
    configFile: launch.configFile,
    logFile: launch.logFile,
  };
}
