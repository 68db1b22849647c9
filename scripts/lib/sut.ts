/**
 * Starting our own systems under test the way a user runs them: the real CLI
 * (`node dist/src/cli/bin.cjs serve smtp|milter ...`) as a whole process, its config naming
 * the lab clamd, waited for until it listens; and a private copy of dist/ for benches that
 * run the CLI many times while others may rebuild the shared tree.
 */
import { cp, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnDaemon, type Daemon } from '../../src/core/exec.js';
import type { Endpoint } from '../../src/core/net.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { logTail } from '../../src/lab/util.js';
import { waitListening } from './listen.js';
import type { Workspace } from './run.js';
import { startDumpSink, type DumpSink } from './smtp.js';

/** The folder holding dist/ and package.json (this file is dist/scripts/lib/sut.js once built). */
export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** The avbench command line of this build. */
export const AVBENCH_BIN = join(ROOT, 'dist/src/cli/bin.cjs');

/** A config entry for the lab clamd, as a user writes one: its unix socket or its TCP address. */
export type ClamdEntry = {
  /** Scanner name in the config (default `clamd`). */
  name?: string;
  /** poolSize of the entry (absent: the adapter's default). */
  poolSize?: number;
} & ({ socket: string } | { host: string; port: number });

/** Write an avbench.config.json naming the lab clamd (mode 600); returns its path. */
export async function writeClamdConfig(file: string, entry: ClamdEntry): Promise<string> {
  const where = 'socket' in entry ? { socket: entry.socket } : { host: entry.host, port: entry.port };
  const clamd = { type: 'clamd', ...where, ...(entry.poolSize === undefined ? {} : { poolSize: entry.poolSize }) };
  await writeFile(file, `${JSON.stringify({ scanners: { [entry.name ?? 'clamd']: clamd } }, null, 2)}\n`, { mode: 0o600 });
  return file;
}

/** Options of {@link startNodeServer}. */
export interface NodeServerOptions {
  /** Where it listens once ready. */
  ready: Endpoint;
  /** `smtp`: ready at its 220 greeting; `connect` (default): at the first accepted connect. */
  expect?: 'connect' | 'smtp';
  /** stdout and stderr go to this file (its tail is in the error when it does not start). */
  logFile: string;
  cwd?: string;
  /** How long it may take to listen, ms (default 20 s). */
  timeoutMs?: number;
  /** Name in messages (default: the first argument after the script). */
  what?: string;
}

/**
 * Start `node ARGS...` (our CLI, or a script in a server mode) and resolve once it listens.
 * When it does not, the process is stopped and the error carries its log's tail.
 */
export async function startNodeServer(args: readonly string[], opts: NodeServerOptions): Promise<Daemon> {
  const d = await spawnDaemon(process.execPath, args, { logFile: opts.logFile, ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }) });
  const what = opts.what ?? args.slice(1, 3).join(' ');
  try {
    await waitListening(opts.ready, { alive: d.running, timeoutMs: opts.timeoutMs ?? 20_000, expect: opts.expect ?? 'connect', what });
  } catch (err) {
    await d.stop(3_000);
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${await logTail(opts.logFile)}`);
  }
  return d;
}

/**
 * `node dist/src/cli/bin.cjs serve smtp|milter ARGS...` of the repository, or of `opts.app` (a
 * copy made by {@link privateDist}; cwd that folder unless `opts.cwd` says), ready when it listens at `ready` (an SMTP proxy: at its
 * greeting).
 */
export function startServe(kind: 'smtp' | 'milter', args: readonly string[], opts: Omit<NodeServerOptions, 'expect' | 'what'> & { app?: string }): Promise<Daemon> {
  const { app, ...rest } = opts;
  const bin = app === undefined ? AVBENCH_BIN : join(app, 'dist/src/cli/bin.cjs');
  return startNodeServer([bin, 'serve', kind, ...args], { cwd: app ?? ROOT, ...rest, expect: kind === 'smtp' ? 'smtp' : 'connect', what: `avbench serve ${kind}` });
}

/**
 * Copy dist/ and package.json into `work`/avbench (timestamps kept, node_modules linked) and
 * return the copy's folder: engineers sharing this tree rebuild dist/ while a bench runs, and
 * a tsc run makes the bin fall back to the full CLI.
 */
export async function privateDist(work: string): Promise<string> {
  const app = join(work, 'avbench');
  await cp(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true, preserveTimestamps: true });
  await cp(join(ROOT, 'package.json'), join(app, 'package.json'), { preserveTimestamps: true });
  await symlink(join(ROOT, 'node_modules'), join(app, 'node_modules'));
  return app;
}

/**
 * What the SMTP gateway benches start first: a lab clamd (MaxThreads `clamdThreads`) and
 * the dump sink in `w.base`, their stops pushed onto `w.stops`. `o.clamdInWorkspace`: the
 * clamd's folder inside `w.base` too (mode 0711: amavisd, as user amavis, reaches its socket).
 */
export async function startClamdAndSink(w: Workspace, clamdThreads: number, o: { clamdInWorkspace?: boolean } = {}): Promise<{ clamd: LabClamd; sink: DumpSink }> {
  const clamd = await startClamd({ maxThreads: clamdThreads, ...(o.clamdInWorkspace === true ? { dir: w.base } : {}) });
  w.stops.push(() => clamd.stop());
  const sink = await startDumpSink(w.base);
  w.stops.push(() => sink.stop());
  return { clamd, sink };
}
