/**
 * Real benches for the check tests: the quick corpus (seed 1) benched with the embedded
 * scanner in direct mode under three real signature folders —
 *  - full:    the lab's database (EICAR .ndb + clam.exe .hdb, src/lab/signatures.ts);
 *  - reduced: the same without the clam.exe .hdb (one signature fewer: messages go missing);
 *  - flagging: the full one plus an .hdb of a clean attachment of the corpus (md5:size of
 *    its decoded bytes), so a clean message gets flagged.
 * Each writes a results.json with the bench's own writer.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import type { Results } from '../../src/results/types.js';
import { runBench } from '../../src/bench/runner.js';
import { writeResultsFile } from '../../src/bench/write.js';
import { generateCorpus } from '../../src/corpus/generate.js';
import { eicarNdbLine, writeSignatureDb } from '../../src/lab/signatures.js';

/** The benched variants and the clean message the flagging database hits. */
export interface CheckFixtures {
  corpus: string;
  full: string;
  fullAgain: string;
  reduced: string;
  flagging: string;
  /** Corpus-relative file of the clean message whose attachment the flagging db matches. */
  flaggedFile: string;
  results: { full: Results; reduced: Results; flagging: Results };
}

async function bench(corpus: string, signatures: string, out: string): Promise<Results> {
  const results = await runBench({
    corpus,
    scanners: ['embedded'],
    modes: ['direct'],
    repeat: 1,
    warmup: 0,
    baseline: false,
    config: { scanners: { embedded: { type: 'embedded', signatures } } },
  });
  await writeResultsFile(out, results);
  return results;
}

/** Generate the corpus and bench it four times (full twice) under `dir`. */
export async function makeFixtures(dir: string): Promise<CheckFixtures> {
  const corpus = join(dir, 'quick');
  await generateCorpus({ out: corpus, seed: 1, profile: 'quick' });
  const manifest = JSON.parse(await readFile(join(corpus, 'manifest.json'), 'utf8')) as { file: string; expected: string; category: string }[];

  const fullDb = join(dir, 'db-full');
  const reducedDb = join(dir, 'db-reduced');
  const flagDb = join(dir, 'db-flagging');
  for (const d of [fullDb, reducedDb, flagDb]) await mkdir(d, { mode: 0o700 });
  await writeSignatureDb(fullDb);
  await writeFile(join(reducedDb, 'avbench.ndb'), `${eicarNdbLine()}\n`, { mode: 0o600 });
  await writeSignatureDb(flagDb);

  // A clean message with an attachment: its decoded bytes, as an .hdb signature.
  let flaggedFile: string | undefined;
  for (const e of manifest) {
    if (e.expected !== 'clean' || !['pdf', 'office', 'image', 'csv-ics'].includes(e.category)) continue;
    const mail = await simpleParser(await readFile(join(corpus, e.file)));
    const att = mail.attachments[0];
    if (att === undefined || att.content.length < 64) continue;
    const md5 = createHash('md5').update(att.content).digest('hex');
    await writeFile(join(flagDb, 'clean-part.hdb'), `${md5}:${att.content.length}:Avbench-Test-Clean-Part\n`, { mode: 0o600 });
    flaggedFile = e.file;
    break;
  }
  if (flaggedFile === undefined) throw new Error('the quick corpus has no clean message with an attachment');

  const full = join(dir, 'full.json');
  const fullAgain = join(dir, 'full-again.json');
  const reduced = join(dir, 'reduced.json');
  const flagging = join(dir, 'flagging.json');
  const fullResults = await bench(corpus, fullDb, full);
  await bench(corpus, fullDb, fullAgain);
  const reducedResults = await bench(corpus, reducedDb, reduced);
  const flaggingResults = await bench(corpus, flagDb, flagging);
  return { corpus, full, fullAgain, reduced, flagging, flaggedFile, results: { full: fullResults, reduced: reducedResults, flagging: flaggingResults } };
}

/** Files whose verdict is `from` in `a` and `to` in `b` (first run of each), among labelled `expected` ones. */
export function changed(a: Results, b: Results, expected: 'infected' | 'clean', from: string, to: string): string[] {
  const now = new Map((b.runs[0]?.results ?? []).map((r) => [r.file, r.verdict]));
  return (a.runs[0]?.results ?? []).filter((r) => r.expected === expected && r.verdict === from && now.get(r.file) === to).map((r) => r.file);
}
