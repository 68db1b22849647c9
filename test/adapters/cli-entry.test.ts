import { mkdtemp, readdir, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCliEntry } from '../../adapters/cli/entry.js';
import { compileCliEntry, findVirusNames, interpretCliRun } from '../../adapters/cli/output.js';
import { runBatch } from '../../adapters/process-kit.js';
import { expandArgs, templateMode } from '../../adapters/cli/template.js';
import { unitFileName, withUnitFiles, writeUnitFiles } from '../../adapters/tempdir.js';
import type { RunResult } from '../../src/core/exec.js';
import type { ScanUnit } from '../../src/core/types.js';

const units = (n: number): ScanUnit[] => Array.from({ length: n }, (_, i) => ({ kind: 'part', data: Buffer.from(`u${i}`), location: `p${i}` }));
const mapper = (n: number) => ({
  indexInText: (t: string) => {
    for (let i = 0; i < n; i++) if (t.includes(unitFileName(i, n))) return i;
    return undefined;
  },
});
const exit = (exitCode: number, stdout = '', stderr = ''): RunResult => ({ ok: true, exitCode, stdout, stderr, ms: 1 });

describe('parseCliEntry', () => {
  const good = { name: 's', command: 'scanner', args: ['-x', '{}'], virusName: 'found (.+)' };

  it('fills defaults and accepts args as one string', () => {
    expect(parseCliEntry(good)).toEqual({ ...good, clean: [0], infected: [1] });
    expect(parseCliEntry({ ...good, args: '-x  -y {}' }).args).toEqual(['-x', '-y', '{}']);
  });

  it.each([
    [{ ...good, bogus: 1 }, 'unknown key "bogus"'],
    [{ ...good, name: '' }, 'name must be'],
    [{ ...good, command: 7 }, 'command must be'],
    [{ ...good, args: ['-x'] }, 'must name the files'],
    [{ ...good, args: ['{}', '{f}'] }, 'not both'],
    [{ ...good, virusName: 'no group' }, 'capture group'],
    [{ ...good, virusName: '(unclosed' }, 'not a valid regular expression'],
    [{ ...good, clean: [0, 1], infected: [1] }, 'both clean and infected'],
    [{ ...good, clean: [], infected: [1] }, 'non-empty array'],
    [{ ...good, clean: [256] }, 'exit codes'],
    [{ ...good, error: [0] }, 'error and as clean'],
    [{ ...good, infected: '[' }, 'infected is not a valid regular expression'],
    [{ ...good, timeoutMs: 0 }, 'timeoutMs'],
    [{ ...good, granularity: 'all' }, 'granularity'],
    [{ ...good, tempDir: '' }, 'tempDir'],
    [[], 'must be an object'],
  ])('rejects %j with a clear TypeError', (obj, msg) => {
    expect(() => parseCliEntry(obj, 'scanner x')).toThrow(TypeError);
    expect(() => parseCliEntry(obj, 'scanner x')).toThrow(msg);
    expect(() => parseCliEntry(obj, 'scanner x')).toThrow(/^scanner x: /);
  });
});

describe('argument templates', () => {
  it('expands {} inside an argument, {}/* into every file, {f} to one file', () => {
    const t = { folder: '/t/units', files: ['/t/units/u0001.bin', '/t/units/u0002.bin'] };
    expect(templateMode(['-path={}'])).toBe('folder');
    expect(expandArgs(['-path={}', '-x'], t)).toEqual(['-path=/t/units', '-x']);
    expect(expandArgs(['-R', '{}/*'], t)).toEqual(['-R', '/t/units/u0001.bin', '/t/units/u0002.bin']);
    expect(templateMode(['--file={f}'])).toBe('file');
    expect(expandArgs(['--file={f}'], { ...t, file: '/t/units/u0002.bin' })).toEqual(['--file=/t/units/u0002.bin']);
  });
});

