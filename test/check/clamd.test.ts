/**
 * The done-when with a real clamd: the quick corpus (seed 1) benched against a lab clamd
 * with the lab's full database (EICAR .ndb + clam.exe .hdb), then again after the .hdb is
 * removed and clamd reloads its database — one signature fewer. `avbench check` of the
 * second run against the first exits 1 and names every clam.exe message it now misses;
 * the first run checked against itself exits 0.
 */
import { readFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Results } from '../../src/results/types.js';
import { runBench } from '../../src/bench/runner.js';
import { writeResultsFile } from '../../src/bench/write.js';
import { runCheck } from '../../src/check/run.js';
import { connect } from '../../src/core/net.js';
import { generateCorpus } from '../../src/corpus/generate.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { describeReal } from '../helpers/real.js';
import { changed } from './fixtures.js';

let dir: string;
let clamd: LabClamd | undefined;

afterAll(async () => {
  await clamd?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** zRELOAD, then wait until clamd's log says the database was reloaded. */
async function reload(c: LabClamd): Promise<void> {
  const before = (await readFile(c.logFile, 'utf8')).split('Database correctly reloaded').length;
  const conn = await connect({ path: c.socket }, { deadline: Date.now() + 5_000 });
  try {
    await conn.write(Buffer.from('zRELOAD\0', 'latin1'));
    expect((await conn.readUntil('\0')).toString('latin1')).toBe('RELOADING');
  } finally {
    conn.destroy();
  }
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if ((await readFile(c.logFile, 'utf8')).split('Database correctly reloaded').length > before) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`clamd did not reload its database within 30 s (log: ${c.logFile})`);
}

async function benchClamd(corpus: string, c: LabClamd, out: string): Promise<Results> {
  const results = await runBench({ corpus, scanners: ['clamd'], modes: ['direct'], repeat: 1, warmup: 0, baseline: false, config: { scanners: { clamd: { type: 'clamd', socket: c.socket } } } });
  await writeResultsFile(out, results);
  return results;
}

await describeReal('avbench check with a real clamd losing one signature', ['clamd'], () => {
  let full: Results;
  let reduced: Results;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-check-clamd-'));
    const corpus = join(dir, 'quick');
    await generateCorpus({ out: corpus, seed: 1, profile: 'quick' });
    clamd = await startClamd({ dir });
    full = await benchClamd(corpus, clamd, join(dir, 'full.json'));
    await rm(join(clamd.dbDir, 'avbench.hdb'));
    await reload(clamd);
    reduced = await benchClamd(corpus, clamd, join(dir, 'reduced.json'));
  }, 120_000);

  it('the same run passes; the run without the clam.exe signature fails, naming each message it lost', async () => {
    const out: string[] = [];
    const same = await runCheck({ results: join(dir, 'full.json'), baseline: join(dir, 'full.json'), env: {}, out: (s) => out.push(s), err: (s) => out.push(s) });
    expect(same.exitCode).toBe(0);

    const missed = changed(full, reduced, 'infected', 'infected', 'clean');
    const byFile = new Map(full.runs[0]!.results.map((r) => [r.file, r]));
    expect(missed.length).toBeGreaterThan(0);
    for (const f of missed) expect(byFile.get(f)!.names).toContain('ClamAV-Test-File.UNOFFICIAL');

    const lines: string[] = [];
    const r = await runCheck({ results: join(dir, 'reduced.json'), baseline: join(dir, 'full.json'), env: {}, out: (s) => lines.push(s), err: (s) => lines.push(s) });
    const text = lines.join('');
    expect(r.exitCode).toBe(1);
    expect(text).toMatch(/REGRESSION clamd\/direct \(all\): detection rate 100\.0% \(\d+\/\d+\) → [\d.]+% .* newly missed/);
    for (const f of missed) expect(text).toContain(`${f} [clamav-testfiles]: infected (ClamAV-Test-File.UNOFFICIAL) → clean`);
  });
});
