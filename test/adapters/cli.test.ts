import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PRESETS, createCliAdapter, parseCliEntry, type CliScannerEntry } from '../../adapters/cli.js';
import { eicar } from '../../src/corpus/eicar.js';
import type { ScanContext, ScanUnit } from '../../src/core/types.js';
import { describeReal } from '../helpers/real.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures/cli-scanners');

function ctx(ms = 60_000): ScanContext {
  return { signal: new AbortController().signal, deadline: Date.now() + ms };
}
function part(data: Buffer | string, location = '1:file.bin', filename?: string): ScanUnit {
  return { kind: 'part', data: Buffer.from(data), location, ...(filename === undefined ? {} : { filename }) };
}
const infectedUnit = (loc: string): ScanUnit => part(Buffer.concat([Buffer.from('leading bytes\n'), eicar()]), loc);

/** Each preset, the fake fixture that mimics it, and the name that fake prints for EICAR. */
const FAKES: Record<string, { fixture: string; name: string; version?: string }> = {
  'clamav-clamscan': { fixture: 'fake-clamscan', name: 'Eicar-Test-Signature', version: '0.0.0-fake/1/Thu' },
  'sophos-savscan': { fixture: 'fake-savscan', name: 'EICAR-AV-Test', version: '9.99.0-fake' },
  'avira-avscan': { fixture: 'fake-avscan', name: 'Eicar-Test-Signature' },
  'eset-esets_cli': { fixture: 'fake-esets_cli', name: 'Eicar test file' },
  'kaspersky-kavscanner': { fixture: 'fake-kavscanner', name: 'EICAR-Test-File' },
  'fsecure-fsav': { fixture: 'fake-fsav', name: 'EICAR_Test_File' },
  'fprot-fpscan': { fixture: 'fake-fpscan', name: 'EICAR_Test_File' },
  'mcafee-uvscan': { fixture: 'fake-uvscan', name: 'EICAR test file' },
  drweb: { fixture: 'fake-drweb', name: 'EICAR Test File (NOT a Virus!)', version: '4.44.0' },
  'avast-avastcmd': { fixture: 'fake-avastcmd', name: 'EICAR Test-NOT virus!!!' },
  'bitdefender-bdscan': { fixture: 'fake-bdscan', name: 'EICAR-Test-File (not a virus)' },
  'trendmicro-vscan': { fixture: 'fake-vscan', name: 'EICAR_TEST_FILE' },
  ikarus: { fixture: 'fake-ikarus', name: 'EICAR-ALT-Test' },
  'norman-nvcc': { fixture: 'fake-nvcc', name: 'EICAR_Test_file_not_a_virus!' },
  'symantec-savsecls': { fixture: 'fake-savsecls', name: 'EICAR Test String' },
};

function withFake(preset: string, fixture: string, extra: Partial<CliScannerEntry> = {}): CliScannerEntry {
  return parseCliEntry({ ...CLI_PRESETS[preset], command: join(FIXTURES, fixture), ...extra }, `test ${preset}`);
}

