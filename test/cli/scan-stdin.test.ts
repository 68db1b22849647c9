/**
 * `avbench scan -` (issue 12.2): one message read from standard input, as clamscan and
 * clamdscan read it — from a redirected file (`scan - < m.eml`: stdin is the file itself)
 * and from a pipe (`cat m.eml | scan -`) — through the built CLI as a separate process, on
 * both paths bin.js can take (the lean bundle and the full yargs CLI). And paths that yield
 * no message at all (an empty folder, empty stdin) are an error, not a clean pass: exit 2,
 * nothing on stdout, nothing written — for `scan` and for `bench --corpus`.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';
import { describeReal } from '../helpers/real.js';
import { buildCli, type Build } from '../modes/lda/build.js';

let dir: string;
let build: Build;
let bad: string;
let clean: string;
let empty: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-scan-stdin-'));
  bad = join(dir, 'eicar.eml');
  clean = join(dir, 'clean.eml');
  empty = join(dir, 'empty');
  await Promise.all([writeFile(bad, mailWithAttachment('eicar.com', EICAR)), writeFile(clean, mailWithAttachment('notes.txt', Buffer.from('hello\n'))), mkdir(empty)]);
  // A folder with only a hidden file and an empty subfolder holds no message either.
  await writeFile(join(empty, '.hidden'), 'x');
  await mkdir(join(empty, 'sub'));
  build = await buildCli();
}, 300_000);

afterAll(async () => {
  await build?.remove();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

type Stdin = { file: string } | { pipe: Buffer | string } | undefined;

/** Run `avbench ARGS` (bin.js) with stdin from a file (a real file descriptor), a pipe, or nothing. */
async function avbench(args: string[], stdin: Stdin, lean: boolean): Promise<{ code: number | undefined; stdout: string; stderr: string; path: string }> {
  const fd = stdin !== undefined && 'file' in stdin ? openSync(stdin.file, 'r') : undefined;
  try {
    const r = await run(build.deliver[0]!, [build.deliver[1]!, ...args], {
      cwd: dir,
      deadline: Date.now() + 120_000,
      env: { AVBENCH_LEAN: lean ? '1' : '0', AVBENCH_LEAN_TRACE: '1' },
      ...(fd !== undefined ? { stdinFd: fd } : stdin !== undefined && 'pipe' in stdin ? { input: stdin.pipe } : {}),
    });
    const lines = r.stderr.split('\n');
    const trace = lines.filter((l) => /^avbench (scan|bench): (lean path|full CLI)/.test(l));
    return { code: r.exitCode, stdout: r.stdout, stderr: lines.filter((l) => !trace.includes(l)).join('\n'), path: trace.join(' ') };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const PATHS: Array<[string, boolean]> = [
  ['lean bundle', true],
  ['full CLI', false],
];

describe.each(PATHS)('avbench scan - (%s)', (_name, lean) => {
  it('runs where it says', async () => {
    const r = await avbench(['scan', '--no-summary', '-'], { pipe: '' }, lean);
    expect(r.path).toBe(lean ? 'avbench scan: lean path (code cache accepted)' : 'avbench scan: full CLI (AVBENCH_LEAN=0)');
  }, 60_000);

  it('reads a redirected file: EICAR is infected (exit 1), shown as stdin', async () => {
    const r = await avbench(['scan', '-'], { file: bad }, lean);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('stdin: Eicar-Test-Signature FOUND in 2:eicar.com');
    expect(lines[1]).toMatch(/^1 messages, /);
    expect(r.stderr).toBe('');
  }, 60_000);

  it('reads a pipe: EICAR is infected (exit 1), a clean message is clean (exit 0)', async () => {
    const infected = await avbench(['scan', '--no-summary', '-'], { pipe: mailWithAttachment('eicar.com', EICAR) }, lean);
    expect({ code: infected.code, stdout: infected.stdout, stderr: infected.stderr }).toEqual({ code: 1, stdout: 'stdin: Eicar-Test-Signature FOUND in 2:eicar.com\n', stderr: '' });
    const ok = await avbench(['scan', '--no-summary', '-'], { pipe: mailWithAttachment('notes.txt', Buffer.from('hello\n')) }, lean);
    expect({ code: ok.code, stdout: ok.stdout, stderr: ok.stderr }).toEqual({ code: 0, stdout: 'stdin: clean\n', stderr: '' });
  }, 60_000);

  it('reads a real pipe (a FIFO, as a shell pipeline gives)', async () => {
    const fifo = join(dir, lean ? 'lean.fifo' : 'full.fifo');
    const made = await run('mkfifo', [fifo], { deadline: Date.now() + 10_000 });
    expect(made.ok && made.exitCode).toBe(0);
    // The reading end first (non-blocking, so the open does not wait), then the message
    // written and the writing end closed: the child reads the message, then end of file.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const writer = openSync(fifo, constants.O_WRONLY);
      writeSync(writer, mailWithAttachment('eicar.com', EICAR));
      closeSync(writer);
      const r = await run(build.deliver[0]!, [build.deliver[1]!, 'scan', '--no-summary', '-'], {
        cwd: dir,
        deadline: Date.now() + 60_000,
        env: { AVBENCH_LEAN: lean ? '1' : '0' },
        stdinFd: reader,
      });
      expect({ code: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 1, stdout: 'stdin: Eicar-Test-Signature FOUND in 2:eicar.com\n', stderr: '' });
    } finally {
      closeSync(reader);
    }
  }, 60_000);

  it('names stdin in --json and mixes - with paths', async () => {
    const r = await avbench(['scan', '--json', clean, '-'], { file: bad }, lean);
    expect(r.code).toBe(1);
    const recs = JSON.parse(r.stdout) as Array<{ file: string; status: string }>;
    expect(recs.map((x) => [x.file, x.status])).toEqual([
      [clean, 'clean'],
      ['stdin', 'infected'],
    ]);
  }, 60_000);

  it('empty stdin is an error: one line, exit 2, nothing on stdout', async () => {
    for (const stdin of [{ pipe: '' }, undefined] as Stdin[]) {
      const r = await avbench(['scan', '-'], stdin, lean);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^avbench: standard input is empty: pipe or redirect one message into/);
    }
  }, 60_000);

  it('refuses - twice before reading anything', async () => {
    const r = await avbench(['scan', '-', '-'], { file: bad }, lean);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/standard input \(-\) holds one message: name - once/);
  }, 60_000);

  it('an empty folder is an error: one line saying what to do, exit 2, no summary', async () => {
    for (const args of [['scan', empty], ['scan', '--json', empty], ['scan', '--clamd-style', empty]]) {
      const r = await avbench(args, undefined, lean);
      expect({ code: r.code, stdout: r.stdout }, args.join(' ')).toEqual({ code: 2, stdout: '' });
      expect(r.stderr.trim().split('\n'), args.join(' ')).toEqual([
        `avbench: no message to scan in ${empty}: give .eml files, corpus folders, mbox files or Maildirs that hold messages (\`avbench corpus generate --out DIR\` makes a corpus), or - for one message on standard input`,
      ]);
    }
    // A path that cannot be read and nothing else: its own error, and no summary either.
    const missing = await avbench(['scan', join(dir, 'missing')], undefined, lean);
    expect({ code: missing.code, stdout: missing.stdout }).toEqual({ code: 2, stdout: '' });
    expect(missing.stderr).toMatch(/^avbench: cannot read .*missing/);
  }, 60_000);
});

