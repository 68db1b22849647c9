/**
 * `avbench check` on real benches (test/check/fixtures.ts): identical runs pass; one
 * signature fewer makes a message go missing (exit 1, the message named); a signature
 * matching a clean attachment flags it (exit 1, named); malformed baselines exit 2 with
 * the file, the kind it looked like and the JSON Pointer of the problem; thresholds
 * files, --update-baseline, GitHub annotations and the job summary.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Results } from '../../src/results/types.js';
import { annotations, escapeCommandData, escapeCommandProperty } from '../../src/check/github.js';
import { runCheck, type CheckOptions, type CheckOutcome } from '../../src/check/run.js';
import { regressions } from '../../src/check/findings.js';
import { validateThresholds, type Thresholds } from '../../src/check/thresholds.js';
import { runCli } from '../../src/cli/main.js';
import { captureOutput } from '../helpers/capture.js';
import { changed, makeFixtures, type CheckFixtures } from './fixtures.js';

let dir: string;
let fx: CheckFixtures;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-check-test-'));
  fx = await makeFixtures(dir);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** runCheck with its output captured (and no GitHub environment unless given). */
async function check(o: Omit<CheckOptions, 'out' | 'err'>): Promise<CheckOutcome & { stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const r = await runCheck({ env: {}, ...o, out: (s) => out.push(s), err: (s) => err.push(s) });
  return { ...r, stdout: out.join(''), stderr: err.join('') };
}

describe('the real benches behind the tests', () => {
  it('differ the way their signature folders say', () => {
    const missed = changed(fx.results.full, fx.results.reduced, 'infected', 'infected', 'clean');
    expect(missed.length).toBeGreaterThan(0);
    const flagged = changed(fx.results.full, fx.results.flagging, 'clean', 'clean', 'infected');
    expect(flagged).toContain(fx.flaggedFile);
  });
});

describe('check against earlier results', () => {
  it('exits 0 on an identical run and on a second real run with the same signatures, saying timing was not compared', async () => {
    const same = await check({ results: fx.full, baseline: fx.full });
    expect(same.exitCode).toBe(0);
    expect(same.stdout).toMatch(/^ok: \d+ check\(s\) passed/m);
    const again = await check({ results: fx.fullAgain, baseline: fx.full });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('throughput and latency are not compared');
    expect(again.report?.cases.length).toBeGreaterThan(10); // (all) + every category
  });

  it('exits 1 naming each message newly missed when a signature is removed', async () => {
    const r = await check({ results: fx.reduced, baseline: fx.full });
    expect(r.exitCode).toBe(1);
    const missed = changed(fx.results.full, fx.results.reduced, 'infected', 'infected', 'clean');
    for (const file of missed) expect(r.stdout).toContain(file);
    expect(r.stdout).toMatch(/REGRESSION embedded\/direct \(all\): detection rate [\d.]+% \(\d+\/\d+\) → [\d.]+% \(\d+\/\d+\) \(−[\d.]+ pt\); \d+ newly missed/);
    const bad = regressions(r.report!);
    const named = new Set(bad.flatMap(({ f }) => (f.messages ?? []).map((m) => m.file)));
    expect([...named].sort()).toEqual([...missed].sort());
    // The category of each missed message fails too, with the same file.
    for (const file of missed) {
      const cat = fx.results.full.runs[0]!.results.find((m) => m.file === file)!.category!;
      expect(bad.some(({ c, f }) => c.category === cat && f.metric === 'detection' && f.messages?.some((m) => m.file === file))).toBe(true);
    }
    // Nothing else regressed: no false positive, no error.
    expect(bad.every(({ f }) => f.metric === 'detection')).toBe(true);
  });

  it('exits 1 naming the clean message newly flagged', async () => {
    const r = await check({ results: fx.flagging, baseline: fx.full });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(`REGRESSION embedded/direct (all): false positives 0 → `);
    expect(r.stdout).toContain(`${fx.flaggedFile} [`);
    expect(r.stdout).toContain('clean → infected (Avbench-Test-Clean-Part');
    const bad = regressions(r.report!);
    expect(bad.every(({ f }) => f.metric === 'false-positives')).toBe(true);
  });

  it('better results are no regression', async () => {
    const r = await check({ results: fx.full, baseline: fx.reduced });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain('REGRESSION');
  });

  it('a run that disappeared is a regression', async () => {
    const doc = JSON.parse(await readFile(fx.full, 'utf8')) as Results;
    const renamed = structuredClone(doc);
    renamed.runs[0]!.scanner.name = 'other';
    renamed.runs[0]!.id = 'other/direct/c1';
    const file = join(dir, 'renamed.json');
    await writeFile(file, JSON.stringify(renamed));
    const r = await check({ results: file, baseline: fx.full });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('run embedded/direct/c1 is in the baseline but not in the results');
    expect(r.stdout).toContain('run other/direct/c1 is new');
  });

  it('compares timing only when asked, and then reports the figures', async () => {
    const doc = JSON.parse(await readFile(fx.full, 'utf8')) as Results;
    const slower = structuredClone(doc);
    slower.runs[0]!.throughput.msgsPerSec = doc.runs[0]!.throughput.msgsPerSec / 2;
    // What check compares is the throughput over completed messages (src/results/counts.ts).
    slower.runs[0]!.completed!.msgsPerSec = doc.runs[0]!.completed!.msgsPerSec / 2;
    slower.runs[0]!.latencyMs.p95 = doc.runs[0]!.latencyMs.p95 + 50;
    const file = join(dir, 'slower.json');
    await writeFile(file, JSON.stringify(slower));
    expect((await check({ results: file, baseline: fx.full })).exitCode).toBe(0);
    const timed = await check({ results: file, baseline: fx.full, timing: { maxThroughputDropPercent: 20, maxP95RiseMs: 10 } });
    expect(timed.exitCode).toBe(1);
    expect(timed.stdout).toMatch(/throughput [\d.]+ → [\d.]+ msg\/s: 50% lower \(at most 20% lower allowed\)/);
    expect(timed.stdout).toMatch(/p95 latency [\d.]+ ms vs [\d.]+ ms in the baseline: \+50 ms/);
  });
});

