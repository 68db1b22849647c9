/**
 * Small hand-made results.json documents for the report tests (typed against the contract).
 */
import type { DetectionCounts, MessageResult, Results, Run } from '../../src/results/types.js';
import type { ModeName } from '../../src/modes/types.js';

/** Every hostile string the report must neutralise. */
export const HOSTILE = {
  script: '<script>alert(1)</script>',
  img: '"><img src=x onerror=alert(2)>',
  close: '</script><script>window.__pwned=1</script>',
  sep: 'line\u2028sep\u2029para',
  mustache: '{{constructor.constructor("alert(3)")()}}',
  backtick: '`rm -rf /`',
  pipe: 'a|b||c',
  attr: "' onmouseover='alert(4)",
  comment: '<!-- <script>',
  nul: 'nul\u0000esc\u001b',
  mention: '@everyone #1 **bold** [x](javascript:alert(5))',
};

function counts(tp: number, fn: number, fp: number, tn: number, errors = 0): DetectionCounts {
  return { tp, fn, fp, tn, errors, detectionRate: tp + fn > 0 ? tp / (tp + fn) : null, falsePositiveRate: fp + tn > 0 ? fp / (fp + tn) : null };
}

/** A message record. */
export function msg(file: string, expected: NonNullable<MessageResult['expected']>, category: string, verdict: MessageResult['verdict'], extra: Partial<MessageResult> = {}): MessageResult {
  return { file, expected, category, verdict, names: verdict === 'infected' ? ['Eicar-Test-Signature'] : [], ms: 1.5, fate: 'scanned', ...extra };
}

/** Options of {@link makeRun}. */
export interface RunSpec {
  scanner: string;
  mode: ModeName;
  msgsPerSec: number;
  p95: number;
  results: MessageResult[];
  baseline?: boolean;
  concurrency?: number;
  cpu?: number;
  rss?: number;
  version?: string;
  signatures?: string;
  sut?: string;
}

/** A run whose detection, fates and figures follow from its message records. */
export function makeRun(s: RunSpec): Run {
  const byCategory: Record<string, DetectionCounts> = {};
  const tally = (rs: MessageResult[]): DetectionCounts => {
    let tp = 0;
    let fn = 0;
    let fp = 0;
    let tn = 0;
    let errors = 0;
    for (const r of rs) {
      if (r.verdict === 'error') errors++;
      else if (r.expected === 'infected') r.verdict === 'infected' ? tp++ : fn++;
      else if (r.expected === 'clean') r.verdict === 'infected' ? fp++ : tn++;
    }
    return counts(tp, fn, fp, tn, errors);
  };
  const cats = [...new Set(s.results.map((r) => r.category ?? 'uncategorized'))];
  for (const c of cats) byCategory[c] = tally(s.results.filter((r) => (r.category ?? 'uncategorized') === c));
  const all = tally(s.results);
  const fates = { scanned: 0, delivered: 0, tagged: 0, rejected: 0, tempfailed: 0, dropped: 0, lost: 0 };
  for (const r of s.results) fates[r.fate]++;
  const n = s.results.length;
  const c = s.concurrency ?? 1;
  return {
    id: `${s.baseline === true ? 'baseline' : s.scanner}/${s.mode}/c${c}`,
    scanner: { name: s.scanner, type: s.baseline === true ? 'noop' : 'embedded', ...(s.version === undefined ? {} : { version: s.version }), ...(s.signatures === undefined ? {} : { signatures: s.signatures }) },
    mode: s.mode,
    sut: s.sut ?? (s.mode === 'direct' ? 'direct' : 'ours'),
    ...(s.baseline === true ? { baseline: true } : {}),
    concurrency: c,
    messages: n,
    durationMs: (n / s.msgsPerSec) * 1000,
    throughput: { msgsPerSec: s.msgsPerSec, mbPerSec: s.msgsPerSec * 0.01 },
    latencyMs: { p50: s.p95 / 2, p95: s.p95, p99: s.p95 * 1.5, max: s.p95 * 3 },
    detection: { ...all, byCategory, allCaughtNoFalsePositive: all.fn === 0 && all.fp === 0 && all.errors === 0 && all.tp > 0, vb100: all.fn === 0 && all.fp === 0 && all.errors === 0 && all.tp > 0 },
    fates,
    repeats: [
      { msgsPerSec: s.msgsPerSec * 0.95, mbPerSec: s.msgsPerSec * 0.0095, durationMs: 10 },
      { msgsPerSec: s.msgsPerSec, mbPerSec: s.msgsPerSec * 0.01, durationMs: 10 },
      { msgsPerSec: s.msgsPerSec * 1.05, mbPerSec: s.msgsPerSec * 0.0105, durationMs: 10 },
    ],
    ...(s.cpu === undefined ? {} : { resources: { avbench: { cpuSeconds: s.cpu, peakRssBytes: s.rss ?? 100e6 } } }),
    results: s.results,
  };
}

/** The whole file around some runs. */
export function makeResults(runs: Run[], extra: Partial<Results> = {}): Results {
  return {
    schemaVersion: 1,
    startedAt: '2026-11-24T10:00:00.000Z',
    finishedAt: '2026-11-24T10:05:00.000Z',
    host: { cpuModel: 'Test CPU @ 2.0GHz', cores: 2, memoryBytes: 4 * 1024 ** 3, os: 'Linux 6.1 x64', node: 'v20.20.2', hostname: 'lab' },
    corpus: { path: '/tmp/corpus', messages: runs[0]?.messages ?? 0, bytes: 123456, manifestSha256: 'ab'.repeat(32) },
    command: 'avbench bench --corpus /tmp/corpus --scanner embedded --scanner clamd --mode direct --mode smtp',
    runs,
    ...extra,
  };
}

