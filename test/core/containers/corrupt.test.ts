import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LimitExceededError } from '../../../src/core/limits.js';
import { EICAR, budget, expandAll, gzip, locations, partUnit, streamedZip, tar, zip, type Expansion } from './fixtures.js';

/** Offset of the file data of the first local header in a zip. */
function firstDataOffset(archive: Buffer): number {
  return 30 + archive.readUInt16LE(26) + archive.readUInt16LE(28);
}

/** Offset of the n-th central directory header. */
function centralHeader(archive: Buffer, n: number): number {
  let at = -1;
  for (let i = 0; i <= n; i += 1) {
    at = archive.indexOf(Buffer.from('PK\x01\x02', 'latin1'), at + 1);
    if (at < 0) throw new Error(`no central header ${n}`);
  }
  return at;
}

function messages(e: Expansion): string[] {
  for (const p of e.budget.problems) expect(p.code).toBe('UNPARSEABLE');
  return e.budget.problems.map((p) => p.message);
}

describe('corrupt containers: yield what can be read, note the rest, never throw', () => {
  it('a zip cut short (no central directory) yields itself, the members its local headers still hold, and notes why', async () => {
    const text = Buffer.from('a text member that deflates well. '.repeat(300));
    const archive = zip({ 'eicar.com': EICAR, 'b.txt': text }, 6);
    const second = archive.indexOf(Buffer.from('PK\x03\x04', 'latin1'), 4);
    const cut = archive.subarray(0, second + 30 + 'b.txt'.length + 40); // 40 bytes into b.txt's data
    const e = await expandAll(partUnit(cut, '1.2:docs.zip', 'docs.zip'));
    expect(e.error).toBeUndefined();
    expect(e.units[0]?.data).toBe(cut); // the raw bytes still get scanned
    expect(locations(e)).toEqual(['1.2:docs.zip', '1.2:docs.zip > eicar.com', '1.2:docs.zip > b.txt']);
    expect(e.units[1]?.data.equals(EICAR)).toBe(true);
    const partial = e.units[2]?.data ?? Buffer.alloc(0);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(text.length);
    expect(text.subarray(0, partial.length).equals(partial)).toBe(true);
    expect(messages(e)).toEqual([
      expect.stringMatching(/^zip archive at 1\.2:docs\.zip: end of central directory record signature not found/i),
      `zip entry at 1.2:docs.zip > b.txt: declared size ${text.length} but ${partial.length} bytes inflated`,
    ]);
  });

  it('a streamed zip (data descriptors, no sizes up front) without its central directory is still read', async () => {
    const text = Buffer.from('streamed text. '.repeat(500));
    const archive = await streamedZip({ 'eicar.com': EICAR, 'docs/t.txt': text });
    const cut = archive.subarray(0, archive.indexOf(Buffer.from('PK\x01\x02', 'latin1')));
    const e = await expandAll(partUnit(cut, '1:s.zip', 's.zip'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1:s.zip', '1:s.zip > eicar.com', '1:s.zip > docs/t.txt']);
    expect(e.units[1]?.data.equals(EICAR)).toBe(true);
    expect(e.units[2]?.data.equals(text)).toBe(true);
    expect(messages(e)).toEqual([expect.stringMatching(/^zip archive at 1:s\.zip: /)]);
  });

  it('a broken deflate stream in one member is noted, the other members still come', async () => {
    const text = Buffer.from('some text that deflates. '.repeat(400));
    const archive = zip({ 'a.txt': text, 'eicar.com': EICAR }, 6);
    const broken = Buffer.from(archive);
    broken.fill(0xff, firstDataOffset(broken), firstDataOffset(broken) + 16);
    const e = await expandAll(partUnit(broken, '1:x.zip', 'x.zip'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1:x.zip', '1:x.zip > eicar.com']);
    expect(e.units[1]?.data.equals(EICAR)).toBe(true);
    expect(messages(e)).toEqual([expect.stringMatching(/^zip entry at 1:x\.zip > a\.txt: invalid block type/)]);
  });

  it('a broken central directory header stops the walk after the members before it', async () => {
    const archive = zip({ 'eicar.com': EICAR, 'b.txt': Buffer.from('b'), 'c.txt': Buffer.from('c') }, 0);
    const broken = Buffer.from(archive);
    broken.write('XX', centralHeader(broken, 1), 'latin1');
    const e = await expandAll(partUnit(broken, '1:x.zip', 'x.zip'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1:x.zip', '1:x.zip > eicar.com']);
    expect(messages(e)).toEqual([
      expect.stringMatching(/^zip central directory at 1:x\.zip: invalid central directory file header signature/),
    ]);
  });

  it('an encrypted entry cannot be scanned: marked unchecked (ENCRYPTED), not an error; the rest goes on', async () => {
    const archive = zip({ 'secret.txt': Buffer.from('hidden'), 'eicar.com': EICAR }, 0);
    const enc = Buffer.from(archive);
    enc.writeUInt16LE(enc.readUInt16LE(6) | 1, 6); // local header: encrypted
    const cd = centralHeader(enc, 0);
    enc.writeUInt16LE(enc.readUInt16LE(cd + 8) | 1, cd + 8); // central header: encrypted
    const e = await expandAll(partUnit(enc, '1:x.zip', 'x.zip'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1:x.zip', '1:x.zip > eicar.com']);
    expect(messages(e)).toEqual([]);
    expect(e.budget.unchecked).toEqual([{ part: '1:x.zip > secret.txt', reason: 'ENCRYPTED', detail: 'encrypted zip entry (method 0)' }]);
  });

  it('a compression method no decoder knows is marked unchecked (UNSUPPORTED_METHOD)', async () => {
    const archive = Buffer.from(zip({ 'a.bin': Buffer.from('aaaa') }, 0));
    archive.writeUInt16LE(77, 8); // no such method, local header
    archive.writeUInt16LE(77, centralHeader(archive, 0) + 10);
    const e = await expandAll(partUnit(archive, '1:x.zip', 'x.zip'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1:x.zip']);
    expect(e.budget.unchecked.map((u) => [u.part, u.reason])).toEqual([['1:x.zip > a.bin', 'UNSUPPORTED_METHOD']]);
  });

  it('a method only 7-Zip reads (bzip2 here, but the data is not bzip2) is tried by 7-Zip, and what fails is said', async () => {
    const archive = Buffer.from(zip({ 'a.bin': Buffer.from('aaaa') }, 0));
    archive.writeUInt16LE(12, 8); // bzip2, local header
    archive.writeUInt16LE(12, centralHeader(archive, 0) + 10);
    const e = await expandAll(partUnit(archive, '1:x.zip', 'x.zip'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1:x.zip']);
    expect(e.budget.problems.length + e.budget.unchecked.length).toBeGreaterThan(0);
  });

  it('a member whose declared size or CRC lies is still yielded whole, and noted', async () => {
    const archive = Buffer.from(zip({ 'eicar.com': EICAR, 'b.txt': Buffer.from('bbbb') }, 6));
    archive.writeUInt32LE(10, centralHeader(archive, 0) + 24); // "10 bytes"
    const cd1 = centralHeader(archive, 1);
    archive.writeUInt32LE(archive.readUInt32LE(cd1 + 16) ^ 1, cd1 + 16); // wrong CRC-32
    const e = await expandAll(partUnit(archive, '1:x.zip', 'x.zip'));
    expect(e.error).toBeUndefined();
    expect(e.units[1]?.data.equals(EICAR)).toBe(true);
    expect(e.units[2]?.data.toString()).toBe('bbbb');
    expect(messages(e)).toEqual([
      `zip entry at 1:x.zip > eicar.com: declared size 10 but ${EICAR.length} bytes inflated`,
      'zip entry at 1:x.zip > b.txt: CRC-32 mismatch',
    ]);
  });

  it('a truncated gzip yields what inflated before the cut, and notes it', async () => {
    const text = Buffer.from(EICAR.toString('latin1') + ' and then some more text. '.repeat(200), 'latin1');
    const gz = gzip(text);
    const cut = gz.subarray(0, gz.length - 20);
    const e = await expandAll(partUnit(cut, '1:x.com.gz', 'x.com.gz'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1:x.com.gz', '1:x.com.gz > x.com']);
    const partial = e.units[1]?.data ?? Buffer.alloc(0);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(text.length);
    expect(text.subarray(0, partial.length).equals(partial)).toBe(true);
    expect(messages(e)).toEqual(['gzip stream at 1:x.com.gz > x.com: unexpected end of file']);
  });

  it('a gzip with a bad CRC trailer is noted; its bytes are still scanned', async () => {
    const gz = Buffer.from(gzip(EICAR));
    gz.writeUInt32LE(gz.readUInt32LE(gz.length - 8) ^ 0xffff, gz.length - 8);
    const e = await expandAll(partUnit(gz, '1:x.gz', 'x.gz'));
    expect(e.error).toBeUndefined();
    expect(messages(e)).toEqual([expect.stringMatching(/^gzip stream at 1:x\.gz > x: incorrect data check/)]);
    expect(e.units[1]?.data.equals(EICAR)).toBe(true);
  });

  it('a gzip that is only a header is noted, nothing inflated', async () => {
    const e = await expandAll(partUnit(Buffer.from([0x1f, 0x8b, 8, 0]), '1:x.gz', 'x.gz'));
    expect(locations(e)).toEqual(['1:x.gz']);
    expect(messages(e)).toEqual(['gzip stream at 1:x.gz > x: unexpected end of file']);
  });

  it('a tar with a bad header checksum yields the members before it', async () => {
    const archive = Buffer.from(
      await tar([
        { name: 'eicar.com', data: EICAR },
        { name: 'b.txt', data: Buffer.from('b') },
      ]),
    );
    archive[1024] = 0x41; // second header (after 512 header + 512 data) — name byte, checksum now wrong
    const e = await expandAll(partUnit(archive, '1:x.tar', 'x.tar'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1:x.tar', '1:x.tar > eicar.com']);
    expect(messages(e)).toEqual([expect.stringMatching(/^tar archive at 1:x\.tar: Invalid tar header/)]);
  });

  it('a tar cut inside a member yields the partial member, and notes it', async () => {
    const body = Buffer.alloc(3000, 'q');
    const archive = await tar([{ name: 'a.txt', data: body }]);
    const cut = archive.subarray(0, 512 + 1000);
    const e = await expandAll(partUnit(cut, '1:x.tar', 'x.tar'));
    expect(e.error).toBeUndefined();
    expect(locations(e)).toEqual(['1:x.tar', '1:x.tar > a.txt']);
    expect(e.units[1]?.data.equals(body.subarray(0, 1000))).toBe(true);
    expect(messages(e).length).toBeGreaterThan(0);
    expect(messages(e)[0]).toMatch(/^tar (entry|archive) at 1:x\.tar.*Unexpected end of data/);
  });
});

/** Runs per property (raise with AVBENCH_FC_RUNS for a longer soak). */
const RUNS = Number(process.env.AVBENCH_FC_RUNS ?? 300);

/** Expand, failing the property on anything but a LimitExceededError, and on a hang. */
async function expandSafely(data: Buffer, filename: string): Promise<Expansion> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('expansion did not finish within 10 s')), 10_000);
  });
  try {
    const e = await Promise.race([expandAll(partUnit(data, `1:${filename}`, filename), budget()), hang]);
    if (e.error !== undefined && !(e.error instanceof LimitExceededError)) throw e.error;
    expect(e.units[0]?.data).toBe(data);
    for (const p of e.budget.problems) expect(p.code).toBe('UNPARSEABLE');
    return e;
  } finally {
    clearTimeout(timer);
  }
}

/** Arbitrary damage to a buffer: overwritten bytes, then perhaps a cut. */
function mutations(length: number) {
  return fc.record({
    writes: fc.array(fc.tuple(fc.nat({ max: length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
    cut: fc.option(fc.nat({ max: length }), { nil: undefined }),
  });
}

function damage(original: Buffer, m: { writes: [number, number][]; cut: number | undefined }): Buffer {
  const copy = Buffer.from(original);
  for (const [at, byte] of m.writes) copy[at] = byte;
  return m.cut === undefined ? copy : copy.subarray(0, m.cut);
}

describe('property: damaged archives never throw anything but a limit, and always finish', () => {
  it('damaged zips (stored, deflated, nested)', async () => {
    const inner = zip({ 'eicar.com': EICAR, 'n.txt': Buffer.from('note '.repeat(50)) }, 6);
    const original = zip({ 'inner.zip': inner, 'docs/a.txt': Buffer.from('text '.repeat(100)), 'b.bin': EICAR }, 0);
    await fc.assert(
      fc.asyncProperty(mutations(original.length), async (m) => {
        await expandSafely(damage(original, m), 'docs.zip');
      }),
      { numRuns: RUNS },
    );
  });

  it('damaged tar.gz (with a zip inside)', async () => {
    const inner = zip({ 'eicar.com': EICAR }, 6);
    const original = gzip(
      await tar([
        { name: 'dir', type: 'directory' },
        { name: 'dir/inner.zip', data: inner },
        { name: 'dir/t.txt', data: Buffer.from('tar text '.repeat(80)) },
      ]),
      'bundle.tar',
    );
    await fc.assert(
      fc.asyncProperty(mutations(original.length), async (m) => {
        await expandSafely(damage(original, m), 'bundle.tgz');
      }),
      { numRuns: RUNS },
    );
  });

  it('damaged plain tars', async () => {
    const original = await tar([
      { name: 'a.txt', data: Buffer.from('a'.repeat(700)) },
      { name: 'b/eicar.com', data: EICAR },
    ]);
    await fc.assert(
      fc.asyncProperty(mutations(original.length), async (m) => {
        await expandSafely(damage(original, m), 'x.tar');
      }),
      { numRuns: RUNS },
    );
  });

  it('random bytes behind a container magic', async () => {
    const magic = fc.constantFrom(
      Buffer.from('PK\x03\x04', 'latin1'),
      Buffer.from('PK\x05\x06', 'latin1'),
      Buffer.from([0x1f, 0x8b, 8, 0]),
      Buffer.from([0x1f, 0x8b]),
    );
    await fc.assert(
      fc.asyncProperty(magic, fc.uint8Array({ maxLength: 2048 }), async (head, tail) => {
        await expandSafely(Buffer.concat([head, tail]), 'r.bin');
      }),
      { numRuns: RUNS },
    );
  });
});
