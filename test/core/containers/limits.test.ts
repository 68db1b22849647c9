import { beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, Budget, LimitExceededError, resolveLimits, type LimitName } from '../../../src/core/limits.js';
import { EICAR, budget, expandAll, gzip, locations, partUnit, tar, zeroGzip, zeroZip, zip, type Expansion } from './fixtures.js';

const MB = 1024 * 1024;

/** Assert the expansion stopped on `limit`, and that the message says so. */
function expectLimit(e: Expansion, limit: LimitName): LimitExceededError {
  expect(e.error).toBeInstanceOf(LimitExceededError);
  const err = e.error as LimitExceededError;
  expect(err.limit).toBe(limit);
  expect(err.message).toContain(`limit ${limit} exceeded`);
  return err;
}

/**
 * Run an expansion while sampling memory (between stream chunks the event loop turns, so
 * the interval sees the peak). Reports the peak growth of Buffer memory and of RSS.
 */
async function withMemory(run: () => Promise<Expansion>): Promise<{ e: Expansion; buffersMB: number; rssMB: number }> {
  const base = process.memoryUsage();
  let peakBuffers = base.arrayBuffers;
  let peakRss = base.rss;
  const sample = (): void => {
    const m = process.memoryUsage();
    peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
    peakRss = Math.max(peakRss, m.rss);
  };
  const timer = setInterval(sample, 1);
  try {
    const e = await run();
    sample();
    return { e, buffersMB: (peakBuffers - base.arrayBuffers) / MB, rssMB: (peakRss - base.rss) / MB };
  } finally {
    clearInterval(timer);
  }
}

/** Nest `eicar.com` in `levels` zips: level1.zip > level2.zip > ... */
function nestedZips(levels: number): Buffer {
  let data = zip({ 'eicar.com': EICAR }, 6);
  for (let level = levels - 1; level >= 1; level -= 1) data = zip({ [`level${level + 1}.zip`]: data }, 6);
  return data;
}

