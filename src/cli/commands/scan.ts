/**
 * `avbench scan [--scanner NAME]... [--json] [--config FILE] PATH...`
 * Files, folders (a corpus with or without manifest.json), mbox files and Maildirs.
 * Exit 0 all clean · 1 something infected · 2 an error.
 */
import Table from 'cli-table3';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { adapterByName } from '../../../adapters/index.js';
import { loadConfig } from '../../config/config.js';
import { scanMessageDetailed, type ScannerResult } from '../../core/scan.js';
import type { Adapter, Verdict } from '../../core/types.js';
import { errorVerdict } from '../../core/verdict.js';
import { openCorpus, type CorpusEntry } from '../../corpus/read.js';
import type { CliState } from '../main.js';
import { orderedPool } from '../pool.js';
import { progress } from '../progress.js';

interface ScanArgs {
  paths: string[];
  scanner: string[];
  json: boolean;
  config?: string;
  infected: boolean;
  jobs: number;
  summary: boolean;
}

/** One line of `scan --json` (DESIGN.md): `{ file, scanner, ms, ...Verdict }`. */
export type ScanRecord = { file: string; scanner: string; ms: number } & Verdict;

export function scanCommand(state: CliState): CommandModule<object, ScanArgs> {
  return {
    command: 'scan <paths..>',
    describe: 'Scan messages: .eml files, corpus folders, mbox files, Maildirs',
    builder: (y: Argv) =>
      y
        .positional('paths', { type: 'string', array: true, demandOption: true, describe: 'files, folders, mbox files or Maildirs' })
        .option('scanner', { alias: 's', type: 'string', array: true, nargs: 1, default: ['embedded'], describe: 'scanner name (repeatable); `avbench scanners` lists them' })
        .option('json', { type: 'boolean', default: false, describe: 'print one JSON array: an element per message and scanner' })
        .option('config', { alias: 'c', type: 'string', describe: 'config file (default: ./avbench.config.json when present)' })
        .option('infected', { alias: 'i', type: 'boolean', default: false, describe: 'print only infected and error messages' })
        .option('jobs', { alias: 'j', type: 'number', default: 4, describe: 'messages scanned at once' })
        .option('summary', { type: 'boolean', default: true, describe: 'print a per-category table when the corpus is labelled (--no-summary to skip)' })
        .example('$0 scan message.eml', 'scan one message with the embedded scanner')
        .example('$0 scan -s clamd -s embedded --json corpora/quick', 'two scanners, JSON out') as unknown as Argv<ScanArgs>,
    handler: async (args: ArgumentsCamelCase<ScanArgs>) => {
      state.exitCode = await runScan(args);
    },
  };
}

interface Tally {
  messages: number;
  expectedInfected: number;
  detected: number;
  missed: number;
  expectedClean: number;
  falsePositives: number;
  errors: number;
}