describe('reading the answer', () => {
  const entry = (o: Record<string, unknown> = {}) =>
    compileCliEntry(parseCliEntry({ name: 's', command: 'scanner', args: ['{}'], clean: [0], infected: [1], error: [2], virusName: 'virus (\\S+)', ...o }));

  it('names the first capture group that matched', () => {
    const c = compileCliEntry(parseCliEntry({ name: 's', command: 'x', args: ['{}'], virusName: 'Found(?: the (.+?) virus|: (.+?) NOT a virus)' }));
    const f = findVirusNames(c.virusName, ['u0001.bin ... Found: EICAR test NOT a virus.'], mapper(1), 1);
    expect(f.perUnit).toEqual([['EICAR test']]);
  });

  it('a line without a file name belongs to the file named just before it', () => {
    const f = findVirusNames(/^Name: (.+)$/, ['Infected /t/u0002.bin\nName: X\nClean /t/u0001.bin\n'], mapper(2), 2);
    expect(f.perUnit).toEqual([[], ['X']]);
  });

  it('infected exit: named units infected, the others clean', () => {
    const v = interpretCliRun(entry(), 's', exit(1, '/t/u0002.bin: virus Eicar\n'), units(3), mapper(3));
    expect(v.map((x) => x.status)).toEqual(['clean', 'infected', 'clean']);
  });

  it('infected exit with a name on no file of a batch: the unnamed units are errors', () => {
    const v = interpretCliRun(entry(), 's', exit(1, 'summary: virus Eicar\n'), units(2), mapper(2));
    expect(v).toEqual([0, 1].map(() => ({ status: 'error', error: { code: 'PROTOCOL', message: expect.stringContaining('without a file') } })));
  });

  it('an error exit code is SCANNER_EXIT, but a named detection stays a detection', () => {
    const v = interpretCliRun(entry(), 's', exit(2, '/t/u0001.bin: virus Eicar\n', 'disk full'), units(2), mapper(2));
    expect(v[0]).toMatchObject({ status: 'infected' });
    expect(v[1]).toMatchObject({ status: 'error', error: { code: 'SCANNER_EXIT', message: expect.stringContaining('disk full') } });
  });

  it('an unknown exit code is SCANNER_EXIT; two regexes that both miss are PROTOCOL', () => {
    expect(interpretCliRun(entry(), 's', exit(7), units(1), mapper(1))[0]).toMatchObject({ error: { code: 'SCANNER_EXIT' } });
    const rx = entry({ clean: 'Infected: 0', infected: 'Infected: [1-9]', error: undefined });
    expect(interpretCliRun(rx, 's', exit(0, 'garbled'), units(1), mapper(1))[0]).toMatchObject({ error: { code: 'PROTOCOL' } });
    expect(interpretCliRun(rx, 's', exit(0, 'Infected: 0'), units(1), mapper(1))[0]).toEqual({ status: 'clean' });
  });

  it('a killed run keeps what it already named and marks the rest', () => {
    const r: RunResult = { ok: false, reason: 'TIMEOUT', message: 'ran past its deadline', stdout: '/t/u0001.bin: virus E\n', stderr: '', ms: 1 };
    const v = interpretCliRun(entry(), 's', r, units(2), mapper(2));
    expect(v.map((x) => (x.status === 'error' ? x.error.code : x.status))).toEqual(['infected', 'TIMEOUT']);
  });
});

describe('private temp folder', () => {
  it('0700 folders, 0600 files with generated same-width names, removed after', async () => {
    let root = '';
    await withUnitFiles(units(12), async (f) => {
      root = f.root;
      expect((await stat(f.root)).mode & 0o777).toBe(0o700);
      expect((await stat(f.unitDir)).mode & 0o777).toBe(0o700);
      expect(await readdir(f.unitDir)).toEqual(Array.from({ length: 12 }, (_, i) => `u${String(i + 1).padStart(4, '0')}.bin`));
      for (const p of f.paths) expect((await stat(p)).mode & 0o777).toBe(0o600);
      expect(f.indexOfPath(`${f.unitDir}/u0012.bin`)).toBe(11);
      expect(f.indexInText(`>>> Virus found in file ${f.unitDir}/u0003.bin`)).toBe(2);
    });
    await expect(stat(root)).rejects.toThrow();
    expect(unitFileName(0, 12345)).toBe('u00001.bin');
  });

  it('is removed when the scan throws', async () => {
    let root = '';
    await expect(
      withUnitFiles(units(1), async (f) => {
        root = f.root;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(stat(root)).rejects.toThrow();
  });

  it('the batch frame turns a crash of the adapter into INTERNAL errors and still removes the folder', async () => {
    let root = '';
    const v = await runBatch(units(2), { signal: new AbortController().signal, deadline: Date.now() + 10_000 }, async (f) => {
      root = f.root;
      throw new Error('bug');
    });
    expect(v).toEqual([0, 1].map(() => ({ status: 'error', error: { code: 'INTERNAL', message: expect.stringContaining('bug') } })));
    await expect(stat(root)).rejects.toThrow();
  });

  it('goes under the parent folder it is given (e.g. a tmpfs)', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'avbench-test-parent-'));
    try {
      await withUnitFiles(units(1), async (f) => {
        expect(f.root.startsWith(`${await realpath(parent)}/avbench-`)).toBe(true);
      }, { parent });
      expect(await readdir(parent)).toEqual([]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('refuses unsafe extensions or prefixes', async () => {
    await expect(writeUnitFiles(units(1), { ext: '/../x' })).rejects.toThrow(TypeError);
    await expect(writeUnitFiles(units(1), { prefix: '../' })).rejects.toThrow(TypeError);
  });
});
