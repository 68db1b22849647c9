/**
 * Start a real clamd on loopback with a generated configuration and the lab's signature
 * database: a private temp folder holds the config, the database, the unix socket, the
 * log and a pidfile; TCP listens on 127.0.0.1 on a free port. `stop()` ends it and removes
 * the folder. Used by the tests and by `avbench lab up`.
 */
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, freePort, type Endpoint } from '../core/net.js';
import { alive } from '../daemon/pidfile.js';
import { requireProgram, startLabDaemon, type LabProcess } from './daemon.js';
import { writeSignatureDb } from './signatures.js';
import { pollUntil } from './util.js';

/** Options of {@link startClamd}. */
export interface StartClamdOptions {
  /** Parent folder for the private temp folder (default: the OS temp folder). */
  dir?: string;
  /** clamd's StreamMaxLength, e.g. `25M` or a byte count (default `25M`). */
  streamMaxLength?: string | number;
  /** clamd's MaxThreads (default 8). */
  maxThreads?: number;
  /** How long to wait for the first PONG (ms, default 20 000). */
  readyTimeoutMs?: number;
  /**
   * Where clamd writes its temporary files (INSTREAM data, decoded mail parts): 'memory'
   * (default) = a private folder on /dev/shm when it is usable, else inside the lab folder;
   * 'disk' = inside the lab folder. Measured here: INSTREAM at 8 parallel went from ~1,300
   * to ~4,000 msg/s with its temp files on tmpfs instead of the root disk.
   */
  tempStorage?: 'memory' | 'disk';
  /** Extra `Key value` lines appended to the generated clamd.conf. */
  extraConfig?: readonly string[];
}

/** A running lab clamd. */
export interface LabClamd extends LabProcess {
  /** Unix socket path. */
  socket: string;
  host: string;
  port: number;
  /** The generated clamd.conf (usable with `clamdscan --config-file=`). */
  configFile: string;
  /** Signature database folder. */
  dbDir: string;
  /** clamd's TemporaryDirectory (private; removed by stop()). */
  tempDir: string;
  logFile: string;
}

/** Send one z-command to clamd and read its NUL-terminated reply ('' on any failure). */
async function zCommand(ep: Endpoint, command: string, deadline: number): Promise<string> {
  try {
    const c = await connect(ep, { deadline });
    try {
      await c.write(Buffer.from(`z${command}\0`, 'latin1'));
      return (await c.readUntil('\0')).toString('utf8');
    } finally {
      c.destroy();
    }
  } catch {
    return '';
  }
}

/** Wait until clamd at `ep` answers zPING with PONG; false when the deadline passes or `alive()` turns false. */
export function waitForClamd(ep: Endpoint, deadline: number, alive: () => boolean = () => true): Promise<boolean> {
  return pollUntil(async (tryDeadline) => (await zCommand(ep, 'PING', tryDeadline)) === 'PONG', deadline, alive, { intervalMs: 50 });
}

/** Where a lab clamd's temporary files go when kept in memory, and their folders' name prefix. */
const SHM = '/dev/shm';
const SHM_PREFIX = 'avbench-clamd-tmp-';
/**
 * In each such folder: who uses it, written once its clamd runs — the PID of the process
 * that started it (and will stop() it), then the clamd.conf naming it.
 */
export const TEMP_OWNER_FILE = '.avbench-clamd-owner';

/**
 * Remove the memory temp folders of lab clamds that are gone without their stop() (a
 * killed bench or test): a folder is removed, with what it held (tmpfs is memory), when
 * both the process that started its clamd and every clamd of its config are gone — a clamd
 * restarted on the same config by its owner (the fault suite does) keeps it, and so does a
 * `lab up --detach` clamd whose starter has exited. A folder without a readable owner file
 * (its clamd still starting, or made by an older version) is left alone, and so is every
 * folder when the process list cannot be read. Never throws.
 * @returns the folders removed.
 */
