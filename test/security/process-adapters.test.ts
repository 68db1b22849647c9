/**
 * No shell, private temp files, nothing left behind — through every process adapter
 * (clamscan, clamdscan, yara: the real programs; every cli preset: its FAKE fixture from
 * test/fixtures/cli-scanners; a FAKE argv recorder; a FAKE that hangs), each driven by
 * scanMessage with a message whose attachment names hold `;`, `$()`, backticks, newlines,
 * `../` and option-looking names that would each create a canary file if a shell or a path
 * ever saw them.
 *
 * TMPDIR points at a folder of this test's own, so os.tmpdir() — every adapter's default
 * parent for its private folders — is watched without racing other tests: it must be empty
 * before and after every run, including errors and deadline kills.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PRESETS, createClamdscanAdapter, createClamscanAdapter, createCliAdapter, createYaraAdapter } from '../../adapters/index.js';
import { parseCliEntry } from '../../adapters/cli.js';
import { scanMessage } from '../../src/core/scan.js';
import type { Adapter, Verdict } from '../../src/core/types.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { eicar, writeEicarYaraRules, writeSignatureDb } from '../../src/lab/signatures.js';
import { describeReal } from '../helpers/real.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures/cli-scanners');
const FAKE_FOR: Record<string, string> = {
  'clamav-clamscan': 'fake-clamscan', 'sophos-savscan': 'fake-savscan', 'avira-avscan': 'fake-avscan', 'eset-esets_cli': 'fake-esets_cli',
  'kaspersky-kavscanner': 'fake-kavscanner', 'fsecure-fsav': 'fake-fsav', 'fprot-fpscan': 'fake-fpscan', 'mcafee-uvscan': 'fake-uvscan',
  drweb: 'fake-drweb', 'avast-avastcmd': 'fake-avastcmd', 'bitdefender-bdscan': 'fake-bdscan', 'trendmicro-vscan': 'fake-vscan',
  ikarus: 'fake-ikarus', 'norman-nvcc': 'fake-nvcc', 'symantec-savsecls': 'fake-savsecls',
};

let base: string;
let watched: string;
let canaryDir: string;
let savedTmp: string | undefined;

/** Attachment names that would touch a canary if any shell or path saw them. */
function hostileNames(canary: string): string[] {
  return [
    `a; touch ${canary}/semicolon #.com`,
    `$(touch ${canary}/dollar).com`,
    `\`touch ${canary}/backtick\`.com`,
    `b\ntouch ${canary}/newline.com`,
    `../../../../../../${canary.replace(/^\//, '')}/dotdot.com`,
    '../../../../etc/passwd',
    '--help',
    '-rf',
    `|touch ${canary}/pipe`,
    `> ${canary}/redirect`,
  ];
}

function hostileMessage(names: readonly string[], payload: Buffer): Buffer {
  const b64 = payload.toString('base64');
  const parts = names
    .map((n) => {
      // Names go in as RFC 2231 percent-encoded values, so a newline survives the header syntax into the decoded filename.
      const enc = encodeURIComponent(n).replace(/'/g, '%27');
      return `--H\r\nContent-Type: application/octet-stream; name*=utf-8''${enc}\r\nContent-Disposition: attachment; filename*=utf-8''${enc}\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n`;
    })
    .join('');
  return Buffer.from(`From: m@example.org\r\nSubject: hostile names\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="H"\r\n\r\n${parts}--H--\r\n`, 'latin1');
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'avbench-security-'));
  watched = join(base, 'tmp');
  canaryDir = join(base, 'canary');
  await mkdir(watched, { mode: 0o700 });
  await mkdir(canaryDir, { mode: 0o700 });
  savedTmp = process.env['TMPDIR'];
  process.env['TMPDIR'] = watched;
  expect(tmpdir()).toBe(watched);
});

afterAll(async () => {
  if (savedTmp === undefined) delete process.env['TMPDIR'];
  else process.env['TMPDIR'] = savedTmp;
  await rm(base, { recursive: true, force: true });
});

