/**
 * One way of pairing two results files (issue 13.2): `avbench report A B` and `avbench
 * check` pair the same runs, by the same key, and read the same per-message changes.
 */
import { describe, expect, it } from 'vitest';
import { checkAgainstBaseline as checkCompare } from '../../src/check/compare.js';
import { compareResults as reportCompare } from '../../src/report/compare.js';
import { classifyChange, pairMessages, pairRuns, runKey, shapeKey } from '../../src/results/pairing.js';
import type { MessageResult, Run } from '../../src/results/types.js';
import { makeResults, makeRun, msg } from '../report/fixtures.js';

const clean = (f: string) => msg(f, 'clean', 'plain', 'clean');
const found = (f: string) => msg(f, 'infected', 'zip', 'infected');
const missed = (f: string) => msg(f, 'infected', 'zip', 'clean');

function sutRun(port: number, results: MessageResult[], shape?: Run['shape']): Run {
  const r = makeRun({ scanner: 'clamsmtpd', mode: 'smtp', msgsPerSec: 100, p95: 5, sut: `smtp://127.0.0.1:${port}?name=clamsmtpd`, results });
  return shape === undefined ? r : { ...r, shape };
}

describe('run key', () => {
  it('scanner (or baseline), mode, kind of SUT and concurrency: not the SUT address, which a lab changes every run', () => {
    const a = sutRun(10025, []);
    const b = sutRun(41873, []);
    expect(runKey(a)).toBe('clamsmtpd/smtp/smtp/c1');
    expect(runKey(b)).toBe(runKey(a));
    expect(runKey({ ...makeRun({ scanner: 'x', mode: 'direct', msgsPerSec: 1, p95: 1, results: [] }), baseline: true })).toBe('baseline/direct/direct/c1');
  });

  it('pairRuns says when the two were loaded differently (a run without a shape was kept-open)', () => {
    const old = makeResults([sutRun(1, [])]);
    const keptOpen = makeResults([sutRun(2, [], { connection: 'kept-open' })]);
    const perMessage = makeResults([sutRun(3, [], { connection: 'per-message' })]);
    expect(pairRuns(old, keptOpen)[0]).toMatchObject({ shapeDiffers: false });
    expect(pairRuns(old, perMessage)[0]).toMatchObject({ shapeDiffers: true });
    expect(shapeKey({ mode: 'smtp', shape: { connection: 'per-message', rate: 50 } })).toBe('per-message@50/s');
    expect(shapeKey({ mode: 'direct' })).toBe('');
  });
});

describe('report and check pair alike', () => {
  it('a third-party SUT on a new port is the same run for both; both see the same newly missed message; speed is not compared across load shapes', () => {
    const before = makeResults([sutRun(10025, [found('m1.eml'), found('m2.eml'), clean('m3.eml')], { connection: 'kept-open' })]);
    const after = makeResults([sutRun(39999, [found('m1.eml'), missed('m2.eml'), clean('m3.eml')], { connection: 'per-message' })]);
    const report = reportCompare(before, after);
    expect(report.pairs).toHaveLength(1);
    expect(report.pairs[0]).toMatchObject({ key: 'clamsmtpd/smtp/smtp/c1', shapeDiffers: true, msgsPerSecChangePct: null, p95ChangePct: null });
    expect(report.changes.map((c) => [c.kind, c.file])).toEqual([['newly-missed', 'm2.eml']]);
    const check = checkCompare(before, after, { maxThroughputDropPercent: 10 });
    expect(check.cases.flatMap((c) => c.findings).filter((f) => f.metric === 'missing-run')).toEqual([]);
    const detection = check.cases.find((c) => c.category === '(all)')?.findings.find((f) => f.metric === 'detection');
    expect(detection).toMatchObject({ ok: false, messages: [{ file: 'm2.eml' }] });
    expect(check.notes.some((n) => n.includes('loaded differently'))).toBe(true);
  });
});

describe('one per-message change classifier', () => {
  it('classifies every verdict transition', () => {
    const m = (expected: 'infected' | 'clean', verdict: MessageResult['verdict'], names: string[] = verdict === 'infected' ? ['A'] : []) => msg('f', expected, 'c', verdict, { names });
    expect(classifyChange(m('infected', 'infected'), m('infected', 'clean'))).toBe('newly-missed');
    expect(classifyChange(m('infected', 'clean'), m('infected', 'infected'))).toBe('newly-detected');
    expect(classifyChange(m('clean', 'clean'), m('clean', 'infected'))).toBe('newly-flagged');
    expect(classifyChange(m('clean', 'infected'), m('clean', 'clean'))).toBe('no-longer-flagged');
    expect(classifyChange(m('clean', 'clean'), m('clean', 'error'))).toBe('new-error');
    expect(classifyChange(m('infected', 'error'), m('infected', 'clean'))).toBe('error-fixed');
    expect(classifyChange(m('infected', 'infected', ['A']), m('infected', 'infected', ['B']))).toBe('renamed');
    expect(classifyChange(m('infected', 'infected', ['A', 'B']), m('infected', 'infected', ['B', 'A']))).toBeUndefined();
  });

  it('pairMessages matches by file and lists the ones on one side only', () => {
    const a = makeRun({ scanner: 's', mode: 'direct', msgsPerSec: 1, p95: 1, results: [clean('a'), clean('b')] });
    const b = makeRun({ scanner: 's', mode: 'direct', msgsPerSec: 1, p95: 1, results: [clean('b'), clean('c')] });
    const p = pairMessages(a, b);
    expect(p.pairs.map((x) => x.file)).toEqual(['b']);
    expect(p.onlyBefore.map((x) => x.file)).toEqual(['a']);
    expect(p.onlyAfter.map((x) => x.file)).toEqual(['c']);
  });
});
