/**
 * A real bench on the quick corpus: the embedded scanner through our direct, SMTP and
 * milter front ends (and lda — `avbench deliver` as a separate process per message — on a
 * small labelled subset, since each delivery is a Node start-up). results.json is written
 * by the streaming writer, read back, and validated against schema/results.schema.json.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Results, Run } from '../../src/results/types.js';
import { BenchInputError, runBench } from '../../src/bench/runner.js';
import { validateResults } from '../../src/results/schema.js';
import { formatTable } from '../../src/bench/table.js';
import { writeResultsFile } from '../../src/bench/write.js';
import { generateCorpus } from '../../src/corpus/generate.js';
import { buildCli, type Build } from '../modes/lda/build.js';

let dir: string;
let quick: string;
let manifest: Array<{ file: string; expected: string; family?: string; category: string }>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-bench-test-'));
  quick = join(dir, 'quick');
  await generateCorpus({ out: quick, profile: 'quick' });
  manifest = JSON.parse(await readFile(join(quick, 'manifest.json'), 'utf8'));
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every EICAR-family message judged as its label says; none lost; fates add up. */
function checkEicarFamily(run: Run): void {
  const byFile = new Map(manifest.map((e) => [e.file, e]));
  let judged = 0;
  for (const r of run.results) {
    const e = byFile.get(r.file);
    expect(e, r.file).toBeDefined();
    expect(r.expected).toBe(e!.expected);
    if (e!.family !== 'eicar' || e!.expected === 'any') continue;
    judged++;
    expect(`${r.file} ${r.verdict}`).toBe(`${r.file} ${e!.expected}`);
  }
  expect(judged).toBeGreaterThan(0);
  expect(run.fates.lost).toBe(0);
  expect(Object.values(run.fates).reduce((a, b) => a + b, 0)).toBe(run.messages);
  expect(run.results).toHaveLength(run.messages);
}

async function roundTrip(results: Results): Promise<unknown> {
  const file = join(dir, `results-${Date.now()}.json`);
  await writeResultsFile(file, results);
  const back: unknown = JSON.parse(await readFile(file, 'utf8'));
  expect(back).toEqual(JSON.parse(JSON.stringify(results)));
  return back;
}