describe('limits, each naming itself', () => {
  it('maxDepth: nesting past the limit stops, after yielding what was within it', async () => {
    // level1.zip is at depth 1; level2.zip at 2, level3.zip at 3, level4.zip at 4, eicar.com at 5.
    const archive = nestedZips(4);
    const ok = await expandAll(partUnit(archive, '1:level1.zip', 'level1.zip'), budget({ maxDepth: 5 }), 1);
    expect(ok.error).toBeUndefined();
    expect(ok.units).toHaveLength(5);
    expect(ok.units[4]?.location).toBe('1:level1.zip > level2.zip > level3.zip > level4.zip > eicar.com');

    const e = await expandAll(partUnit(archive, '1:level1.zip', 'level1.zip'), budget({ maxDepth: 4 }), 1);
    const err = expectLimit(e, 'maxDepth');
    expect(err.value).toBe(5);
    expect(err.where).toBe('1:level1.zip > level2.zip > level3.zip > level4.zip');
    expect(locations(e)).toEqual([
      '1:level1.zip',
      '1:level1.zip > level2.zip',
      '1:level1.zip > level2.zip > level3.zip',
      '1:level1.zip > level2.zip > level3.zip > level4.zip',
    ]);
  });

  it('maxArchiveEntries: a zip is refused on its central directory count', async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 6; i += 1) files[`f${i}.txt`] = Buffer.from(`file ${i}`);
    const e = await expandAll(partUnit(zip(files), '1:many.zip', 'many.zip'), budget({ maxArchiveEntries: 5 }));
    const err = expectLimit(e, 'maxArchiveEntries');
    expect(err.value).toBe(6);
    expect(locations(e)).toEqual(['1:many.zip']);
    expect((await expandAll(partUnit(zip(files), '1:many.zip'), budget({ maxArchiveEntries: 6 }))).units).toHaveLength(7);
  });

  it('maxArchiveEntries: a tar is counted as it is read', async () => {
    const entries = Array.from({ length: 6 }, (_, i) => ({ name: `f${i}.txt`, data: Buffer.from(`file ${i}`) }));
    const e = await expandAll(partUnit(await tar(entries), '1:many.tar', 'many.tar'), budget({ maxArchiveEntries: 5 }));
    expectLimit(e, 'maxArchiveEntries');
    expect(locations(e)).toHaveLength(6); // the tar + 5 members before the 6th header
  });

  it('maxParts counts members across the whole message', async () => {
    const b = budget({ maxParts: 3 });
    b.addPart('1'); // the MIME walker's own part
    const e = await expandAll(partUnit(zip({ 'a.txt': Buffer.from('a'), 'b.txt': Buffer.from('b'), 'c.txt': Buffer.from('c') }), '1:x.zip'), b);
    const err = expectLimit(e, 'maxParts');
    expect(err.where).toBe('1:x.zip > c.txt');
    expect(locations(e)).toEqual(['1:x.zip', '1:x.zip > a.txt', '1:x.zip > b.txt']);
  });

  it('maxExpandedBytes counts every member byte, zip, gzip and tar alike', async () => {
    const big = Buffer.alloc(4000, 'a');
    const z = await expandAll(partUnit(zip({ 'a.txt': big, 'b.txt': big }), '1:x.zip'), budget({ maxExpandedBytes: 6000 }));
    expectLimit(z, 'maxExpandedBytes');
    expect(locations(z)).toEqual(['1:x.zip', '1:x.zip > a.txt']);
    expectLimit(await expandAll(partUnit(gzip(Buffer.concat([big, big])), '1:x.gz'), budget({ maxExpandedBytes: 6000 })), 'maxExpandedBytes');
    const t = await tar([{ name: 'a', data: big }, { name: 'b', data: big }]);
    expectLimit(await expandAll(partUnit(t, '1:x.tar'), budget({ maxExpandedBytes: 6000 })), 'maxExpandedBytes');
  });

  it('maxCompressionRatio, checked once a member passes ratioCheckMinBytes', async () => {
    const zeros = Buffer.alloc(256 * 1024);
    const limits = { maxCompressionRatio: 50, ratioCheckMinBytes: 64 * 1024 };
    const e = await expandAll(partUnit(zip({ 'z.bin': zeros }), '1:z.zip'), budget(limits));
    const err = expectLimit(e, 'maxCompressionRatio');
    expect(err.where).toBe('1:z.zip > z.bin');
    expectLimit(await expandAll(partUnit(gzip(zeros), '1:z.gz'), budget(limits)), 'maxCompressionRatio');
    // Below ratioCheckMinBytes the ratio is not held against a member.
    const small = await expandAll(partUnit(zip({ 'z.bin': Buffer.alloc(32 * 1024) }), '1:z.zip'), budget(limits));
    expect(small.error).toBeUndefined();
  });

  it('timeoutMs and the caller abort stop the walk', async () => {
    const archive = zip({ 'a.txt': Buffer.from('a') });
    const late = new Budget(resolveLimits({ timeoutMs: 1000 }), undefined, Date.now() - 5000);
    expectLimit(await expandAll(partUnit(archive, '1:x.zip'), late), 'timeoutMs');
    const controller = new AbortController();
    controller.abort();
    const aborted = await expandAll(partUnit(archive, '1:x.zip'), new Budget(resolveLimits({}), controller.signal));
    expect(aborted.error).toBeInstanceOf(AbortedError);
    expect(locations(aborted)).toEqual(['1:x.zip']);
  });
});