describe('avbench bench --corpus EMPTY', () => {
  it('is an error before anything starts or is written: one line, exit 2, nothing on stdout', async () => {
    const out = join(dir, 'bench-out');
    const r = await avbench(['bench', '--corpus', empty, '-s', 'embedded', '-m', 'direct', '--out', out], undefined, false);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
    expect(r.stderr.trim().split('\n')).toEqual([
      `avbench: no message in ${empty}: --corpus takes a folder of .eml files (manifest.json for detection figures), an mbox file or a Maildir holding messages; \`avbench corpus generate --out DIR\` makes one`,
    ]);
    await expect(access(out)).rejects.toThrow();
  }, 60_000);
});

await describeReal('avbench scan - with a real clamd (INSTREAM)', ['clamd'], () => {
  let clamd: LabClamd;
  let config: string;
  beforeAll(async () => {
    clamd = await startClamd();
    config = join(dir, 'clamd.json');
    await writeFile(config, JSON.stringify({ scanners: { clamd: { type: 'clamd', socket: clamd.socket } } }));
  }, 120_000);
  afterAll(async () => {
    await clamd?.stop();
  });

  it.each(PATHS)('pipe and redirected file (%s)', async (_name, lean) => {
    for (const stdin of [{ file: bad }, { pipe: mailWithAttachment('eicar.com', EICAR) }] as Stdin[]) {
      const r = await avbench(['scan', '-c', config, '-s', 'clamd', '--no-summary', '-'], stdin, lean);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^stdin: \S+ FOUND\n$/);
    }
    const ok = await avbench(['scan', '-c', config, '-s', 'clamd', '--no-summary', '-'], { file: clean }, lean);
    expect({ code: ok.code, stdout: ok.stdout }).toEqual({ code: 0, stdout: 'stdin: clean\n' });
  }, 60_000);
});
