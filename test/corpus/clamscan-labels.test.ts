/**
 * The corpus labels checked by a real scanner: clamscan with two signatures of our own —
 * EICAR matched anywhere (.ndb offset `*`) and clam.exe's md5 (.hdb) — must find every
 * message labelled infected and none labelled clean (clean means: the full string in no
 * decoded form, so even an anywhere-matching scanner sees nothing).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { eicar } from '../../src/corpus/eicar.js';
import { DEFAULT_TESTFILES_DIR, generateCorpus } from '../../src/corpus/generate.js';
import { readManifest, type ManifestEntry } from '../../src/corpus/manifest.js';
import { describeReal } from '../helpers/real.js';

await describeReal('corpus labels against real clamscan', ['clamscan'], () => {
  let root: string;
  let corpus: string;
  let db: string;
  let manifest: ManifestEntry[];
  const found = new Map<string, string>();

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'avbench-labels-'));
    corpus = join(root, 'corpus');
    db = join(root, 'db');
    await generateCorpus({ out: corpus, seed: 11, profile: 'quick' });
    manifest = await readManifest(corpus);
    await mkdir(db, { mode: 0o700 });
    await writeFile(join(db, 'eicar.ndb'), `Eicar-Anywhere:0:*:${eicar().toString('hex')}\n`, { mode: 0o600 });
    await writeFile(join(db, 'clam.hdb'), 'aa15bcf478d165efd2065190eb473bcb:544:ClamAV-Test-File\n', { mode: 0o600 });
    const r = await run('clamscan', ['-d', db, '--no-summary', '--infected', ...manifest.map((e) => join(corpus, e.file))], { deadline: Date.now() + 120_000 });
    if (!r.ok) throw new Error(`clamscan did not run: ${r.message}\n${r.stderr}`);
    expect(r.exitCode, r.stderr).toBe(1); // 1: something found, 2 would be an error
    for (const line of r.stdout.split('\n')) {
      const m = /^(.*): (\S+) FOUND$/.exec(line);
      if (m) found.set(m[1] as string, m[2] as string);
    }
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('finds every message labelled infected', () => {
    const missed = manifest.filter((e) => e.expected === 'infected' && !found.has(join(corpus, e.file))).map((e) => `${e.file} ${e.category}/${e.variant ?? ''}`);
    expect(missed).toEqual([]);
    const eicarHits = manifest.filter((e) => e.family === 'eicar' && e.expected === 'infected').map((e) => found.get(join(corpus, e.file)));
    expect(new Set(eicarHits)).toEqual(new Set(['Eicar-Anywhere.UNOFFICIAL']));
    if (existsSync(DEFAULT_TESTFILES_DIR)) {
      const tf = manifest.filter((e) => e.category === 'clamav-testfiles').map((e) => found.get(join(corpus, e.file)));
      expect(tf.length).toBeGreaterThan(0);
      expect(new Set(tf)).toEqual(new Set(['ClamAV-Test-File.UNOFFICIAL']));
    }
  });

  it('flags no message labelled clean', () => {
    const flagged = manifest.filter((e) => e.expected === 'clean' && found.has(join(corpus, e.file))).map((e) => `${e.file} ${e.category}/${e.variant ?? ''}`);
    expect(flagged).toEqual([]);
  });

  it('does see the embedded near misses, which is why they are labelled any', () => {
    const embedded = manifest.filter((e) => e.category === 'near-miss-embedded');
    expect(embedded.length).toBeGreaterThan(0);
    for (const e of embedded) expect(found.has(join(corpus, e.file)), e.file).toBe(true);
  });
});
