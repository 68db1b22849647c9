/**
 * Results against results: every scanning run of the baseline is paired with the new
 * results' run as src/results/pairing.ts pairs runs (the same rule as `avbench report A B`),
 * then message by message (by corpus-relative file name) and category by category. A regression is a run that
 * disappeared, a message newly missed, newly flagged or newly failing (error), or a
 * detection rate, false-positive count or error count that got worse — overall or in a
 * category. Throughput and p95 latency are compared only when asked (`timing`): figures from
 * another run, often another machine, are noisy.
 */
import { completedThroughput, detectionCounts } from '../results/counts.js';
import type { DetectionCounts, MessageResult, Results, Run } from '../results/types.js';
import { classifyChange, pairMessages, pairRuns, shapeKey, sutKind } from '../results/pairing.js';
import { ALL, num, pct, type CheckCase, type Finding, type NamedMessage } from './findings.js';
import { casesOfRun, p95Finding } from './thresholds.js';

/** Timing limits for results-vs-results (all off unless given). */
export interface TimingLimits {
  /** Largest acceptable throughput drop, percent. */
  maxThroughputDropPercent?: number;
  /** Largest acceptable p95 rise, ms. */
  maxP95RiseMs?: number;
  /** Largest acceptable p95 rise, percent. */
  maxP95RisePercent?: number;
}

/** Per-message changes between two runs of the same cell. */
interface Changes {
  missed: NamedMessage[];
  flagged: NamedMessage[];
  failing: NamedMessage[];
  /** Newly found (informational). */
  found: NamedMessage[];
  /** Labelled messages of the baseline the new run does not have. */
  absent: number;
}

function catOf(r: MessageResult): string {
  return r.category ?? '(none)';
}

function describe(r: MessageResult): string {
  if (r.verdict === 'error') return `error${r.errorCode !== undefined ? ` ${r.errorCode}` : ''}`;
  if (r.verdict === 'infected') return r.names.length > 0 ? `infected (${r.names.join(', ')})` : 'infected';
  return 'clean';
}

/**
 * Per-message changes of the baseline's labelled messages (its own label counts), read
 * from the one change classifier of src/results/pairing.ts: newly missed (an expected
 * infection found before, or failing before, and clean now), newly flagged, newly failing,
 * newly found.
 */
function changesBetween(base: Run, cur: Run): Changes {
  const ch: Changes = { missed: [], flagged: [], failing: [], found: [], absent: 0 };
  const matched = pairMessages(base, cur);
  for (const b of matched.onlyBefore) if (b.expected === 'infected' || b.expected === 'clean') ch.absent++;
  for (const { file, before: b, after: c } of matched.pairs) {
    if (b.expected !== 'infected' && b.expected !== 'clean') {
      // `any` and unlabelled messages are not judged, but an error on them is an error (src/results/counts.ts).
      if (c.verdict === 'error' && b.verdict !== 'error') ch.failing.push({ file, category: catOf(b), detail: `${describe(b)} → ${describe(c)} (labelled ${b.expected ?? 'nothing'})` });
      continue;
    }
    const kind = classifyChange(b, { ...c, expected: b.expected });
    if (kind === undefined) continue;
    const msg: NamedMessage = { file, category: catOf(b), detail: `${describe(b)} → ${describe(c)}` };
    if (kind === 'new-error') ch.failing.push(msg);
    else if (b.expected === 'infected' && c.verdict === 'clean' && (kind === 'newly-missed' || kind === 'error-fixed')) ch.missed.push(msg);
    else if (kind === 'newly-flagged' && b.expected === 'clean') ch.flagged.push(msg);
    else if (kind === 'newly-detected') ch.found.push(msg);
  }
  return ch;
}

function inCat(list: NamedMessage[], cat: string | undefined): NamedMessage[] {
  return cat === undefined ? list : list.filter((m) => m.category === cat);
}

const EPS = 1e-9;

/** Detection, false-positive and error findings of one case (a run, or one category). */
function countFindings(b: DetectionCounts, c: DetectionCounts, ch: Changes, cat: string | undefined): Finding[] {
  const out: Finding[] = [];
  const missed = inCat(ch.missed, cat);
  const found = inCat(ch.found, cat);
  if (b.detectionRate !== null || c.detectionRate !== null) {
    const rateDrop = b.detectionRate !== null && (c.detectionRate === null || c.detectionRate + EPS < b.detectionRate);
    const ok = missed.length === 0 && !rateDrop;
    const moved = b.detectionRate !== null && c.detectionRate !== null ? ` (${c.detectionRate >= b.detectionRate ? '+' : '−'}${num(Math.abs(c.detectionRate - b.detectionRate) * 100)} pt)` : '';
    out.push({
      metric: 'detection',
      ok,
      ...(b.detectionRate !== null ? { baseline: b.detectionRate } : {}),
      ...(c.detectionRate !== null ? { actual: c.detectionRate } : {}),
      message:
        `detection rate ${pct(b.detectionRate)} (${b.tp}/${b.tp + b.fn}) → ${pct(c.detectionRate)} (${c.tp}/${c.tp + c.fn})${moved}` +
        (missed.length > 0 ? `; ${missed.length} newly missed` : '') +
        (found.length > 0 ? `; ${found.length} newly found` : ''),
      ...(missed.length > 0 ? { messages: missed } : {}),
    });
  }
  const flagged = inCat(ch.flagged, cat);
  if (b.fp + b.tn > 0 || c.fp + c.tn > 0) {
    const ok = flagged.length === 0 && c.fp <= b.fp;
    out.push({
      metric: 'false-positives',
      ok,
      baseline: b.fp,
      actual: c.fp,
      limit: b.fp,
      message: `false positives ${b.fp} → ${c.fp}${flagged.length > 0 ? `; ${flagged.length} clean message(s) newly flagged` : ''}`,
      ...(flagged.length > 0 ? { messages: flagged } : {}),
    });
  }
  const failing = inCat(ch.failing, cat);
  const ok = failing.length === 0 && c.errors <= b.errors;
  out.push({
    metric: 'errors',
    ok,
    baseline: b.errors,
    actual: c.errors,
    limit: b.errors,
    message: `errors ${b.errors} → ${c.errors}${failing.length > 0 ? `; ${failing.length} message(s) newly failing` : ''}`,
    ...(failing.length > 0 ? { messages: failing } : {}),
  });
  return out;
}

