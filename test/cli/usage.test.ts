/**
 * Usage errors are found before anything is read, written, delivered or bound (issue 12.1):
 * each case asserts the exit code, a message that says what is wrong, and that nothing
 * happened (no output on stdout, no folder written).
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, usageExitCode } from '../../src/cli/main.js';
import { run } from '../../src/core/exec.js';
import { captureOutput } from '../helpers/capture.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-usage-'));
  await writeFile(join(dir, 'm.eml'), 'From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cli = (...argv: string[]) => captureOutput(() => runCli(argv));

describe('usage errors stop a command before it does anything', () => {
  it('scan FILE --bogus: exit 2, names the option, scans nothing', async () => {
    const r = await cli('scan', join(dir, 'm.eml'), '--bogus');
    expect(r.result).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Unknown argument: bogus');
    // `--bogus FILE` takes FILE as the option's value: then the path is missing.
    const r2 = await cli('scan', '--bogus', join(dir, 'm.eml'));
    expect(r2.result).toBe(2);
    expect(r2.stdout).toBe('');
    expect(r2.stderr).toMatch(/Unknown argument: bogus|Not enough non-option arguments/);
  });

  it('a command that fails while it runs (not a usage error): one line, exit 2, no usage hint', async () => {
    const under = join(dir, 'm.eml', 'out');
    const r = await cli('corpus', 'generate', '--out', under);
    expect(r.result).toBe(2);
    expect(r.stderr).toMatch(/^avbench: ENOTDIR: not a directory[^\n]*\n$/);
    expect(r.stderr).not.toContain('--help');
  });

  it('corpus generate --out DIR --json: exit 2, DIR not written', async () => {
    const out = join(dir, 'not-written');
    const r = await cli('corpus', 'generate', '--out', out, '--json');
    expect(r.result).toBe(2);
    expect(r.stderr).toContain('Unknown argument: json');
    await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('corpus generate without --out: exit 2 saying --out is needed (no Node type error)', async () => {
    const r = await cli('corpus', 'generate');
    expect(r.result).toBe(2);
    expect(r.stderr).toMatch(/Missing required argument: out/);
    expect(r.stderr).not.toMatch(/must be of type|TypeError/);
  });

  it('an unknown choice is reported before the command runs', async () => {
    const out = join(dir, 'also-not-written');
    const r = await cli('corpus', 'generate', '--out', out, '--profile', 'huge');
    expect(r.result).toBe(2);
    expect(r.stderr).toMatch(/Invalid values/);
    await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('--help prints once and runs nothing', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    let r;
    let printed: string;
    try {
      r = await cli('corpus', 'generate', '--help', '--out', join(dir, 'help-not-written'));
      printed = log.mock.calls.map((c) => c.join(' ')).join('\n');
    } finally {
      log.mockRestore();
    }
    expect(r.result).toBe(0);
    expect(printed.match(/same seed, same bytes/g)?.length).toBe(1);
    await expect(readdir(join(dir, 'help-not-written'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('deliver as the MTA runs it (whole process, message on stdin): a usage error exits 64 and delivers nothing', async () => {
    const bin = fileURLToPath(new URL('../../dist/src/cli/bin.js', import.meta.url));
    const maildir = join(dir, 'Maildir-usage');
    const msg = await readFile(join(dir, 'm.eml'));
    const cases: [string[], RegExp][] = [
      [['deliver', '-s', 'embedded', '--bogus', '--maildir', maildir], /Unknown argument: bogus/],
      [['deliver', '-s', 'embedded'], /name a delivery COMMAND after -- or give --maildir DIR/],
      [['deliver', '-s', 'embedded', '--on-infected', 'quarantine', '--maildir', maildir], /needs --quarantine DIR/],
      [['deliver', '-s', 'embedded', '--timeout', 'soon', '--maildir', maildir], /timeout/],
    ];
    for (const [argv, message] of cases) {
      const r = await run(process.execPath, [bin, ...argv], { input: msg, deadline: Date.now() + 30_000 });
      expect(r.exitCode, argv.join(' ')).toBe(64);
      expect(r.stderr, argv.join(' ')).toMatch(message);
      expect(r.stdout).toBe('');
      await expect(readdir(maildir)).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });

  it('deliver (run by an MTA) exits 64 EX_USAGE on a usage error, the others 2', () => {
    expect(usageExitCode('deliver')).toBe(64);
    expect(usageExitCode('scan')).toBe(2);
    expect(usageExitCode(undefined)).toBe(2);
  });
});
