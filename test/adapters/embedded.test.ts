import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  createEmbeddedAdapter,
  createEmbeddedAdapterAsync,
  formatLoadProblems,
  loadSignatureFolder,
} from '../../adapters/embedded.js';
import { EICAR_BYTES } from '../../adapters/embedded/eicar.js';
import type { ScanContext, ScanUnit } from '../../src/core/types.js';

const ctx = (over: Partial<ScanContext> = {}): ScanContext => ({ signal: new AbortController().signal, deadline: Date.now() + 30_000, ...over });
const unit = (data: Buffer, location = '1:test.bin'): ScanUnit => ({ kind: 'part', data, location });
const eicar = (): Buffer => Buffer.from(EICAR_BYTES);

describe('EICAR per its specification', () => {
  const a = createEmbeddedAdapter();
  const found = async (data: Buffer): Promise<boolean> => (await a.scan(unit(data), ctx())).status === 'infected';

  it('is assembled at run time: 68 bytes, the known md5', () => {
    expect(EICAR_BYTES.length).toBe(68);
    expect(createHash('md5').update(EICAR_BYTES).digest('hex')).toBe('44d88612fea8a8f36de82e1278abb02f');
  });
  it('finds it alone, and followed by CRLF, spaces, tabs or ^Z up to 128 bytes', async () => {
    expect(await a.scan(unit(eicar(), '1.2:eicar.com'), ctx())).toEqual({
      status: 'infected',
      detections: [{ name: 'Eicar-Test-Signature', scanner: 'embedded', part: '1.2:eicar.com' }],
    });
    expect(await found(Buffer.concat([eicar(), Buffer.from('\r\n')]))).toBe(true);
    expect(await found(Buffer.concat([eicar(), Buffer.from(' \t\x1a\n')]))).toBe(true);
    expect(await found(Buffer.concat([eicar(), Buffer.alloc(60, 0x20)]))).toBe(true); // 128 bytes
  });
  it('does not find a 129-byte file', async () => {
    expect(await found(Buffer.concat([eicar(), Buffer.alloc(61, 0x20)]))).toBe(false);
  });
  it('does not find it after trailing non-whitespace', async () => {
    expect(await found(Buffer.concat([eicar(), Buffer.from('\r\nX')]))).toBe(false);
  });
  it('does not find it preceded by a byte, unless eicarAnywhere', async () => {
    const data = Buffer.concat([Buffer.from(' '), eicar()]);
    expect(await found(data)).toBe(false);
    const any = createEmbeddedAdapter({ eicarAnywhere: true, name: 'emb-any' });
    expect(await any.scan(unit(data), ctx())).toMatchObject({ status: 'infected', detections: [{ name: 'Eicar-Test-Signature', scanner: 'emb-any' }] });
    const big = Buffer.concat([Buffer.alloc(3_000_000, 0x41), eicar(), Buffer.alloc(1000, 0x42)]);
    expect((await any.scan(unit(big), ctx())).status).toBe('infected');
    expect(await found(big)).toBe(false);
  });
  it('does not find a truncated or mutated EICAR', async () => {
    expect(await found(eicar().subarray(0, 67))).toBe(false);
    const m = eicar();
    m[40] = m[40]! ^ 0x20;
    expect(await found(m)).toBe(false);
    const any = createEmbeddedAdapter({ eicarAnywhere: true });
    expect((await any.scan(unit(m), ctx())).status).toBe('clean');
  });
  it('says clean for clean data and for an empty unit', async () => {
    expect(await a.scan(unit(Buffer.from('hello')), ctx())).toEqual({ status: 'clean' });
    expect(await a.scan(unit(Buffer.alloc(0)), ctx())).toEqual({ status: 'clean' });
  });
});

