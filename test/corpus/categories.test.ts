/**
 * Every category of the generated corpus, scanned by the core with the embedded scanner:
 * the exact verdict, and for infected messages the exact part the manifest says the
 * payload sits in.
 */
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../adapters/embedded.js';
import { DEFAULT_LIMITS } from '../../src/core/limits.js';
import { scanMessageDetailed } from '../../src/core/scan.js';
import type { Verdict } from '../../src/core/types.js';
import { generateCorpus } from '../../src/corpus/generate.js';
import { readManifest } from '../../src/corpus/manifest.js';

interface Entry {
  file: string;
  expected: 'infected' | 'clean' | 'any';
  category: string;
  malformed: boolean;
  family?: string;
  part?: string;
  variant?: string;
}

/** What the embedded scanner must say for the 'any' (malformed / near-miss) variants. */
const ANY_EXPECTED: Record<string, string> = {
  'corrupt-zip/truncated': 'infected',
  'corrupt-zip/overwritten': 'error:UNPARSEABLE',
  'garbage/random': 'clean',
  'near-miss-embedded/long-tail/base64': 'clean',
  'near-miss-embedded/long-tail/zip': 'clean',
  'near-miss-embedded/byte-before/base64': 'clean',
  'near-miss-embedded/byte-before/zip': 'clean',
  'unclosed-nested/text-only': 'clean',
  'unclosed-nested/eicar-inside': 'infected',
  'long-line/body-line': 'clean',
  'broken-base64/junk-chars': 'infected',
  'broken-base64/padding-in-middle': 'infected',
  'broken-base64/truncated': 'clean',
  'deep-nesting/eicar-at-bottom': 'error:LIMIT_EXCEEDED',
  'deep-nesting/text-at-bottom': 'error:LIMIT_EXCEEDED',
  'header-only/no-blank-line': 'clean',
  'nul-header/nul-in-subject': 'clean',
  'nul-header/nul-in-name': 'clean',
  'empty/empty': 'clean',
};

let dir: string;
let entries: Entry[];
const embedded = createEmbeddedAdapter();
// The clam.exe md5 signature of RUNBOOK.md, for the clamav-testfiles family.
let withClamExe: ReturnType<typeof createEmbeddedAdapter>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-cat-'));
  await generateCorpus({ out: join(dir, 'corpus'), seed: 1, profile: 'quick' });
  entries = (await readManifest(join(dir, 'corpus'))) as Entry[];
  await mkdir(join(dir, 'sigs'));
  await writeFile(join(dir, 'sigs', 'clam.hdb'), 'aa15bcf478d165efd2065190eb473bcb:544:ClamAV-Test-File\n');
  withClamExe = createEmbeddedAdapter({ signatures: join(dir, 'sigs') });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function summary(v: Verdict): string {
  return v.status === 'error' ? `error:${v.error.code}` : v.status;
}

async function scan(e: Entry, adapter = embedded) {
  const raw = await readFile(join(dir, 'corpus', e.file));
  return scanMessageDetailed(raw, { scanners: [adapter] });
}

// The categories the quick profile promises (each present at least once).
const CATEGORIES = [
  'base64', 'qp', '7bit', '8bit', 'binary', 'uuencode', 'encoding-case', 'filename', 'lf-only', 'unclosed-final',
  'headers', 'nested-multipart', 'rfc822', 'zip', 'zip-nested', 'gzip', 'tar', 'targz', 'targz-zip', 'plain',
  'large-infected', 'clean-plain', 'clean-html', 'image', 'pdf', 'office', 'csv-ics', 'near-miss', 'discussion',
  'unicode', 'many-parts', 'large', 'near-miss-embedded', 'corrupt-zip', 'garbage', 'unclosed-nested', 'long-line',
  'broken-base64', 'deep-nesting', 'header-only', 'nul-header', 'empty',
];

describe('the embedded scanner on every corpus category', () => {
  it.each(CATEGORIES)('%s', async (category) => {
    const mine = entries.filter((e) => e.category === category);
    expect(mine.length).toBeGreaterThan(0);
    for (const e of mine) {
      const r = await scan(e);
      expect(r.ms).toBeLessThan(DEFAULT_LIMITS.timeoutMs);
      if (e.expected === 'infected') {
        expect({ file: e.file, verdict: r.verdict }).toEqual({
          file: e.file,
          verdict: { status: 'infected', detections: [{ name: 'Eicar-Test-Signature', scanner: 'embedded', part: e.part }] },
        });
      } else if (e.expected === 'clean') {
        expect({ file: e.file, verdict: r.verdict }).toEqual({ file: e.file, verdict: { status: 'clean' } });
      } else {
        const key = `${e.category}/${e.variant ?? ''}`;
        expect(ANY_EXPECTED[key], `no expectation for ${key}`).toBeDefined();
        expect([key, summary(r.verdict)]).toEqual([key, ANY_EXPECTED[key]]);
        if (category === 'deep-nesting' && r.verdict.status === 'error') expect(r.verdict.error.message).toContain('maxDepth');
      }
    }
  });

  it.runIf(existsSync('/usr/share/clamav-testfiles/clam.exe'))('clamav-testfiles: clam.exe found by its md5 signature, in its part', async () => {
    const mine = entries.filter((e) => e.category === 'clamav-testfiles');
    const exe = mine.find((e) => e.variant === 'clam.exe');
    expect(exe).toBeDefined();
    const r = await scan(exe!, withClamExe);
    expect(r.verdict).toEqual({ status: 'infected', detections: [{ name: 'ClamAV-Test-File', scanner: 'embedded', part: exe!.part }] });
    // The embedded scanner does not unpack arj/cab/7z/OLE/UPX: those are ClamAV's job, and a clean
    // here is a miss the bench reports — never an error hidden as clean.
    for (const e of mine) expect(['clean', 'infected']).toContain((await scan(e, withClamExe)).verdict.status);
  });
});
