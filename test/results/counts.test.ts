/**
 * Counts that agree (issue 14.4) and timeouts apart (issue 14.3). A results document built as
 * the bench builds it (src/bench/runner.ts buildRun over hand-made passes) with errors on
 * messages labelled `any` — the case where the ranking said "Errors 0" beside three listed
 * error messages — and a SUT run with one message at the SUT's deadline. Every output (the
 * terminal table, report.html's ranking and category table, summary.md, `check` text,
 * Markdown and JUnit, a thresholds file written from it) shows the same counts.
 */
import { describe, expect, it } from 'vitest';
import { buildRun, stalledMs, type Pass } from '../../src/bench/runner.js';
import { formatTable } from '../../src/bench/table.js';
import { checkAgainstBaseline } from '../../src/check/compare.js';
import { toJunitXml } from '../../src/check/junit.js';
import { toMarkdown } from '../../src/check/markdown.js';
import type { CheckReport } from '../../src/check/findings.js';
import { formatText } from '../../src/check/text.js';
import { evaluateThresholds, thresholdsFromResults, THRESHOLDS_KIND } from '../../src/check/thresholds.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { categoryMatrix, problemMessages, rankRuns } from '../../src/report/model.js';
import { allCaughtNoFalsePositive, completedThroughput, countRecords, runCounts } from '../../src/results/counts.js';
import { validateResults } from '../../src/results/schema.js';
import { SCHEMA_VERSION, type MessageResult, type Results } from '../../src/results/types.js';

const rec = (file: string, expected: MessageResult['expected'], category: string, verdict: MessageResult['verdict'], extra: Partial<MessageResult> = {}): MessageResult => ({
  file,
  ...(expected === undefined ? {} : { expected }),
  category,
  verdict,
  names: verdict === 'infected' ? ['Eicar-Test-Signature'] : [],
  ms: 2,
  fate: 'scanned',
  ...(verdict === 'error' ? { errorCode: 'UNPARSEABLE' } : {}),
  ...extra,
});

/** The direct run: 4 infected found, 1 missed, 3 clean (1 flagged), and errors on three `any` messages. */
function directRecords(): MessageResult[] {
  return [
    rec('m0001.eml', 'infected', 'plain', 'infected'),
    rec('m0002.eml', 'infected', 'zip', 'infected'),
    rec('m0003.eml', 'infected', 'zip', 'infected'),
    rec('m0004.eml', 'infected', 'uuencode', 'clean'),
    rec('m0005.eml', 'infected', 'plain', 'infected'),
    rec('m0006.eml', 'clean', 'clean', 'clean'),
    rec('m0007.eml', 'clean', 'clean', 'infected'),
    rec('m0008.eml', 'clean', 'clean', 'clean'),
    rec('m0095.eml', 'any', 'hostile', 'error'),
    rec('m0140.eml', 'any', 'hostile', 'error'),
    rec('m0149.eml', 'any', 'hostile', 'error'),
  ];
}

/** Two sessions: m1 and m2 start at 0; m2 waits 3.1 s for the SUT's 3 s deadline while m1, m3, m4 pass. */
function sutPass(): Pass {
  const records = [
    rec('m1.eml', 'infected', 'plain', 'infected', { fate: 'rejected', ms: 10 }),
    rec('m2.eml', 'clean', 'nul', 'error', { fate: 'tempfailed', errorCode: 'TEMPFAIL', smtpReply: '451 Local Error', ms: 3100 }),
    rec('m3.eml', 'clean', 'clean', 'clean', { fate: 'delivered', ms: 10 }),
    rec('m4.eml', 'any', 'hostile', 'clean', { fate: 'delivered', ms: 10 }),
  ];
  return { records, durationMs: 3100, bytes: 4000, starts: [0, 0, 10, 20], ends: [10, 3100, 20, 30], sizes: [1000, 1000, 1000, 1000] };
}

function sample(): Results {
  const direct = buildRun('embedded/direct/c1', { name: 'embedded', type: 'embedded' }, 'direct', 'direct', 1, false, [{ records: directRecords(), durationMs: 22, bytes: 11_000 }], undefined, undefined, undefined, { rounds: true });
  const sut = buildRun('clamsmtpd/smtp/c2', { name: 'clamsmtpd', type: 'sut' }, 'smtp', 'smtp://127.0.0.1:10025?name=clamsmtpd', 2, false, [sutPass()], undefined, { connection: 'per-message' }, 3_000, { rounds: true });
  return {
    schemaVersion: SCHEMA_VERSION,
    startedAt: '2026-12-04T10:00:00.000Z',
    host: { cpuModel: 'Test CPU', cores: 2, memoryBytes: 4 * 1024 ** 3, os: 'Linux', node: 'v20.20.2', loadAverage: [1, 1, 1] },
    corpus: { path: '/tmp/c', messages: 11, bytes: 11_000 },
    settings: { repeats: 1, warmup: 0, cold: false, order: 'interleaved' },
    runs: [direct, sut],
  };
}