async function runScan(args: ScanArgs): Promise<number> {
  const { config } = await loadConfig(args.config);
  const names = [...new Set(args.scanner)];
  const adapters: Adapter[] = names.map((n) => adapterByName(n, config));
  try {
    for (const a of adapters) {
      const p = await a.probe();
      if (!p.available) {
        process.stderr.write(`avbench: scanner ${a.name} is not available: ${p.reason ?? 'no reason given'}\n`);
        return 2;
      }
    }
    const out = process.stdout;
    let worst = 0;
    let first = true;
    let count = 0;
    let bytes = 0;
    const started = performance.now();
    const tallies = new Map<string, Map<string, Tally>>(); // scanner → category → tally
    if (args.json) out.write('[');
    for (const path of args.paths) {
      let opened;
      try {
        opened = await openCorpus(path);
      } catch (err) {
        process.stderr.write(`avbench: cannot read ${path}: ${(err as Error).message}\n`);
        worst = 2;
        continue;
      }
      const bar = progress(`scanning ${path}`, opened.info.messages);
      const scanOne = async (entry: CorpusEntry): Promise<{ entry: CorpusEntry; results: ScannerResult[]; size: number }> => {
        let raw: Buffer;
        try {
          raw = await entry.read();
        } catch (err) {
          const v = errorVerdict('IO', `cannot read ${entry.file}: ${(err as Error).message}`);
          return { entry, results: adapters.map((a) => ({ scanner: a.name, verdict: v, ms: 0 })), size: 0 };
        }
        const scan = await scanMessageDetailed(raw, { scanners: adapters, ...(config.limits ? { limits: config.limits } : {}) });
        return { entry, results: scan.results, size: raw.length };
      };
      for await (const { entry, results, size } of orderedPool(opened.entries, args.jobs, scanOne)) {
        count += 1;
        bytes += size;
        bar.tick(count);
        for (const r of results) {
          const v = r.verdict;
          if (v.status === 'error') worst = 2;
          else if (v.status === 'infected' && worst === 0) worst = 1;
          if (args.json) {
            const rec: ScanRecord = { file: entry.file, scanner: r.scanner, ms: round(r.ms), ...v };
            out.write((first ? '\n' : ',\n') + JSON.stringify(rec));
            first = false;
          } else if (!args.infected || v.status !== 'clean') {
            out.write(formatLine(entry.file, r, adapters.length > 1) + '\n');
          }
          if (entry.expected !== undefined) tally(tallies, r.scanner, entry, v);
        }
      }
      bar.done();
    }
    if (args.json) out.write(first ? ']\n' : '\n]\n');
    else if (args.summary) {
      const secs = (performance.now() - started) / 1000;
      if (tallies.size > 0) out.write(summaryTable(tallies) + '\n');
      out.write(`${count} messages, ${(bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(2)} s (${(count / secs).toFixed(0)} msg/s, ${(bytes / 1e6 / secs).toFixed(1)} MB/s)\n`);
    }
    return worst;
  } finally {
    await Promise.all(adapters.map((a) => a.close().catch(() => undefined)));
  }
}

/** clamscan-like line: `file: clean`, `file: NAME FOUND in PART`, `file: ERROR CODE message`. */
function formatLine(file: string, r: ScannerResult, showScanner: boolean): string {
  const who = showScanner ? ` [${r.scanner}]` : '';
  const v = r.verdict;
  switch (v.status) {
    case 'clean':
      return `${file}${who}: clean`;
    case 'infected':
      return `${file}${who}: ${v.detections.map((d) => `${d.name} FOUND${d.part ? ` in ${d.part}` : ''}`).join(', ')}`;
    case 'error':
      return `${file}${who}: ERROR ${v.error.code} ${v.error.message}`;
  }
}

function tally(t: Map<string, Map<string, Tally>>, scanner: string, entry: CorpusEntry, v: Verdict): void {
  const byCat = t.get(scanner) ?? new Map<string, Tally>();
  t.set(scanner, byCat);
  for (const cat of [entry.category ?? '(none)', 'ALL']) {
    const x = byCat.get(cat) ?? { messages: 0, expectedInfected: 0, detected: 0, missed: 0, expectedClean: 0, falsePositives: 0, errors: 0 };
    byCat.set(cat, x);
    x.messages += 1;
    if (v.status === 'error') x.errors += 1;
    if (entry.expected === 'infected') {
      x.expectedInfected += 1;
      if (v.status === 'infected') x.detected += 1;
      else if (v.status === 'clean') x.missed += 1;
    } else if (entry.expected === 'clean') {
      x.expectedClean += 1;
      if (v.status === 'infected') x.falsePositives += 1;
    }
  }
}

function summaryTable(t: Map<string, Map<string, Tally>>): string {
  const table = new Table({
    head: ['scanner', 'category', 'messages', 'detected', 'missed', 'false pos.', 'errors'],
    style: { head: [], border: [] },
  });
  for (const [scanner, byCat] of t) {
    const cats = [...byCat.keys()].filter((c) => c !== 'ALL').sort();
    for (const cat of [...cats, 'ALL']) {
      const x = byCat.get(cat);
      if (x === undefined) continue;
      table.push([scanner, cat, x.messages, `${x.detected}/${x.expectedInfected}`, x.missed, `${x.falsePositives}/${x.expectedClean}`, x.errors]);
    }
  }
  return table.toString();
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
