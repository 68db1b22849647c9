import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClamscanAdapter, parseClamavOutput } from '../../adapters/clamscan.js';
import { eicar } from '../../src/corpus/eicar.js';
import type { ScanContext, ScanUnit } from '../../src/core/types.js';
import { describeReal } from '../helpers/real.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures/cli-scanners');
const EICAR_NAME = 'Eicar-Test-NDB.UNOFFICIAL';

function ctx(ms = 60_000): ScanContext {
  return { signal: new AbortController().signal, deadline: Date.now() + ms };
}
function part(data: Buffer | string, location = '1:file.bin'): ScanUnit {
  return { kind: 'part', data: Buffer.from(data), location };
}

it('parses ClamAV result lines, splitting FOUND at the last ": "', () => {
  const files = {
    indexOfPath: (p: string) => ({ '/t/units/u0001.bin': 0, '/t/units/u0002.bin': 1, '/t/units/u0003.bin': 2 } as Record<string, number>)[p],
    indexInText: (t: string) => (t.includes('u0001.bin') ? 0 : t.includes('u0002.bin') ? 1 : t.includes('u0003.bin') ? 2 : undefined),
  };
  const f = parseClamavOutput(
    '/t/units/u0001.bin: Some Name With Spaces FOUND\n/t/units/u0002.bin: OK\n/t/units/u0003.bin: lstat() failed: No such file. ERROR\n/other: X FOUND\n',
    files,
    3,
  );
  expect(f[0]).toEqual({ detections: ['Some Name With Spaces'], ok: false, errors: [] });
  expect(f[1]).toEqual({ detections: [], ok: true, errors: [] });
  expect(f[2]?.errors).toEqual(['/t/units/u0003.bin: lstat() failed: No such file. ERROR']);
});

it('rejects bad options with a TypeError', () => {
  expect(() => createClamscanAdapter({ granularity: 'whole' as never })).toThrow(TypeError);
  expect(() => createClamscanAdapter({ timeoutMs: -1 })).toThrow(TypeError);
  expect(() => createClamscanAdapter({ extraArgs: [1] as never })).toThrow(TypeError);
});

it('reports a missing clamscan binary as NOT_AVAILABLE, in probe and scan', async () => {
  const a = createClamscanAdapter({ binary: '/nonexistent/clamscan', database: '/nonexistent' });
  expect(await a.probe()).toMatchObject({ available: false, reason: expect.stringContaining('not found') });
  expect(await a.scan(part('x'), ctx())).toMatchObject({ status: 'error', error: { code: 'NOT_AVAILABLE' } });
});

it('treats exit 1 with no FOUND line as an error for the unit, not a detection', async () => {
  const a = createClamscanAdapter({ binary: join(FIXTURES, 'fake-infected-no-name'), database: '/nonexistent' });
  const v = await a.scan(part('x'), ctx());
  expect(v).toMatchObject({ status: 'error', error: { code: 'PROTOCOL', message: expect.stringContaining('no FOUND line') } });
});

