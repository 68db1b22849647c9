/**
 * `avbench lab up|down|status`: the real third-party daemons — clamd, c-icap (virus_scan),
 * clamav-milter, clamsmtpd, Haraka with its clamd plugin (when installed), Exim with its malware ACL (when scripts/install-exim.sh unpacked it), Sendmail with clamav-milter as its input milter (when scripts/install-sendmail.sh unpacked it), private Postfix instances in front of clamav-milter, rspamd and avbench's own `serve milter` / `serve smtp` (when Postfix is installed) and Postfix's smtp-sink — on loopback with generated configs,
 * each in its own private folder, all owned by one supervisor process. The lab writes
 * `avbench.config.json` (scanners pointing at its daemons) and `state.json` (PIDs,
 * endpoints, the `--sut` URLs of the third-party front ends) into the lab folder.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { alive } from '../daemon/pidfile.js';
import { writeEicarYaraRules } from './signatures.js';
import { freePort } from '../core/net.js';
import { startCicap, type LabCicap } from './cicap.js';
import { startClamavMilter, type LabClamavMilter } from './clamav-milter.js';
import { startClamd, type LabClamd } from './clamd.js';
import { startClamsmtpd, type LabClamsmtpd } from './clamsmtpd.js';
import { startRspamd, type LabRspamd } from './rspamd.js';
import { which } from '../core/exec.js';
import { findHaraka, startHaraka, type LabHaraka } from './haraka.js';
import { findExim, startExim, type LabExim } from './exim.js';
import { findSendmail, startSendmail, type LabSendmail } from './sendmail.js';
import { findAmavisd, startAmavisGateway, type LabAmavisGateway } from './amavis.js';
import { startSmtpSink, type LabSmtpSink } from './smtp-sink.js';
import { startPostfixFront, type LabPostfixFront } from './postfix-front.js';
import { builtCli, startPostfixAvbench, type AvbenchServeKind } from './avbench-serve.js';

/** Default lab folder: `.avbench-lab` in the working folder. */
export const DEFAULT_LAB_DIR = '.avbench-lab';

/** One daemon of the lab. */
export interface LabDaemon {
  name: string;
  pid: number;
  /** Where it listens: a URL or a socket path. */
  endpoint: string;
  /** Its log file, where it has one the bench reads (clamd: `bench --lab-dir` waits there for a RELOAD). */
  log?: string;
}

/** state.json: what `lab status` and `lab down` read, and what other tools may read. */
export interface LabState {
  /** The supervisor process that owns the daemons. */
  pid: number;
  startedAt: string;
  ready: boolean;
  daemons: LabDaemon[];
  /** A config file with scanners pointing at the lab (`--config`). */
  configFile: string;
  /** `--sut` URLs of the third-party front ends. */
  suts: Record<string, string>;
  /** Set when the lab failed to come up. */
  error?: string;
}

/** What `labUp` started (stop() stops all of it and removes state.json). */
export interface RunningLab {
  state: LabState;
  stop(): Promise<void>;
}

/** Read state.json; undefined when there is none. */
export async function readLabState(dir = DEFAULT_LAB_DIR): Promise<LabState | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

/** Is a process alive (signal 0)? (src/daemon/pidfile.ts, re-exported for the CLI and tests.) */
export { alive };