describe('check against a thresholds file', () => {
  it('--update-baseline derives one from the results; the same run passes it, the reduced run does not', async () => {
    const file = join(dir, 'baselines', 'quick.thresholds.json');
    const up = await check({ results: fx.full, baseline: file, updateBaseline: true });
    expect(up.exitCode).toBe(0);
    expect(up.wrote).toBe('thresholds');
    const t = JSON.parse(await readFile(file, 'utf8')) as Thresholds;
    expect(validateThresholds(t)).toEqual([]);
    expect(t.rules).toHaveLength(1);
    // Errors as src/results/counts.ts counts them: every error verdict, on messages labelled `any` too.
    const errorsOnAny = fx.results.full.runs.find((r) => r.baseline !== true)!.results.filter((r) => r.verdict === 'error');
    expect(errorsOnAny.length).toBeGreaterThan(0);
    expect(errorsOnAny.every((r) => r.expected === 'any')).toBe(true);
    expect(t.rules[0]).toMatchObject({ scanner: 'embedded', mode: 'direct', maxFalsePositives: 0, maxErrors: errorsOnAny.length });

    const ok = await check({ results: fx.fullAgain, baseline: file });
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain('throughput and latency are not checked: no rule of the thresholds file asks for them');

    const bad = await check({ results: fx.reduced, baseline: file });
    expect(bad.exitCode).toBe(1);
    for (const f of changed(fx.results.full, fx.results.reduced, 'infected', 'infected', 'clean')) expect(bad.stdout).toContain(f);
    expect(bad.stdout).toMatch(/detection rate [\d.]+% \(\d+\/\d+\) is below the minimum/);
  });

  it('wildcards, categories, timing figures and a rule matching nothing', async () => {
    const t: Thresholds = {
      kind: 'avbench-thresholds',
      version: 1,
      rules: [
        { scanner: '*', mode: '*', maxFalsePositives: 0, categories: { '*': { minDetectionRate: 1 } } },
        { scanner: 'embedded', mode: 'direct', baselineMsgsPerSec: 1e9, maxThroughputDropPercent: 10 },
        { scanner: 'clamd', mode: 'smtp', minDetectionRate: 0.5 },
        { scanner: 'yara', mode: 'direct', minDetectionRate: 0.5, optional: true },
      ],
    };
    const file = join(dir, 'hand.thresholds.json');
    await writeFile(file, JSON.stringify(t));
    const r = await check({ results: fx.flagging, baseline: file });
    expect(r.exitCode).toBe(1);
    const bad = regressions(r.report!);
    const metrics = bad.map(({ c, f }) => `${c.scanner}/${c.mode} ${c.category} ${f.metric}`);
    expect(metrics).toContain('embedded/direct (all) false-positives');
    expect(metrics).toContain('embedded/direct (all) throughput');
    expect(metrics).toContain('clamd/smtp (all) missing-run');
    expect(metrics.some((m) => m.startsWith('yara'))).toBe(false);
    // The embedded scanner cannot unpack every clamav-testfile: that category is below 100%.
    expect(metrics).toContain('embedded/direct clamav-testfiles detection');
    expect(r.stdout).toContain(fx.flaggedFile);
  });
});

