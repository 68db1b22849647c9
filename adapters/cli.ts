/**
 * cli adapter: any command-line scanner described by a table entry (adapters/cli/entry.ts),
 * as amavisd-new's scanner table does; presets for vendor scanners live in
 * adapters/cli/presets.ts. Units are written to a private temp folder with generated
 * names; the template's `{}` (one process per batch) or `{f}` (one per unit) is expanded
 * to those paths only, and the program runs through src/core/exec.ts (no shell).
 */
import { run, which } from '../src/core/exec.js';
import type { Adapter, ProbeResult, ScanContext, ScanUnit, Verdict } from '../src/core/types.js';
import { parseCliEntry, type CliScannerEntry } from './cli/entry.js';
import { compileCliEntry, interpretCliRun } from './cli/output.js';
import { deadlineFor, excerpt, runBatch } from './process-kit.js';
import { expandArgs, templateMode } from './cli/template.js';

export { parseCliEntry, type CliScannerEntry } from './cli/entry.js';
export { CLI_PRESETS } from './cli/presets.js';

/** Build a cli adapter from a table entry (checked with `parseCliEntry`; bad entries throw TypeError). */
export function createCliAdapter(entry: CliScannerEntry): Adapter {
  const e = parseCliEntry(entry, `cli scanner ${typeof entry?.name === 'string' ? entry.name : '?'}`);
  const c = compileCliEntry(e);
  const mode = templateMode(e.args);

  async function scanBatch(units: ScanUnit[], ctx: ScanContext): Promise<Verdict[]> {
    return runBatch(units, ctx, async (files) => {
      const runScanner = (args: string[]) => run(e.command, args, { deadline: deadlineFor(ctx, e.timeoutMs), signal: ctx.signal, cwd: files.root });
      if (mode === 'folder') {
        const r = await runScanner(expandArgs(e.args, { folder: files.unitDir, files: files.paths }));
        return interpretCliRun(c, e.name, r, units, files);
      }
      const verdicts: Verdict[] = [];
      for (const [i, unit] of units.entries()) {
        const path = files.paths[i] as string;
        const r = await runScanner(expandArgs(e.args, { folder: files.unitDir, files: [path], file: path }));
        const one = { indexInText: (t: string) => (t.includes(files.names[i] as string) ? 0 : undefined) };
        verdicts.push(...interpretCliRun(c, e.name, r, [unit], one));
      }
      return verdicts;
    }, e.tempDir === undefined ? {} : { parent: e.tempDir });
  }

  return {
    name: e.name,
    type: 'cli',
    granularity: e.granularity ?? 'part',
    async probe(): Promise<ProbeResult> {
      const found = await which(e.command);
      if (found === undefined) return { available: false, reason: `${e.preset === undefined ? '' : 'preset, '}binary not found: ${e.command}` };
      if (e.versionArgs === undefined) return { available: true };
      const asked = `${e.command} ${e.versionArgs.join(' ')}`;
      const r = await run(found, e.versionArgs, { deadline: Date.now() + Math.min(e.timeoutMs ?? 30_000, 30_000) });
      if (!r.ok) return { available: false, reason: `${asked}: ${r.message}` };
      const text = `${r.stdout}\n${r.stderr}`;
      if (c.identify !== undefined && !c.identify.test(text)) {
        const said = excerpt((text.trim().split('\n')[0] ?? '').trim(), 80);
        return {
          available: false,
          reason: `not this program: ${found} is on PATH, but \`${asked}\` does not identify it as ${e.name} (expected /${e.identify}/i${said === '' ? ', it printed nothing' : `, it printed "${said}"`}); set "command" to the scanner's path in the config file`,
        };
      }
      const m = c.versionRegex?.exec(text);
      const version = m?.[1]?.trim() ?? (text.trim().split('\n')[0] ?? '').trim();
      return version === '' ? { available: true } : { available: true, version: excerpt(version, 120) };
    },
    async scan(unit, ctx) {
      return (await scanBatch([unit], ctx))[0] as Verdict;
    },
    scanBatch,
    async close() {
      /* nothing held between scans */
    },
  };
}
