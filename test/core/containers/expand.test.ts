import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { detectContainer } from '../../../src/core/containers/expand.js';
import { EICAR, budget, expandAll, gzip, locations, partUnit, tar, zip } from './fixtures.js';

describe('detectContainer', () => {
  it('knows zip, empty zip, gzip and tar by magic bytes, not by name', async () => {
    expect(detectContainer(zip({ 'a.txt': Buffer.from('a') }))).toBe('zip');
    expect(detectContainer(zip({}))).toBe('zip'); // an empty zip is only an end record
    expect(zip({}).subarray(0, 4)).toEqual(Buffer.from('PK\x05\x06', 'latin1'));
    expect(detectContainer(gzip(Buffer.from('hello')))).toBe('gzip');
    expect(detectContainer(await tar([{ name: 'a.txt', data: Buffer.from('a') }]))).toBe('tar');
  });

  it('says undefined for everything else', () => {
    expect(detectContainer(Buffer.alloc(0))).toBeUndefined();
    expect(detectContainer(Buffer.from('PK'))).toBeUndefined();
    expect(detectContainer(Buffer.from('PK\x01\x02rest', 'latin1'))).toBeUndefined();
    expect(detectContainer(Buffer.from([0x1f]))).toBeUndefined();
    expect(detectContainer(EICAR)).toBeUndefined();
    expect(detectContainer(Buffer.alloc(1024))).toBeUndefined();
  });
});

