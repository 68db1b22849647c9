/**
 * Schema version 1 files still read (issue 14: the schema version went to 2). The fixture
 * test/results/fixtures/results-v1.json is real `avbench bench` output of schema version 1
 * — reports/reference/results.json as committed in 31abeee (before issue 14's fields
 * existed: no settings.cold, completed, timeouts, counts, pass, allCaughtNoFalsePositive),
 * cut to its seven c1 runs of baseline, embedded, clamd (direct, smtp) and clamsmtpd (smtp),
 * each run whole. It must validate, render with `avbench report`, and be read by
 * `avbench check` as results and as baseline — against itself and against a version 2 file.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateResults } from '../../src/results/schema.js';
import { SCHEMA_VERSION, type Results } from '../../src/results/types.js';
import { completedThroughput, runCounts } from '../../src/results/counts.js';
import { loadResultsFile } from '../../src/report/load.js';
import { writeReport } from '../../src/report/index.js';
import { loadBaseline, loadResults } from '../../src/check/load.js';
import { runCheck } from '../../src/check/run.js';
import { runCli } from '../../src/cli/main.js';
import { captureOutput } from '../helpers/capture.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'results-v1.json');

let dir: string;
let v1: Results;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-v1-test-'));
  v1 = JSON.parse(await readFile(FIXTURE, 'utf8')) as Results;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The v1 file with what version 2 always writes added (figures unchanged): a version 2 file of the same run. */
function asVersion2(doc: Results): Results {
  const d = JSON.parse(JSON.stringify(doc)) as Results;
  d.schemaVersion = SCHEMA_VERSION;
  d.settings = { repeats: d.settings?.repeats ?? 1, warmup: d.settings?.warmup ?? 0, cold: false, order: 'sequential' };
  for (const run of d.runs) {
    const counts = runCounts(run);
    const c = completedThroughput(run);
    run.completed = { messages: counts.messages - counts.timeouts, durationMs: run.durationMs, msgsPerSec: c.msgsPerSec, mbPerSec: c.mbPerSec };
    run.timeouts = { messages: counts.timeouts, seconds: counts.timeoutSeconds, stalledSeconds: 0 };
    run.counts = counts;
    run.detection.allCaughtNoFalsePositive = run.detection.vb100;
    run.repeats = run.repeats.map((r, i) => ({ ...r, pass: 'warm' as const, round: i + 1 }));
  }
  return d;
}

describe('a schema version 1 results.json', () => {
  it('is real version 1 output without the fields version 2 requires, and validates', () => {
    expect(v1.schemaVersion).toBe(1);
    expect(v1.settings?.cold).toBeUndefined();
    expect(v1.runs.map((r) => r.id)).toEqual(['baseline/direct/c1', 'baseline/smtp/c1', 'embedded/direct/c1', 'embedded/smtp/c1', 'clamd/direct/c1', 'clamd/smtp/c1', 'clamsmtpd/smtp/c1']);
    for (const r of v1.runs) {
      expect(r.completed ?? r.counts ?? r.timeouts ?? r.detection.allCaughtNoFalsePositive ?? r.repeats[0]?.pass).toBeUndefined();
    }
    expect(validateResults(v1)).toEqual([]);
    // The same content claiming version 2 is not valid: version 2 requires them.
    const claimed = validateResults({ ...v1, schemaVersion: 2 });
    expect(claimed.map((p) => p.path)).toEqual(expect.arrayContaining(['/', '/runs/0']));
    // ...and filling them in makes it a valid version 2 file.
    expect(validateResults(asVersion2(v1))).toEqual([]);
  });

  it('renders: the report loader reads it, the page says schema version 1 and that every figure is warm', async () => {
    const loaded = await loadResultsFile(FIXTURE);
    expect(loaded.ok).toBe(true);
    const out = join(dir, 'report');
    const w = await writeReport(v1, out);
    const html = await readFile(w.html, 'utf8');
    expect(html).toContain('results.json schema version 1 (written before cold passes');
    expect(html).toContain('No cold passes in this file');
    expect(html).toContain('data-overhead-run="clamd/smtp/c1"');
    expect(html).toMatch(/clamsmtpd/);
    for (const p of w.pngs) expect((await stat(p)).size).toBeGreaterThan(1000);
    const md = await readFile(join(out, 'summary.md'), 'utf8');
    expect(md).toContain('clamd');
  });

  it('renders through `avbench report --results` (exit 0, report.html written)', async () => {
    const out = join(dir, 'cli-report');
    const r = await captureOutput(() => runCli(['report', '--results', FIXTURE, '--out', out]));
    expect(r.result, r.stderr).toBe(0);
    expect((await stat(join(out, 'report.html'))).size).toBeGreaterThan(10_000);
  });

  it('is read by `avbench check` as results and as baseline, against itself and against a version 2 file', async () => {
    expect((await loadResults(FIXTURE)).schemaVersion).toBe(1);
    const b = await loadBaseline(FIXTURE);
    expect(b.kind).toBe('results');
    const v2File = join(dir, 'results-v2.json');
    await writeFile(v2File, JSON.stringify(asVersion2(v1)));
    for (const [results, baseline] of [
      [FIXTURE, FIXTURE],
      [v2File, FIXTURE],
      [FIXTURE, v2File],
    ] as const) {
      const out: string[] = [];
      const err: string[] = [];
      const r = await runCheck({ results, baseline, env: {}, out: (s) => out.push(s), err: (s) => err.push(s) });
      expect(r.exitCode, `${results} vs ${baseline}: ${err.join('')}`).toBe(0);
      expect(out.join('')).toMatch(/^ok: \d+ check\(s\) passed/m);
      expect(r.report?.cases.length).toBeGreaterThan(5);
    }
  });
});