describe('the committed baseline of the CI gate', () => {
  it('baselines/quick.thresholds.json validates and has rules for every scanner the gate benches', async () => {
    const t = JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'baselines', 'quick.thresholds.json'), 'utf8')) as Thresholds;
    expect(validateThresholds(t)).toEqual([]);
    expect(t.rules.map((r) => r.scanner).sort()).toEqual(['*', 'clamd', 'embedded', 'yara']);
    for (const r of t.rules) expect(r.maxThroughputDropPercent ?? r.maxP95RiseMs ?? r.maxP95RisePercent).toBeUndefined();
  });
});

describe('unusable input exits 2 and says what is wrong', () => {
  const cases: [string, unknown | string, RegExp][] = [
    ['not JSON', '{"kind": "avbench-thresholds", ', /baseline .*bad-0\.json: not JSON: /],
    ['neither kind', { hello: 1 }, /looks like neither a results\.json \(top-level "schemaVersion" and "runs"\) nor a thresholds file/],
    ['a rate above 1', { kind: 'avbench-thresholds', version: 1, rules: [{ scanner: 'clamd', mode: 'direct', minDetectionRate: 1.5 }] }, /looks like a thresholds file but does not validate against schema\/thresholds\.schema\.json:\n {2}at \/rules\/0\/minDetectionRate: must be <= 1/],
    ['an unknown key', { kind: 'avbench-thresholds', version: 1, rules: [{ scanner: 'clamd', mode: 'direct', minDetectonRate: 1 }] }, /at \/rules\/0: must NOT have additional properties: minDetectonRate/],
    ['an unknown mode', { kind: 'avbench-thresholds', version: 1, rules: [{ scanner: 'clamd', mode: 'proxy', maxErrors: 0 }] }, /at \/rules\/0\/mode: must be equal to one of the allowed values/],
    ['a drop limit without its figure', { kind: 'avbench-thresholds', version: 1, rules: [{ scanner: '*', mode: '*', maxThroughputDropPercent: 10 }] }, /at \/rules\/0: must have property baselineMsgsPerSec when property maxThroughputDropPercent is present/],
    ['a rule that checks nothing', { kind: 'avbench-thresholds', version: 1, rules: [{ scanner: '*', mode: '*' }] }, /at \/rules\/0: the rule checks nothing/],
    ['a results.json missing its runs key', { schemaVersion: 1, startedAt: '2026-01-01T00:00:00Z' }, /looks like a results\.json but does not validate against schema\/results\.schema\.json:\n.*at \/: must have required property/],
  ];
  for (const [i, [what, content, message]] of cases.entries()) {
    it(what, async () => {
      const file = join(dir, `bad-${i}.json`);
      await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
      const r = await check({ results: fx.full, baseline: file });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    });
  }

  it('a results.json whose fates do not add up; a missing file; thresholds given as --results', async () => {
    const doc = JSON.parse(await readFile(fx.full, 'utf8')) as Results;
    doc.runs[0]!.fates.scanned += 1;
    const broken = join(dir, 'broken.json');
    await writeFile(broken, JSON.stringify(doc));
    const r = await check({ results: broken, baseline: fx.full });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/results .*broken\.json looks like a results\.json but does not validate.*\n {2}at \/runs\/0\/fates: fates add up to \d+, but the run has \d+ messages/);
    const missing = await check({ results: fx.full, baseline: join(dir, 'nope.json') });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/baseline .*nope\.json: cannot read it \(no such file\)/);
    const swapped = await check({ results: join(dir, 'hand.thresholds.json'), baseline: fx.full });
    expect(swapped.exitCode).toBe(2);
    expect(swapped.stderr).toContain('is a thresholds file; --results wants a results.json');
  });
});