/** Messages of a small labelled corpus. */
function corpus(detect: (file: string) => MessageResult['verdict'], fate: MessageResult['fate'], extra: (m: MessageResult) => Partial<MessageResult> = () => ({})): MessageResult[] {
  const base: [string, NonNullable<MessageResult['expected']>, string][] = [
    ['m01.eml', 'infected', 'plain'],
    ['m02.eml', 'infected', 'zip'],
    ['m03.eml', 'infected', 'zip'],
    ['m04.eml', 'clean', 'clean'],
    ['m05.eml', 'clean', 'clean'],
    ['m06.eml', 'infected', 'uuencode'],
  ];
  return base.map(([f, e, c]) => {
    const v = detect(f);
    const m = msg(f, e, c, v, { fate, ...(v === 'error' ? { errorCode: 'TIMEOUT' } : {}), ...(v === 'infected' ? { part: '2:eicar.com' } : {}) });
    return { ...m, ...extra(m) };
  });
}

/**
 * Two scanners × direct + smtp, plus baselines: "embedded" finds everything but m06 in
 * direct mode; "clamd" finds all infected, flags m05 (a false positive) and times out on m03
 * in smtp mode.
 */
export function sampleResults(): Results {
  const emb = (f: string): MessageResult['verdict'] => (['m01.eml', 'm02.eml', 'm03.eml'].includes(f) ? 'infected' : 'clean');
  const clam = (f: string): MessageResult['verdict'] => (f === 'm04.eml' ? 'clean' : 'infected');
  const clamSmtp = (f: string): MessageResult['verdict'] => (f === 'm03.eml' ? 'error' : clam(f));
  const smtpExtra = (m: MessageResult): Partial<MessageResult> => ({ fate: m.verdict === 'infected' ? 'rejected' : m.verdict === 'error' ? 'tempfailed' : 'delivered', smtpReply: m.verdict === 'infected' ? '550 5.7.1 virus found' : m.verdict === 'error' ? '451 4.3.0 scanner timeout' : '250 2.0.0 Ok' });
  return makeResults([
    makeRun({ scanner: 'noop', mode: 'direct', baseline: true, msgsPerSec: 50000, p95: 0.05, results: corpus(() => 'clean', 'scanned') }),
    makeRun({ scanner: 'noop', mode: 'smtp', baseline: true, msgsPerSec: 800, p95: 2, results: corpus(() => 'clean', 'delivered', () => ({ smtpReply: '250 2.0.0 Ok' })) }),
    makeRun({ scanner: 'embedded', mode: 'direct', msgsPerSec: 9000, p95: 0.3, cpu: 1.2, rss: 80e6, version: '0.1.0', signatures: 'EICAR only', results: corpus(emb, 'scanned') }),
    makeRun({ scanner: 'embedded', mode: 'smtp', msgsPerSec: 700, p95: 3, cpu: 2.5, rss: 90e6, version: '0.1.0', signatures: 'EICAR only', results: corpus(emb, 'delivered', smtpExtra) }),
    makeRun({ scanner: 'clamd', mode: 'direct', msgsPerSec: 400, p95: 8, cpu: 5, rss: 900e6, version: 'ClamAV 1.4.3', signatures: 'daily 27000', results: corpus(clam, 'scanned') }),
    makeRun({ scanner: 'clamd', mode: 'smtp', msgsPerSec: 300, p95: 11, cpu: 6, rss: 910e6, version: 'ClamAV 1.4.3', signatures: 'daily 27000', results: corpus(clamSmtp, 'delivered', smtpExtra) }),
  ]);
}

/**
 * sampleResults with a hostile string in every field a message or a scanner controls:
 * file names, categories, parts, virus names, error codes, SMTP replies, milter actions,
 * scanner names, types, versions and signatures, the SUT, the corpus path, host fields,
 * the command, and the skipped list.
 */
export function hostileResults(): Results {
  const h = Object.values(HOSTILE);
  const pick = (i: number): string => h[i % h.length] as string;
  const r = sampleResults();
  r.corpus.path = `/tmp/${HOSTILE.script}`;
  r.command = `avbench bench --corpus '${HOSTILE.close}' ${HOSTILE.backtick} ${HOSTILE.pipe}`;
  r.host.cpuModel = HOSTILE.img;
  r.host.os = HOSTILE.sep;
  r.host.hostname = HOSTILE.mustache;
  r.skipped = [{ name: HOSTILE.attr, reason: HOSTILE.comment }];
  r.runs.forEach((run, ri) => {
    if (run.baseline !== true) {
      run.scanner = { name: `${run.scanner.name}${pick(ri)}`, type: pick(ri + 1), version: pick(ri + 2), signatures: pick(ri + 3) };
    }
    if (run.mode === 'smtp' && run.baseline !== true && ri === 5) run.sut = `smtp://127.0.0.1:1/${HOSTILE.img}`;
    const byCat: typeof run.detection.byCategory = {};
    for (const [c, v] of Object.entries(run.detection.byCategory)) byCat[`${c}${HOSTILE.script}`] = v;
    run.detection.byCategory = byCat;
    run.results = run.results.map((m, mi) => ({
      ...m,
      file: `${m.file}${pick(mi)}`,
      category: `${m.category ?? ''}${HOSTILE.script}`,
      ...(m.verdict === 'infected' ? { names: [pick(mi + 1), pick(mi + 4)], part: pick(mi + 2) } : {}),
      ...(m.verdict === 'error' ? { errorCode: pick(mi + 3) } : {}),
      ...(m.smtpReply !== undefined ? { smtpReply: `550 ${pick(mi + 5)}` } : {}),
      ...(ri % 2 === 0 ? { milterAction: pick(mi + 6) } : {}),
    }));
  });
  return r;
}