describe('expandUnit: zip', () => {
  it('yields the unit itself, then each member of a stored zip with exact location and bytes', async () => {
    const note = Buffer.from('just a note\n');
    const archive = zip({ 'eicar.com': EICAR, 'readme.txt': note }, 0);
    const parent = partUnit(archive, '1.2:docs.zip', 'docs.zip');
    const e = await expandAll(parent);
    expect(e.error).toBeUndefined();
    expect(e.units[0]).toBe(parent);
    expect(locations(e)).toEqual(['1.2:docs.zip', '1.2:docs.zip > eicar.com', '1.2:docs.zip > readme.txt']);
    expect(e.units[1]).toEqual({
      kind: 'part',
      data: EICAR,
      location: '1.2:docs.zip > eicar.com',
      filename: 'eicar.com',
      contentType: 'application/octet-stream',
      encoding: 'base64',
    });
    expect(e.units[2]?.data.equals(note)).toBe(true);
    expect(e.budget.problems).toEqual([]);
    expect(e.budget.parts).toBe(2);
    expect(e.budget.expandedBytes).toBe(EICAR.length + note.length);
  });

  it('inflates a deflated zip, skips folders and names members by their base name', async () => {
    const text = Buffer.from('line\n'.repeat(5000));
    const archive = zip({ 'docs/': new Uint8Array(0), 'docs/eicar.com': EICAR, 'docs/sub/big.txt': text }, 6);
    expect(archive.length).toBeLessThan(text.length / 10); // really deflated
    const e = await expandAll(partUnit(archive, '1.2:docs.zip', 'docs.zip'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual([
      '1.2:docs.zip',
      '1.2:docs.zip > docs/eicar.com',
      '1.2:docs.zip > docs/sub/big.txt',
    ]);
    expect(e.units.map((u) => u.filename)).toEqual(['docs.zip', 'eicar.com', 'big.txt']);
    expect(e.units[1]?.data.equals(EICAR)).toBe(true);
    expect(e.units[2]?.data.equals(text)).toBe(true);
    expect(e.budget.problems).toEqual([]);
  });

  it('streams members past the small-member fast path, with the same exact bytes', async () => {
    const big = Buffer.from(randomBytes(1536 * 1024).toString('hex')); // 3 MB, deflates ~2:1
    const archive = zip({ 'big.txt': big, 'eicar.com': EICAR }, 6);
    const e = await expandAll(partUnit(archive, '1:big.zip', 'big.zip'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1:big.zip', '1:big.zip > big.txt', '1:big.zip > eicar.com']);
    expect(e.units[1]?.data.equals(big)).toBe(true);
    expect(e.budget.problems).toEqual([]);
    const g = await expandAll(partUnit(gzip(big), '1:big.txt.gz', 'big.txt.gz'));
    expect(g.units[1]?.data.equals(big)).toBe(true);
    expect(g.budget.expandedBytes).toBe(big.length);
    expect(g.budget.problems).toEqual([]);
  });

  it('recurses into nested zips', async () => {
    const inner = zip({ 'eicar.com': EICAR }, 6);
    const outer = zip({ 'inner.zip': inner }, 0);
    const e = await expandAll(partUnit(outer, '1.2:docs.zip', 'docs.zip'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1.2:docs.zip', '1.2:docs.zip > inner.zip', '1.2:docs.zip > inner.zip > eicar.com']);
    expect(e.units[1]?.data.equals(inner)).toBe(true);
    expect(e.units[2]?.data.equals(EICAR)).toBe(true);
    expect(e.units[2]?.filename).toBe('eicar.com');
  });

  it('keeps hostile member names ("../", absolute, backslashes) and still scans them', async () => {
    const archive = zip({ '../../etc/eicar.com': EICAR, '/abs/x.txt': Buffer.from('x') }, 6);
    const e = await expandAll(partUnit(archive, '2:a.zip', 'a.zip'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['2:a.zip', '2:a.zip > ../../etc/eicar.com', '2:a.zip > /abs/x.txt']);
    expect(e.units[1]?.data.equals(EICAR)).toBe(true);
    expect(e.units[1]?.filename).toBe('eicar.com');
  });

  it('expands an empty zip to nothing, without trouble', async () => {
    const e = await expandAll(partUnit(zip({}), '1:empty.zip', 'empty.zip'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1:empty.zip']);
    expect(e.budget.problems).toEqual([]);
  });

  it('does not expand byte-identical containers more than twice per message', async () => {
    const inner = zip({ 'eicar.com': EICAR }, 6);
    const outer = zip({ 'a.zip': inner, 'b.zip': inner, 'c.zip': inner, 'd.zip': inner }, 0);
    const b = budget();
    const e = await expandAll(partUnit(outer, '1:outer.zip', 'outer.zip'), b);
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual([
      '1:outer.zip',
      '1:outer.zip > a.zip',
      '1:outer.zip > a.zip > eicar.com',
      '1:outer.zip > b.zip',
      '1:outer.zip > b.zip > eicar.com',
      '1:outer.zip > c.zip', // yielded (its raw bytes are scanned) but not opened again
      '1:outer.zip > d.zip',
    ]);
    // The same budget is one message: a second attachment with the same zip is not reopened.
    const again = await expandAll(partUnit(inner, '2:inner.zip', 'inner.zip'), b);
    expect(locations(again)).toEqual(['2:inner.zip']);
    // A different message starts afresh.
    expect(locations(await expandAll(partUnit(inner, '2:inner.zip', 'inner.zip')))).toEqual([
      '2:inner.zip',
      '2:inner.zip > eicar.com',
    ]);
  });

  it('leaves units that are not containers alone', async () => {
    const unit = partUnit(EICAR, '1:eicar.com', 'eicar.com');
    const e = await expandAll(unit);
    expect(e.units).toEqual([unit]);
    expect(e.budget.parts).toBe(0);
  });
});

describe('expandUnit: gzip', () => {
  it('names the member from the gzip header when it carries one', async () => {
    const e = await expandAll(partUnit(gzip(EICAR, 'original.com'), '1.3:x.gz', 'x.gz'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1.3:x.gz', '1.3:x.gz > original.com']);
    expect(e.units[1]?.data.equals(EICAR)).toBe(true);
    expect(e.units[1]?.filename).toBe('original.com');
    expect(e.budget.problems).toEqual([]);
  });

  it('else from the file name: ".gz" dropped, ".tgz" turned into ".tar", else "gunzip"', async () => {
    const gz = gzip(EICAR);
    expect(locations(await expandAll(partUnit(gz, '1:report.com.gz', 'report.com.gz')))).toEqual([
      '1:report.com.gz',
      '1:report.com.gz > report.com',
    ]);
    expect(locations(await expandAll(partUnit(gz, '1:a.TGZ', 'a.TGZ')))).toEqual(['1:a.TGZ', '1:a.TGZ > a.tar']);
    expect(locations(await expandAll(partUnit(gz, '1', undefined)))).toEqual(['1', '1 > gunzip']);
    expect(locations(await expandAll(partUnit(gz, '1:blob.bin', 'blob.bin')))).toEqual(['1:blob.bin', '1:blob.bin > gunzip']);
  });

  it('inflates concatenated gzip members as one stream, like gunzip', async () => {
    const e = await expandAll(partUnit(Buffer.concat([gzip(Buffer.from('one ')), gzip(Buffer.from('two'))]), '1:x.gz', 'x.gz'));
    expect(e.units[1]?.data.toString()).toBe('one two');
    expect(e.budget.problems).toEqual([]);
  });
});

describe('expandUnit: tar and tar.gz', () => {
  it('yields the regular files of a tar, skipping folders and links', async () => {
    const archive = await tar([
      { name: 'dir', type: 'directory' },
      { name: 'dir/eicar.com', data: EICAR },
      { name: 'dir/link', type: 'symlink', linkname: 'eicar.com' },
      { name: 'empty.txt', data: Buffer.alloc(0) },
      { name: 'notes.txt', data: Buffer.from('hello\n') },
    ]);
    const e = await expandAll(partUnit(archive, '1.2:b.tar', 'b.tar'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1.2:b.tar', '1.2:b.tar > dir/eicar.com', '1.2:b.tar > empty.txt', '1.2:b.tar > notes.txt']);
    expect(e.units[1]?.data.equals(EICAR)).toBe(true);
    expect(e.units[2]?.data.length).toBe(0);
    expect(e.units[3]?.data.toString()).toBe('hello\n');
    expect(e.budget.problems).toEqual([]);
  });

  it('opens a tar.gz as gzip then tar', async () => {
    const tgz = gzip(await tar([{ name: 'dir/eicar.com', data: EICAR }]));
    const e = await expandAll(partUnit(tgz, '1.2:bundle.tgz', 'bundle.tgz'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1.2:bundle.tgz', '1.2:bundle.tgz > bundle.tar', '1.2:bundle.tgz > bundle.tar > dir/eicar.com']);
    expect(e.units[2]?.data.equals(EICAR)).toBe(true);
  });

  it('goes all the way down: a zip in a tar.gz in a zip', async () => {
    const inner = zip({ 'eicar.com': EICAR }, 6);
    const tgz = gzip(await tar([{ name: 'pkg/inner.zip', data: inner }]), 'pkg.tar');
    const outer = zip({ 'pkg.tar.gz': tgz }, 6);
    const e = await expandAll(partUnit(outer, '1.2:docs.zip', 'docs.zip'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual([
      '1.2:docs.zip',
      '1.2:docs.zip > pkg.tar.gz',
      '1.2:docs.zip > pkg.tar.gz > pkg.tar',
      '1.2:docs.zip > pkg.tar.gz > pkg.tar > pkg/inner.zip',
      '1.2:docs.zip > pkg.tar.gz > pkg.tar > pkg/inner.zip > eicar.com',
    ]);
    expect(e.units[4]?.data.equals(EICAR)).toBe(true);
    expect(e.units.every((u, i) => i === 0 || u.kind === 'part')).toBe(true);
  });
});
