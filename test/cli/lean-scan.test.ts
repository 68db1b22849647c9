/**
 * The lean `avbench scan` (dist/lean/scan.cjs + code cache, loaded by bin.js) against the full
 * yargs CLI (AVBENCH_LEAN=0), as separate processes, with a real clamd: the same stdout (plain
 * lines, -i, --json, the summary table; timings masked), the same stderr and exit codes, and
 * the full CLI for every command line the strict parser leaves to yargs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScanArgv } from '../../src/cli/commands/scan.js';
import { generateCorpus } from '../../src/corpus/generate.js';
import { run } from '../../src/core/exec.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { describeReal } from '../helpers/real.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';
import { buildCli, type Build } from '../modes/lda/build.js';

describe('parseScanArgv', () => {
  it('reads the usual spellings as yargs does', () => {
    expect(parseScanArgv(['d'])).toEqual({ paths: ['d'], scanner: ['embedded'], json: false, infected: false, jobs: 4, summary: true });
    expect(parseScanArgv(['-s', 'clamd', 'a', '--scanner=embedded', '--json', '-i', '-c', 'f.json', '--no-summary', '-j', '8', 'b'])).toEqual({
      paths: ['a', 'b'],
      scanner: ['clamd', 'embedded'],
      json: true,
      infected: true,
      config: 'f.json',
      jobs: 8,
      summary: false,
    });
  });
  it('leaves everything else to yargs', () => {
    for (const argv of [
      [],
      ['--help'],
      ['-h', 'd'],
      ['--version'],
      ['-ij', 'd'],
      ['--json', 'true', 'd'],
      ['--json', '--json', 'd'],
      ['-c', 'a', '-c', 'b', 'd'],
      ['-s', '-i', 'd'],
      ['-s'],
      ['--', 'd'],
      ['-j', 'x', 'd'],
      ['--no-json', 'd'],
      ['--unknown', 'd'],
      ['123'],
      ['0x1f'],
      ['-s=clamd', 'd'],
      ['--config=', 'd'],
    ]) {
      expect(parseScanArgv(argv), argv.join(' ')).toBeUndefined();
    }
  });
});

await describeReal('lean avbench scan (a process per scan)', ['clamd'], () => {
  let dir: string;
  let build: Build;
  let clamd: LabClamd;
  let config: string;
  let corpus: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-lean-scan-'));
    corpus = join(dir, 'corpus');
    [build, clamd] = await Promise.all([buildCli(), startClamd(), generateCorpus({ out: corpus, seed: 1, profile: 'quick' })]);
    config = join(dir, 'avbench.json');
    await writeFile(
      config,
      JSON.stringify({ scanners: { clamd: { type: 'clamd', socket: clamd.socket }, down: { type: 'clamd', socket: join(dir, 'none.sock'), timeoutMs: 2000 } } }),
    );
    await writeFile(join(dir, 'clean.eml'), mailWithAttachment('notes.txt', Buffer.from('hello\n')));
    await writeFile(join(dir, 'bad.eml'), mailWithAttachment('eicar.com', EICAR));
  }, 300_000);
  afterAll(async () => {
    await clamd?.stop();
    await build?.remove();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** Run `avbench scan ARGS` (bin.js); `lean: false` forces the full CLI. */
  async function scan(args: string[], opts: { lean?: boolean } = {}): Promise<{ code: number | undefined; stdout: string; stderr: string; path: string }> {
    const r = await run(build.deliver[0]!, [build.deliver[1]!, 'scan', ...args], {
      cwd: dir,
      deadline: Date.now() + 120_000,
      env: { AVBENCH_LEAN_TRACE: '1', AVBENCH_LEAN: opts.lean === false ? '0' : '1' },
    });
    const lines = r.stderr.split('\n');
    const trace = lines.filter((l) => /^avbench scan: (lean path|full CLI)/.test(l));
    return { code: r.exitCode, stdout: r.stdout, stderr: lines.filter((l) => !trace.includes(l)).join('\n'), path: trace.join(' ') };
  }

  /** Mask what differs from run to run: the elapsed time and rates, each record's ms. */
  const mask = (s: string): string =>
    s.replace(/ in [0-9.]+ s \([0-9]+ msg\/s, [0-9.]+ MB\/s\)/g, ' in T s (R msg/s, R MB/s)').replace(/"ms":[0-9.e-]+/g, '"ms":0');

  it('runs as bin.js with the lean bundle and its code cache', async () => {
    expect(build.entry).toBe('bin.js');
    const r = await scan(['-c', config, '-s', 'clamd', join(dir, 'clean.eml')]);
    expect(r.path).toBe('avbench scan: lean path (code cache accepted)');
    expect(r.code).toBe(0);
  }, 60_000);

  it('prints the same bytes and exits with the same code as the full CLI', async () => {
    const c = ['-c', config];
    const cases: Array<[string[], number]> = [
      [[...c, '-s', 'clamd', corpus], 1],
      [[...c, '-s', 'clamd', '-i', corpus], 1],
      [[...c, '-s', 'clamd', '--json', corpus], 1],
      [[...c, '-s', 'clamd', '-s', 'embedded', '--no-summary', corpus], 2], // the embedded scanner stops on the corpus' bombs (error)
      [[...c, '-s', 'clamd', '--no-summary', join(dir, 'clean.eml')], 0],
      [[...c, join(dir, 'clean.eml'), '-s', 'clamd', join(dir, 'bad.eml')], 1],
      [[...c, '-s', 'clamd', '--json', '-i', join(dir, 'clean.eml')], 0],
      [[...c, '-s', 'down', corpus], 2],
      [[...c, '-s', 'no-such-scanner', corpus], 2],
      [[...c, '-s', 'clamd', join(dir, 'missing'), join(dir, 'bad.eml')], 2],
      [['-c', join(dir, 'missing.json'), '-s', 'clamd', corpus], 2],
    ];
    for (const [args, code] of cases) {
      const lean = await scan(args);
      const full = await scan(args, { lean: false });
      expect(lean.path, args.join(' ')).toBe('avbench scan: lean path (code cache accepted)');
      expect(full.path).toBe('avbench scan: full CLI (AVBENCH_LEAN=0)');
      expect(lean.code, args.join(' ')).toBe(code);
      expect({ code: lean.code, stdout: mask(lean.stdout), stderr: lean.stderr }, args.join(' ')).toEqual({ code: full.code, stdout: mask(full.stdout), stderr: full.stderr });
    }
  }, 300_000);

  it('leaves help and usage errors to the full CLI, unchanged', async () => {
    for (const args of [['--help'], [], ['-c', config, '-s', 'clamd', '--bogus', corpus], ['-c', config, '-ij', corpus]]) {
      const lean = await scan(args);
      const full = await scan(args, { lean: false });
      expect(lean.path, args.join(' ')).toBe('avbench scan: full CLI (arguments left to yargs)');
      expect({ code: lean.code, stdout: lean.stdout, stderr: lean.stderr }).toEqual({ code: full.code, stdout: full.stdout, stderr: full.stderr });
    }
  }, 120_000);
});
