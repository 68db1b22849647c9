import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { run, which } from '../../src/core/exec.js';
import { until } from '../helpers/wait.js';

/** Is process `pid` still there (a zombie counts as gone)? */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('exec door', () => {
  it('returns the exit code of a normal exit, whatever its value', async () => {
    const r = await run('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toMatchObject({ ok: true, exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
  });
  it('passes arguments without a shell', async () => {
    const r = await run('printf', ['%s|', 'a;b', '$(id)', 'x\ny']);
    expect(r).toMatchObject({ ok: true, stdout: 'a;b|$(id)|x\ny|' });
  });
  it('reports a missing program as NOT_AVAILABLE', async () => {
    const r = await run('/nonexistent/avbench-nope', []);
    expect(r).toMatchObject({ ok: false, reason: 'NOT_AVAILABLE' });
  });
  it('kills a program at its absolute deadline', async () => {
    const r = await run('sleep', ['10'], { deadline: Date.now() + 200 });
    expect(r).toMatchObject({ ok: false, reason: 'TIMEOUT' });
    expect(r.ms).toBeLessThan(5_000);
  });
  it('reports death by signal as SCANNER_EXIT', async () => {
    const r = await run('sh', ['-c', 'kill -SEGV $$']);
    expect(r).toMatchObject({ ok: false, reason: 'SCANNER_EXIT', signal: 'SIGSEGV' });
  });
  it('feeds stdin', async () => {
    const r = await run('cat', [], { input: Buffer.from('hello') });
    expect(r).toMatchObject({ ok: true, stdout: 'hello' });
  });
  it('reports a file it cannot execute as NOT_AVAILABLE', async () => {
    const r = await run('/etc/passwd', []);
    expect(r).toMatchObject({ ok: false, reason: 'NOT_AVAILABLE', message: '/etc/passwd: not executable' });
    expect(await run('/nonexistent/avbench-nope', [])).toMatchObject({ message: '/nonexistent/avbench-nope: not found' });
  });
  it('keeps the output as written: no final newline stripped, UTF-8 text', async () => {
    const r = await run('printf', ['%s\\n\\n', 'é€😀']);
    expect(r).toMatchObject({ ok: true, exitCode: 0, stdout: 'é€😀\n\n', stderr: '' });
  });
  it('feeds text on stdin too, and closes it after', async () => {
    const r = await run('wc', ['-c'], { input: 'héllo' });
    expect(r).toMatchObject({ ok: true, stdout: '6\n' });
  });
  it('gives the child an open file descriptor as its stdin (stdinFd)', async () => {
    const fd = openSync(fileURLToPath(import.meta.url), 'r');
    try {
      const r = await run('cat', [], { stdinFd: fd });
      expect(r).toMatchObject({ ok: true, stdout: readFileSync(fileURLToPath(import.meta.url), 'utf8') });
    } finally {
      closeSync(fd);
    }
  });
  it('gives the child no stdin when there is no input (it reads end of file at once)', async () => {
    const r = await run('cat', [], { deadline: Date.now() + 10_000 });
    expect(r).toMatchObject({ ok: true, exitCode: 0, stdout: '' });
  });
  it('a child that exits without reading its input (EPIPE on its stdin) is a normal exit', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 'x');
    expect(await run('true', [], { input: big, deadline: Date.now() + 20_000 })).toMatchObject({ ok: true, exitCode: 0 });
    expect(await run('sh', ['-c', 'exit 3'], { input: big, deadline: Date.now() + 20_000 })).toMatchObject({ ok: true, exitCode: 3 });
    expect(await run('head', ['-c', '5'], { input: big, deadline: Date.now() + 20_000 })).toMatchObject({ ok: true, exitCode: 0, stdout: 'xxxxx' });
  });
  it('runs in cwd, with env added to this process environment', async () => {
    const r = await run('sh', ['-c', 'pwd; echo "$AVBENCH_T1:$AVBENCH_T2:${PATH:+path}"'], { cwd: '/', env: { AVBENCH_T1: 'one', AVBENCH_T2: undefined } });
    expect(r).toMatchObject({ ok: true, stdout: '/\none::path\n' });
  });
  it('output past maxBuffer: LIMIT_EXCEEDED, cut at the cap, the group killed', async () => {
    const t0 = Date.now();
    const r = await run('sh', ['-c', 'head -c 5000 /dev/zero | tr "\\0" a; sleep 20; exit 4'], { maxBuffer: 1000 });
    expect(r).toMatchObject({ ok: false, reason: 'LIMIT_EXCEEDED', stderr: '' });
    expect(r.ok ? '' : r.message).toContain('more than 1000 bytes on stdout');
    expect(r.stdout).toBe('a'.repeat(1000));
    expect(Date.now() - t0).toBeLessThan(10_000);
    const e = await run('sh', ['-c', 'head -c 5000 /dev/zero | tr "\\0" b >&2; exit 4'], { maxBuffer: 1000 });
    expect(e).toMatchObject({ ok: false, reason: 'LIMIT_EXCEEDED', stdout: '', stderr: 'b'.repeat(1000) });
    expect(e.ok ? '' : e.message).toContain('on stderr');
    // Exactly the cap is not over it.
    expect(await run('sh', ['-c', 'head -c 1000 /dev/zero | tr "\\0" c'], { maxBuffer: 1000 })).toMatchObject({ ok: true, stdout: 'c'.repeat(1000) });
  });
  it("onOverflow 'truncate': output cut at the cap, the rest read and discarded, the program runs to its own exit", async () => {
    const r = await run('sh', ['-c', 'head -c 5000 /dev/zero | tr "\\0" a; head -c 3000 /dev/zero | tr "\\0" b >&2; echo end >&2; exit 4'], { maxBuffer: 1000, onOverflow: 'truncate' });
    expect(r).toMatchObject({ ok: true, exitCode: 4, stdout: 'a'.repeat(1000), stderr: 'b'.repeat(1000) });
  });
  it('kills the group of a running child when this process exits first', async () => {
    // A separate Node process runs run('sleep') and exits at once: its liveGroups hook must kill the sleep.
    const dir = await mkdtemp(join(tmpdir(), 'avbench-exec-test-'));
    try {
      const src = readFileSync(fileURLToPath(new URL('../../src/core/exec.ts', import.meta.url)), 'utf8');
      await writeFile(join(dir, 'exec.mjs'), (await transform(src, { loader: 'ts', format: 'esm' })).code);
      await writeFile(
        join(dir, 'main.mjs'),
        "import { run } from './exec.mjs';\nvoid run('sh', ['-c', 'echo $$ > pid.tmp && mv pid.tmp pid && exec sleep 30']);\nsetTimeout(() => process.exit(0), 500);\n",
      );
      const r = await run(process.execPath, ['main.mjs'], { cwd: dir, deadline: Date.now() + 20_000 });
      expect(r).toMatchObject({ ok: true, exitCode: 0 });
      const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      expect(pid).toBeGreaterThan(1);
      expect(await until(() => !alive(pid), 5_000)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('finds programs on PATH', async () => {
    expect(await which('sh')).toMatch(/\/sh$/);
    expect(await which('avbench-no-such-program')).toBeUndefined();
  });
});

describe('exec door: deadlines are absolute for the whole process tree', () => {
  it('kills a grandchild that holds stdout open (shell wrapper scanners)', async () => {
    const t0 = Date.now();
    const r = await run('sh', ['-c', 'sleep 20; true'], { deadline: Date.now() + 300 });
    expect(r).toMatchObject({ ok: false, reason: 'TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
  it('an abort kills the tree too', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const t0 = Date.now();
    const r = await run('sh', ['-c', 'sleep 20; true'], { signal: ac.signal });
    expect(r).toMatchObject({ ok: false, reason: 'ABORTED' });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});