function timingFindings(b: Run, c: Run, t: TimingLimits): Finding[] {
  const out: Finding[] = [];
  if (t.maxThroughputDropPercent !== undefined) {
    const base = completedThroughput(b).msgsPerSec;
    const now = completedThroughput(c).msgsPerSec;
    const drop = base > 0 ? ((base - now) / base) * 100 : 0;
    out.push({
      metric: 'throughput',
      ok: drop <= t.maxThroughputDropPercent + EPS,
      baseline: base,
      actual: now,
      limit: t.maxThroughputDropPercent,
      message: `throughput ${num(base)} → ${num(now)} msg/s: ${drop >= 0 ? `${num(drop)}% lower` : `${num(-drop)}% higher`} (at most ${num(t.maxThroughputDropPercent)}% lower allowed)`,
    });
  }
  if (t.maxP95RiseMs !== undefined || t.maxP95RisePercent !== undefined) {
    out.push(p95Finding(b.latencyMs.p95, c.latencyMs.p95, t.maxP95RiseMs, t.maxP95RisePercent, 'in the baseline'));
  }
  return out;
}

/**
 * Check `cur` against the earlier `base` (a baseline results file): runs paired by the one
 * pairing of src/results, one case per run and category with its findings. (Named apart from
 * src/report's `compareResults`, which describes the differences for a reader.)
 */
export function checkAgainstBaseline(base: Results, cur: Results, timing: TimingLimits = {}): { cases: CheckCase[]; notes: string[] } {
  const notes: string[] = [];
  const timed = timing.maxThroughputDropPercent !== undefined || timing.maxP95RiseMs !== undefined || timing.maxP95RisePercent !== undefined;
  if (!timed) notes.push('throughput and latency are not compared between two results files (another run, maybe another machine: noisy); pass --max-throughput-drop-percent / --max-p95-rise-ms / --max-p95-rise-percent to compare them');
  else if (base.host.cpuModel !== cur.host.cpuModel || base.host.cores !== cur.host.cores) {
    notes.push(`timing compared across machines: baseline ${base.host.cpuModel} ×${base.host.cores}, now ${cur.host.cpuModel} ×${cur.host.cores}`);
  }
  if (base.corpus.manifestSha256 !== cur.corpus.manifestSha256) {
    notes.push('the corpus manifests differ (sha256): messages are matched by file name; rates may move with the corpus');
  }
  const cases: CheckCase[] = [];
  for (const { key, before: b, after: c, shapeDiffers } of pairRuns(base, cur, (r) => r.baseline !== true)) {
    if (b === undefined) {
      notes.push(`run ${(c as Run).id} is new (not in the baseline): not checked`);
      continue;
    }
    if (c === undefined) {
      const skipped = cur.skipped?.find((s) => s.name === b.scanner.name || s.name === b.id);
      cases.push({
        scanner: b.scanner.name,
        mode: b.mode,
        concurrency: b.concurrency,
        sut: sutKind(b.sut),
        category: ALL,
        findings: [{ metric: 'missing-run', ok: false, message: `run ${b.id} is in the baseline but not in the results${skipped !== undefined ? ` (skipped: ${skipped.reason})` : ''}` }],
      });
      continue;
    }
    if (shapeDiffers && timed) notes.push(`${key}: loaded differently (${shapeKey(b)} in the baseline, ${shapeKey(c)} now): its speed is not compared`);
    const ch = changesBetween(b, c);
    if (ch.absent > 0) notes.push(`${c.id}: ${ch.absent} labelled message(s) of the baseline are not in the results`);
    const byCat = casesOfRun(c);
    (byCat.get(ALL) as CheckCase).findings.push(...countFindings(detectionCounts(b), detectionCounts(c), ch, undefined), ...(shapeDiffers ? [] : timingFindings(b, c, timing)));
    const cats = new Set([...Object.keys(b.detection.byCategory), ...Object.keys(c.detection.byCategory)]);
    for (const cat of [...cats].sort()) {
      const bc = b.detection.byCategory[cat] === undefined ? undefined : detectionCounts(b, cat);
      const cc = c.detection.byCategory[cat] === undefined ? undefined : detectionCounts(c, cat);
      if (bc === undefined) continue; // new category: nothing to compare with
      if (cc === undefined) {
        byCat.set(cat, {
          scanner: c.scanner.name,
          mode: c.mode,
          concurrency: c.concurrency,
          sut: sutKind(c.sut),
          category: cat,
          findings: [{ metric: 'missing-category', ok: false, message: `category ${JSON.stringify(cat)} has labelled messages in the baseline but none in the results` }],
        });
        continue;
      }
      (byCat.get(cat) as CheckCase).findings.push(...countFindings(bc, cc, ch, cat));
    }
    cases.push(...byCat.values());
  }
  return { cases, notes };
}