async function writeState(dir: string, state: LabState): Promise<void> {
  const tmp = join(dir, `state.json.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o644 });
  await rename(tmp, join(dir, 'state.json'));
}

/**
 * The daemons `lab up --only` can name. clamd is always started (every other one scans with
 * it); Sendmail brings clamav-milter (its input milter); amavisd-new brings its Postfix and,
 * when installed, amavisd-milter; `postfix+NAME` is a private Postfix whose smtpd_milters is
 * NAME (the milter as an administrator deploys it: the whole gateway), and brings NAME;
 * `postfix+avbench-milter` / `postfix+avbench-proxy` are avbench's own `serve milter` (in
 * smtpd_milters) / `serve smtp` (a before-queue smtpd_proxy_filter), the built CLI as its own
 * process scanning with the lab clamd, each behind its private Postfix.
 */
export const LAB_COMPONENTS = ['clamd', 'c-icap', 'clamav-milter', 'clamsmtpd', 'smtp-sink', 'rspamd', 'haraka', 'exim', 'sendmail', 'amavisd-new', 'postfix+clamav-milter', 'postfix+rspamd', 'postfix+avbench-milter', 'postfix+avbench-proxy'] as const;

/** A daemon (or gateway) of the lab, as `--only` names it. */
export type LabComponent = (typeof LAB_COMPONENTS)[number];

/** What a gateway named with `--only` brings along (clamd comes always). */
const BRINGS: Partial<Record<LabComponent, readonly LabComponent[]>> = {
  sendmail: ['clamav-milter'],
  'postfix+clamav-milter': ['clamav-milter'],
  'postfix+rspamd': ['rspamd'],
};

/** Options of {@link labUp}. */
export interface LabUpOptions {
  /**
   * Start only these (clamd always; what they need too). Default: all, the optional gateways
   * (rspamd, Haraka, Exim, Sendmail, amavisd-new, the Postfix fronts: root and Postfix, ours
   * also the built CLI) only where installed. A gateway named here
   * that is not installed is an error before anything starts.
   */
  only?: readonly LabComponent[];
}

/** Names in `list` that are not lab components (for a usage error). */
export function unknownLabComponents(list: readonly string[]): string[] {
  return list.filter((n) => !(LAB_COMPONENTS as readonly string[]).includes(n));
}

/** What each optional gateway needs and how to get it. */
async function gatewaysInstalled(): Promise<Record<'rspamd' | 'haraka' | 'exim' | 'sendmail' | 'amavisd-new' | 'postfix+clamav-milter' | 'postfix+rspamd' | 'postfix+avbench-milter' | 'postfix+avbench-proxy', string | undefined>> {
  const root = process.getuid?.() === 0;
  const postfix = (await which('postfix')) === undefined ? 'Postfix is not installed (Debian package postfix)' : !root ? 'a private Postfix runs only as root here' : undefined;
  const rspamd = (await which('rspamd')) === undefined ? 'rspamd is not installed (Debian package rspamd)' : undefined;
  const cli = builtCli() === undefined ? 'avbench serve needs the built CLI (npm run build)' : undefined;
  return {
    'postfix+clamav-milter': postfix,
    'postfix+rspamd': postfix ?? rspamd,
    'postfix+avbench-milter': postfix ?? cli,
    'postfix+avbench-proxy': postfix ?? cli,
    rspamd,
    haraka: (await findHaraka()) === undefined ? 'Haraka is not installed (npm devDependencies Haraka and haraka-plugin-clamd: npm ci)' : undefined,
    exim: (await findExim()) === undefined ? 'Exim is not unpacked (bash scripts/install-exim.sh)' : undefined,
    sendmail: (await findSendmail()) === undefined ? 'Sendmail is not unpacked (bash scripts/install-sendmail.sh)' : !root ? 'Sendmail runs only as root here' : undefined,
    'amavisd-new':
      (await findAmavisd()) === undefined
        ? 'amavisd-new is not installed (Debian package amavisd-new)'
        : (await which('postfix')) === undefined
          ? 'amavisd-new needs Postfix (Debian package postfix)'
          : !root
            ? 'amavisd-new runs only as root here (its private Postfix)'
            : undefined,
  };
}

/**
 * Check `only` before anything is written or started: every name known, every gateway named
 * installed (throws saying what is missing and how to install it). Resolves to what each
 * optional gateway lacks here (undefined: installed), for {@link labUp} to skip those.
 */
export async function checkLabComponents(only?: readonly string[]): Promise<Awaited<ReturnType<typeof gatewaysInstalled>>> {
  const unknown = unknownLabComponents(only ?? []);
  if (unknown.length > 0) throw new Error(`no lab daemon named ${unknown.join(', ')} (known: ${LAB_COMPONENTS.join(', ')})`);
  const missing = await gatewaysInstalled();
  // Named with --only: must be there. Not named (all): started where installed.
  const absent = (only ?? []).flatMap((n) => (n in missing && missing[n as keyof typeof missing] !== undefined ? [missing[n as keyof typeof missing] as string] : []));
  if (absent.length > 0) throw new Error(`cannot start ${absent.join('; ')}`);
  return missing;
}

/**
 * Start the lab daemons (this process owns them: they stop when it stops): all of them, or
 * those of `opts.only`. Throws with the daemon's log tail when one cannot start; whatever did
 * start is stopped again.
 */
export async function labUp(dirArg = DEFAULT_LAB_DIR, opts: LabUpOptions = {}): Promise<RunningLab> {
  const dir = resolve(dirArg);
  const missing = await checkLabComponents(opts.only);
  const only = opts.only === undefined ? undefined : new Set<string>(opts.only);
  const want = (name: LabComponent): boolean => {
    if (name in missing && missing[name as keyof typeof missing] !== undefined) return false;
    return only === undefined || only.has(name) || [...only].some((n) => BRINGS[n as LabComponent]?.includes(name) === true);
  };
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const existing = await readLabState(dir);
  if (existing !== undefined && alive(existing.pid)) {
    throw new Error(`a lab is already up in ${dir} (supervisor pid ${existing.pid}): \`avbench lab down\` first`);
  }
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    stops.length = 0;
    await rm(join(dir, 'state.json'), { force: true });
  };
  /** Start one daemon when wanted, and remember how to stop it. */
  const start = async <T extends { stop(): Promise<void> }>(name: LabComponent, go: () => Promise<T>): Promise<T | undefined> => {
    if (!want(name)) return undefined;
    const d = await go();
    stops.push(() => d.stop());
    return d;
  };
  try {
    const clamd: LabClamd = await startClamd({ maxThreads: 8 });
    stops.push(() => clamd.stop());
    const cicap: LabCicap | undefined = await start('c-icap', () => startCicap({ clamdSocket: clamd.socket, maxObjectSize: '100M' }));
    const milter: LabClamavMilter | undefined = await start('clamav-milter', () => startClamavMilter({ clamdSocket: clamd.socket, listen: 'inet' }));
    // rspamd (antivirus module → this clamd, proxy worker in milter mode): only when installed.
    const rspamd: LabRspamd | undefined = await start('rspamd', () => startRspamd({ clamd: { host: clamd.host, port: clamd.port } }));
    // clamsmtpd forwards to a fixed port: the bench's SMTP driver listens its sink there.
    const sinkPort = await freePort();
    const clamsmtpd: LabClamsmtpd | undefined = await start('clamsmtpd', () => startClamsmtpd({ clamdSocket: clamd.socket, outPort: sinkPort, action: 'bounce', readyWhen: 'listen', debugLevel: 0 }));
    const sink: LabSmtpSink | undefined = await start('smtp-sink', () => startSmtpSink({}));
    // Haraka + its clamd plugin (npm devDependencies: started when installed); its smtp_forward
    // next hop is the bench driver's sink (`?sink=PORT`), like clamsmtpd's. Logs warnings only.
    const harakaSinkPort = await freePort();
    const haraka: LabHaraka | undefined = await start('haraka', () => startHaraka({ clamd: clamd.socket, forwardPort: harakaSinkPort, logLevel: 'warn' }));
    // Exim (exim4-daemon-heavy unpacked by scripts/install-exim.sh: started when found): malware ACL
    // → this clamd's unix socket, a manualroute router → the bench driver's sink (`?sink=PORT`).
    const eximSinkPort = await freePort();
    const exim: LabExim | undefined = await start('exim', () => startExim({ clamd: clamd.socket, forwardPort: eximSinkPort }));
    // Sendmail (sendmail-bin unpacked by scripts/install-sendmail.sh, root: started when found):
    // INPUT_MAIL_FILTER → this clamav-milter, the smart host → the bench driver's sink (`?sink=PORT`).
    const sendmailSinkPort = await freePort();
    const sendmail: LabSendmail | undefined =
      milter === undefined ? undefined : await start('sendmail', () => startSendmail({ milter: milter.socket, milterName: 'clamav-milter', forwardPort: sendmailSinkPort }));
    // amavisd-new after the queue (Debian amavisd-new, root, postfix: started when installed): a
    // private Postfix → amavisd (ClamAV-clamd → this clamd) → Postfix re-injection → the driver's sink;
    // and before the queue, amavisd-milter (Debian amavisd-milter, when installed) → the same amavisd.
    const amavisSinkPort = await freePort();
    const withAmavisMilter = (await which('amavisd-milter')) !== undefined;
    const amavis: LabAmavisGateway | undefined = await start('amavisd-new', () => startAmavisGateway({ clamdSocket: clamd.socket, sinkPort: amavisSinkPort, clamdPid: clamd.pid, milter: withAmavisMilter }));
    // Postfix in front (issue 15.7): a private Postfix whose smtpd_milters is the milter, relaying
    // to the bench driver's sink: the milter measured as an administrator deploys it.
    const fronts: { name: string; pf: LabPostfixFront }[] = [];
    for (const [name, m] of [['postfix+clamav-milter', milter], ['postfix+rspamd', rspamd]] as const) {
      if (m === undefined) continue;
      const pids = 'pids' in m ? m.pids : [m.pid];
      const sinkOf = await freePort();
      const f = await start(name, () => startPostfixFront({ milter: m.url, sinkPort: sinkOf, name, pids: [...pids, clamd.pid] }));
      if (f !== undefined) fronts.push({ name, pf: f });
    }
    // The config our own front ends below read (`--config`): written before they start.
    const rules = join(dir, 'eicar.yar');
    await rm(rules, { force: true });
    await writeEicarYaraRules(rules);
    const configFile = join(dir, 'avbench.config.json');
    const config = {
      comment: 'written by `avbench lab up`: scanners pointing at the lab daemons',
      scanners: {
        embedded: { type: 'embedded' },
        clamd: { type: 'clamd', socket: clamd.socket },
        'clamd-tcp': { type: 'clamd', host: clamd.host, port: clamd.port },
        clamscan: { type: 'clamscan', database: clamd.dbDir },
        clamdscan: { type: 'clamdscan', configFile: clamd.configFile, mode: 'fdpass' },
        ...(cicap === undefined ? {} : { icap: { type: 'icap', url: cicap.url } }),
        yara: { type: 'yara', rules },
      },
    };
    await writeFile(configFile, JSON.stringify(config, null, 2) + '\n', { mode: 0o644 });
    // avbench's own front ends behind Postfix (issue 15.7): `node dist/src/cli/bin.js serve
    // milter|smtp --scanner clamd --config <this config>` as its own process, in smtpd_milters
    // (point B) or as a before-queue smtpd_proxy_filter forwarding to Postfix's re-injection
    // smtpd (point A); pid= lists master, ours and clamd, as for postfix+clamav-milter.
    const ours: { name: string; kind: AvbenchServeKind; pf: Awaited<ReturnType<typeof startPostfixAvbench>> }[] = [];
    for (const [name, kind] of [['postfix+avbench-milter', 'milter'], ['postfix+avbench-proxy', 'smtp']] as const) {
      const sinkOf = await freePort();
      const f = await start(name, () => startPostfixAvbench({ kind, configFile, scanner: 'clamd', sinkPort: sinkOf, scannerPids: [clamd.pid], name }));
      if (f !== undefined) ours.push({ name, kind, pf: f });
    }
    const state: LabState = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      ready: true,
      configFile,
      daemons: [
        { name: 'clamd', pid: clamd.pid, endpoint: clamd.socket, log: clamd.logFile },
        ...(cicap === undefined ? [] : [{ name: 'c-icap', pid: cicap.pid, endpoint: cicap.url }]),
        ...(milter === undefined ? [] : [{ name: 'clamav-milter', pid: milter.pid, endpoint: milter.url }]),
        ...(clamsmtpd === undefined ? [] : [{ name: 'clamsmtpd', pid: clamsmtpd.pid, endpoint: clamsmtpd.url }]),
        ...(sink === undefined ? [] : [{ name: 'smtp-sink', pid: sink.pid, endpoint: sink.url }]),
        ...(rspamd === undefined ? [] : [{ name: 'rspamd', pid: rspamd.pid, endpoint: rspamd.url }]),
        ...(haraka === undefined ? [] : [{ name: 'haraka', pid: haraka.pid, endpoint: haraka.url }]),
        ...(exim === undefined ? [] : [{ name: 'exim', pid: exim.pid, endpoint: exim.url }]),
        ...(sendmail === undefined ? [] : [{ name: 'sendmail', pid: sendmail.pid, endpoint: sendmail.url }]),
        ...fronts.map((f) => ({ name: `postfix (${f.name})`, pid: f.pf.pid, endpoint: `smtp://127.0.0.1:${f.pf.port}` })),
        ...ours.flatMap((o) => [
          { name: `avbench serve ${o.kind} (${o.name})`, pid: o.pf.serve.pid, endpoint: o.kind === 'milter' ? `milter://127.0.0.1:${o.pf.serve.port}` : `smtp://127.0.0.1:${o.pf.serve.port}` },
          { name: `postfix (${o.name})`, pid: o.pf.postfix.pid, endpoint: `smtp://127.0.0.1:${o.pf.postfix.port}` },
        ]),
        ...(amavis === undefined ? [] : [{ name: 'amavisd-new', pid: amavis.amavis.pid, endpoint: amavis.amavis.url }, { name: 'postfix (amavisd-new)', pid: amavis.postfix.pid, endpoint: `smtp://127.0.0.1:${amavis.postfix.port}` }, ...(amavis.milter === undefined ? [] : [{ name: 'amavisd-milter', pid: amavis.milter.pid, endpoint: amavis.milter.url }])]),
      ],
      suts: {
        // pid=: the bench reads these processes' CPU and memory from /proc.
        ...(clamsmtpd === undefined ? {} : { clamsmtpd: `${clamsmtpd.url}?sink=${sinkPort}&name=clamsmtpd&pid=${clamsmtpd.pid},${clamd.pid}` }),
        ...(milter === undefined ? {} : { 'clamav-milter': `${milter.url}?name=clamav-milter&pid=${milter.pid},${clamd.pid}` }),
        ...(rspamd === undefined ? {} : { rspamd: `${rspamd.url}?name=rspamd&pid=${[...rspamd.pids, clamd.pid].join(',')}` }),
        ...(haraka === undefined ? {} : { haraka: `${haraka.url}?sink=${harakaSinkPort}&name=haraka&pid=${haraka.pid},${clamd.pid}` }),
        ...(exim === undefined ? {} : { exim: `${exim.url}?sink=${eximSinkPort}&name=exim&pid=${exim.pid},${clamd.pid}` }),
        ...(sendmail === undefined || milter === undefined ? {} : { sendmail: `${sendmail.url}?sink=${sendmailSinkPort}&name=sendmail&pid=${sendmail.pid},${milter.pid},${clamd.pid}` }),
        ...Object.fromEntries(fronts.map((f) => [f.name, f.pf.sut])),
        ...Object.fromEntries(ours.map((o) => [o.name, o.pf.sut])),
        ...(amavis === undefined ? {} : { 'amavisd-new': amavis.sut, ...(amavis.milterSut === undefined ? {} : { 'amavisd-milter': amavis.milterSut }) }),
      },
    };
    await writeState(dir, state);
    return { state, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * Stop the lab whose state is in `dir`: SIGTERM to its supervisor (which stops its
 * daemons), then SIGKILL to anything still alive after `graceMs`. Resolves to the names
 * of daemons that had to be killed.
 */
export async function labDown(dirArg = DEFAULT_LAB_DIR, graceMs = 20_000): Promise<{ wasUp: boolean; killed: string[] }> {
  const dir = resolve(dirArg);
  const state = await readLabState(dir);
  if (state === undefined) return { wasUp: false, killed: [] };
  if (alive(state.pid)) process.kill(state.pid, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (Date.now() < until && (alive(state.pid) || state.daemons.some((d) => alive(d.pid)))) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const killed: string[] = [];
  for (const d of state.daemons) {
    if (alive(d.pid)) {
      try {
        process.kill(d.pid, 'SIGKILL');
        killed.push(d.name);
      } catch {
        /* gone */
      }
    }
  }
  if (existsSync(join(dir, 'state.json'))) await rm(join(dir, 'state.json'), { force: true });
  return { wasUp: true, killed };
}
