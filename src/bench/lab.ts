/**
 * `avbench bench --lab`: real daemons for the scanners that need one, started on loopback
 * for the bench and stopped after it — a lab clamd (the lab's signature database) and,
 * when c-icap is installed, a lab c-icap in front of it — plus a config pointing clamd,
 * clamdscan, clamscan, icap and yara at them (yara gets a generated EICAR rule). The config
 * is written to a private temp file so `avbench deliver` children (lda mode) see it too.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AvbenchConfig, ScannerConfig } from '../config/config.js';
import { startCicap, type LabCicap } from '../lab/cicap.js';
import { startClamd, type LabClamd } from '../lab/clamd.js';
import { eicar } from '../lab/signatures.js';

/** The running lab, its config, and the daemon PIDs per scanner name. */
export interface BenchLab {
  config: AvbenchConfig;
  configPath: string;
  pids: Record<string, number[]>;
  /** What could not be started (the scanner then stays unavailable and is skipped). */
  notes: string[];
  stop(): Promise<void>;
}

/** A YARA rule matching EICAR, as a hex string (no EICAR text in the source tree). */
export function eicarYaraRule(): string {
  const hex = [...eicar()].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `rule EICAR_Test_File {\n  strings:\n    $eicar = { ${hex} }\n  condition:\n    $eicar\n}\n`;
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
    await writeFile(rules, eicarYaraRule(), { mode: 0o600 });
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
    return { config, configPath, pids, notes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
