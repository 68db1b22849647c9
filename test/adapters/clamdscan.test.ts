import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClamdscanAdapter, type ClamdscanMode } from '../../adapters/clamdscan.js';
import { eicar } from '../../src/corpus/eicar.js';
import type { ScanContext, ScanUnit } from '../../src/core/types.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { EICAR_NDB_NAME } from '../../src/lab/signatures.js';
import { describeReal } from '../helpers/real.js';

function ctx(ms = 60_000): ScanContext {
  return { signal: new AbortController().signal, deadline: Date.now() + ms };
}
function part(data: Buffer | string, location = '1:file.bin'): ScanUnit {
  return { kind: 'part', data: Buffer.from(data), location };
}

it('rejects an unknown mode with a TypeError', () => {
  expect(() => createClamdscanAdapter({ mode: 'tcp' as never })).toThrow(TypeError);
});

await describeReal('clamdscan adapter (real clamd + clamdscan)', ['clamd', 'clamdscan'], () => {
  let clamd: LabClamd;
  let dir: string;
  beforeAll(async () => {
    clamd = await startClamd();
    dir = await mkdtemp(join(tmpdir(), 'avbench-test-clamdscan-'));
  });
  afterAll(async () => {
    await clamd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('probes clamd through clamdscan --version', async () => {
    const p = await createClamdscanAdapter({ configFile: clamd.configFile }).probe();
    expect(p).toMatchObject({ available: true, version: expect.stringMatching(/^\d+\.\d+/) });
  });

  it('probe says why when clamd cannot be reached', async () => {
    const conf = join(dir, 'nowhere.conf');
    await writeFile(conf, `LocalSocket ${join(dir, 'no-such.sock')}\n`);
    const a = createClamdscanAdapter({ configFile: conf });
    expect(await a.probe()).toMatchObject({ available: false, reason: expect.stringContaining('clamd not reachable') });
    const v = await a.scan(part('x'), ctx());
    expect(v.status).toBe('error');
    expect(v).toMatchObject({ error: { code: 'CONNECT_FAILED' } });
  });

  for (const mode of ['fdpass', 'stream', 'multiscan-fdpass', 'plain'] as ClamdscanMode[]) {
    it(`mode ${mode}: clean and EICAR units in one batch, verdicts in order`, async () => {
      const a = createClamdscanAdapter({ configFile: clamd.configFile, mode, granularity: 'part' });
      const units = Array.from({ length: 20 }, (_, i) => (i % 4 === 3 ? part(Buffer.concat([Buffer.from(`u${i} `), eicar()]), `p${i}`) : part(`clean ${i}`, `p${i}`)));
      const verdicts = await a.scanBatch!(units, ctx());
      expect(verdicts).toHaveLength(20);
      verdicts.forEach((v, i) => {
        if (i % 4 === 3) expect(v).toEqual({ status: 'infected', detections: [{ name: EICAR_NDB_NAME, scanner: 'clamdscan', part: `p${i}` }] });
        else expect(v).toEqual({ status: 'clean' });
      });
    });
  }

  it('file-list modes scan whole messages on disk in place; multiscan copies them into its folder', async () => {
    const onDisk = join(dir, 'inplace.eml');
    await writeFile(onDisk, eicar());
    const units: ScanUnit[] = [
      { kind: 'message', data: Buffer.from('clean bytes'), location: 'message', path: onDisk },
      { kind: 'message', data: Buffer.from('clean'), location: 'message' },
    ];
    for (const mode of ['fdpass', 'stream', 'plain'] as const) {
      const v = await createClamdscanAdapter({ configFile: clamd.configFile, mode }).scanBatch!(units, ctx());
      expect([mode, v.map((x) => x.status)]).toEqual([mode, ['infected', 'clean']]);
    }
    // multiscan scans its private folder: the unit's bytes (clean here) are what it sees.
    const m = await createClamdscanAdapter({ configFile: clamd.configFile, mode: 'multiscan-fdpass' }).scanBatch!(units, ctx());
    expect(m.map((x) => x.status)).toEqual(['clean', 'clean']);
  });

  it('multiscan over the folder: an all-clean batch is clean (clamd names only what it finds)', async () => {
    const a = createClamdscanAdapter({ configFile: clamd.configFile, mode: 'multiscan-fdpass' });
    const v = await a.scanBatch!(Array.from({ length: 10 }, (_, i) => part(`clean ${i}`, `p${i}`)), ctx());
    expect(v).toEqual(Array.from({ length: 10 }, () => ({ status: 'clean' })));
  });

  it('one clamdscan process per batch, pointed at the private folder', async () => {
    const log = join(dir, 'runs.log');
    const wrapper = join(dir, 'clamdscan-counting');
    await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec clamdscan "$@"\n`, { mode: 0o700 });
    const a = createClamdscanAdapter({ configFile: clamd.configFile, binary: wrapper });
    const units = Array.from({ length: 30 }, (_, i) => part(i === 7 ? eicar() : `clean ${i}`, `p${i}`));
    const verdicts = await a.scanBatch!(units, ctx());
    expect(verdicts.filter((v) => v.status === 'infected')).toHaveLength(1);
    expect(verdicts[7]?.status).toBe('infected');
    const runs = (await readFile(log, 'utf8')).trim().split('\n');
    expect(runs).toHaveLength(1);
    expect(runs[0]).toContain('--fdpass');
  });

  it('a whole message: clamd parses the mail and finds base64 EICAR', async () => {
    const eml = `From: a@example.org\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${eicar().toString('base64')}\r\n--b--\r\n`;
    const v = await createClamdscanAdapter({ configFile: clamd.configFile }).scan({ kind: 'message', data: Buffer.from(eml), location: 'message' }, ctx());
    expect(v).toEqual({ status: 'infected', detections: [{ name: EICAR_NDB_NAME, scanner: 'clamdscan' }] });
  });
});
