/**
 * Cold and warm passes against a real lab clamd (issue 14.1), the interleaved order of a
 * real bench (14.2), and the smtp no-scan baseline as the transport alone: a message the
 * MIME walker refuses (nesting deeper than maxDepth) passes through the baseline and is
 * tempfailed by a scanning run. No assertion on speed: cold and warm figures are recorded
 * and printed; that the cache was emptied is checked in clamd's own log (one reload per
 * cold pass).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBenchLab, type BenchLab } from '../../src/bench/lab-daemons.js';
import { runBench } from '../../src/bench/runner.js';
import { generateCorpus } from '../../src/corpus/generate.js';
import { validateResults } from '../../src/results/schema.js';

let dir: string;
let quick: string;
let lab: BenchLab | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-cold-test-'));
  quick = join(dir, 'quick');
  await generateCorpus({ out: quick, profile: 'quick' });
  lab = await startBenchLab();
}, 120_000);

afterAll(async () => {
  await lab?.stop();
  await rm(dir, { recursive: true, force: true });
});

const reloads = async (): Promise<number> => ((await readFile(lab!.clamdLogFile, 'utf8')).match(/Activating the newly loaded database/g) ?? []).length;

describe('cold and warm passes with a real clamd', () => {
  it('round 1 of every cell before round 2; cold passes marked in results.json, clamd RELOADed before each', async () => {
    const starts: string[] = [];
    const passKinds: string[] = [];
    const before = await reloads();
    const results = await runBench({
      corpus: quick,
      limit: 40,
      scanners: ['clamd'],
      modes: ['direct', 'smtp'],
      repeat: 2,
      warmup: 1,
      config: lab!.config,
      configPath: lab!.configPath,
      scannerPids: lab!.pids,
      coldReset: lab!.coldReset,
      onEvent: (e) => {
        if (e.type === 'run-start') starts.push(`${e.round}:${e.id}`);
        if (e.type === 'pass' && e.done === e.messages) passKinds.push(`${e.id}:${e.cold === true ? 'cold' : e.warmup ? 'warmup' : 'warm'}`);
      },
    });
    // Interleaved: round 1 of every cell, then round 2.
    expect(starts).toEqual([
      '1:baseline/direct/c1',
      '1:baseline/smtp/c1',
      '1:clamd/direct/c1',
      '1:clamd/smtp/c1',
      '2:baseline/direct/c1',
      '2:baseline/smtp/c1',
      '2:clamd/direct/c1',
      '2:clamd/smtp/c1',
    ]);
    // Each cell: cold, warm-up, then the measured warm pass.
    expect(passKinds.slice(0, 3)).toEqual(['baseline/direct/c1:cold', 'baseline/direct/c1:warmup', 'baseline/direct/c1:warm']);
    expect(passKinds).toHaveLength(8 * 3);
    // One reload per cold pass of a clamd cell (2 cells × 2 rounds); baselines do not reload.
    expect((await reloads()) - before).toBe(4);
    expect(results.settings).toEqual({ repeats: 2, warmup: 1, cold: true, order: 'interleaved' });
    expect(validateResults(JSON.parse(JSON.stringify(results)))).toEqual([]);
    for (const run of results.runs) {
      expect(run.repeats.map((r) => `${r.pass}:${r.round}`)).toEqual(['warm:1', 'warm:2']);
      expect(run.cold?.repeats.map((r) => `${r.pass}:${r.round}`)).toEqual(['cold:1', 'cold:2']);
      expect(run.cold?.reset).toBe(run.baseline === true ? 'unique-bytes' : 'reload');
      expect(run.throughputCi?.n).toBe(2);
      expect(run.throughputCi!.low).toBeLessThanOrEqual(run.throughputCi!.high);
      // Detection comes from the warm passes over the corpus's own bytes.
      if (run.baseline !== true) {
        expect(run.detection.fn).toBe(0);
        expect(run.detection.fp).toBe(0);
      }
      const c = run.cold!;
      process.stdout.write(
        `${run.id}: cold ${c.msgsPerSec} msgs/s (p50 ${c.latencyMs.p50} ms, ${c.reset}) · warm ${run.completed?.msgsPerSec ?? run.throughput.msgsPerSec} msgs/s (p50 ${run.latencyMs.p50} ms)\n`,
      );
    }
  }, 300_000);

  it('--no-cold: no cold passes, no reload; repeats still marked warm', async () => {
    const before = await reloads();
    const results = await runBench({ corpus: quick, limit: 10, scanners: ['clamd'], modes: ['direct'], repeat: 1, warmup: 0, cold: false, baseline: false, config: lab!.config, coldReset: lab!.coldReset });
    expect(await reloads()).toBe(before);
    expect(results.runs[0]!.cold).toBeUndefined();
    expect(results.runs[0]!.repeats[0]!.pass).toBe('warm');
    expect(results.settings).toMatchObject({ cold: false, order: 'interleaved' });
  }, 120_000);
});

describe('a cache reset that fails', () => {
  it('does not end the run: its cold passes are labelled unique-bytes and the reason is listed', async () => {
    let calls = 0;
    const results = await runBench({
      corpus: quick,
      limit: 10,
      scanners: ['embedded'],
      modes: ['direct'],
      repeat: 2,
      warmup: 0,
      baseline: false,
      coldReset: { scanners: ['embedded'], reset: () => Promise.reject(new Error(`no clamd (${++calls})`)) },
    });
    expect(calls).toBe(1); // not tried again after it failed
    expect(results.runs[0]!.cold).toMatchObject({ reset: 'unique-bytes' });
    expect(results.runs[0]!.cold!.repeats).toHaveLength(2);
    expect(results.skipped?.[0]?.reason).toMatch(/RELOAD failed.*no clamd \(1\)/);
  }, 120_000);
});

describe('the smtp no-scan baseline is the transport alone', () => {
  it('a message nested deeper than the walker allows is tempfailed by a scanner and delivered by the baseline', async () => {
    const depth = 30; // > maxDepth 20
    const lines = ['From: a@example.org', 'To: b@example.org', 'Subject: deep', 'MIME-Version: 1.0'];
    for (let i = 0; i < depth; i++) lines.push(`Content-Type: multipart/mixed; boundary="b${i}"`, '', `--b${i}`);
    lines.push('Content-Type: text/plain', '', 'innermost');
    for (let i = depth - 1; i >= 0; i--) lines.push(`--b${i}--`);
    const file = join(dir, 'deep.eml');
    await writeFile(file, `${lines.join('\r\n')}\r\n`);
    const results = await runBench({ corpus: file, scanners: ['embedded'], modes: ['smtp'], repeat: 1, warmup: 0, cold: false });
    const base = results.runs.find((r) => r.baseline === true)!;
    const scan = results.runs.find((r) => r.baseline !== true)!;
    expect(scan.results[0]).toMatchObject({ verdict: 'error', fate: 'tempfailed' });
    expect(base.scanner).toMatchObject({ type: 'noop', granularity: 'message' });
    expect(base.results[0]).toMatchObject({ verdict: 'clean', fate: 'delivered' });
    expect(base.fates.tempfailed).toBe(0);
  }, 120_000);
});
