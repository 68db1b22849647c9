/**
 * `avbench bench --lab`: real daemons for the scanners that need one, started on loopback
 * for the bench and stopped after it — a lab clamd (the lab's signature database) and,
 * when c-icap is installed, a lab c-icap in front of it — plus a config pointing clamd,
 * clamdscan, clamscan, icap and yara at them (yara gets the lab's EICAR rule, src/lab/signatures.ts). The config
 * is written to a private temp file so `avbench deliver` children (lda mode) see it too.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AvbenchConfig, ScannerConfig } from '../config/config.js';
import { startCicap, type LabCicap } from '../lab/cicap.js';
import { startClamd, waitForClamd, type LabClamd } from '../lab/clamd.js';
import { connect } from '../core/net.js';
import { eicarYaraRuleSource } from '../lab/signatures.js';
import { alive, readLabState } from '../lab/up.js';

/** The running lab, its config, and the daemon PIDs per scanner name. */
export interface BenchLab {
  config: AvbenchConfig;
  configPath: string;
  pids: Record<string, number[]>;
  /** What could not be started (the scanner then stays unavailable and is skipped). */
  notes: string[];
  /**
   * Empty the lab clamd's caches before a cold pass: RELOAD, then wait until its log says the
   * new engine is active (clamd keeps its clean-file cache in the engine: a new engine starts
   * with an empty cache). `scanners` are the names that scan through this clamd.
   */
  coldReset: { scanners: string[]; pids: number[]; reset(): Promise<void> };
  /** The lab clamd's log file (where its reloads show). */
  clamdLogFile: string;
  stop(): Promise<void>;
}

const ACTIVATED = 'Activating the newly loaded database';

function countOf(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/**
 * RELOAD a clamd whose log we can read and wait (up to `timeoutMs`) until it has activated the
 * newly loaded database, then until it answers PING. Throws when it does not in time.
 */
export async function reloadClamd(socket: string, logFile: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const before = countOf(await readFile(logFile, 'utf8').catch(() => ''), ACTIVATED);
  const c = await connect({ path: socket }, { deadline });
  try {
    await c.write(Buffer.from('zRELOAD\0', 'latin1'));
    const reply = (await c.readUntil('\0')).toString('utf8').replace(/\0$/, '').trim();
    if (reply !== 'RELOADING') throw new Error(`clamd answered RELOAD with ${JSON.stringify(reply)}`);
  } finally {
    c.destroy();
  }
  for (;;) {
    if (countOf(await readFile(logFile, 'utf8').catch(() => ''), ACTIVATED) > before) break;
    if (Date.now() > deadline) throw new Error(`clamd did not activate its reloaded database within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!(await waitForClamd({ path: socket }, deadline))) throw new Error('clamd did not answer PING after RELOAD');
}

/**
 * Start the lab; `base` entries of the same names are replaced (the lab's own wins).
 * Throws when clamd cannot start (nothing for the lab to offer then).
 */
export async function startBenchLab(base: AvbenchConfig = { scanners: {} }): Promise<BenchLab> {
  const folder = await mkdtemp(join(tmpdir(), 'avbench-bench-lab-'));
  const notes: string[] = [];
  let clamd: LabClamd | undefined;
  let cicap: LabCicap | undefined;
  const stop = async (): Promise<void> => {
    await cicap?.stop().catch(() => undefined);
    await clamd?.stop().catch(() => undefined);
    await rm(folder, { recursive: true, force: true });
  };
  try {
    clamd = await startClamd({ dir: folder });
    try {
      cicap = await startCicap({ clamdSocket: clamd.socket, dir: folder });
    } catch (err) {
      notes.push(`icap: lab c-icap did not start: ${(err as Error).message.split('\n')[0]}`);
    }
    const rules = join(folder, 'eicar.yar');
    await writeFile(rules, eicarYaraRuleSource(), { mode: 0o600 });
    const scanners: Record<string, ScannerConfig> = {
      ...base.scanners,
      clamd: { type: 'clamd', socket: clamd.socket },
      clamdscan: { type: 'clamdscan', configFile: clamd.configFile },
      clamscan: { type: 'clamscan', database: clamd.dbDir },
      yara: { type: 'yara', rules },
    };
    const pids: Record<string, number[]> = { clamd: [clamd.pid], clamdscan: [clamd.pid] };
    if (cicap !== undefined) {
      scanners['icap'] = { type: 'icap', url: cicap.url };
      pids['icap'] = [cicap.pid, clamd.pid];
    }
    const config: AvbenchConfig = { ...base, scanners };
    const configPath = join(folder, 'avbench.config.json');
    await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
    const lab = clamd;
    const coldReset = { scanners: Object.keys(pids), pids: [lab.pid], reset: () => reloadClamd(lab.socket, lab.logFile) };
    return { config, configPath, pids, notes, coldReset, clamdLogFile: lab.logFile, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * `bench --lab-dir DIR`: use the lab `avbench lab up --dir DIR` is running instead of starting
 * one — its avbench.config.json (scanners pointing at its daemons), the PIDs of its clamd and
 * c-icap for the CPU and memory figures, and its clamd RELOADed before cold passes, for the
 * scanners behind it and for every system under test whose `pid=` lists that clamd (the
 * lab's gateways): scanners alone and gateways then use one and the same clamd. The lab is
 * not stopped afterwards (stop() does nothing). Throws when no lab is up there.
 */
export async function useRunningLab(dir: string): Promise<BenchLab> {
  const state = await readLabState(dir);
  if (state === undefined || !alive(state.pid)) throw new Error(`no lab is up in ${dir}: start one with \`avbench lab up --detach --dir ${dir}\``);
  const clamd = state.daemons.find((d) => d.name === 'clamd');
  if (clamd === undefined || clamd.log === undefined || !alive(clamd.pid)) throw new Error(`the lab in ${dir} has no running clamd with a log file (a lab started by an older avbench: restart it)`);
  const { socket, log, pid } = { socket: clamd.endpoint, log: clamd.log, pid: clamd.pid };
  const configPath = state.configFile;
  const config = JSON.parse(await readFile(configPath, 'utf8')) as AvbenchConfig;
  const cicap = state.daemons.find((d) => d.name === 'c-icap');
  const pids: Record<string, number[]> = { clamd: [pid], 'clamd-tcp': [pid], clamdscan: [pid], ...(cicap === undefined ? {} : { icap: [cicap.pid, pid] }) };
  return {
    config,
    configPath,
    pids,
    notes: [],
    coldReset: { scanners: Object.keys(pids), pids: [pid], reset: () => reloadClamd(socket, log) },
    clamdLogFile: log,
    stop: async () => undefined,
  };
}
