/**
 * No stack trace reaches a user (issue 12.3): a closed stdout ends the command quietly, an
 * unexpected error is one line (the stack only with AVBENCH_DEBUG=1). Whole processes of
 * the built CLI (npm test builds it first).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeUnexpected, EXIT_BROKEN_PIPE, isBrokenPipe } from '../../src/cli/guard.cjs';
import { run } from '../../src/core/exec.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'dist/src/cli/bin.js');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-guard-'));
  const bad = mailWithAttachment('eicar.com', EICAR);
  for (let i = 0; i < 3000; i++) await writeFile(join(dir, `m${String(i).padStart(4, '0')}.eml`), bad);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('process guard', () => {
  it('formats an unexpected error as one line, with the stack only when asked', () => {
    const e = new Error('boom\nsecond line');
    expect(describeUnexpected(e, false)).toBe('avbench: internal error: boom\n(set AVBENCH_DEBUG=1 to see where)\n');
    expect(describeUnexpected(e, true)).toMatch(/^avbench: internal error: boom\nError: boom\nsecond line\n\s+at /);
    const sys = Object.assign(new Error("ENOTDIR: not a directory, mkdir '/etc/passwd/x'"), { code: 'ENOTDIR' });
    expect(describeUnexpected(sys, false)).toBe("avbench: ENOTDIR: not a directory, mkdir '/etc/passwd/x'\n(set AVBENCH_DEBUG=1 to see where)\n");
    expect(isBrokenPipe(Object.assign(new Error('x'), { code: 'EPIPE' }))).toBe(true);
    expect(EXIT_BROKEN_PIPE).toBe(141);
  });

  it('an unexpected error in a process: one line on stderr and exit 2; AVBENCH_DEBUG=1 adds the stack', async () => {
    const script = `import(${JSON.stringify(join(ROOT, 'dist/src/cli/guard.cjs'))}).then((g) => { g.installProcessGuards(2); setTimeout(() => { throw new Error('boom'); }); });`;
    const quiet = await run(process.execPath, ['-e', script], { deadline: Date.now() + 20_000 });
    expect(quiet.ok && quiet.exitCode).toBe(2);
    expect(quiet.stderr).toBe('avbench: internal error: boom\n(set AVBENCH_DEBUG=1 to see where)\n');
    const loud = await run(process.execPath, ['-e', script], { deadline: Date.now() + 20_000, env: { AVBENCH_DEBUG: '1' } });
    expect(loud.stderr).toMatch(/^avbench: internal error: boom\nError: boom\n\s+at /);
  });

  it('a write to a stdout whose reader has gone: exit 141, nothing on stderr', async () => {
    const script = `import(${JSON.stringify(join(ROOT, 'dist/src/cli/guard.cjs'))}).then((g) => { g.installProcessGuards(2); const line = 'x'.repeat(99) + '\\n'; const tick = () => { for (let i = 0; i < 1000; i++) process.stdout.write(line); setTimeout(tick, 5); }; tick(); });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(stderr).toBe('');
    expect(code).toBe(EXIT_BROKEN_PIPE);
  }, 30_000);

  it('avbench scan -i DIR | head -1: the reader goes away, the command ends quietly (no trace)', async () => {
    const child = spawn(process.execPath, [BIN, 'scan', '-i', '--no-summary', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(stderr).toBe('');
    // 141 when a write met the closed pipe; 1 (infected) when the last write had already left.
    expect([EXIT_BROKEN_PIPE, 1]).toContain(code);
  }, 60_000);
});
