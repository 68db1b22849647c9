/**
 * The `avbench` executable as built (npm test builds it first): dist/src/cli/bin.cjs, the
 * package's bin (CommonJS, no ESM loader on the lean path; made one file with the guard and
 * the loader by scripts/build-deliver.ts), and dist/src/cli/bin.js, the ES
 * module kept for what names it, which runs bin.cjs. Both take the lean path for `deliver`
 * and `scan` (with the code cache) and the full CLI otherwise; the CommonJS loader and guard
 * give their names to an ES module import.
 */
import { readdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli');
let dir: string;
const clean = mailWithAttachment('notes.txt', Buffer.from('hello\n'));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-bin-'));
  await writeFile(join(dir, 'clean.eml'), clean);
  await writeFile(join(dir, 'bad.eml'), mailWithAttachment('eicar.com', EICAR));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run `node dist/src/cli/ENTRY ARGS` with the lean trace on. */
function avbench(entry: 'bin.cjs' | 'bin.js', args: string[], input?: Buffer) {
  return run(process.execPath, [join(CLI, entry), ...args], {
    deadline: Date.now() + 30_000,
    env: { AVBENCH_LEAN_TRACE: '1', AVBENCH_LEAN: undefined },
    ...(input === undefined ? {} : { input }),
  });
}

describe('avbench bin entry', () => {
  it('package.json names bin.cjs: the shebang, then guard and loader in the same file (npm run build)', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin).toEqual({ avbench: 'dist/src/cli/bin.cjs' });
    const bin = await readFile(join(CLI, 'bin.cjs'), 'utf8');
    expect(bin.startsWith('#!/usr/bin/env node\n// avbench-bin: bin.cts, guard.cts and lean.cts in one file')).toBe(true);
    expect([...bin.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]).filter((m) => !m!.startsWith('node:'))).toEqual([]);
    expect((await readFile(join(CLI, 'bin.js'), 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  for (const entry of ['bin.cjs', 'bin.js'] as const) {
    it(`${entry} deliver: the lean path with its code cache, the message in the Maildir`, async () => {
      const maildir = join(dir, `Maildir-${entry}`);
      const r = await avbench(entry, ['deliver', '-s', 'embedded', '--no-fsync', '--maildir', maildir], clean);
      expect(r.stderr).toContain('avbench deliver: lean path (code cache accepted)');
      expect(r.ok && r.exitCode).toBe(0);
      const files = await readdir(join(maildir, 'new'));
      expect(files).toHaveLength(1);
      const stored = (await readFile(join(maildir, 'new', files[0]!))).toString('latin1');
      expect(stored).toContain('Subject: the file');
      expect(stored.endsWith(clean.subarray(clean.indexOf('\r\n\r\n')).toString('latin1'))).toBe(true);
    });

    it(`${entry} scan: the lean path with its code cache, exit 1 on the infected message`, async () => {
      const r = await avbench(entry, ['scan', '-s', 'embedded', '--no-summary', join(dir, 'clean.eml'), join(dir, 'bad.eml')]);
      expect(r.stderr).toContain('avbench scan: lean path (code cache accepted)');
      expect(r.stdout).toMatch(/bad\.eml: Eicar-Test-Signature FOUND/);
      expect(r.ok && r.exitCode).toBe(1);
    });

    it(`${entry} --version, --help and a usage error: the full CLI`, async () => {
      const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
      const v = await avbench(entry, ['--version']);
      expect(v.ok && v.exitCode).toBe(0);
      expect(v.stdout.trim()).toBe(pkg.version);
      const h = await avbench(entry, ['--help']);
      expect(h.ok && h.exitCode).toBe(0);
      expect(h.stdout).toContain('deliver');
      const bad = await avbench(entry, ['no-such-command']);
      expect(bad.ok && bad.exitCode).toBe(2);
      expect(bad.stderr).toContain('Unknown argument: no-such-command');
    });
  }

  it('AVBENCH_LEAN=0: bin.cjs deliver runs the full CLI, same delivery', async () => {
    const maildir = join(dir, 'Maildir-full');
    const r = await run(process.execPath, [join(CLI, 'bin.cjs'), 'deliver', '-s', 'embedded', '--no-fsync', '--maildir', maildir], {
      deadline: Date.now() + 30_000,
      env: { AVBENCH_LEAN_TRACE: '1', AVBENCH_LEAN: '0' },
      input: clean,
    });
    expect(r.stderr).toContain('avbench deliver: full CLI (AVBENCH_LEAN=0)');
    expect(r.ok && r.exitCode).toBe(0);
    expect(await readdir(join(maildir, 'new'))).toHaveLength(1);
  });

  it('an ES module imports the CommonJS loader and guard by name', async () => {
    const script = [
      `import { leanDeliver, leanScan, loadLeanBundle, LEAN_BUNDLE } from ${JSON.stringify(join(CLI, 'lean.cjs'))};`,
      `import { installProcessGuards, EXIT_BROKEN_PIPE } from ${JSON.stringify(join(CLI, 'guard.cjs'))};`,
      'console.log(typeof leanDeliver, typeof leanScan, typeof loadLeanBundle, typeof installProcessGuards, EXIT_BROKEN_PIPE, LEAN_BUNDLE);',
    ].join('\n');
    const r = await run(process.execPath, ['--input-type=module', '-e', script], { deadline: Date.now() + 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`function function function function 141 ${join(ROOT, 'dist/lean/deliver.cjs')}`);
  });
});