describe('avbench bench on the quick corpus', () => {
  it('embedded in direct, smtp and milter: EICAR family as labelled, nothing lost, valid results.json', async () => {
    const events: string[] = [];
    const results = await runBench({
      corpus: quick,
      scanners: ['embedded'],
      modes: ['direct', 'smtp', 'milter'],
      concurrency: [1, 4],
      repeat: 2,
      warmup: 1,
      onEvent: (e) => {
        if (e.type !== 'pass') events.push(e.type);
      },
    });
    expect(results.runs.map((r) => r.id)).toEqual([
      'baseline/direct/c1',
      'baseline/direct/c4',
      'baseline/smtp/c1',
      'baseline/smtp/c4',
      'baseline/milter/c1',
      'baseline/milter/c4',
      'embedded/direct/c1',
      'embedded/direct/c4',
      'embedded/smtp/c1',
      'embedded/smtp/c4',
      'embedded/milter/c1',
      'embedded/milter/c4',
    ]);
    expect(events.filter((t) => t === 'run-end')).toHaveLength(12);
    expect(results.corpus.messages).toBe(manifest.length);
    expect(results.corpus.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    for (const run of results.runs) {
      expect(run.messages).toBe(manifest.length);
      expect(run.repeats).toHaveLength(2);
      expect(run.throughput.msgsPerSec).toBeGreaterThan(0);
      expect(run.resources?.avbench.peakRssBytes).toBeGreaterThan(0);
      if (run.baseline === true) {
        expect(run.scanner).toMatchObject({ name: 'noop', type: 'noop', granularity: 'message' }); // the transport alone: no MIME walk
        expect(run.detection.tp + run.detection.fp).toBe(0);
        expect(run.fates.lost).toBe(0);
        continue;
      }
      expect(run.scanner).toMatchObject({ name: 'embedded', type: 'embedded' });
      expect(run.scanner.version).toBeTruthy();
      checkEicarFamily(run);
      expect(run.detection.fp).toBe(0);
      expect(run.detection.errors).toBe(0);
    }
    // Transport fates: direct only scans; smtp/milter reject what the embedded scanner finds.
    const direct = results.runs.find((r) => r.id === 'embedded/direct/c1')!;
    const smtp = results.runs.find((r) => r.id === 'embedded/smtp/c4')!;
    const milter = results.runs.find((r) => r.id === 'embedded/milter/c1')!;
    expect(direct.fates.scanned).toBe(manifest.length);
    expect(smtp.fates.rejected).toBe(direct.detection.tp + direct.detection.fp + direct.results.filter((r) => r.expected === 'any' && r.verdict === 'infected').length);
    expect(milter.fates.rejected).toBe(smtp.fates.rejected);
    // Direct mode knows where the detection was found.
    const hit = direct.results.find((r) => r.verdict === 'infected')!;
    expect(hit.part).toBeTruthy();
    expect(hit.names.length).toBeGreaterThan(0);
    // Per message the transports agree with direct.
    const verdicts = (run: Run): string[] => run.results.map((r) => `${r.file}:${r.verdict}`);
    expect(verdicts(smtp)).toEqual(verdicts(direct));
    expect(verdicts(milter)).toEqual(verdicts(direct));
    // The SMTP load shape is recorded on smtp runs only (default: a connection per message, flat out).
    for (const run of results.runs) expect(run.shape).toEqual(run.mode === 'smtp' ? { connection: 'per-message' } : undefined);

    const back = await roundTrip(results);
    expect(validateResults(back)).toEqual([]);
    const table = formatTable(results);
    expect(table).toContain('embedded');
    expect(table).toContain('noop (baseline)');
    expect(table).toContain('smtp per-message');
  }, 300_000);

  it('smtp kept-open at a rate: the shape is recorded and shown; the rate bounds the pass from below', async () => {
    const rate = 100;
    const results = await runBench({ corpus: quick, scanners: ['embedded'], modes: ['smtp'], connection: 'kept-open', rate, repeat: 1, warmup: 0, limit: 20, baseline: false });
    const [run] = results.runs;
    expect(run).toMatchObject({ id: 'embedded/smtp/c1', shape: { connection: 'kept-open', rate }, messages: 20 });
    expect(run!.fates.lost).toBe(0);
    // Open loop: message k is not sent before k/rate s, so 20 messages take at least 19/rate s (a lower bound, not a speed test).
    expect(run!.durationMs).toBeGreaterThanOrEqual((19 * 1000) / rate);
    expect(validateResults(await roundTrip(results))).toEqual([]);
    expect(formatTable(results)).toContain('smtp kept-open 100/s');
    await expect(runBench({ corpus: quick, scanners: ['embedded'], modes: ['smtp'], rate: -1 })).rejects.toBeInstanceOf(BenchInputError);
    await expect(runBench({ corpus: quick, scanners: ['embedded'], modes: ['smtp'], connection: 'sometimes' as 'kept-open' })).rejects.toBeInstanceOf(BenchInputError);
  }, 120_000);

  describe('lda mode (avbench deliver as a separate process)', () => {
    let build: Build;
    let subset: string;
    beforeAll(async () => {
      build = await buildCli();
      // A small labelled subset: EICAR infected and clean, an EICAR near-miss, plain clean mail.
      subset = join(dir, 'subset');
      const { mkdir } = await import('node:fs/promises');
      await mkdir(subset);
      const pick = [
        ...manifest.filter((e) => e.family === 'eicar' && e.expected === 'infected').slice(0, 6),
        ...manifest.filter((e) => e.family === 'eicar' && e.expected === 'clean').slice(0, 2),
        ...manifest.filter((e) => e.family === undefined && e.expected === 'clean').slice(0, 4),
      ];
      for (const e of pick) await copyFile(join(quick, e.file), join(subset, e.file));
      await writeFile(join(subset, 'manifest.json'), JSON.stringify(pick, null, 2));
    }, 300_000);
    afterAll(async () => {
      await build?.remove();
    });

    it('embedded through deliver equals direct; fates delivered/rejected; valid results.json', async () => {
      const results = await runBench({
        corpus: subset,
        scanners: ['embedded'],
        modes: ['direct', 'lda'],
        repeat: 1,
        warmup: 0,
        deliverCommand: build.deliver,
      });
      expect(results.runs.map((r) => r.id)).toEqual(['baseline/direct/c1', 'baseline/lda/c1', 'embedded/direct/c1', 'embedded/lda/c1']);
      const lda = results.runs.find((r) => r.id === 'embedded/lda/c1')!;
      const direct = results.runs.find((r) => r.id === 'embedded/direct/c1')!;
      checkEicarFamily(lda);
      expect(lda.results.map((r) => r.verdict)).toEqual(direct.results.map((r) => r.verdict));
      expect(lda.detection).toMatchObject({ tp: 6, fn: 0, fp: 0, tn: 6, errors: 0, vb100: true });
      expect(lda.fates.delivered + lda.fates.rejected + lda.fates.dropped + lda.fates.tagged).toBe(12);
      expect(lda.results.every((r) => typeof r.exitCode === 'number')).toBe(true);
      const base = results.runs.find((r) => r.id === 'baseline/lda/c1')!;
      expect(base.fates.delivered).toBe(12);
      expect(validateResults(await roundTrip(results))).toEqual([]);
    }, 600_000);

    it('the lda baseline is the transport alone: a message the MIME walker refuses is delivered by it, tempfailed by embedded', async () => {
      const lines = ['From: a@example.org', 'To: b@example.org', 'Subject: deep', 'MIME-Version: 1.0'];
      for (let i = 0; i < 30; i++) lines.push(`Content-Type: multipart/mixed; boundary="b${i}"`, '', `--b${i}`);
      lines.push('Content-Type: text/plain', '', 'innermost');
      for (let i = 29; i >= 0; i--) lines.push(`--b${i}--`);
      const file = join(dir, 'deep-lda.eml');
      await writeFile(file, `${lines.join('\n')}\n`);
      const results = await runBench({ corpus: file, scanners: ['embedded'], modes: ['lda'], repeat: 1, warmup: 0, cold: false, deliverCommand: build.deliver });
      expect(results.runs.find((r) => r.id === 'baseline/lda/c1')!.results[0]).toMatchObject({ verdict: 'clean', fate: 'delivered' });
      expect(results.runs.find((r) => r.id === 'embedded/lda/c1')!.results[0]).toMatchObject({ verdict: 'error', fate: 'tempfailed' });
    }, 300_000);
  });

  it('unusable input is a BenchInputError (CLI exit 2)', async () => {
    await expect(runBench({ corpus: join(dir, 'nope') })).rejects.toBeInstanceOf(BenchInputError);
    await expect(runBench({ corpus: quick, suts: ['ftp://x'] })).rejects.toThrow(/--sut ftp:\/\/x/);
    await expect(runBench({ corpus: quick, scanners: ['no-such-scanner'] })).rejects.toBeInstanceOf(BenchInputError);
    await expect(runBench({ corpus: quick, scanners: ['embedded'], concurrency: [0] })).rejects.toThrow(/concurrency/);
  });

  it('an unavailable scanner is skipped with the reason', async () => {
    const skipped: string[] = [];
    const results = await runBench({
      corpus: quick,
      scanners: ['embedded', 'yara'],
      modes: ['direct'],
      repeat: 1,
      warmup: 0,
      limit: 10,
      config: { scanners: { yara: { type: 'yara' } } },
      onEvent: (e) => {
        if (e.type === 'skip') skipped.push(`${e.name}: ${e.reason}`);
      },
    });
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatch(/^yara: /);
    expect(results.skipped?.[0]?.name).toBe('yara');
    expect(results.corpus).toMatchObject({ messages: 10, totalMessages: manifest.length });
    expect(results.runs.map((r) => r.messages)).toEqual([10, 10]);
    expect(validateResults(JSON.parse(JSON.stringify(results)))).toEqual([]);
  });
});
