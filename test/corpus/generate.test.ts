import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eicar } from '../../src/corpus/eicar.js';
import { categories, DEFAULT_TESTFILES_DIR, generateCorpus, type GenerateResult } from '../../src/corpus/generate.js';
import { readManifest, type ManifestEntry } from '../../src/corpus/manifest.js';

const HAVE_TESTFILES = existsSync(DEFAULT_TESTFILES_DIR);
const ALLOWED_KEYS = new Set(['file', 'expected', 'category', 'malformed', 'description', 'family', 'encoding', 'part', 'variant']);

let root: string;
let a: string;
let resultA: GenerateResult;
let manifest: ManifestEntry[];
const progress: Array<[number, number]> = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'avbench-gen-'));
  a = join(root, 'a');
  resultA = await generateCorpus({ out: a, seed: 1, profile: 'quick', onProgress: (d, t) => progress.push([d, t]) });
  manifest = await readManifest(a);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const m = new Map<string, Buffer>();
  for (const n of (await readdir(dir)).sort()) m.set(n, await readFile(join(dir, n)));
  return m;
}

describe('generateCorpus quick', () => {
  it('is deterministic: same seed, byte-identical files and manifest', async () => {
    const b = join(root, 'b');
    const rb = await generateCorpus({ out: b, seed: 1, profile: 'quick' });
    expect(rb.messages).toBe(resultA.messages);
    const [sa, sb] = [await snapshot(a), await snapshot(b)];
    expect([...sb.keys()]).toEqual([...sa.keys()]);
    for (const [name, data] of sa) expect(sb.get(name)?.equals(data), name).toBe(true);
  });

  it('a different seed gives a different corpus of the same shape', async () => {
    const c = join(root, 'c');
    const rc = await generateCorpus({ out: c, seed: 2, profile: 'quick' });
    expect(rc.byCategory).toEqual(resultA.byCategory);
    const [sa, sc] = [await snapshot(a), await snapshot(c)];
    expect(sc.get('manifest.json')?.equals(sa.get('manifest.json') as Buffer)).toBe(false);
    let differing = 0;
    for (const [name, data] of sa) if (name.endsWith('.eml') && data.length > 0 && !sc.get(name)?.equals(data)) differing++;
    expect(differing).toBeGreaterThan(resultA.messages * 0.9);
  });

  it('stays within the quick limits and covers every category', () => {
    expect(resultA.messages).toBeGreaterThanOrEqual(150);
    expect(resultA.messages).toBeLessThanOrEqual(200);
    expect(resultA.bytes).toBeLessThan(12 * 1024 * 1024);
    for (const cat of categories()) {
      if (cat.family === 'clamav-testfiles' && !HAVE_TESTFILES) continue;
      expect(resultA.byCategory[cat.category], cat.category).toBeGreaterThanOrEqual(1);
    }
    const sum = Object.values(resultA.byCategory).reduce((x, y) => x + y, 0);
    expect(sum).toBe(resultA.messages);
  });

  it('reports progress once per message', () => {
    expect(progress).toHaveLength(resultA.messages);
    expect(progress.at(-1)).toEqual([resultA.messages, resultA.messages]);
  });

  it('writes a manifest of the contract shape, one entry per file', async () => {
    expect(manifest).toHaveLength(resultA.messages);
    const emls = (await readdir(a)).filter((n) => n.endsWith('.eml')).sort();
    expect(manifest.map((e) => e.file).sort()).toEqual(emls);
    expect(manifest[0]?.file).toBe('m0001.eml');
    const raw = JSON.parse(await readFile(join(a, 'manifest.json'), 'utf8')) as Array<Record<string, unknown>>;
    for (const e of raw) {
      for (const k of Object.keys(e)) expect(ALLOWED_KEYS.has(k), k).toBe(true);
      expect(Object.keys(e).slice(0, 4)).toEqual(['file', 'expected', 'category', 'malformed']);
    }
    let bytes = 0;
    for (const e of manifest) bytes += (await readFile(join(a, e.file))).length;
    expect(bytes).toBe(resultA.bytes);
    const labels = new Set(manifest.map((e) => e.expected));
    expect(labels).toEqual(new Set(['infected', 'clean', 'any']));
    // a category has exactly one label
    const byCat = new Map<string, Set<string>>();
    for (const e of manifest) byCat.set(e.category, (byCat.get(e.category) ?? new Set()).add(`${e.expected}/${e.malformed}`));
    for (const [cat, set] of byCat) expect(set.size, cat).toBe(1);
  });

  it('malformed messages are labelled any, except a clearly infected unclosed boundary', () => {
    for (const e of manifest.filter((x) => x.malformed)) {
      expect(e.expected, `${e.file} ${e.category}`).toBe(e.category === 'unclosed-final' ? 'infected' : 'any');
    }
  });

  it('no clean message holds the EICAR string in its raw bytes', async () => {
    const needle = eicar();
    for (const e of manifest.filter((x) => x.expected === 'clean')) expect((await readFile(join(a, e.file))).includes(needle), e.file).toBe(false);
  });

  it('the malformed inputs are what they claim', async () => {
    const read = (cat: string): Promise<Buffer[]> => Promise.all(manifest.filter((e) => e.category === cat).map((e) => readFile(join(a, e.file))));
    expect((await read('empty')).every((b) => b.length === 0)).toBe(true);
    const long = (await read('long-line'))[0] as Buffer;
    const lines = long.toString('latin1').split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeGreaterThanOrEqual(2 * 1024 * 1024 - 10);
    const deep = (await read('deep-nesting'))[0] as Buffer;
    expect(deep.toString('latin1').match(/^Content-Type: multipart\/mixed/gm)?.length).toBeGreaterThanOrEqual(200);
    for (const b of await read('nul-header')) expect(b.subarray(0, b.indexOf('\r\n\r\n')).includes(0)).toBe(true);
    const many = (await read('many-parts'))[0] as Buffer;
    expect(many.toString('latin1').match(/^Content-Type: /gm)?.length).toBeGreaterThan(100);
  });

  it('mailparser finds EICAR as one whole attachment, named as the manifest says', async () => {
    const e68 = eicar();
    const cats = ['base64', 'qp', '7bit', '8bit', 'binary', 'encoding-case', 'filename', 'lf-only', 'headers', 'nested-multipart', 'unclosed-final'];
    const checked = new Set<string>();
    for (const e of manifest.filter((x) => cats.includes(x.category))) {
      const parsed = await simpleParser(await readFile(join(a, e.file)));
      const hits = parsed.attachments.filter((att) => att.content.subarray(0, 68).equals(e68));
      expect(hits, `${e.file} ${e.category} ${e.variant ?? ''}`).toHaveLength(1);
      const hit = hits[0]!;
      expect(hit.content.length).toBeLessThanOrEqual(128);
      expect(/^\s*$/.test(hit.content.subarray(68).toString('latin1'))).toBe(true);
      expect(e.part?.endsWith(`:${hit.filename ?? ''}`), `${e.file}: ${e.part} vs ${hit.filename}`).toBe(true);
      checked.add(e.category);
    }
    expect([...checked].sort()).toEqual([...cats].sort());
  });

  it('near misses never hold the whole string once decoded', async () => {
    const e68 = eicar();
    for (const e of manifest.filter((x) => x.category === 'near-miss' && x.encoding !== undefined && !x.part?.includes('.zip'))) {
      const parsed = await simpleParser(await readFile(join(a, e.file)));
      expect(parsed.attachments.length).toBe(1);
      const content = parsed.attachments[0]!.content;
      expect(content.includes(e68), e.file).toBe(false);
      expect(content.length).toBeGreaterThanOrEqual(67);
    }
  });

  it('skips clamav-testfiles when the folder is absent, and says so', async () => {
    const d = join(root, 'no-testfiles');
    const r = await generateCorpus({ out: d, seed: 1, profile: 'quick', testfilesDir: join(root, 'does-not-exist') });
    expect(r.byCategory['clamav-testfiles']).toBeUndefined();
    expect(r.notes.join('\n')).toMatch(/clamav-testfiles family skipped/);
    if (HAVE_TESTFILES) expect(r.messages).toBe(resultA.messages - (resultA.byCategory['clamav-testfiles'] ?? 0));
  });

  it('refuses a non-empty folder that is not a corpus, rewrites one that is', async () => {
    const d = join(root, 'occupied');
    await mkdir(d);
    await writeFile(join(d, 'thesis.txt'), 'precious');
    await expect(generateCorpus({ out: d })).rejects.toThrow(/not empty and holds no manifest\.json/);
    expect(await readFile(join(d, 'thesis.txt'), 'utf8')).toBe('precious');

    const again = join(root, 'again');
    await generateCorpus({ out: again, seed: 1 });
    await writeFile(join(again, 'manifest.json'), '[{"file":"m9999.eml","expected":"clean"}]');
    await writeFile(join(again, 'm9999.eml'), 'stale');
    const r = await generateCorpus({ out: again, seed: 1 });
    const names = await readdir(again);
    expect(names).not.toContain('m9999.eml');
    expect(names).toHaveLength(r.messages + 1);
  });

  it('rejects a bad seed or profile', async () => {
    await expect(generateCorpus({ out: join(root, 'x'), seed: -1 })).rejects.toThrow(/seed must be/);
    await expect(generateCorpus({ out: join(root, 'y'), profile: 'huge' as 'quick' })).rejects.toThrow(/profile must be/);
  });

  it.runIf(HAVE_TESTFILES)('attaches clamav-testfiles byte for byte', async () => {
    const entries = manifest.filter((e) => e.category === 'clamav-testfiles');
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      expect(e.family).toBe('clamav-testfiles');
      const parsed = await simpleParser(await readFile(join(a, e.file)));
      const att = parsed.attachments[0]!;
      expect(att.content.equals(await readFile(join(DEFAULT_TESTFILES_DIR, att.filename!)))).toBe(true);
      expect(e.part).toBe(`2:${att.filename}`);
    }
  });
});
