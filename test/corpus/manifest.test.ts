import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatManifest, ManifestError, readManifest, validateManifest } from '../../src/corpus/manifest.js';
import { openCorpus } from '../../src/corpus/read.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-manifest-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectManifestError(content: string, pattern: RegExp, entry?: number): Promise<void> {
  await writeFile(join(dir, 'manifest.json'), content);
  const err = await readManifest(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ManifestError);
  expect((err as Error).message).toMatch(pattern);
  expect((err as ManifestError).entry).toBe(entry);
}

describe('readManifest', () => {
  it('reads a valid manifest, keeps extra fields, defaults category and malformed', async () => {
    await writeFile(join(dir, 'manifest.json'), JSON.stringify([
      { file: 'a.eml', expected: 'infected', category: 'zip', malformed: false, part: '2:x.zip > eicar.com', description: 'd' },
      { file: 'b.eml', expected: 'any' },
    ]));
    expect(await readManifest(dir)).toEqual([
      { file: 'a.eml', expected: 'infected', category: 'zip', malformed: false, part: '2:x.zip > eicar.com', description: 'd' },
      { file: 'b.eml', expected: 'any', category: 'uncategorized', malformed: false },
    ]);
  });

  it('says what is wrong and where', async () => {
    await expectManifestError('[{"file": "a.eml",', /manifest\.json: not valid JSON/);
    await expectManifestError('{"file": "a.eml"}', /expected a JSON array of entries, got an object/);
    await expectManifestError('[{"file":"a.eml","expected":"clean"}, 3]', /entry 2: expected an object, got number 3/, 1);
    await expectManifestError('[{"expected":"clean"}]', /entry 1: "file" must be a non-empty string, got nothing/, 0);
    await expectManifestError('[{"file":"a.eml","expected":"clean"},{"file":"b.eml","expected":"virus"}]', /entry 2 \("b\.eml"\): "expected" must be one of infected, clean, any, got string "virus"/, 1);
    await expectManifestError('[{"file":"a.eml","expected":"clean","malformed":"no"}]', /entry 1 \("a\.eml"\): "malformed" must be true or false, got string "no"/, 0);
    await expectManifestError('[{"file":"a.eml","expected":"clean","category":7}]', /"category" must be a non-empty string, got number 7/, 0);
    await expectManifestError('[{"file":"a.eml","expected":"clean"},{"file":"./a.eml","expected":"any"}]', /entry 2 \("\.\/a\.eml"\): "file" repeats entry 1/, 1);
    await expectManifestError('[{"file":"../etc/passwd","expected":"clean"}]', /"file" must be a path inside the corpus folder/, 0);
    await expectManifestError('[{"file":"/etc/passwd","expected":"clean"}]', /"file" must be a path inside the corpus folder/, 0);
    await expectManifestError('[{"file":"a.eml","expected":"clean","part":5}]', /"part" must be a string when present, got number 5/, 0);
  });

  it('a missing manifest file is a clear error', async () => {
    await expect(readManifest(dir)).rejects.toThrow(/manifest\.json: cannot read/);
  });

  it('openCorpus names the entry whose file is missing', async () => {
    await writeFile(join(dir, 'a.eml'), 'Subject: a\r\n\r\nhi\r\n');
    await writeFile(join(dir, 'manifest.json'), formatManifest([
      { file: 'a.eml', expected: 'clean', category: 'plain', malformed: false },
      { file: 'gone.eml', expected: 'clean', category: 'plain', malformed: false },
    ]));
    await expect(openCorpus(dir)).rejects.toThrow(/entry 2 names "gone\.eml", which is not a file/);
  });

  it('formatManifest round-trips through validateManifest', () => {
    const entries = [
      { file: 'm1.eml', expected: 'clean' as const, category: 'x', malformed: false },
      { file: 'm2.eml', expected: 'infected' as const, category: 'y', malformed: true, family: 'eicar' },
    ];
    const text = formatManifest(entries);
    expect(text.split('\n')).toHaveLength(5); // "[", two entries, "]", ""
    expect(validateManifest(JSON.parse(text))).toEqual(entries);
  });
});
