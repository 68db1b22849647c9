/**
 * `avbench scan --clamd-style -s clamd` against the real clamdscan (issue 12.7), both asking
 * the same real clamd (started here on loopback with a generated config) about the quick
 * corpus: the per-file lines equal line by line (same file names, same virus names, OK lines
 * where clamdscan prints them), the SCAN SUMMARY block equal in form (counts equal; the
 * time and dates differ from run to run), stdin as `stream`, a missing path as clamdscan
 * says it. Through the built CLI, on the lean bundle and on the full yargs CLI.
 */
import { readdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clamdStyleLine, clamdSummary, parseScanArgv, scanUsageProblem } from '../../src/cli/commands/scan.js';
import { generateCorpus } from '../../src/corpus/generate.js';
import { run } from '../../src/core/exec.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';
import { describeReal } from '../helpers/real.js';
import { buildCli, type Build } from '../modes/lda/build.js';

describe('the lean parser (parseScanArgv) and the new arguments', () => {
  it('takes - as a path and --clamd-style as a flag', () => {
    expect(parseScanArgv(['-s', 'clamd', '--clamd-style', '-i', '-'])).toEqual({ paths: ['-'], scanner: ['clamd'], json: false, infected: true, jobs: 4, summary: true, clamdStyle: true });
    expect(parseScanArgv(['a.eml', '-', 'b'])?.paths).toEqual(['a.eml', '-', 'b']);
  });
  it('leaves the combinations scan refuses to yargs, which says why', () => {
    for (const argv of [
      ['--clamd-style', '--json', 'd'],
      ['--clamd-style', '-s', 'clamd', '-s', 'embedded', 'd'],
      ['-', '-'],
      ['-', '/dev/stdin'],
    ]) {
      expect(parseScanArgv(argv), argv.join(' ')).toBeUndefined();
      expect(scanUsageProblem({ paths: argv.filter((a) => a === '-' || a === '/dev/stdin' || a === 'd'), scanner: argv.includes('embedded') ? ['clamd', 'embedded'] : [], json: argv.includes('--json'), clamdStyle: argv.includes('--clamd-style') })).toBeDefined();
    }
    // One scanner named twice is one scanner.
    expect(parseScanArgv(['--clamd-style', '-s', 'clamd', '-s', 'clamd', 'd'])?.clamdStyle).toBe(true);
  });
});

describe('clamd-style formatting', () => {
  it('prints the three line forms, the reason without colons or line breaks', () => {
    expect(clamdStyleLine('/m/a.eml', { status: 'clean' })).toBe('/m/a.eml: OK');
    expect(clamdStyleLine('/m/a.eml', { status: 'infected', detections: [{ name: 'Eicar-Signature', scanner: 'clamd' }, { name: 'Other', scanner: 'clamd' }] })).toBe('/m/a.eml: Eicar-Signature FOUND');
    expect(clamdStyleLine('stream', { status: 'error', error: { code: 'CONNECT_FAILED', message: 'connect 127.0.0.1:3310: ECONNREFUSED\nagain' } })).toBe(
      'stream: CONNECT_FAILED connect 127.0.0.1 3310 ECONNREFUSED again ERROR',
    );
  });
  it("draws clamdscan's summary block (Total errors only when there were some)", () => {
    const start = new Date(2026, 11, 4, 9, 5, 7).getTime();
    expect(clamdSummary(3, 0, start, start + 61_500, 61_500.9)).toBe(
      ['', '----------- SCAN SUMMARY -----------', 'Infected files: 3', 'Time: 61.500 sec (1 m 1 s)', 'Start Date: 2026:12:04 09:05:07', 'End Date:   2026:12:04 09:06:08', ''].join('\n'),
    );
    expect(clamdSummary(0, 2, start, start, 7).split('\n').slice(2, 5)).toEqual(['Infected files: 0', 'Total errors: 2', 'Time: 0.007 sec (0 m 0 s)']);
  });
});

/** The lines of a clamd(scan)-style output with the time and dates masked. */
function masked(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) =>
      l
        .replace(/^Time: \d+\.\d{3} sec \(\d+ m \d+ s\)$/, 'Time: T')
        .replace(/^Start Date: \d{4}:\d\d:\d\d \d\d:\d\d:\d\d$/, 'Start Date: D')
        .replace(/^End Date: {3}\d{4}:\d\d:\d\d \d\d:\d\d:\d\d$/, 'End Date:   D'),
    );
}

