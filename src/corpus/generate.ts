/**
 * The corpus generator: a deterministic folder of labelled .eml files plus manifest.json
 * (DESIGN.md "Corpus"). Same seed and profile, byte-identical output: every message has
 * its own seeded Rng derived from (seed, category, occurrence), so nothing depends on the
 * clock, Math.random or the order messages are built in. Messages are written one at a
 * time; only the (small) manifest is held until the end.
 *
 * The clamav-testfiles family is included only when /usr/share/clamav-testfiles exists
 * (Debian package clamav-testfiles); without it the corpus has no such messages and
 * therefore differs from one generated where it is installed.
 */
import { readdir, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatManifest, MANIFEST_FILE, readManifest, type Expected, type ManifestEntry } from './manifest.js';
import { mixSeed, Rng } from './prng.js';
import { RECIPES, TESTFILES_EXCLUDED, type BuildContext, type Recipe } from './recipes.js';

/** `quick`: ≤200 messages, a few MB, for tests. `full`: ≥2,000 messages and ≥100 MB, for benchmarks. */
export type Profile = 'quick' | 'full';

/** Options of generateCorpus. */
export interface GenerateOptions {
  /** Folder to write (created if missing). */
  out: string;
  /** Default 1. */
  seed?: number;
  /** Default 'quick'. */
  profile?: Profile;
  /** Called after each message is written. */
  onProgress?: (done: number, total: number) => void;
  /** Where clamav-testfiles live (default /usr/share/clamav-testfiles); absent folder: family skipped. */
  testfilesDir?: string;
}

/** What generateCorpus wrote. */
export interface GenerateResult {
  out: string;
  messages: number;
  /** Total bytes of the .eml files. */
  bytes: number;
  byCategory: Record<string, number>;
  /** Things worth telling the user (e.g. a skipped family). */
  notes: string[];
}

/** Default location of Debian's clamav-testfiles. */
export const DEFAULT_TESTFILES_DIR = '/usr/share/clamav-testfiles';

/** One category as documented for users and reports. */
export interface CategoryInfo {
  category: string;
  expected: Expected;
  malformed: boolean;
  family?: string;
  summary: string;
  quick: number;
  full: number;
}

/** Every category the generator can make, with its label and size per profile. */
export function categories(): CategoryInfo[] {
  return RECIPES.map((r) => {
    const info: CategoryInfo = { category: r.category, expected: r.expected, malformed: r.malformed, summary: r.summary, quick: r.quick, full: r.full };
    if (r.family !== undefined) info.family = r.family;
    return info;
  });
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

async function listTestfiles(dir: string): Promise<Array<{ name: string; size: number }>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: Array<{ name: string; size: number }> = [];
  for (const name of names.sort()) {
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (st?.isFile() === true && !TESTFILES_EXCLUDED.includes(name)) out.push({ name, size: st.size });
  }
  return out;
}

/** Make sure `out` is a folder we may write into; remove files a previous corpus there listed. */
async function prepareOut(out: string): Promise<void> {
  await mkdir(out, { recursive: true });
  const names = await readdir(out);
  if (names.length === 0) return;
  if (!names.includes(MANIFEST_FILE)) throw new Error(`${out}: folder is not empty and holds no ${MANIFEST_FILE}; refusing to write a corpus into it`);
  let old: ManifestEntry[];
  try {
    old = await readManifest(out);
  } catch (err) {
    throw new Error(`${out}: holds an unreadable ${MANIFEST_FILE} (${(err as Error).message}); refusing to overwrite it`);
  }
  for (const e of old) await rm(join(out, e.file), { force: true });
  await rm(join(out, MANIFEST_FILE), { force: true });
}

/**
 * Write a corpus of labelled messages and manifest.json into `opts.out`.
 * Deterministic for a given seed and profile (and presence of clamav-testfiles).
 * Throws if `out` is a non-empty folder that is not a corpus.
 */
export async function generateCorpus(opts: GenerateOptions): Promise<GenerateResult> {
  const seed = (opts.seed ?? 1) >>> 0;
  if (opts.seed !== undefined && (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff)) throw new Error(`seed must be an integer from 0 to 4294967295, got ${opts.seed}`);
  const profile: Profile = opts.profile ?? 'quick';
  if (profile !== 'quick' && profile !== 'full') throw new Error(`profile must be quick or full, got ${String(profile)}`);
  const notes: string[] = [];
  const tfDir = opts.testfilesDir ?? DEFAULT_TESTFILES_DIR;
  const testfiles = { dir: tfDir, files: await listTestfiles(tfDir) };

  const plan: Array<{ recipe: Recipe; k: number; count: number }> = [];
  for (const recipe of RECIPES) {
    if (recipe.family === 'clamav-testfiles' && testfiles.files.length === 0) {
      notes.push(`clamav-testfiles family skipped: ${tfDir} not found or empty (apt-get install clamav-testfiles); this corpus differs from one made where it is installed`);
      continue;
    }
    const count = profile === 'quick' ? recipe.quick : recipe.full;
    for (let k = 0; k < count; k++) plan.push({ recipe, k, count });
  }
  const order = new Rng(mixSeed(seed, hashString(`order:${profile}`))).shuffle(plan);
  const width = Math.max(4, String(order.length).length);

  await prepareOut(opts.out);
  const manifest: ManifestEntry[] = [];
  const byCategory: Record<string, number> = {};
  let bytes = 0;
  for (let i = 0; i < order.length; i++) {
    const { recipe, k, count } = order[i] as (typeof order)[number];
    const ctx: BuildContext = { rng: new Rng(mixSeed(mixSeed(seed, hashString(recipe.category)), k)), k, count, testfiles };
    const built = await recipe.build(ctx);
    const file = `m${String(i + 1).padStart(width, '0')}.eml`;
    await writeFile(join(opts.out, file), built.data);
    bytes += built.data.length;
    byCategory[recipe.category] = (byCategory[recipe.category] ?? 0) + 1;
    const entry: ManifestEntry = { file, expected: recipe.expected, category: recipe.category, malformed: recipe.malformed };
    if (recipe.family !== undefined) entry.family = recipe.family;
    if (built.encoding !== undefined) entry.encoding = built.encoding;
    if (built.part !== undefined) entry.part = built.part;
    entry.variant = built.variant;
    entry.description = built.description;
    manifest.push(entry);
    opts.onProgress?.(i + 1, order.length);
  }
  const tmp = join(opts.out, `${MANIFEST_FILE}.tmp`);
  await writeFile(tmp, formatManifest(manifest));
  await rename(tmp, join(opts.out, MANIFEST_FILE));
  return { out: opts.out, messages: order.length, bytes, byCategory, notes };
}