describe('adapter contract', () => {
  it('has type embedded, granularity part, and probes without a folder', async () => {
    const a = createEmbeddedAdapter();
    expect(a).toMatchObject({ name: 'embedded', type: 'embedded', granularity: 'part' });
    const p = await a.probe();
    expect(p).toEqual({ available: true, version: 'avbench-embedded 0.1.0', signatures: 'EICAR only (no signature folder)' });
    await a.close();
  });
  it('returns TIMEOUT when the deadline has passed, ABORTED when the signal fired (never clean)', async () => {
    const a = createEmbeddedAdapter();
    expect(await a.scan(unit(Buffer.from('x')), ctx({ deadline: Date.now() - 1 }))).toMatchObject({ status: 'error', error: { code: 'TIMEOUT' } });
    const ac = new AbortController();
    ac.abort();
    expect(await a.scan(unit(Buffer.from('x')), ctx({ signal: ac.signal }))).toMatchObject({ status: 'error', error: { code: 'ABORTED' } });
  });
  it('accepts a preloaded database (not together with a folder)', async () => {
    const { signatureDbFromText } = await import('../../adapters/embedded.js');
    const pre = signatureDbFromText({ ndb: `M:0:*:${Buffer.from('marker').toString('hex')}\nBad:0:*:zz` });
    const a = createEmbeddedAdapter({ preloaded: { ...pre, label: 'memory' } });
    expect((await a.probe()).signatures).toBe('EICAR + 1 signatures from memory (1 line rejected)');
    expect(await a.scan(unit(Buffer.from('a marker here')), ctx())).toMatchObject({ status: 'infected', detections: [{ name: 'M' }] });
    expect(() => createEmbeddedAdapter({ preloaded: { ...pre, label: 'x' }, signatures: '/tmp' })).toThrow(TypeError);
  });
  it('scanBatch gives one verdict per unit', async () => {
    const a = createEmbeddedAdapter();
    const v = await a.scanBatch!([unit(eicar(), 'a'), unit(Buffer.from('clean'), 'b')], ctx());
    expect(v.map((x) => x.status)).toEqual(['infected', 'clean']);
  });
});