/** Split an output into its per-file lines and its summary block (from the blank line before it). */
function parts(stdout: string): { files: string[]; summary: string[] } {
  const lines = masked(stdout);
  const at = lines.indexOf('----------- SCAN SUMMARY -----------');
  if (at < 0) return { files: lines.filter((l) => l !== ''), summary: [] };
  return { files: lines.slice(0, at - 1), summary: lines.slice(at - 1) };
}

await describeReal('avbench scan --clamd-style against clamdscan (same real clamd)', ['clamd', 'clamdscan'], () => {
  let dir: string;
  let corpus: string;
  let build: Build;
  let clamd: LabClamd;
  let config: string;
  let emls: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-clamd-style-'));
    corpus = join(dir, 'quick');
    [build, clamd] = await Promise.all([buildCli(), startClamd(), generateCorpus({ out: corpus, seed: 1, profile: 'quick' })]);
    config = join(dir, 'avbench.json');
    await writeFile(config, JSON.stringify({ scanners: { clamd: { type: 'clamd', socket: clamd.socket } } }));
    emls = (await readdir(corpus)).filter((f) => f.endsWith('.eml')).sort();
  }, 300_000);
  afterAll(async () => {
    await clamd?.stop();
    await build?.remove();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  type Out = { code: number | undefined; stdout: string; stderr: string };
  /** clamdscan against the test's clamd, run in the corpus folder. */
  async function clamdscan(args: string[], input?: Buffer): Promise<Out> {
    const r = await run('clamdscan', [`--config-file=${clamd.configFile}`, ...args], { cwd: corpus, deadline: Date.now() + 120_000, ...(input ? { input } : {}) });
    return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }
  /** avbench scan -s clamd --clamd-style, run in the corpus folder (lean: false forces the full CLI). */
  async function avbench(args: string[], lean: boolean, input?: Buffer): Promise<Out & { path: string }> {
    const r = await run(build.deliver[0]!, [build.deliver[1]!, 'scan', '-c', config, '-s', 'clamd', '--clamd-style', ...args], {
      cwd: corpus,
      deadline: Date.now() + 120_000,
      env: { AVBENCH_LEAN: lean ? '1' : '0', AVBENCH_LEAN_TRACE: '1' },
      ...(input ? { input } : {}),
    });
    const lines = r.stderr.split('\n');
    const trace = lines.filter((l) => /^avbench scan: (lean path|full CLI)/.test(l));
    return { code: r.exitCode, stdout: r.stdout, stderr: lines.filter((l) => !trace.includes(l)).join('\n'), path: trace.join(' ') };
  }

  describe.each([
    ['lean bundle', true],
    ['full CLI', false],
  ] as const)('%s', (_name, lean) => {
    it('a corpus folder: the same lines, the same summary counts', async () => {
      const theirs = await clamdscan([corpus]);
      const ours = await avbench([corpus], lean);
      expect(ours.path).toBe(lean ? 'avbench scan: lean path (code cache accepted)' : 'avbench scan: full CLI (AVBENCH_LEAN=0)');
      const t = parts(theirs.stdout);
      const o = parts(ours.stdout);
      expect(t.files.length).toBeGreaterThan(10); // the quick corpus has infected messages
      expect(t.files.every((l) => l.endsWith(' FOUND'))).toBe(true);
      // Line by line, file by file (each tool's own order sorted the same way).
      expect([...o.files].sort()).toEqual([...t.files].sort());
      expect(o.summary).toEqual(t.summary);
      expect(t.summary).toContain(`Infected files: ${t.files.length}`);
      expect({ ours: ours.code, theirs: theirs.code }).toEqual({ ours: 1, theirs: 1 });
      expect(ours.stderr).toBe('');
    }, 120_000);

    it('every message named on the command line (relative paths): OK and FOUND lines equal in order, with -i too', async () => {
      for (const extra of [['--no-summary'], [], ['-i', '--no-summary']]) {
        const theirs = await clamdscan([...extra, ...emls]);
        const ours = await avbench([...extra, ...emls], lean);
        expect(masked(ours.stdout), extra.join(' ')).toEqual(masked(theirs.stdout));
        expect(ours.code).toBe(theirs.code);
      }
      const all = parts((await clamdscan(emls)).stdout);
      expect(all.files).toHaveLength(emls.length);
      expect(all.files.some((l) => l.endsWith(': OK'))).toBe(true);
    }, 120_000);

    it('a clean folder prints FOLDER: OK; a folder of one infected file prints only that', async () => {
      const cleanDir = join(dir, lean ? 'clean-lean' : 'clean-full');
      const badDir = join(dir, lean ? 'bad-lean' : 'bad-full');
      await run('mkdir', ['-p', cleanDir, badDir], { deadline: Date.now() + 10_000 });
      await writeFile(join(cleanDir, 'a.eml'), mailWithAttachment('notes.txt', Buffer.from('hello\n')));
      await writeFile(join(badDir, 'a.eml'), mailWithAttachment('notes.txt', Buffer.from('hello\n')));
      await writeFile(join(badDir, 'b.eml'), mailWithAttachment('eicar.com', EICAR));
      for (const args of [[cleanDir, badDir], ['-i', cleanDir, badDir]]) {
        const theirs = await clamdscan(args);
        const ours = await avbench(args, lean);
        expect(masked(ours.stdout), args.join(' ')).toEqual(masked(theirs.stdout));
      }
    }, 120_000);

    it('standard input: stream: NAME FOUND / stream: OK, as `cat FILE | clamdscan -`', async () => {
      for (const msg of [mailWithAttachment('eicar.com', EICAR), mailWithAttachment('notes.txt', Buffer.from('hello\n'))]) {
        const theirs = await clamdscan(['-'], msg);
        const ours = await avbench(['-'], lean, msg);
        expect(masked(ours.stdout)).toEqual(masked(theirs.stdout));
        expect(ours.code).toBe(theirs.code);
      }
    }, 120_000);

    it('a path that does not exist: the same stderr line and Total errors; our exit code says error', async () => {
      // A message clamd finds infected, and a path that is not there.
      const found = parts((await clamdscan([corpus])).stdout).files[0]!;
      const args = [found.slice(corpus.length + 1, found.indexOf(': ')), 'no-such-file.eml'];
      const theirs = await clamdscan(args);
      const ours = await avbench(args, lean);
      expect(masked(ours.stdout)).toEqual(masked(theirs.stdout));
      expect(ours.stdout).toContain('Total errors: 1');
      const line = `ERROR: Can't access file ${join(corpus, 'no-such-file.eml')}`;
      expect(theirs.stderr.split('\n')).toContain(line);
      expect(ours.stderr.split('\n')).toContain(line);
      // clamdscan lets the virus outrank the error (1), avbench does not (2) — as `scan
      // --help` and the docs say.
      expect(masked(theirs.stdout)[0]).toMatch(/ FOUND$/);
      expect({ ours: ours.code, theirs: theirs.code }).toEqual({ ours: 2, theirs: 1 });
    }, 120_000);
  });

  it('ERROR lines: FILE: REASON ERROR, one colon, counted in Total errors (the embedded scanner stops on the corpus bombs)', async () => {
    const r = await run(build.deliver[0]!, [build.deliver[1]!, 'scan', '-s', 'embedded', '--clamd-style', corpus], { cwd: dir, deadline: Date.now() + 120_000 });
    expect(r.exitCode).toBe(2);
    const { files, summary } = parts(r.stdout);
    const errors = files.filter((l) => l.endsWith(' ERROR'));
    expect(errors.length).toBeGreaterThan(0);
    for (const l of errors) expect(l).toMatch(new RegExp(`^${corpus}/m\\d+\\.eml: [^:\\n]+ ERROR$`));
    expect(summary).toContain(`Total errors: ${errors.length}`);
    expect(summary).toContain(`Infected files: ${files.filter((l) => l.endsWith(' FOUND')).length}`);
  }, 120_000);

  it('refuses several scanners and --json, before scanning anything', async () => {
    for (const args of [['-s', 'embedded', corpus], ['--json', corpus]]) {
      const r = await avbench(args, true);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
      expect(r.stderr).toMatch(/^avbench: --clamd-style /);
    }
  }, 60_000);
});