/** Cells of the row of a Markdown / cli-table3 table that contains `key`, by the header's column names. */
function row(text: string, headerStart: string, key: string, sep: RegExp): Record<string, string> {
  const lines = text.split('\n');
  const header = lines.find((l) => l.includes(headerStart)) as string;
  const cells = (l: string): string[] => l.split(sep).slice(1, -1).map((c) => c.trim());
  const line = lines.find((l) => l.includes(key) && l !== header) as string;
  expect(line, key).toBeDefined();
  const names = cells(header);
  const vals = cells(line);
  return Object.fromEntries(names.map((n, i) => [n, vals[i] ?? '']));
}

/** The ranking table's cells of run `id` in report.html, by column heading. */
function htmlRow(page: string, id: string): Record<string, string> {
  const table = /<table class="ranking">([\s\S]*?)<\/table>/.exec(page)?.[1] as string;
  const heads = [...(/<thead>([\s\S]*?)<\/thead>/.exec(table)?.[1] ?? '').matchAll(/<th[^>]*>([\s\S]*?)<\/th>/g)].map((m) => (m[1] as string).replace(/<[^>]+>/g, '').trim());
  const tr = new RegExp(`<tr data-run="${id.replace(/[/.?]/g, (c) => `\\${c}`)}">([\\s\\S]*?)</tr>`).exec(table)?.[1] as string;
  expect(tr, id).toBeDefined();
  const tds = [...tr.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => (m[1] as string).replace(/<br>/g, ' ').replace(/<[^>]+>/g, '').trim());
  return Object.fromEntries(heads.map((h, i) => [h, tds[i] ?? '']));
}

describe('one definition of every count', () => {
  const results = sample();
  const [direct, sut] = results.runs as [Results['runs'][number], Results['runs'][number]];

  it('counts errors on every message (any included), apart from detection figures', () => {
    // results.json's detection counts judge labelled messages only: its `errors` is 0 here —
    // the figure the ranking used to show beside three error messages.
    expect(direct.detection.errors).toBe(0);
    expect(runCounts(direct)).toMatchObject({ messages: 11, infected: 5, clean: 3, errors: 3, errorsLabelled: 0, missed: 1, falsePositives: 1, tp: 4, fn: 1, fp: 1, tn: 2, lost: 0, timeouts: 0 });
    expect(direct.counts).toEqual(runCounts(direct));
    // "All caught, no FP" means no error on any message either: the same in results.json and every output.
    expect(direct.detection.allCaughtNoFalsePositive).toBe(false);
    expect(allCaughtNoFalsePositive(direct)).toBe(false);
    expect(validateResults(JSON.parse(JSON.stringify(results)))).toEqual([]);
  });

  it('the terminal table, report.html, summary.md and the category table show the same counts', () => {
    const c = runCounts(direct);
    const term = row(formatTable(results), 'scanner', 'embedded', /│/);
    expect([term['errors'], term['FP'], term['lost'], term['timeouts']]).toEqual([String(c.errors), `${c.falsePositives}/${c.fp + c.tn}`, String(c.lost), String(c.timeouts)]);
    expect(term['detection']).toBe('80.0% (4/5)');

    const md = row(renderMarkdown(results), '| # | Scanner', '| embedded |', /\|/);
    expect([md['Errors'], md['False pos.'], md['Lost'], md['Timeouts']].map((x) => x?.replace(/^\*\*(.*)\*\* ★$/, '$1'))).toEqual([String(c.errors), String(c.falsePositives), String(c.lost), String(c.timeouts)]);

    const page = renderHtml(results);
    const h = htmlRow(page, direct.id);
    expect([h['Errors'], h['False pos.'], h['Lost'], h['Timeouts']].map((x) => x?.replace(/\s*★$/, ''))).toEqual([String(c.errors), String(c.falsePositives), String(c.lost), String(c.timeouts)]);
    expect([h['All caught, no FP'], md['All caught, no FP']]).toEqual(['no', 'no']);

    // The problem list names exactly the counted errors, missed and flagged messages.
    const { messages } = problemMessages(results);
    const said = messages.flatMap((m) => (m.byScanner.get('embedded') ?? []).map((x) => x.kind));
    expect(said.filter((k) => k === 'error')).toHaveLength(c.errors);
    expect(said.filter((k) => k === 'missed')).toHaveLength(c.missed);
    expect(said.filter((k) => k === 'false-positive')).toHaveLength(c.falsePositives);

    // The category table's errors add up to the same count (the `hostile` category holds only `any` messages).
    const m = categoryMatrix(results);
    const col = m.runs.findIndex((r) => r.run === direct);
    expect(m.cells.reduce((s, cells) => s + (cells[col]?.counts?.errors ?? 0), 0)).toBe(c.errors);
    expect(rankRuns(results).find((r) => r.run === direct)?.values.errors).toBe(c.errors);
  });

  it('check (text, Markdown, JUnit) and a thresholds file written from the results use the same counts', () => {
    const c = runCounts(direct);
    const t = thresholdsFromResults(results, 'results.json');
    expect(t.rules.find((r) => r.scanner === 'embedded')?.maxErrors).toBe(c.errors);

    const strict = evaluateThresholds(results, { kind: THRESHOLDS_KIND, version: 1, rules: [{ scanner: 'embedded', mode: 'direct', maxErrors: 0 }] });
    const report: CheckReport = { resultsFile: 'r.json', baselineFile: 't.json', baselineKind: 'thresholds', host: results.host, corpus: results.corpus, ...strict };
    const err = strict.cases.flatMap((k) => k.findings).find((f) => f.metric === 'errors' && !f.ok);
    expect(err?.actual).toBe(c.errors);
    expect(err?.messages?.map((x) => x.file)).toEqual(['m0095.eml', 'm0140.eml', 'm0149.eml']);
    expect(formatText(report)).toContain(`${c.errors} error verdict(s), at most 0 allowed`);
    expect(toMarkdown(report)).toContain(`| embedded | direct | \\(all\\) | errors |  | ${c.errors} | 0 |`);
    const xml = toJunitXml(report, '2026-12-04T10:00:00.000Z');
    expect(xml).toContain(`tp=${c.tp} fn=${c.fn} fp=${c.fp} tn=${c.tn} errors=${c.errors} lost=${c.lost} timeouts=${c.timeouts}`);

    // Against an earlier run where those three messages scanned fine: three newly failing, errors 0 → 3.
    const before = structuredClone(results);
    before.runs[0]!.results = before.runs[0]!.results.map((r) => (r.verdict === 'error' ? { ...r, verdict: 'clean', errorCode: undefined } as unknown as MessageResult : r));
    const cmp = checkAgainstBaseline(before, results);
    const f = cmp.cases.find((k) => k.scanner === 'embedded' && k.category === '(all)')?.findings.find((x) => x.metric === 'errors');
    expect(f).toMatchObject({ ok: false, baseline: 0, actual: c.errors });
    expect(f?.messages?.map((x) => x.file)).toEqual(['m0095.eml', 'm0140.eml', 'm0149.eml']);
  });
});