describe('signature folder', () => {
  let dir: string;
  const text = 'a body with MALWARE-MARKER inside and a tail ZZTAIL';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-emb-'));
    const md5 = createHash('md5').update('hashed unit').digest('hex');
    const sha = createHash('sha256').update('hashed unit').digest('hex');
    await writeFile(join(dir, 'a.ndb'), `# test db\nMarker:0:*:${Buffer.from('MALWARE-MARKER').toString('hex')}\nTail:0:EOF-6:${Buffer.from('ZZTAIL').toString('hex')}\nBroken:0:*:41424\n`);
    await writeFile(join(dir, 'b.hdb'), `${md5}:11:Hash.Md5\n`);
    await writeFile(join(dir, 'c.hsb'), `${sha}:*:Hash.Sha256:73\nnot-a-hash:1:X\n`);
    await writeFile(join(dir, 'd.ldb'), 'Logical;Engine:51-255,Target:0;0;414243\n\nLogical2;Target:0;0;444546\n');
    await writeFile(join(dir, 'e.cvd'), Buffer.from([0, 1, 2, 3]));
    await writeFile(join(dir, 'README.txt'), 'not signatures');
    await mkdir(join(dir, 'sub'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads .ndb/.hdb/.hsb and reports every line it cannot use', async () => {
    const { db, report } = await loadSignatureFolder(dir);
    expect(db.count).toBe(4);
    expect(report.files).toEqual(['a.ndb', 'b.hdb', 'c.hsb'].map((f) => join(dir, f)));
    expect(report.signatures).toEqual({ hdb: 1, hsb: 1, ndb: 2 });
    expect(report.rejected.map((r) => [r.file.slice(dir.length + 1), r.line])).toEqual([
      ['a.ndb', 4], ['c.hsb', 2], ['d.ldb', 1], ['d.ldb', 3], ['e.cvd', 0],
    ]);
    expect(report.rejected[2]!.reason).toMatch(/unsupported signature file type \.ldb \(logical signatures\)/);
    expect(report.ignored).toEqual([join(dir, 'README.txt'), join(dir, 'sub')]);
    const printed = formatLoadProblems(report);
    expect(printed).toContain(`rejected ${join(dir, 'a.ndb')}:4: odd number of hex digits`);
    expect(printed).toContain(`rejected ${join(dir, 'd.ldb')}:3: unsupported signature file type .ldb`);
  });

  it('loads lazily, probes with counts, and detects by body, offset and hash', async () => {
    const a = createEmbeddedAdapter({ signatures: dir, name: 'emb' });
    expect(a.loadReport.files).toEqual([]);
    const p = await a.probe();
    expect(p).toEqual({ available: true, version: 'avbench-embedded 0.1.0', signatures: `EICAR + 4 signatures from ${dir} (5 lines rejected)` });
    expect(a.loadReport.rejected).toHaveLength(5);
    const v = await a.scan(unit(Buffer.from(text), '2:x.txt'), ctx());
    expect(v.status === 'infected' && [...v.detections].sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { name: 'Marker', scanner: 'emb', part: '2:x.txt' },
      { name: 'Tail', scanner: 'emb', part: '2:x.txt' },
    ]);
    expect(await a.scan(unit(Buffer.from(`${text}.`)), ctx())).toMatchObject({ detections: [{ name: 'Marker' }] });
    expect(await a.scan(unit(Buffer.from('hashed unit')), ctx())).toMatchObject({
      detections: [{ name: 'Hash.Md5' }, { name: 'Hash.Sha256' }],
    });
    expect(await a.scan(unit(Buffer.from('hashed unit!')), ctx())).toEqual({ status: 'clean' });
  });

  it('the async factory loads eagerly', async () => {
    const a = await createEmbeddedAdapterAsync({ signatures: dir });
    expect(a.loadReport.signatures.ndb).toBe(2);
  });

  it('an unreadable folder: probe says why, scan says NOT_AVAILABLE, loadSignatureFolder throws', async () => {
    const missing = join(dir, 'no-such-folder');
    await expect(loadSignatureFolder(missing)).rejects.toThrow(/ENOENT/);
    const a = createEmbeddedAdapter({ signatures: missing });
    const p = await a.probe();
    expect(p.available).toBe(false);
    expect(p.reason).toMatch(/cannot read signature folder .*no-such-folder/);
    expect(await a.scan(unit(eicar()), ctx())).toMatchObject({ status: 'error', error: { code: 'NOT_AVAILABLE' } });
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked');
      await mkdir(locked, { mode: 0o000 });
      await expect(loadSignatureFolder(locked)).rejects.toThrow(/EACCES/);
      await chmod(locked, 0o700);
    }
  });
});

describe('deadline and abort during a big scan (between 1 MiB chunks)', () => {
  const big = Buffer.alloc(8 << 20, 0x61);
  it('an abort that lands mid-scan gives ABORTED', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'avbench-emb-'));
    try {
      await writeFile(join(dir, 'x.ndb'), 'X:0:*:7a7a7a7a\n');
      const a = await createEmbeddedAdapterAsync({ signatures: dir });
      const ac = new AbortController();
      setImmediate(() => ac.abort()); // runs at the scan's first yield, after the first chunk
      expect(await a.scan(unit(big), ctx({ signal: ac.signal }))).toMatchObject({ status: 'error', error: { code: 'ABORTED' } });
      // a deadline that passes mid-scan (the clock is moved, not waited for)
      const deadline = Date.now() + 60_000;
      setImmediate(() => vi.spyOn(Date, 'now').mockReturnValue(deadline + 1));
      try {
        expect(await a.scan(unit(big), ctx({ deadline }))).toMatchObject({ status: 'error', error: { code: 'TIMEOUT' } });
      } finally {
        vi.restoreAllMocks();
      }
      expect((await a.scan(unit(big), ctx())).status).toBe('clean');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
