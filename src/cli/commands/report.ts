/**
 * `avbench report --results FILE [--results FILE2] [--out DIR] [--manifest CORPUS] [--no-png]`
 * Re-render report.html, summary.md and the PNG charts from results.json alone; with two
 * files, the before → after comparison. Exit 0 when written, 2 on a broken results file.
 */
import { dirname, join } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { ManifestEntry } from '../../corpus/manifest.js';
import { writeComparison, writeReport } from '../../report/index.js';
import { loadResultsFile, matchingManifest, readManifestFile } from '../../report/load.js';
import type { CliState } from '../types.js';

interface ReportArgs {
  results: string[];
  out?: string;
  manifest?: string;
  png: boolean;
}

/** The `report` command module (wired into the CLI by src/cli/main.ts). */
export function reportCommand(state: CliState): CommandModule<object, ReportArgs> {
  return {
    command: 'report',
    describe: 'Re-render report.html, summary.md and PNG charts from results.json; two files: before → after',
    builder: (y: Argv) =>
      y
        .option('results', { alias: 'r', type: 'string', array: true, nargs: 1, demandOption: true, describe: 'results.json to render; give two to compare (before, after)' })
        .option('out', { alias: 'o', type: 'string', describe: 'folder to write (default: the results file\'s folder; for two files, FILE2\'s folder/compare)' })
        .option('manifest', { type: 'string', describe: 'corpus folder (or its manifest.json) for message encodings; default: the recorded corpus, if its manifest is unchanged' })
        .option('png', { type: 'boolean', default: true, describe: 'write the PNG charts (--no-png to skip)' })
        .example('$0 report --results out/results.json', 'rewrite out/report.html, out/summary.md, out/*.png')
        .example('$0 report --results before.json --results after.json --out diff', 'what a signature update changed') as unknown as Argv<ReportArgs>,
    handler: async (args: ArgumentsCamelCase<ReportArgs>) => {
      const files = args.results;
      if (files.length < 1 || files.length > 2) {
        process.stderr.write(`avbench report: give one --results FILE, or two to compare (got ${files.length})\n`);
        state.exitCode = 2;
        return;
      }
      const loaded = [];
      for (const f of files) {
        const l = await loadResultsFile(f);
        if (!l.ok) {
          process.stderr.write(`avbench report: ${l.message}\n`);
          state.exitCode = 2;
          return;
        }
        loaded.push(l.results);
      }
      const noPng = !args.png;
      if (loaded.length === 1 && loaded[0] !== undefined) {
        const results = loaded[0];
        let manifest: ManifestEntry[] | undefined;
        try {
          manifest = args.manifest !== undefined ? await readManifestFile(args.manifest) : await matchingManifest(results);
        } catch (err) {
          process.stderr.write(`avbench report: ${(err as Error).message}\n`);
          state.exitCode = 2;
          return;
        }
        const out = args.out ?? dirname(files[0] as string);
        const w = await writeReport(results, out, { ...(manifest === undefined ? {} : { manifest }), noPng });
        process.stdout.write(`wrote ${w.html}\nwrote ${w.markdown}\n${w.pngs.map((p) => `wrote ${p}\n`).join('')}`);
        if (manifest === undefined) process.stdout.write('(no corpus manifest matched the results: the encoding column shows "–")\n');
      } else {
        const [before, after] = loaded as [typeof loaded[0], typeof loaded[0]];
        if (before === undefined || after === undefined) return;
        const out = args.out ?? join(dirname(files[1] as string), 'compare');
        const w = await writeComparison(before, after, out, { noPng });
        const bad = w.comparison.changes.filter((c) => c.kind === 'newly-missed' || c.kind === 'newly-flagged' || c.kind === 'new-error').length;
        process.stdout.write(`wrote ${w.html}\nwrote ${w.markdown}\n${w.pngs.map((p) => `wrote ${p}\n`).join('')}${w.comparison.changes.length} message verdict(s) changed, ${bad} for the worse\n`);
      }
      state.exitCode = 0;
    },
  };
}
