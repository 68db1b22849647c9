/**
 * The loader of the lean `avbench deliver` bundle (src/cli/lean.cts) on small handmade bundles:
 * code cache accepted / stale / rejected / absent, the bundle's import() of a package, and
 * the fallbacks of leanDeliver (no bundle, AVBENCH_LEAN=0, a bundle that fails to load).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_SUFFIX, codeCacheOf, leanDeliver, loadLeanBundle } from '../../src/cli/lean.cjs';

/** A bundle as the build writes it: the id line (SHA-256 of the rest), then strict CommonJS. */
function bundleText(body: string): string {
  const code = `"use strict";${body}`;
  return `/*avbench-lean:${createHash('sha256').update(code).digest('hex')}*/\n${code}`;
}

const BODY = `
exports.deliverMain = async (argv) => {
  if (argv[0] === 'import') return (await __avbenchImport('node:path')).join('a', 'b') === 'a/b' ? 0 : 1;
  if (argv[0] === 'strict') { try { undeclared = 1; return 1; } catch { return 0; } }
  return argv.length === 0 ? undefined : Number(argv[0]);
};`;

describe('lean bundle loader', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-lean-loader-'));
    file = join(dir, 'deliver.cjs');
    await writeFile(file, bundleText(BODY));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the bundle strict, with require, module and the loader’s import()', async () => {
    const b = loadLeanBundle(file);
    expect(b.cache).toBe('none');
    expect(await b.exports.deliverMain(['7'])).toBe(7);
    expect(await b.exports.deliverMain([])).toBeUndefined();
    expect(await b.exports.deliverMain(['strict'])).toBe(0);
    expect(await b.exports.deliverMain(['import'])).toBe(0);
  });

  it('uses a code cache made for this bundle, refuses one made for another or corrupted', async () => {
    const made = loadLeanBundle(file, { useCache: false });
    await made.exports.deliverMain(['1']);
    const cache = codeCacheOf(made);
    await writeFile(file + CACHE_SUFFIX, cache);
    const b = loadLeanBundle(file);
    expect(b.cache).toBe('accepted');
    expect(await b.exports.deliverMain(['3'])).toBe(3);

    // Another bundle (same length even): its digest differs, the cache is not offered to V8.
    const other = join(dir, 'other.cjs');
    await writeFile(other, bundleText(BODY.replace('argv.length === 0', 'argv.length === 9')));
    await writeFile(other + CACHE_SUFFIX, cache);
    expect(loadLeanBundle(other).cache).toBe('stale');
    expect(await loadLeanBundle(other).exports.deliverMain(['4'])).toBe(4);

    // The right digest but damaged data: V8 rejects it and compiles the source. (A copy under
    // another name: V8 would reuse this process's compilation of `file` without asking the cache.)
    const damaged = Buffer.from(cache);
    for (let i = 40; i < damaged.length; i += 7) damaged[i] = damaged[i]! ^ 0xff;
    const copy = join(dir, 'copy.cjs');
    await writeFile(copy, bundleText(BODY));
    await writeFile(copy + CACHE_SUFFIX, damaged);
    const r = loadLeanBundle(copy);
    expect(r.cache).toBe('rejected');
    expect(await r.exports.deliverMain(['5'])).toBe(5);

    // No id line: no cache is used at all.
    const plain = join(dir, 'plain.cjs');
    await writeFile(plain, `"use strict";${BODY}`);
    await writeFile(plain + CACHE_SUFFIX, cache);
    expect(loadLeanBundle(plain).cache).toBe('none');
  });

  it('leanDeliver: undefined (the full CLI runs) without a bundle, with AVBENCH_LEAN=0, or when it fails to load', async () => {
    expect(await leanDeliver(['-s', 'embedded', '--', 'cat'], join(dir, 'missing.cjs'))).toBeUndefined();
    const broken = join(dir, 'broken.cjs');
    await writeFile(broken, bundleText('throw new Error("boom");'));
    expect(await leanDeliver(['-s', 'embedded', '--', 'cat'], broken)).toBeUndefined();
    const noExport = join(dir, 'noexport.cjs');
    await writeFile(noExport, bundleText('exports.other = 1;'));
    expect(await leanDeliver(['-s', 'embedded', '--', 'cat'], noExport)).toBeUndefined();
    process.env['AVBENCH_LEAN'] = '0';
    try {
      expect(await leanDeliver(['9'], file)).toBeUndefined();
    } finally {
      delete process.env['AVBENCH_LEAN'];
    }
  });
});
