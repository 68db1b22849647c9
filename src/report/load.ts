/**
 * Reading what a report is rendered from: a results.json (validated against the schema)
 * and, when it still matches, the corpus manifest it was measured on (for encodings).
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Results } from '../results/types.js';
import { validateResults } from '../results/schema.js';
import { readManifestWithHash, type ManifestEntry } from '../corpus/manifest.js';

/** A results file read and validated, or why it cannot be used. */
export type LoadedResults = { ok: true; results: Results } | { ok: false; message: string };

/**
 * Read and validate a results.json. Never throws: an unreadable file, bad JSON or a
 * schema violation comes back as `{ ok: false, message }` naming the file and (up to ten)
 * problems with their JSON Pointers.
 */
export async function loadResultsFile(file: string): Promise<LoadedResults> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { ok: false, message: `${file}: cannot read: ${(err as Error).message}` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: `${file}: not JSON: ${(err as Error).message}` };
  }
  let problems: ReturnType<typeof validateResults>;
  try {
    problems = validateResults(doc);
  } catch (err) {
    return { ok: false, message: `${file}: cannot validate (schema/results.schema.json): ${(err as Error).message}` };
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).map((p) => `  ${p.path}: ${p.message}`);
    const more = problems.length > 10 ? [`  ...and ${problems.length - 10} more`] : [];
    return { ok: false, message: `${file}: not a valid results.json (schema/results.schema.json):\n${[...shown, ...more].join('\n')}` };
  }
  return { ok: true, results: doc as Results };
}

/**
 * The manifest the results were measured on, if the corpus folder still holds it
 * unchanged (its sha256 equals results.corpus.manifestSha256); otherwise undefined.
 */
export async function matchingManifest(results: Results): Promise<ManifestEntry[] | undefined> {
  const want = results.corpus.manifestSha256;
  if (want === undefined) return undefined;
  try {
    const { entries, sha256 } = await readManifestWithHash(results.corpus.path);
    return sha256 === want ? entries : undefined;
  } catch {
    return undefined;
  }
}

/** Read a corpus manifest given explicitly (`--manifest`: the corpus folder or its manifest.json); throws ManifestError on a bad file. */
export async function readManifestFile(file: string): Promise<ManifestEntry[]> {
  const dir = basename(file) === 'manifest.json' ? dirname(file) : file;
  return (await readManifestWithHash(dir)).entries;
}