await describeReal('clamscan adapter (real clamscan)', ['clamscan'], () => {
  let dir: string;
  let db: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-test-clamscan-'));
    db = join(dir, 'db');
    await mkdir(db, { mode: 0o700 });
    // EICAR anywhere in a file; EICAR itself is assembled at run time.
    await writeFile(join(db, 'test.ndb'), `Eicar-Test-NDB:0:*:${eicar().toString('hex')}\n`, { mode: 0o600 });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('probes version and the database folder', async () => {
    const p = await createClamscanAdapter({ database: db }).probe();
    expect(p.available).toBe(true);
    expect(p.version).toMatch(/^\d+\.\d+/);
    expect(p.signatures).toContain('test.ndb');
  });

  it('says what to do when there is no signature database', async () => {
    const p = await createClamscanAdapter({ database: join(dir, 'no-such-db') }).probe();
    expect(p).toMatchObject({ available: false, reason: expect.stringContaining('no signature database') });
  });

  it('scans whole-message units that are files on disk in place (no copy), others from their bytes', async () => {
    const onDisk = join(dir, 'on-disk.eml');
    await writeFile(onDisk, eicar()); // the file is infected...
    const a = createClamscanAdapter({ database: db });
    const units: ScanUnit[] = [
      { kind: 'message', data: Buffer.from('clean bytes'), location: 'message', path: onDisk }, // ...its bytes here are not: in place wins
      { kind: 'message', data: eicar(), location: 'message', path: join(dir, 'gone.eml') }, // no such file: the bytes are scanned
      { kind: 'message', data: Buffer.from('clean'), location: 'message' },
    ];
    const v = await a.scanBatch!(units, ctx());
    expect(v.map((x) => x.status)).toEqual(['infected', 'infected', 'clean']);
  });

  it('an empty unit is clean ("Empty file"), as clamd says OK for it', async () => {
    const a = createClamscanAdapter({ database: db });
    const v = await a.scanBatch!([part(''), part(eicar())], ctx());
    expect(v[0]).toEqual({ status: 'clean' });
    expect(v[1]).toMatchObject({ status: 'infected' });
  });

  it('scans a clean part and an EICAR part', async () => {
    const a = createClamscanAdapter({ database: db, granularity: 'part' });
    expect(a.granularity).toBe('part');
    expect(await a.scan(part('hello, world\n'), ctx())).toEqual({ status: 'clean' });
    const v = await a.scan(part(Buffer.concat([Buffer.from('prefix '), eicar()]), '2:eicar.com'), ctx());
    expect(v).toEqual({ status: 'infected', detections: [{ name: EICAR_NAME, scanner: 'clamscan', part: '2:eicar.com' }] });
  });

  it('finds EICAR in a base64 attachment of a whole message (ClamAV parses mail itself)', async () => {
    const a = createClamscanAdapter({ database: db });
    expect(a.granularity).toBe('message');
    const eml = [
      'From: a@example.org',
      'To: b@example.org',
      'Subject: test',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'see attachment',
      '--b1',
      'Content-Type: application/octet-stream; name="e.com"',
      'Content-Transfer-Encoding: base64',
      '',
      eicar().toString('base64'),
      '--b1--',
      '',
    ].join('\r\n');
    const v = await a.scan({ kind: 'message', data: Buffer.from(eml), location: 'message' }, ctx());
    expect(v).toEqual({ status: 'infected', detections: [{ name: EICAR_NAME, scanner: 'clamscan' }] });
  });

  it('scans a batch of 50 units in ONE clamscan process, verdicts in order', async () => {
    // A wrapper that counts its runs and records its arguments, then execs the real clamscan.
    const log = join(dir, 'runs.log');
    const wrapper = join(dir, 'clamscan-counting');
    await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec clamscan "$@"\n`, { mode: 0o700 });
    await chmod(wrapper, 0o700);
    const a = createClamscanAdapter({ database: db, binary: wrapper, granularity: 'part' });
    const units = Array.from({ length: 50 }, (_, i) => (i % 3 === 1 ? part(Buffer.concat([Buffer.from(`unit ${i}\n`), eicar()]), `p${i}`) : part(`clean unit ${i}\n`, `p${i}`)));
    const verdicts = await a.scanBatch!(units, ctx());
    expect(verdicts).toHaveLength(50);
    verdicts.forEach((v, i) => {
      if (i % 3 === 1) expect(v).toEqual({ status: 'infected', detections: [{ name: EICAR_NAME, scanner: 'clamscan', part: `p${i}` }] });
      else expect(v).toEqual({ status: 'clean' });
    });
    const runs = (await readFile(log, 'utf8')).trim().split('\n');
    expect(runs).toHaveLength(1);
    // The private folder named in --file-list is gone after the scan.
    const listArg = /--file-list=(\S+)/.exec(runs[0] ?? '')?.[1];
    expect(listArg).toMatch(/avbench-.*\/list\.txt$/);
    await expect(stat(listArg as string)).rejects.toThrow();
    await expect(stat(join(listArg as string, '..'))).rejects.toThrow();
  });

  it('gives SCANNER_EXIT when clamscan exits 2 (a database folder with no signatures)', async () => {
    const empty = join(dir, 'empty-db');
    await mkdir(empty, { recursive: true });
    const v = await createClamscanAdapter({ database: empty }).scan(part('x'), ctx());
    expect(v).toMatchObject({ status: 'error', error: { code: 'SCANNER_EXIT', message: expect.stringContaining('exited 2') } });
  });

  it('gives TIMEOUT when the deadline passes, never clean', async () => {
    const v = await createClamscanAdapter({ database: db }).scan(part('x'), { signal: new AbortController().signal, deadline: Date.now() + 1 });
    expect(v).toMatchObject({ status: 'error', error: { code: 'TIMEOUT' } });
  });
});
