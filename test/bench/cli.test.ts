/**
 * The `avbench bench` command module: writes results.json (valid against the schema) and
 * the report into --out, prints the table; exit 2 on unusable input.
 */
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { validateResults } from '../../src/results/schema.js';
import { benchCommand, commandLine, defaultOutDir, parseModeLimits } from '../../src/cli/commands/bench.js';
import { generateCorpus } from '../../src/corpus/generate.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-bench-cli-'));
  await generateCorpus({ out: join(dir, 'quick'), profile: 'quick' });
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const state = { exitCode: 0 };
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  let failed: string | undefined;
  try {
    await yargs(args)
      .command(benchCommand(state))
      .strict()
      .exitProcess(false)
      .fail((msg, e) => {
        failed = msg || String(e);
      })
      .parseAsync();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { code: failed === undefined ? state.exitCode : 2, stdout, stderr: stderr + (failed ?? '') };
}

describe('avbench bench (command module)', () => {
  it('writes results.json and the report, prints the table; exit 0', async () => {
    const out = join(dir, 'out');
    const r = await cli(['bench', '--corpus', join(dir, 'quick'), '-s', 'embedded', '-m', 'direct', '-m', 'milter', '--repeat', '2', '--warmup', '0', '--limit', '30', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/│ embedded\s+│ direct/);
    expect(r.stdout).toContain(`results: ${join(out, 'results.json')}`);
    expect(r.stdout).toContain(`report: ${join(out, 'report.html')}`);
    const doc = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    expect(validateResults(doc)).toEqual([]);
    expect(doc.command).toBe(`avbench bench --corpus ${join(dir, 'quick')} --scanner embedded --mode direct --mode milter --repeat 2 --warmup 0 --limit 30`);
    expect(doc.runs).toHaveLength(4);
    await access(join(out, 'report.html'));
  }, 180_000);

  it('exit 2 on unusable input', async () => {
    expect((await cli(['bench', '--corpus', join(dir, 'missing'), '-s', 'embedded'])).code).toBe(2);
    const bad = await cli(['bench', '--corpus', join(dir, 'quick'), '-s', 'embedded', '--mode-limit', 'lda']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--mode-limit expects MODE=N/);
    expect((await cli(['bench', '--corpus', join(dir, 'quick'), '--sut', 'gopher://x'])).code).toBe(2);
    const noTime = await cli(['bench', '--corpus', join(dir, 'quick'), '--timeout', '0']);
    expect(noTime.code).toBe(2);
    expect(noTime.stderr).toMatch(/--timeout expects seconds > 0/);
    const badRate = await cli(['bench', '--corpus', join(dir, 'quick'), '-m', 'smtp', '--rate', '-1']);
    expect(badRate.code).toBe(2);
    expect(badRate.stderr).toMatch(/--rate expects messages per second/);
    expect((await cli(['bench', '--corpus', join(dir, 'quick'), '-m', 'smtp', '--connection', 'sometimes'])).code).toBe(2);
  });

  it('helpers', () => {
    expect(commandLine({ corpus: "c d's", repeat: 3, warmup: 1, baseline: false, lab: true, timeout: 60, sut: ['smtp://h:1?sink=2&name=x'] })).toBe(
      "avbench bench --corpus 'c d'\\''s' --sut 'smtp://h:1?sink=2&name=x' --repeat 3 --warmup 1 --connection per-message --no-baseline --lab",
    );
    expect(commandLine({ corpus: 'c', repeat: 1, warmup: 0, baseline: true, lab: false, timeout: 90 })).toBe('avbench bench --corpus c --repeat 1 --warmup 0 --timeout 90 --connection per-message');
    // The load shape is written out when smtp runs are in play, and only then.
    expect(commandLine({ corpus: 'c', mode: ['smtp'], repeat: 1, warmup: 0, baseline: true, lab: false, timeout: 60, connection: 'kept-open', rate: 25 })).toBe(
      'avbench bench --corpus c --mode smtp --repeat 1 --warmup 0 --connection kept-open --rate 25',
    );
    expect(commandLine({ corpus: 'c', mode: ['direct'], repeat: 1, warmup: 0, baseline: true, lab: false, timeout: 60, connection: 'kept-open', rate: 25 })).toBe('avbench bench --corpus c --mode direct --repeat 1 --warmup 0');
    // Cold passes are the default; --no-cold is written out when asked.
    expect(commandLine({ corpus: 'c', mode: ['direct'], repeat: 1, warmup: 0, baseline: true, lab: false, timeout: 60, cold: false })).toBe('avbench bench --corpus c --mode direct --repeat 1 --warmup 0 --no-cold');
    expect(parseModeLimits(['lda=20', 'smtp=5'])).toEqual({ lda: 20, smtp: 5 });
    expect(defaultOutDir(new Date('2026-01-02T03:04:05.678Z'))).toBe(join('out', 'bench-20260102T030405Z'));
  });
});
