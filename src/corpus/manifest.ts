/**
 * The corpus manifest (DESIGN.md "Corpus"): manifest.json, an array of
 * `{ file, expected, category, malformed }` plus optional fields that help reports.
 * `readManifest` validates it and names the entry and field of every problem.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';

/** What a scanner is expected to say about a message. `any`: scanners legitimately differ. */
export type Expected = 'infected' | 'clean' | 'any';

/** The values `expected` may take. */
export const EXPECTED_VALUES: readonly Expected[] = ['infected', 'clean', 'any'];

/** One manifest line. The first four fields are the contract; the rest are report helpers. */
export interface ManifestEntry {
  /** Path of the message, relative to the corpus folder. */
  file: string;
  expected: Expected;
  /** Groups detection/false-positive rates in reports. */
  category: string;
  /** The message is structurally broken on purpose. */
  malformed: boolean;
  /** Human description of what the message holds. */
  description?: string;
  /** Which payload family: `eicar` or `clamav-testfiles` (infected and near-miss entries). */
  family?: string;
  /** The transfer encoding (or container) that carries the payload. */
  encoding?: string;
  /**
   * Where the payload sits: IMAP-style MIME part number, ":" and file name, then archive
   * members joined with " > " (e.g. `2:invoice.zip > docs/eicar.com`). A hint for reports.
   */
  part?: string;
  /** Which structural variant of the category this message is. */
  variant?: string;
}

/** A manifest that cannot be used. `entry` is the 0-based index of the bad entry, if any. */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  /** 0-based index of the offending entry (undefined for whole-file problems). */
  readonly entry: number | undefined;
  /** The offending field, if any. */
  readonly field: string | undefined;

  /** @param message what is wrong, already naming the file and entry. */
  constructor(message: string, entry?: number, field?: string) {
    super(message);
    this.entry = entry;
    this.field = field;
  }
}

/** The manifest's file name inside a corpus folder. */
export const MANIFEST_FILE = 'manifest.json';

const OPTIONAL_STRINGS = ['description', 'family', 'encoding', 'part', 'variant'] as const;

/**
 * Check parsed JSON against the manifest shape. `category` defaults to "uncategorized"
 * and `malformed` to false when absent (hand-made corpora); every other problem throws a
 * ManifestError naming the entry (1-based in the message), its file and the field.
 */
export function validateManifest(data: unknown, source = MANIFEST_FILE): ManifestEntry[] {
  if (!Array.isArray(data)) throw new ManifestError(`${source}: expected a JSON array of entries, got ${describe(data)}`);
  const seen = new Map<string, number>();
  return data.map((raw: unknown, i): ManifestEntry => {
    const where = (file?: string): string => `${source}: entry ${i + 1}${file !== undefined ? ` (${JSON.stringify(file)})` : ''}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ManifestError(`${where()}: expected an object, got ${describe(raw)}`, i);
    const o = raw as Record<string, unknown>;
    const file = o['file'];
    if (typeof file !== 'string' || file === '') throw new ManifestError(`${where()}: "file" must be a non-empty string, got ${describe(file)}`, i, 'file');
    // A plain name (the usual entry: no separator, not `.` or `..`) is its own normal form.
    const plain = !file.includes(sep) && file !== '.' && file !== '..';
    const norm = plain ? file : normalize(file);
    if ((!plain && isAbsolute(file)) || norm === '..' || norm.startsWith(`..${sep}`) || file.includes('\0'))
      throw new ManifestError(`${where(file)}: "file" must be a path inside the corpus folder`, i, 'file');
    const prev = seen.get(norm);
    if (prev !== undefined) throw new ManifestError(`${where(file)}: "file" repeats entry ${prev + 1}`, i, 'file');
    seen.set(norm, i);
    const expected = o['expected'];
    if (typeof expected !== 'string' || !(EXPECTED_VALUES as readonly string[]).includes(expected))
      throw new ManifestError(`${where(file)}: "expected" must be one of ${EXPECTED_VALUES.join(', ')}, got ${describe(expected)}`, i, 'expected');
    const category = o['category'] ?? 'uncategorized';
    if (typeof category !== 'string' || category === '') throw new ManifestError(`${where(file)}: "category" must be a non-empty string, got ${describe(category)}`, i, 'category');
    const malformed = o['malformed'] ?? false;
    if (typeof malformed !== 'boolean') throw new ManifestError(`${where(file)}: "malformed" must be true or false, got ${describe(malformed)}`, i, 'malformed');
    const entry: ManifestEntry = { file, expected: expected as Expected, category, malformed };
    for (const key of OPTIONAL_STRINGS) {
      const v = o[key];
      if (v === undefined) continue;
      if (typeof v !== 'string') throw new ManifestError(`${where(file)}: "${key}" must be a string when present, got ${describe(v)}`, i, key);
      entry[key] = v;
    }
    return entry;
  });
}

/**
 * Read and validate `dir/manifest.json`; also gives the sha256 of its bytes, computed when
 * `sha256` is first read (a scan never reads it: node:crypto is then not even loaded).
 */
export async function readManifestWithHash(dir: string): Promise<{ entries: ManifestEntry[]; readonly sha256: string }> {
  const path = join(dir, MANIFEST_FILE);
  let text: Buffer;
  try {
    // Synchronously: a small local file, read once when a corpus is opened (src/corpus/read.ts).
    text = readFileSync(path);
  } catch (err) {
    throw new ManifestError(`${path}: cannot read: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text.toString('utf8'));
  } catch (err) {
    throw new ManifestError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  const entries = validateManifest(data, path);
  let sha256: string | undefined;
  return {
    entries,
    get sha256(): string {
      return (sha256 ??= createHash('sha256').update(text).digest('hex'));
    },
  };
}

/** Read and validate `dir/manifest.json`. Throws ManifestError naming the entry and what is wrong. */
export async function readManifest(dir: string): Promise<ManifestEntry[]> {
  return (await readManifestWithHash(dir)).entries;
}

/** Serialise a manifest: a JSON array, one entry per line (stable, diff-friendly). */
export function formatManifest(entries: readonly ManifestEntry[]): string {
  return `[\n${entries.map((e) => JSON.stringify(e)).join(',\n')}\n]\n`;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}
