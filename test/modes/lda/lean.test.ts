/**
 * The lean `avbench deliver` (dist/lean/deliver.cjs + code cache, loaded by bin.js) as an MTA
 * runs it: a separate process per message. It must give the same exit codes, the same stderr
 * line and the same delivered bytes as the full yargs CLI (AVBENCH_LEAN=0), with a real clamd,
 * and fall back to the full CLI whenever it cannot or should not handle the command line.
 */
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateCorpus } from '../../../src/corpus/generate.js';
import { openCorpus } from '../../../src/corpus/read.js';
import { run } from '../../../src/core/exec.js';
import { startClamd, type LabClamd } from '../../../src/lab/clamd.js';
import { describeReal } from '../../helpers/real.js';
import { EICAR, mailWithAttachment } from '../../helpers/eicar.js';
import { sevenZipArchive } from '../../core/containers/format-fixtures.js';
import { buildCli, type Build } from './build.js';

await describeReal('lean avbench deliver (one process per message)', ['clamd'], () => {
  let dir: string;
  let build: Build;
  let clamd: LabClamd;
  let config: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-lean-'));
    [build, clamd] = await Promise.all([buildCli(), startClamd()]);
    config = join(dir, 'avbench.json');
    await writeFile(
      config,
      JSON.stringify({ scanners: { clamd: { type: 'clamd', socket: clamd.socket }, down: { type: 'clamd', socket: join(dir, 'none.sock'), timeoutMs: 2000 } } }),
    );
  }, 300_000);
  afterAll(async () => {
    await clamd?.stop();
    await build?.remove();
    await rm(dir, { recursive: true, force: true });
  });

  /** Run `avbench deliver ARGS` with `msg` on stdin; `lean: false` forces the full CLI. */
  async function deliver(args: string[], msg: Buffer, opts: { lean?: boolean } = {}): Promise<{ code: number | undefined; lines: string[]; path: string }> {
    const r = await run(build.deliver[0]!, [...build.deliver.slice(1), ...args], {
      input: msg,
      cwd: dir,
      deadline: Date.now() + 60_000,
      env: { AVBENCH_LEAN_TRACE: '1', AVBENCH_LEAN: opts.lean === false ? '0' : '1' },
    });
    const all = r.stderr.split('\n').filter((l) => l !== '');
    const trace = all.filter((l) => /^avbench deliver: (lean path|full CLI)/.test(l));
    return { code: r.exitCode, lines: all.filter((l) => !trace.includes(l)), path: trace.join(' ') };
  }

  const clean = mailWithAttachment('notes.txt', Buffer.from('hello\n'));
  const bad = mailWithAttachment('eicar.com', EICAR);

  it('runs as bin.js with the lean bundle and its code cache', () => {
    expect(build.entry).toBe('bin.js');
  });

  it('keeps every exit code: 0 delivered/quarantined, 77 (or --reject-code) rejected, 75 scanner or config trouble, COMMAND’s own code', async () => {
    const md = join(dir, 'Maildir-codes');
    const exit3 = join(dir, 'exit3.sh');
    const exit75 = join(dir, 'exit75.sh');
    await writeFile(exit3, '#!/bin/sh\ncat >/dev/null\necho nope >&2\nexit 3\n', { mode: 0o700 });
    await writeFile(exit75, '#!/bin/sh\ncat >/dev/null\nexit 75\n', { mode: 0o700 });
    const c = ['-c', config];
    const cases: Array<[string[], Buffer, number, RegExp]> = [
      [['-s', 'clamd', ...c, '--no-fsync', '--maildir', md], clean, 0, /^delivered: clean to /],
      [['-s', 'clamd', ...c, '--maildir', md], bad, 77, /^rejected: infected: /],
      [['-s', 'embedded', '-s', 'clamd', ...c, '--maildir', md, '--reject-code', '69'], bad, 69, /^rejected: infected: /],
      [['-s', 'clamd', ...c, '--quarantine', join(dir, 'q'), '--maildir', md], bad, 0, /^quarantined: infected: .* in /],
      [['-s', 'down', ...c, '--maildir', md], clean, 75, /^tempfail: CONNECT_FAILED: /],
      [['-s', 'down', ...c, '--maildir', md, '--on-fail', 'accept'], clean, 0, /^delivered: unchecked \(CONNECT_FAILED/],
      [['-s', 'no-such-scanner', ...c, '--maildir', md], clean, 75, /^tempfail: CONFIG: unknown scanner "no-such-scanner"/],
      [['-s', 'clamd', ...c, '--', exit3], clean, 3, /^failed: delivery command \S+exit3.sh exited 3: nope$/],
      [['-s', 'clamd', ...c, '--', exit75], clean, 75, /^tempfail: COMMAND: delivery command \S+ exited 75/],
      [['-s', 'clamd', ...c, '--', join(dir, 'missing')], clean, 75, /^tempfail: NOT_AVAILABLE: delivery command: /],
      [['-s', 'embedded', ...c, '--defang', '--', 'cat'], mailWithAttachment('setup.exe', Buffer.from('MZ')), 0, /^delivered: clean via cat; defanged setup.exe -> setup.DEFANGED-EXE\b/],
    ];
    for (const [args, msg, code, line] of cases) {
      const lean = await deliver(args, msg);
      const full = await deliver(args, msg, { lean: false });
      expect(lean.path, args.join(' ')).toMatch(/^avbench deliver: lean path \(code cache accepted\)$/);
      expect(full.path).toMatch(/^avbench deliver: full CLI \(AVBENCH_LEAN=0\)$/);
      expect({ code: lean.code, lines: lean.lines.length }, args.join(' ')).toEqual({ code, lines: 1 });
      expect(lean.lines[0]!.replace(/^avbench deliver: /, ''), args.join(' ')).toMatch(line);
      const norm = (s: string) => s.replace(/\/[^ ]*\/(new|q)\/\S+/g, '<file>');
      expect({ code: full.code, lines: full.lines.map(norm) }).toEqual({ code: lean.code, lines: lean.lines.map(norm) });
    }
  }, 180_000);

  it('opens a 7z attachment (7z-wasm stays in node_modules, imported through the loader) as the full CLI does', async () => {
    const md = join(dir, 'Maildir-7z');
    const bad7z = mailWithAttachment('files.7z', await sevenZipArchive('7z', { 'eicar.com': EICAR }));
    const clean7z = mailWithAttachment('files.7z', await sevenZipArchive('7z', { 'notes.txt': Buffer.from('hello\n') }));
    for (const [msg, code] of [[bad7z, 77], [clean7z, 0]] as const) {
      const args = ['-s', 'embedded', '-c', config, '--no-fsync', '--maildir', md];
      const lean = await deliver(args, msg);
      const full = await deliver(args, msg, { lean: false });
      expect(lean.path).toMatch(/lean path \(code cache accepted\)/);
      expect(lean.code).toBe(code);
      const norm = (l: string[]) => l.map((x) => x.replace(/\/\S+\/new\/\S+/g, '<file>'));
      expect(norm(lean.lines)).toEqual(norm(full.lines));
      expect(lean.lines.join('\n')).not.toMatch(/Warning|Error/);
    }
  }, 120_000);

  it('delivers the quick corpus byte for byte as the full CLI does (embedded + clamd, --defang)', async () => {
    const corpus = join(dir, 'corpus');
    await generateCorpus({ out: corpus, seed: 1, profile: 'quick' });
    const entries: Array<{ file: string; raw: Buffer }> = [];
    for await (const e of (await openCorpus(corpus)).entries) {
      entries.push({ file: e.file, raw: await e.read() });
      if (entries.length === 40) break;
    }
    const mismatches: string[] = [];
    for (const [i, e] of entries.entries()) {
      const raw = e.raw;
      const got: Array<{ code: number | undefined; line: string; body: string }> = [];
      for (const lean of [true, false]) {
        const md = join(dir, `md-${i}-${lean ? 'lean' : 'full'}`);
        const r = await deliver(['-s', 'embedded', '-s', 'clamd', '-c', config, '--defang', '--no-fsync', '--maildir', md], raw, { lean });
        if (lean && !r.path.includes('lean path')) mismatches.push(`${e.file}: not the lean path: ${r.path}`);
        const files = await readdir(join(md, 'new')).catch(() => [] as string[]);
        const body = files.length === 1 ? await readFile(join(md, 'new', files[0]!), 'latin1') : `${files.length} files`;
        got.push({ code: r.code, line: r.lines.join('\n').replace(/\/\S+\/new\/\S+/g, '<file>'), body });
      }
      if (JSON.stringify(got[0]) !== JSON.stringify(got[1])) mismatches.push(`${e.file}: lean ${JSON.stringify(got[0]).slice(0, 300)} / full ${JSON.stringify(got[1]).slice(0, 300)}`);
    }
    expect(mismatches).toEqual([]);
  }, 600_000);

  it('leaves help, usage errors and a stale bundle to the full CLI, unchanged', async () => {
    const help = await run(build.deliver[0]!, [...build.deliver.slice(1), '--help'], { deadline: Date.now() + 30_000, env: { AVBENCH_LEAN_TRACE: '1' } });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('--maildir');
    expect(help.stderr).toContain('full CLI (arguments left to yargs)');
    const usage = await deliver(['--maildir', join(dir, 'm')], clean);
    const usageFull = await deliver(['--maildir', join(dir, 'm')], clean, { lean: false });
    expect(usage.lines.join('\n')).toMatch(/Missing required argument: scanner/);
    expect(usage.path).toContain('full CLI (arguments left to yargs)');
    expect({ code: usage.code, lines: usage.lines }).toEqual({ code: usageFull.code, lines: usageFull.lines });

    // A tsc run after the bundle was made: bin.cjs (which holds the loader, lean.cts) is newer than the bundle, which may be stale.
    const leanJs = join(build.dir, 'src', 'cli', 'bin.cjs');
    const bundle = join(build.dir, 'lean', 'deliver.cjs');
    const { mtime } = await stat(bundle);
    const before = await stat(leanJs);
    await utimes(leanJs, new Date(), new Date(mtime.getTime() + 60_000));
    const stale = await deliver(['-s', 'embedded', '--', 'cat'], clean);
    expect(stale.path).toMatch(/full CLI \(.*older than the tsc build/);
    expect(stale.code).toBe(0);
    expect(stale.lines).toEqual(['avbench deliver: delivered: clean via cat']);
    await utimes(leanJs, before.atime, before.mtime);
    expect((await deliver(['-s', 'embedded', '--', 'cat'], clean)).path).toContain('lean path');
  }, 120_000);

  it('reads the whole message on stdin from a pipe, a file, and a non-blocking pipe written slowly', async () => {
    // stdin is read with plain reads of fd 0; a non-blocking one (EAGAIN) is read on through
    // process.stdin. The preload makes fd 0 non-blocking the way Node does for a pipe it opens.
    const msg = mailWithAttachment('big.txt', Buffer.alloc(300_000, 'a'));
    const file = join(dir, 'stdin.eml');
    await writeFile(file, msg);
    const head = join(dir, 'head.eml');
    const tail = join(dir, 'tail.eml');
    await writeFile(head, msg.subarray(0, 1000));
    await writeFile(tail, msg.subarray(1000));
    const preload = join(dir, 'nonblock.cjs');
    await writeFile(preload, 'process.stdin;\n');
    const sink = (name: string): string[] => ['-s', 'embedded', '--', 'sh', '-c', `cat > ${join(dir, name)}`];
    const piped = await deliver(sink('out-pipe'), msg);
    const fd = openSync(file, 'r');
    let fromFile;
    try {
      fromFile = await run(build.deliver[0]!, [...build.deliver.slice(1), ...sink('out-file')], { stdinFd: fd, cwd: dir, deadline: Date.now() + 60_000 });
    } finally {
      closeSync(fd);
    }
    const [node, bin] = build.deliver as [string, string, ...string[]];
    const slow = await run('sh', ['-c', '{ cat "$H"; sleep 0.5; cat "$T"; } | "$N" -r "$P" "$B" deliver -s embedded -- sh -c "cat > $O"'], {
      cwd: dir,
      deadline: Date.now() + 60_000,
      env: { H: head, T: tail, N: node, P: preload, B: bin, O: join(dir, 'out-slow') },
    });
    expect([piped.code, fromFile.ok && fromFile.exitCode, slow.ok && slow.exitCode]).toEqual([0, 0, 0]);
    expect(slow.stderr).toBe('avbench deliver: delivered: clean via sh\n');
    const outs = await Promise.all(['out-pipe', 'out-file', 'out-slow'].map((n) => readFile(join(dir, n))));
    for (const out of outs) {
      expect(out.length).toBeGreaterThan(msg.length);
      expect(out.subarray(out.length - msg.length).equals(msg)).toBe(true);
    }
    expect(outs[1]!.equals(outs[0]!) && outs[2]!.equals(outs[0]!)).toBe(true);
  }, 120_000);
});