describe('cli presets', () => {
  it('has at least 12 vendor presets, each a valid entry marked as a preset', () => {
    const keys = Object.keys(CLI_PRESETS);
    expect(keys.length).toBeGreaterThanOrEqual(14);
    for (const k of keys) {
      const e = CLI_PRESETS[k] as CliScannerEntry;
      expect(parseCliEntry(e, k)).toMatchObject({ name: k, preset: k });
    }
    expect(Object.keys(FAKES).sort()).toEqual(keys.sort());
  });

  it('a preset whose binary is not installed: probe says so, scan gives NOT_AVAILABLE', async () => {
    const a = createCliAdapter(CLI_PRESETS['sophos-savscan'] as CliScannerEntry);
    expect(await a.probe()).toEqual({ available: false, reason: 'preset, binary not found: savscan' });
    expect(await a.scan(part('x'), ctx())).toMatchObject({ status: 'error', error: { code: 'NOT_AVAILABLE' } });
    const own = createCliAdapter(parseCliEntry({ name: 'mine', command: '/nonexistent/scanner', args: ['{}'], virusName: '(.+) FOUND' }));
    expect(await own.probe()).toEqual({ available: false, reason: 'binary not found: /nonexistent/scanner' });
  });

  it('every preset says who it is: an identify pattern checked against its version output', () => {
    for (const [k, e] of Object.entries(CLI_PRESETS)) {
      expect(e.identify, k).toBeTypeOf('string');
      expect(e.versionArgs, k).toBeDefined();
    }
    expect(() => parseCliEntry({ name: 'x', command: 'x', args: ['{}'], virusName: '(.+)', identify: 'X' })).toThrow(/identify needs versionArgs/);
    expect(() => parseCliEntry({ name: 'x', command: 'x', args: ['{}'], virusName: '(.+)', versionArgs: ['-v'], identify: '(' })).toThrow(/identify is not a valid regular expression/);
  });

  it("a program of the preset's name that is not the vendor's (NVIDIA's nvcc for Norman's) is not this program", async () => {
    const a = createCliAdapter(withFake('norman-nvcc', 'fake-cuda-nvcc'));
    const p = await a.probe();
    expect(p.available).toBe(false);
    expect(p.reason).toMatch(/^not this program: .*fake-cuda-nvcc is on PATH, but `.*fake-cuda-nvcc -v` does not identify it as norman-nvcc \(expected \/Norman\/i, it printed "nvcc fatal/);
    expect(p.reason).toContain('set "command" to the scanner\'s path');
    // The real Norman nvcc (here its fake) is.
    expect(await createCliAdapter(withFake('norman-nvcc', 'fake-nvcc')).probe()).toMatchObject({ available: true });
  });
});

describe('every preset against its fake fixture', () => {
  for (const [preset, fake] of Object.entries(FAKES)) {
    describe(preset, () => {
      const entry = withFake(preset, fake.fixture);
      const a = createCliAdapter(entry);

      it('probe: available' + (fake.version === undefined ? '' : ', with its version'), async () => {
        const p = await a.probe();
        expect(p.available).toBe(true);
        if (fake.version !== undefined) expect(p.version).toContain(fake.version);
      });

      it('clean file → clean; EICAR file → infected with the name the scanner printed', async () => {
        expect(await a.scan(part('just some text\n', '1'), ctx())).toEqual({ status: 'clean' });
        expect(await a.scan(infectedUnit('2:eicar.com'), ctx())).toEqual({
          status: 'infected',
          detections: [{ name: fake.name, scanner: preset, part: '2:eicar.com' }],
        });
      });

      it('a batch in one folder: each verdict on its own unit', async () => {
        const units = [part('clean a', 'a'), infectedUnit('b'), part('clean c', 'c'), infectedUnit('d'), part('clean e', 'e')];
        const v = await a.scanBatch!(units, ctx());
        expect(v.map((x) => x.status)).toEqual(['clean', 'infected', 'clean', 'infected', 'clean']);
        expect(v[3]).toEqual({ status: 'infected', detections: [{ name: fake.name, scanner: preset, part: 'd' }] });
      });
    });
  }
});

describe('faults are errors, never clean', () => {
  const base = { args: ['{}'], clean: [0], infected: [1], virusName: 'found (.+)' };

  it('a scanner that crashes (SIGSEGV) → SCANNER_EXIT', async () => {
    const a = createCliAdapter(parseCliEntry({ ...base, name: 'crash', command: join(FIXTURES, 'fake-crash') }));
    expect(await a.scan(part('x'), ctx())).toMatchObject({ status: 'error', error: { code: 'SCANNER_EXIT', message: expect.stringContaining('SIGSEGV') } });
  });

  it('a scanner that hangs → TIMEOUT at the deadline', async () => {
    const a = createCliAdapter(parseCliEntry({ ...base, name: 'hang', command: join(FIXTURES, 'fake-hang') }));
    const started = Date.now();
    const v = await a.scan(part('x'), ctx(400));
    expect(v).toMatchObject({ status: 'error', error: { code: 'TIMEOUT' } });
    // Generous bound: the point is that it returns at the deadline, not after the 600 s sleep.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("the entry's own timeoutMs shortens the caller's deadline", async () => {
    const a = createCliAdapter(parseCliEntry({ ...base, name: 'hang', command: join(FIXTURES, 'fake-hang'), timeoutMs: 300 }));
    expect(await a.scan(part('x'), ctx(120_000))).toMatchObject({ status: 'error', error: { code: 'TIMEOUT' } });
  });

  it('an "infected" exit with no virus name → PROTOCOL error, not a detection', async () => {
    const a = createCliAdapter(parseCliEntry({ ...base, name: 'noname', command: join(FIXTURES, 'fake-infected-no-name') }));
    expect(await a.scan(part('x'), ctx())).toEqual({
      status: 'error',
      error: { code: 'PROTOCOL', message: expect.stringContaining('infected exit with no virus name') },
    });
  });

  it('an exit code that is neither clean nor infected → SCANNER_EXIT', async () => {
    // The fake savscan exits 99 when it misses one of its documented options.
    const a = createCliAdapter(withFake('sophos-savscan', 'fake-savscan', { args: ['-nb', '{}'] }));
    expect(await a.scan(part('x'), ctx())).toMatchObject({ status: 'error', error: { code: 'SCANNER_EXIT', message: expect.stringContaining('exited 99') } });
  });

  it('an aborted signal → ABORTED before anything runs', async () => {
    const ac = new AbortController();
    ac.abort();
    const a = createCliAdapter(withFake('drweb', 'fake-drweb'));
    expect(await a.scan(part('x'), { signal: ac.signal, deadline: Date.now() + 10_000 })).toMatchObject({ status: 'error', error: { code: 'ABORTED' } });
  });
});

describe('the attacker-controlled filename never reaches a path or a command', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-test-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const evil = 'x; touch /tmp/avbench-pwned $(id)\n../../etc/passwd';

  for (const template of ['{}', '{f}', '{}/*']) {
    it(`template ${template}: generated names only, private modes, folder removed after`, async () => {
      const log = join(dir, `log-${template.replace(/\W/g, '_')}.json`);
      const a = createCliAdapter(
        parseCliEntry({ name: 'recorder', command: join(FIXTURES, 'fake-argv-recorder'), args: [log, template], virusName: 'never (matches)' }),
      );
      const v = await a.scan(part('payload', `1:${evil}`, evil), ctx());
      expect(v).toEqual({ status: 'clean' });
      const rec = JSON.parse(await readFile(log, 'utf8')) as { argv: string[]; cwd: string; listed: Record<string, { name: string; mode: string }[] | string> };
      const joined = rec.argv.join('\0');
      for (const bad of [';', '$(', '\n', '..', 'passwd', 'touch']) expect(joined).not.toContain(bad);
      expect(rec.argv[0]).toBe(log);
      const target = rec.argv[1] as string;
      expect(target).toMatch(template === '{}' ? /\/avbench-[^/]+\/units$/ : /\/avbench-[^/]+\/units\/u0001\.bin$/);
      const listed = rec.listed[target] as { name: string; mode: string }[];
      if (template === '{}') {
        expect(listed).toEqual([{ name: 'u0001.bin', mode: '600' }]);
        expect(rec.listed[`${target}#mode`]).toBe('700');
      } else {
        expect(listed).toEqual([{ name: target, mode: '600' }]);
      }
      expect(rec.cwd).toBe(join(target, template === '{}' ? '..' : '../..'));
      await expect(stat(rec.cwd)).rejects.toThrow();
      await expect(stat('/tmp/avbench-pwned')).rejects.toThrow();
    });
  }
});

await describeReal('the clamav-clamscan preset against the real clamscan', ['clamscan'], () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-test-cli-clam-'));
    await mkdir(join(dir, 'db'));
    await writeFile(join(dir, 'db', 'test.ndb'), `Eicar-Test-NDB:0:*:${eicar().toString('hex')}\n`);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds EICAR and passes clean in one batch', async () => {
    const p = CLI_PRESETS['clamav-clamscan'] as CliScannerEntry;
    const a = createCliAdapter(parseCliEntry({ ...p, args: ['-d', join(dir, 'db'), ...p.args] }));
    expect(await a.probe()).toMatchObject({ available: true, version: expect.stringMatching(/^\d+\.\d+/) });
    const v = await a.scanBatch!([part('clean', 'a'), infectedUnit('b')], ctx());
    expect(v).toEqual([{ status: 'clean' }, { status: 'infected', detections: [{ name: 'Eicar-Test-NDB.UNOFFICIAL', scanner: 'clamav-clamscan', part: 'b' }] }]);
  });
});
