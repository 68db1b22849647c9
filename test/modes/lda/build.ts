/**
 * Test helper: compile the project (tsconfig.build.json) into a private temp folder so a
 * test can spawn the real CLI as a separate process, the way an MTA runs `avbench deliver`.
 * The folder gets a package.json (ESM) and a node_modules link to the repository's.
 * If src/cli/main.ts registers `deliver`, `bin.js` is used; otherwise a two-line entry that
 * registers the deliver command module alone (same yargs setup) — see the report.
 * Like `npm run build`, it then makes the lean deliver bundle and its code cache
 * (scripts/build-deliver.ts), so `bin.js deliver` takes the lean path as it does installed.
 */
import { mkdtemp, rm, symlink, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../../src/core/exec.js';

/** A compiled copy of the project. */
export interface Build {
  dir: string;
  /** argv prefix that runs `avbench deliver` (e.g. [node, DIR/src/cli/bin.js, 'deliver']). */
  deliver: string[];
  /** Which entry it is. */
  entry: 'bin.js' | 'deliver-entry.mjs';
  remove(): Promise<void>;
}

const ROOT = resolve(import.meta.dirname, '../../..');

/** Compile into a temp folder (tsc emits even when unrelated files have type errors). */
export async function buildCli(): Promise<Build> {
  const dir = await mkdtemp(join(tmpdir(), 'avbench-build-'));
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = await run(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', dir, '--sourceMap', 'false', '--declaration', 'false'], {
    cwd: ROOT,
    deadline: Date.now() + 240_000,
  });
  const deliverJs = join(dir, 'src', 'cli', 'commands', 'deliver.js');
  try {
    await access(deliverJs);
  } catch {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`tsc did not emit ${deliverJs}: ${r.stdout}${r.stderr}`);
  }
  await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const lean = await run(process.execPath, [join(dir, 'scripts', 'build-deliver.js')], { cwd: dir, deadline: Date.now() + 120_000 });
  if (!lean.ok || lean.exitCode !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`scripts/build-deliver.js failed: ${lean.stdout}${lean.stderr}`);
  }
  const bin = join(dir, 'src', 'cli', 'bin.js');
  const help = await run(process.execPath, [bin, 'deliver', '--help'], { deadline: Date.now() + 30_000 });
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  if (help.ok && help.exitCode === 0 && help.stdout.includes('--maildir')) {
    return { dir, deliver: [process.execPath, bin, 'deliver'], entry: 'bin.js', remove };
  }
  const entry = join(dir, 'deliver-entry.mjs');
  await writeFile(
    entry,
    [
      "import yargs from 'yargs';",
      "import { deliverCommand } from './src/cli/commands/deliver.js';",
      'const state = { exitCode: 0 };',
      "await yargs(process.argv.slice(2)).scriptName('avbench').command(deliverCommand(state)).strict().exitProcess(false).parseAsync();",
      'process.exitCode = state.exitCode;',
      '',
    ].join('\n'),
  );
  return { dir, deliver: [process.execPath, entry, 'deliver'], entry: 'deliver-entry.mjs', remove };
}