describe('GitHub Actions output', () => {
  it('writes one ::error line per regression and appends the job summary', async () => {
    const summary = join(dir, 'step-summary.md');
    await writeFile(summary, '# earlier step\n');
    const r = await check({ results: fx.reduced, baseline: fx.full, env: { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary } });
    expect(r.exitCode).toBe(1);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('::error '));
    expect(lines).toHaveLength(regressions(r.report!).length);
    for (const l of lines) expect(l).toMatch(/^::error title=avbench check%3A embedded\/direct [^:]* detection::detection rate .*%0A/);
    const md = await readFile(summary, 'utf8');
    expect(md.startsWith('# earlier step\n## avbench check: ')).toBe(true);
    expect(md).toContain('| embedded | direct | \\(all\\) | detection |');
    const missed = changed(fx.results.full, fx.results.reduced, 'infected', 'infected', 'clean');
    for (const f of missed) expect(md).toContain(`- ${f.replace(/_/g, '\\_')}`);
  });

  it('no annotations outside GitHub Actions', async () => {
    const r = await check({ results: fx.reduced, baseline: fx.full, env: {} });
    expect(r.stdout).not.toContain('::error');
  });

  it('escapes hostile names per the workflow-command rules', async () => {
    expect(escapeCommandData('50% done\r\nnext')).toBe('50%25 done%0D%0Anext');
    expect(escapeCommandProperty('a:b,c%\n')).toBe('a%3Ab%2Cc%25%0A');
    const r = await check({ results: fx.reduced, baseline: fx.full });
    const report = structuredClone(r.report!);
    const bad = regressions(report)[0]!;
    bad.f.messages = [{ file: 'evil\n::warning::x,y:%.eml', detail: 'infected → clean' }];
    bad.c.category = 'cat::error title=x::y';
    const lines = annotations(report);
    expect(lines[0]!.split('\n')).toHaveLength(1);
    expect(lines[0]).toContain('evil%0A::warning::x,y:%25.eml');
    expect(lines[0]).toContain('title=avbench check%3A embedded/direct cat%3A%3Aerror title=x%3A%3Ay detection::');
  });
});

describe('the avbench check command', () => {
  it('exits 0, 1 and 2 from the command line and writes --junit and --markdown', async () => {
    const junit = join(dir, 'cli', 'junit.xml');
    const markdown = join(dir, 'cli', 'summary.md');
    const ok = await captureOutput(() => runCli(['check', '--results', fx.fullAgain, '--baseline', fx.full]));
    expect(ok.result).toBe(0);
    const bad = await captureOutput(() => runCli(['check', '--results', fx.reduced, '--baseline', fx.full, '--junit', junit, '--markdown', markdown]));
    expect(bad.result).toBe(1);
    expect(bad.stdout).toContain('REGRESSION embedded/direct');
    expect(await readFile(junit, 'utf8')).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="avbench check"/);
    expect(await readFile(markdown, 'utf8')).toMatch(/^## avbench check: \d+ regression\(s\)/);
    const usage = await captureOutput(() => runCli(['check', '--results', fx.full, '--baseline', join(dir, 'bad-2.json')]));
    expect(usage.result).toBe(2);
    expect(usage.stderr).toContain('/rules/0/minDetectionRate');
    const missingArg = await captureOutput(() => runCli(['check', '--results', fx.full]));
    expect(missingArg.result).toBe(2);
    expect(missingArg.stderr).toContain('baseline');
  });
});
