/**
 * `avbench scanners [--json]`: every adapter and preset — available? version? signatures? why not?
 * Available ones are described further (src/bench/versions.ts): the programs behind them with
 * their versions (clamd's VERSION command, clamscan/clamdscan/yara --version) and their
 * signature databases (version, build time, signature count).
 */
import Table from 'cli-table3';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { listScanners } from '../../../adapters/index.js';
import { openScanners, type OpenedScanners } from '../../../adapters/open.js';
import { loadConfig, type AvbenchConfig } from '../../config/config.js';
import type { Adapter, ProbeResult } from '../../core/types.js';
import { describeAdapter, withDescription, type ScannerOptionsSeen } from '../../bench/versions.js';
import type { ProgramVersion, SignatureDatabase } from '../../results/types.js';
import { CONFIG_OPTION } from '../options.js';
import type { CliState } from '../types.js';

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

export function scannersCommand(state: CliState): CommandModule<object, ScannersArgs> {
  return {
    command: 'scanners',
    describe: 'List every scanner: available? version? signatures? why not?',
    builder: (y: Argv) =>
      y
        .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
        .option('config', CONFIG_OPTION) as unknown as Argv<ScannersArgs>,
    handler: async (args: ArgumentsCamelCase<ScannersArgs>) => {
      const { config } = await loadConfig(args.config);
      const rows = await Promise.all(listScanners(config).map((e) => probeRow(e, config)));
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

async function probeRow(entry: ReturnType<typeof listScanners>[number], config: AvbenchConfig): Promise<ScannerRow> {
  const base = { name: entry.name, type: entry.type, source: entry.source };
  // One lifecycle (adapters/open.ts): built by name, probed with a deadline, not required
  // (a scanner not available is a row saying why).
  let opened: OpenedScanners;
  try {
    opened = await openScanners([entry.name], config, { require: false });
  } catch (err) {
    return { ...base, available: false, reason: `bad configuration: ${(err as Error).message}` };
  }
  try {
    const adapter = opened.adapters[0] as Adapter;
    const p = (opened.probes[0] as OpenedScanners['probes'][number]).probe;
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
  } finally {
    await opened.close();
  }
}
