/**
 * `avbench scanners [--json]`: every adapter and preset — available? version? signatures? why not?
 * Available ones are described further (src/bench/versions.ts): the programs behind them with
 * their versions (clamd's VERSION command, clamscan/clamdscan/yara --version) and their
 * signature databases (version, build time, signature count).
 */
import Table from 'cli-table3';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { createAdapter, listScanners } from '../../../adapters/index.js';
import { loadConfig } from '../../config/config.js';
import type { ProbeResult } from '../../core/types.js';
import { describeAdapter, withDescription, type ScannerOptionsSeen } from '../../bench/versions.js';
import type { ProgramVersion, SignatureDatabase } from '../../results/types.js';
import type { CliState } from '../main.js';

interface ScannersArgs {
  json: boolean;
  config?: string;
}

/** One row of `avbench scanners --json`. */
export interface ScannerRow extends ProbeResult {
  name: string;
  type: string;
  source: 'config' | 'builtin' | 'preset';
  granularity?: 'message' | 'part';
  /** The programs behind the scanner and their versions (when it is available). */
  programs?: ProgramVersion[];
  /** Its signature databases: version, build time, signature count where known. */
  databases?: SignatureDatabase[];
}

const PROBE_MS = 10_000;

export function scannersCommand(state: CliState): CommandModule<object, ScannersArgs> {
  return {
    command: 'scanners',
    describe: 'List every scanner: available? version? signatures? why not?',
    builder: (y: Argv) =>
      y
        .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
        .option('config', { alias: 'c', type: 'string', describe: 'config file (default: ./avbench.config.json when present)' }) as unknown as Argv<ScannersArgs>,
    handler: async (args: ArgumentsCamelCase<ScannersArgs>) => {
      const { config } = await loadConfig(args.config);
      const rows = await Promise.all(listScanners(config).map(probeRow));
      if (args.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      } else {
        const table = new Table({ head: ['scanner', 'type', 'available', 'version', 'signatures / why not'], style: { head: [], border: [] }, colWidths: [22, 10, 11, 28, 60], wordWrap: true });
        for (const r of rows) {
          table.push([r.name + (r.source === 'preset' ? ' (preset)' : ''), r.type, r.available ? 'yes' : 'no', r.version ?? '', (r.available ? r.signatures : r.reason) ?? '']);
        }
        process.stdout.write(table.toString() + '\n');
      }
      state.exitCode = 0;
    },
  };
}

async function probeRow(entry: ReturnType<typeof listScanners>[number]): Promise<ScannerRow> {
  const base = { name: entry.name, type: entry.type, source: entry.source };
  let adapter;
  try {
    adapter = createAdapter(entry);
  } catch (err) {
    return { ...base, available: false, reason: `bad configuration: ${(err as Error).message}` };
  }
  try {
    const timeout = new Promise<ProbeResult>((resolve) => {
      setTimeout(() => resolve({ available: false, reason: `probe did not answer within ${PROBE_MS / 1000} s` }), PROBE_MS).unref();
    });
    const p = await Promise.race([adapter.probe(), timeout]);
    const needsPrefix = entry.source === 'preset' && !p.available && !(p.reason ?? '').startsWith('preset');
    const pre = needsPrefix ? { reason: `preset, ${p.reason ?? 'binary not found'}` } : {};
    const row: ScannerRow = { ...base, granularity: adapter.granularity, ...p, ...pre };
    if (!p.available) return row;
    try {
      const info = withDescription({ name: entry.name, type: entry.type, ...(p.version === undefined ? {} : { version: p.version }), ...(p.signatures === undefined ? {} : { signatures: p.signatures }) }, await describeAdapter(entry.type, entry.options as ScannerOptionsSeen, [], p));
      if (info.version !== undefined) row.version = info.version;
      if (info.signatures !== undefined) row.signatures = info.signatures;
      if (info.programs !== undefined) row.programs = info.programs;
      if (info.databases !== undefined) row.databases = info.databases;
    } catch {
      /* the probe's answer stands */
    }
    return row;
  } catch (err) {
    return { ...base, available: false, reason: `probe failed: ${(err as Error).message}` };
  } finally {
    await adapter.close().catch(() => undefined);
  }
}
