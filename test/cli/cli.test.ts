import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { captureOutput } from '../helpers/capture.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-cli-'));
  await writeFile(join(dir, 'clean.eml'), mailWithAttachment('notes.txt', Buffer.from('meeting at noon\n')));
  await writeFile(join(dir, 'bad.eml'), mailWithAttachment('eicar.com', EICAR));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cli = (...argv: string[]) => captureOutput(() => runCli(argv));

describe('avbench scan', () => {
  it('exits 0 on a clean message and says clean', async () => {
    const r = await cli('scan', '--no-summary', join(dir, 'clean.eml'));
    expect(r.result).toBe(0);
    expect(r.stdout).toBe(`${join(dir, 'clean.eml')}: clean\n`);
  });

  it('exits 1 on an infected message and names the virus and the part', async () => {
    const r = await cli('scan', '--no-summary', join(dir, 'bad.eml'));
    expect(r.result).toBe(1);
    expect(r.stdout).toBe(`${join(dir, 'bad.eml')}: Eicar-Test-Signature FOUND in 2:eicar.com\n`);
  });

  it('--json prints one array, an element per message and scanner', async () => {
    const r = await cli('scan', '--json', join(dir, 'clean.eml'), join(dir, 'bad.eml'));
    expect(r.result).toBe(1);
    const out = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ file: join(dir, 'clean.eml'), scanner: 'embedded', status: 'clean' });
    expect(typeof out[0]?.['ms']).toBe('number');
    expect(out[1]).toMatchObject({
      file: join(dir, 'bad.eml'),
      scanner: 'embedded',
      status: 'infected',
      detections: [{ name: 'Eicar-Test-Signature', scanner: 'embedded', part: '2:eicar.com' }],
    });
  });

  it('exits 2 with an error verdict when a limit is hit', async () => {
    const cfg = join(dir, 'tight.json');
    await writeFile(cfg, JSON.stringify({ scanners: {}, limits: { maxParts: 1 } }));
    const r = await cli('scan', '--json', '--config', cfg, join(dir, 'clean.eml'));
    expect(r.result).toBe(2);
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ status: 'error', error: { code: 'LIMIT_EXCEEDED' } });
  });

  it('exits 2 and says what to do for an unknown scanner', async () => {
    const r = await cli('scan', '--scanner', 'nosuch', join(dir, 'clean.eml'));
    expect(r.result).toBe(2);
    expect(r.stderr).toContain('unknown scanner "nosuch"');
    expect(r.stderr).toContain('avbench scanners');
  });

  it('exits 2 on a malformed config file, naming it', async () => {
    const cfg = join(dir, 'bad.json');
    await writeFile(cfg, '{"scanners": {"x": {}}}');
    const r = await cli('scan', '--config', cfg, join(dir, 'clean.eml'));
    expect(r.result).toBe(2);
    expect(r.stderr).toContain('scanners.x needs a "type"');
  });

  it('exits 2 on a path that does not exist', async () => {
    const r = await cli('scan', join(dir, 'nope.eml'));
    expect(r.result).toBe(2);
    expect(r.stderr).toContain('nope.eml');
  });
});

describe('avbench corpus generate + scan', () => {
  it('generates the quick corpus and the embedded scanner matches its EICAR labels', async () => {
    const out = join(dir, 'quick');
    const g = await cli('corpus', 'generate', '--out', out, '--profile', 'quick', '--seed', '3');
    expect(g.result).toBe(0);
    expect(g.stdout).toMatch(/wrote \d+ messages/);
    const table = await cli('scan', '--infected', out);
    expect(table.result).toBe(2); // the corpus holds malformed messages that hit limits
    expect(table.stdout).toMatch(/│\s*embedded\s*│\s*ALL\s*│/);
    const r = await cli('scan', '--json', out);
    const verdicts = new Map((JSON.parse(r.stdout) as Array<{ file: string; status: string }>).map((x) => [x.file, x.status]));
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as Array<{ file: string; expected: string; family?: string }>;
    expect(verdicts.size).toBe(manifest.length);
    for (const m of manifest) {
      const got = verdicts.get(join(out, m.file));
      if (m.expected === 'clean') expect([m.file, got]).toEqual([m.file, 'clean']);
      if (m.expected === 'infected' && m.family === 'eicar') expect([m.file, got]).toEqual([m.file, 'infected']);
    }
  });
});

describe('avbench scanners', () => {
  it('lists the embedded scanner as available and vendor presets with why not', async () => {
    const r = await cli('scanners', '--json');
    expect(r.result).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ name: string; available: boolean; reason?: string; source: string }>;
    expect(rows.find((x) => x.name === 'embedded')).toMatchObject({ available: true });
    const presets = rows.filter((x) => x.source === 'preset');
    expect(presets.length).toBeGreaterThanOrEqual(12);
    // Vendor binaries are not installed here (a same-named binary may exist: nvcc is also CUDA's).
    const missing = presets.filter((p) => !p.available);
    expect(missing.length).toBeGreaterThanOrEqual(12);
    for (const p of missing) expect(p.reason).toMatch(/^preset, (binary not found|not this program)/);
  });

  it("a same-named program that is not the vendor's scanner is listed 'not this program' (CUDA's nvcc)", async () => {
    const bin = await mkdtemp(join(tmpdir(), 'avbench-path-'));
    const oldPath = process.env['PATH'];
    try {
      await copyFile(join(import.meta.dirname, '../fixtures/cli-scanners/fake-cuda-nvcc'), join(bin, 'nvcc'));
      await chmod(join(bin, 'nvcc'), 0o755);
      process.env['PATH'] = `${bin}:${oldPath ?? ''}`;
      const r = await cli('scanners', '--json');
      const rows = JSON.parse(r.stdout) as Array<{ name: string; available: boolean; reason?: string }>;
      expect(rows.find((x) => x.name === 'norman-nvcc')).toMatchObject({ available: false, reason: expect.stringMatching(/^preset, not this program: .*nvcc is on PATH/) });
    } finally {
      process.env['PATH'] = oldPath;
      await rm(bin, { recursive: true, force: true });
    }
  });
});

describe('avbench usage', () => {
  it('exits 2 with a hint when no command is given', async () => {
    const r = await cli();
    expect(r.result).toBe(2);
    expect(r.stderr).toContain('Name a command');
  });
});

describe('repeatable options', () => {
  it('-s NAME does not swallow the paths after it', async () => {
    const r = await cli('scan', '--json', '-s', 'embedded', join(dir, 'clean.eml'), join(dir, 'bad.eml'));
    expect(r.result).toBe(1);
    expect((JSON.parse(r.stdout) as unknown[]).length).toBe(2);
  });
});
