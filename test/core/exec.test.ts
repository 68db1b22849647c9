import { describe, expect, it } from 'vitest';
import { run, which } from '../../src/core/exec.js';

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