export async function sweepStaleTempDirs(root = SHM): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => n.startsWith(SHM_PREFIX));
  } catch {
    return removed;
  }
  let configsInUse: Set<string> | undefined | null = null; // read once, when a folder's owner is gone
  for (const n of names) {
    const dir = join(root, n);
    const [pidText, config] = (await readFile(join(dir, TEMP_OWNER_FILE), 'utf8').catch(() => '')).split('\n');
    const pid = Number.parseInt(pidText ?? '', 10);
    if (!Number.isSafeInteger(pid) || pid <= 0 || config === undefined || config === '' || alive(pid)) continue;
    if (configsInUse === null) configsInUse = await clamdConfigsInUse();
    if (configsInUse === undefined || configsInUse.has(config)) continue;
    await rm(dir, { recursive: true, force: true }).then(
      () => removed.push(dir),
      () => undefined,
    );
  }
  return removed;
}

/** The `--config-file=` of every running process (Linux /proc); undefined when the list cannot be read. */
async function clamdConfigsInUse(): Promise<Set<string> | undefined> {
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  const out = new Set<string>();
  for (const p of pids) {
    const cmdline = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    for (const arg of cmdline.split('\0')) if (arg.startsWith('--config-file=')) out.add(arg.slice('--config-file='.length));
  }
  return out;
}

/** A private (0700) folder for clamd's temporary files: on /dev/shm when asked and usable, else `folder/tmp`. */
async function privateTempDir(folder: string, storage: 'memory' | 'disk'): Promise<string> {
  if (storage === 'memory') {
    try {
      await access(SHM, constants.W_OK);
      await sweepStaleTempDirs();
      return await mkdtemp(join(SHM, SHM_PREFIX));
    } catch {
      /* fall back to disk */
    }
  }
  const dir = join(folder, 'tmp');
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

/** Start clamd (throws, with the log's tail, if it cannot start or never answers). */
export async function startClamd(opts: StartClamdOptions = {}): Promise<LabClamd> {
  const bin = await requireProgram('clamd', 'apt-get install clamav-daemon; see docs/install.md');
  const host = '127.0.0.1';
  const { launch, ...proc } = await startLabDaemon({
    name: 'clamd',
    dir: opts.dir,
    pidFile: 'clamd.pid',
    stopGraceMs: 5_000,
    async setup(folder, alsoRemove) {
      const tempDir = await privateTempDir(folder, opts.tempStorage ?? 'memory');
      alsoRemove(tempDir);
      const dbDir = join(folder, 'db');
      await mkdir(dbDir, { mode: 0o700 });
      await writeSignatureDb(dbDir);
      const socket = join(folder, 'clamd.sock');
      const logFile = join(folder, 'clamd.log');
      const port = await freePort();
      const configFile = join(folder, 'clamd.conf');
      const lines = [
        '# generated by avbench lab',
        `LocalSocket ${socket}`,
        'LocalSocketMode 666',
        'FixStaleSocket yes',
        `TCPSocket ${port}`,
        `TCPAddr ${host}`,
        `DatabaseDirectory ${dbDir}`,
        'Foreground yes',
        `LogFile ${logFile}`,
        `MaxThreads ${opts.maxThreads ?? 8}`,
        `StreamMaxLength ${opts.streamMaxLength ?? '25M'}`,
        `TemporaryDirectory ${tempDir}`,
        ...(opts.extraConfig ?? []),
      ];
      await writeFile(configFile, `${lines.join('\n')}\n`, { mode: 0o600 });
      const outFile = join(folder, 'clamd.out');
      return {
        bin,
        args: [`--config-file=${configFile}`],
        outFile,
        ready: (deadline: number, alive: () => boolean) => waitForClamd({ path: socket }, deadline, alive),
        readyTimeoutMs: opts.readyTimeoutMs ?? 20_000,
        notReady: 'did not answer PING in time',
        logs: [logFile, outFile],
        socket,
        port,
        configFile,
        dbDir,
        tempDir,
        logFile,
      };
    },
  });
  const { socket, port, configFile, dbDir, tempDir, logFile } = launch;
  // A memory temp folder outlives a process killed before stop(): name its owner and config,
  // so a later lab clamd removes it once both are gone (sweepStaleTempDirs).
  if (tempDir.startsWith(`${SHM}/`)) await writeFile(join(tempDir, TEMP_OWNER_FILE), `${process.pid}\n${configFile}\n`, { mode: 0o600 }).catch(() => undefined);
  return { ...proc, socket, host, port, configFile, dbDir, tempDir, logFile };
}