describe('bombs are cut off without being held', () => {
  let zipBomb: Buffer;
  beforeAll(async () => {
    zipBomb = await zeroZip(200);
  });

  it('a 200 MB zip of zeros stops on maxCompressionRatio (defaults) from its declared sizes', async () => {
    const bomb = zipBomb;
    expect(bomb.length).toBeLessThan(1 * MB);
    const { e, buffersMB, rssMB } = await withMemory(() => expandAll(partUnit(bomb, '1:bomb.zip', 'bomb.zip')));
    const err = expectLimit(e, 'maxCompressionRatio');
    expect(err.where).toBe('1:bomb.zip > zeros.bin');
    expect(locations(e)).toEqual(['1:bomb.zip']);
    expect(e.budget.expandedBytes).toBe(0); // refused before inflating anything
    expect(buffersMB).toBeLessThan(16);
    expect(rssMB).toBeLessThan(64);
  });

  it('the same bomb with a lying central directory is stopped while streaming', async () => {
    const liar = Buffer.from(zipBomb);
    const cd = liar.indexOf(Buffer.from('PK\x01\x02', 'latin1'));
    expect(cd).toBeGreaterThan(0);
    liar.writeUInt32LE(1000, cd + 24); // uncompressed size: "1000 bytes"
    const { e, buffersMB } = await withMemory(() => expandAll(partUnit(liar, '1:bomb.zip', 'bomb.zip')));
    const err = expectLimit(e, 'maxCompressionRatio');
    // The running check uses the member's whole compressed size, so it never trips before
    // the final ratio would: here after 250 × ~200 KB ≈ 50 MB, far from 200 MB.
    expect(e.budget.expandedBytes).toBeLessThan(250 * zipBomb.length + MB);
    expect(err.where).toBe('1:bomb.zip > zeros.bin');
    expect(buffersMB).toBeLessThan(100);
  });

  it('the same bomb cut before its central directory is stopped while streaming from local headers', async () => {
    const cut = zipBomb.subarray(0, zipBomb.indexOf(Buffer.from('PK\x01\x02', 'latin1')));
    const { e, buffersMB } = await withMemory(() => expandAll(partUnit(cut, '1:bomb.zip', 'bomb.zip')));
    const err = expectLimit(e, 'maxCompressionRatio');
    expect(err.where).toBe('1:bomb.zip > zeros.bin');
    expect(e.budget.expandedBytes).toBeLessThan(250 * zipBomb.length + MB);
    expect(buffersMB).toBeLessThan(100);
  });

  it('a 200 MB zip of zeros with the ratio check out of the way stops on maxExpandedBytes', async () => {
    const bomb = zipBomb;
    const b = budget({ maxCompressionRatio: 1e9, maxExpandedBytes: 16 * MB });
    const { e, buffersMB, rssMB } = await withMemory(() => expandAll(partUnit(bomb, '1:bomb.zip', 'bomb.zip'), b));
    const err = expectLimit(e, 'maxExpandedBytes');
    expect(err.value).toBeLessThanOrEqual(17 * MB); // stopped within one (at most 1 MB) chunk of the limit
    expect(buffersMB).toBeLessThan(48);
    expect(rssMB).toBeLessThan(100);
  });

  it('a 200 MB gzip of zeros stops on maxCompressionRatio, or on maxExpandedBytes, memory stays low', async () => {
    const bomb = await zeroGzip(200);
    expect(bomb.length).toBeLessThan(1 * MB);
    const first = await withMemory(() => expandAll(partUnit(bomb, '1:bomb.gz', 'bomb.gz')));
    expectLimit(first.e, 'maxCompressionRatio');
    // A gzip has no trustworthy size up front: stopped once 250 × its size (≈ 50 MB) inflated.
    expect(first.e.budget.expandedBytes).toBeLessThan(250 * bomb.length + MB);
    expect(first.buffersMB).toBeLessThan(100);
    const b = budget({ maxCompressionRatio: 1e9, maxExpandedBytes: 16 * MB });
    const second = await withMemory(() => expandAll(partUnit(bomb, '1:bomb.gz', 'bomb.gz'), b));
    expectLimit(second.e, 'maxExpandedBytes');
    expect(second.buffersMB).toBeLessThan(48);
    expect(second.rssMB).toBeLessThan(100);
  });

  describe('a 42.zip-style nested bomb (16 copies per level, 3 levels, 8 MB of zeros at the bottom: 32 GB)', () => {
    async function bomb42(): Promise<Buffer> {
      let level = await zeroZip(8, 'zeros.bin');
      for (let depth = 3; depth >= 1; depth -= 1) {
        const copies: Record<string, Buffer> = {};
        for (let i = 0; i < 16; i += 1) copies[`l${depth}-${i.toString(16)}.zip`] = level;
        level = zip(copies, 6);
      }
      return level;
    }

    it('stops on maxCompressionRatio with the defaults', async () => {
      const archive = await bomb42();
      expect(archive.length).toBeLessThan(64 * 1024);
      const { e, buffersMB } = await withMemory(() => expandAll(partUnit(archive, '1:42.zip', '42.zip')));
      const err = expectLimit(e, 'maxCompressionRatio');
      expect(err.where).toBe('1:42.zip > l1-0.zip > l2-0.zip > l3-0.zip > zeros.bin');
      expect(buffersMB).toBeLessThan(32);
    });

    it('without the ratio check, identical copies are not reopened, so it ends small', async () => {
      const archive = await bomb42();
      const b = budget({ maxCompressionRatio: 1e9 });
      const { e, buffersMB } = await withMemory(() => expandAll(partUnit(archive, '1:42.zip', '42.zip'), b));
      expect(e.error).toBeUndefined();
      // Each distinct container is opened at most twice: 2 × 8 MB of zeros in all.
      expect(e.units.filter((u) => u.filename === 'zeros.bin')).toHaveLength(2);
      expect(e.budget.expandedBytes).toBeLessThan(20 * MB);
      expect(buffersMB).toBeLessThan(64);
    });

    it('and with a tight byte budget it stops on maxExpandedBytes', async () => {
      const archive = await bomb42();
      const b = budget({ maxCompressionRatio: 1e9, maxExpandedBytes: 4 * MB });
      expectLimit(await expandAll(partUnit(archive, '1:42.zip', '42.zip'), b), 'maxExpandedBytes');
    });
  });
});