/** Scan the hostile message with `adapter`; the watched TMPDIR must be empty before and after; no canary. */
async function scanHostile(adapter: Adapter, opts: { payload?: Buffer; timeoutMs?: number } = {}): Promise<{ verdict: Verdict; names: string[] }> {
  const names = hostileNames(canaryDir);
  expect(await readdir(watched)).toEqual([]);
  let verdict: Verdict;
  try {
    verdict = await scanMessage(hostileMessage(names, opts.payload ?? eicar()), { scanners: [adapter], limits: { timeoutMs: opts.timeoutMs ?? 60_000 } });
  } finally {
    await adapter.close();
  }
  expect(await readdir(watched), `${adapter.name} left files in TMPDIR`).toEqual([]);
  expect(await readdir(canaryDir), `${adapter.name}: a name reached a shell or a path`).toEqual([]);
  return { verdict, names };
}

/** Every hostile part detected, each detection naming its part (the name is data, not a path). */
function expectAllFound(v: Verdict, names: readonly string[]): void {
  expect(v.status).toBe('infected');
  if (v.status !== 'infected') return;
  const parts = new Set(v.detections.map((d) => d.part));
  expect(parts.size).toBe(names.length);
}

describe('cli presets (FAKE fixtures) with hostile attachment names', () => {
  for (const [preset, fixture] of Object.entries(FAKE_FOR)) {
    it(`${preset}: every hostile-named part found; no canary, TMPDIR clean`, async () => {
      const entry = parseCliEntry({ ...CLI_PRESETS[preset], command: join(FIXTURES, fixture) }, `security ${preset}`);
      const { verdict, names } = await scanHostile(createCliAdapter(entry));
      expectAllFound(verdict, names);
    });
  }

  for (const template of ['{}', '{f}']) {
    it(`FAKE argv recorder (${template}): argv holds generated paths only; files 0600 in a 0700 folder`, async () => {
      const log = join(base, `argv-${template === '{}' ? 'folder' : 'file'}.json`);
      const entry = parseCliEntry({ name: 'recorder', command: join(FIXTURES, 'fake-argv-recorder'), args: [log, template], virusName: 'never (matches)' });
      const { verdict } = await scanHostile(createCliAdapter(entry));
      expect(verdict).toEqual({ status: 'clean' });
      const rec = JSON.parse(await readFile(log, 'utf8')) as { argv: string[]; cwd: string; listed: Record<string, unknown> };
      const joined = rec.argv.join('\0');
      for (const bad of [';', '$(', '`', '\n', '..', 'passwd', 'touch', '--help', '-rf', '|', '>']) expect(joined).not.toContain(bad);
      expect(rec.argv[1]).toMatch(new RegExp(`^${watched}/avbench-[^/]+/units(/u\\d{4}\\.bin)?$`));
      expect(rec.cwd).toMatch(new RegExp(`^${watched}/avbench-[^/]+$`));
      if (template === '{}') {
        const listed = rec.listed[rec.argv[1] as string] as Array<{ name: string; mode: string }>;
        expect(listed.length).toBe(10);
        for (const f of listed) expect(f).toEqual({ name: expect.stringMatching(/^u\d{4}\.bin$/), mode: '600' });
        expect(rec.listed[`${rec.argv[1]}#mode`]).toBe('700');
      } else {
        const listed = rec.listed[rec.argv[1] as string] as Array<{ name: string; mode: string }>;
        expect(listed[0]?.mode).toBe('600');
      }
    });
  }

  it('FAKE that hangs, killed at the deadline: TIMEOUT verdict, private folder removed', async () => {
    const entry = parseCliEntry({ name: 'hang', command: join(FIXTURES, 'fake-hang'), args: ['{}'], virusName: 'x (y)' });
    const t0 = Date.now();
    const { verdict } = await scanHostile(createCliAdapter(entry), { timeoutMs: 800 });
    expect(verdict).toMatchObject({ status: 'error', error: { code: 'TIMEOUT' } });
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('FAKE that crashes: an error verdict (never clean), private folder removed', async () => {
    const entry = parseCliEntry({ name: 'crash', command: join(FIXTURES, 'fake-crash'), args: ['{}'], virusName: 'x (y)' });
    const { verdict } = await scanHostile(createCliAdapter(entry));
    expect(verdict.status).toBe('error');
  });

  it('a scanner program that does not exist: NOT_AVAILABLE, nothing left behind', async () => {
    const entry = parseCliEntry({ name: 'missing', command: join(base, 'no-such-scanner'), args: ['{}'], virusName: 'x (y)' });
    const { verdict } = await scanHostile(createCliAdapter(entry));
    expect(verdict).toMatchObject({ status: 'error', error: { code: 'NOT_AVAILABLE' } });
  });
});

await describeReal('real clamscan with hostile attachment names', ['clamscan'], () => {
  let db: string;
  beforeAll(async () => {
    db = join(base, 'clamdb');
    await mkdir(db, { recursive: true });
    await writeSignatureDb(db);
  });
  for (const granularity of ['part', 'message'] as const) {
    it(`clamscan (${granularity}): found, no canary, TMPDIR clean`, async () => {
      const { verdict, names } = await scanHostile(createClamscanAdapter({ database: db, granularity }));
      if (granularity === 'part') expectAllFound(verdict, names);
      else expect(verdict.status).toBe('infected');
    }, 120_000);
  }
  it('the clamscan adapter killed at its deadline (binary = the FAKE that hangs): TIMEOUT, TMPDIR clean', async () => {
    const { verdict } = await scanHostile(createClamscanAdapter({ binary: join(FIXTURES, 'fake-hang'), database: db, timeoutMs: 500 }));
    expect(verdict).toMatchObject({ status: 'error', error: { code: 'TIMEOUT' } });
  }, 60_000);
});

await describeReal('real yara with hostile attachment names', ['yara'], () => {
  let rules: string;
  beforeAll(async () => {
    rules = await writeEicarYaraRules(join(base, 'eicar.yar'));
  });
  it('yara: every part found, no canary, TMPDIR clean', async () => {
    const { verdict, names } = await scanHostile(createYaraAdapter({ rules }));
    expectAllFound(verdict, names);
  }, 60_000);
  it('the yara adapter killed at its deadline (binary = the FAKE that hangs): TIMEOUT, TMPDIR clean', async () => {
    const { verdict } = await scanHostile(createYaraAdapter({ rules, binary: join(FIXTURES, 'fake-hang'), timeoutMs: 500 }));
    expect(verdict).toMatchObject({ status: 'error', error: { code: 'TIMEOUT' } });
  }, 60_000);
  it('yara with a broken rules file: an error verdict, TMPDIR clean', async () => {
    const bad = join(base, 'bad.yar');
    await writeFile(bad, 'rule broken { condition: \n');
    const { verdict } = await scanHostile(createYaraAdapter({ rules: bad }));
    expect(verdict.status).toBe('error');
  }, 60_000);
});

await describeReal('real clamdscan with hostile attachment names', ['clamd', 'clamdscan'], () => {
  let clamd: LabClamd;
  beforeAll(async () => {
    clamd = await startClamd({ dir: base });
  }, 60_000);
  afterAll(async () => {
    await clamd?.stop();
  });
  it('clamdscan (part): every part found, no canary, TMPDIR clean', async () => {
    const { verdict, names } = await scanHostile(createClamdscanAdapter({ configFile: clamd.configFile, granularity: 'part' }));
    expectAllFound(verdict, names);
  }, 60_000);
  it('the clamdscan adapter killed at its deadline (binary = the FAKE that hangs): TIMEOUT, TMPDIR clean', async () => {
    const { verdict } = await scanHostile(createClamdscanAdapter({ configFile: clamd.configFile, granularity: 'part', binary: join(FIXTURES, 'fake-hang'), timeoutMs: 500 }));
    expect(verdict).toMatchObject({ status: 'error', error: { code: 'TIMEOUT' } });
  }, 60_000);
});