describe('timeouts are not throughput', () => {
  const results = sample();
  const sut = results.runs[1]!;

  it('a message at the SUT deadline is flagged, counted apart, and left out of completed throughput', () => {
    expect(sut.results.map((r) => r.deadline === true)).toEqual([false, true, false, false]);
    expect(sut.timeouts).toEqual({ messages: 1, seconds: 3.1, stalledSeconds: 3.07, sutDeadlineMs: 3000 });
    // Raw: 4 messages in 3.1 s; completed: 3 messages in the 30 ms when something else was in flight.
    expect(sut.throughput.msgsPerSec).toBeCloseTo(1.29, 2);
    expect(sut.completed).toEqual({ messages: 3, durationMs: 30, msgsPerSec: 100, mbPerSec: 0.1 });
    expect(completedThroughput(sut).msgsPerSec).toBe(100);
    expect(sut.repeats[0]).toMatchObject({ completedMsgsPerSec: 100, timeouts: 1 });
    expect(runCounts(sut)).toMatchObject({ errors: 1, timeouts: 1, timeoutSeconds: 3.1 });
  });

  it('the table, report and summary show throughput over completed messages and the timeouts apart', () => {
    const term = row(formatTable(results), 'scanner', 'clamsmtpd', /│/);
    expect(term['msgs/s']).toBe('100');
    expect(term['timeouts']).toBe('1 (3.1 s)');
    const md = row(renderMarkdown(results), '| # | Scanner', '| clamsmtpd |', /\|/);
    expect(md['Timeouts']).toBe('1 (3.1 s)');
    expect(md['msgs/s (range)']).toMatch(/^(\*\*)?100\b/);
    const h = htmlRow(renderHtml(results), sut.id);
    expect(h['Timeouts']).toBe('1 3.1 s');
    expect(h['msgs/s (median; range)']).toMatch(/^100\b/);
  });

  it('a stall is only the time when nothing but deadline-bound messages were in flight', () => {
    const p = sutPass();
    expect(stalledMs(p, (i) => i === 1)).toBe(3070);
    // At one session, the deadline message's whole time is lost; gaps between messages are not.
    const serial: Pass = { records: p.records, durationMs: 3200, bytes: 4000, starts: [0, 20, 3130, 3160], ends: [10, 3120, 3140, 3170] };
    expect(stalledMs(serial, (i) => i === 1)).toBe(3100);
    // Without per-message times: the deadline messages' time over the concurrency.
    expect(stalledMs({ records: p.records, durationMs: 3100, bytes: 0 }, (i) => i === 1, 2)).toBe(1550);
    // TIMEOUT errors (the driver's or scanner's deadline) count without a flag.
    expect(countRecords([rec('x', 'clean', 'c', 'error', { errorCode: 'TIMEOUT', ms: 60_000 })]).timeouts).toBe(1);
  });
});
