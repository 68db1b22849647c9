/**
 * Benchmark, point A (SMTP proxy), measured the way a mail administrator would: whole
 * processes, the standard load tool with its defaults, the same clamd, the same next hop.
 *
 *  1. `tool` — Postfix's `smtp-source` drives, for every cell of the matrix
 *     shape (a new connection per message = its default | `-d` kept-open sessions)
 *     × sessions (`-s`: 1 / 8 / 32) × size (`-l`: 1 KB / 100 KB / 2 MB):
 *       - smtp-sink alone (the ceiling),
 *       - `node dist/src/cli/bin.cjs serve smtp --scanner clamd --config FILE` (the real CLI,
 *         its config pointing the clamd scanner at the lab clamd) → smtp-sink,
 *       - clamsmtpd + the same lab clamd → the same smtp-sink,
 *     and prints msg/s of each, the ratio ours / clamsmtpd against its target (≥ 10x at
 *     1 KB, ≥ 3x at 100 KB and 2 MB) and ours / the ceiling, the CPU µs per message of
 *     each process, and the load average. smtp-sink dumps every message to tmpfs (-d) and
 *     every one is checked: as many arrived as smtp-source sent, each Message-Id once,
 *     each body byte-identical to what smtp-source sends to smtp-sink directly.
 *  2. `clamd` — clamd's own cost: our clamd adapter INSTREAMs the same message straight to
 *     the lab clamd, as many in parallel as sessions: the ceiling any clamd front end has.
 *  3. `driver` — a second opinion: our SMTP driver (8 sessions, 1 KB, both shapes) through
 *     both systems.
 *  4. `driver-vs-source` (not in the default set) — our driver vs smtp-source, both into
 *     smtp-sink.
 *
 *   node dist/scripts/bench-smtp.js [--parts tool,clamd,driver] [--shapes per-conn,kept]
 *        [--sessions-list 1,8,32] [--sizes 1K,100K,2M] [--seconds 1.5] [--warmup-seconds 3] [--repeats 3]
 *        [--max-messages 20000] [--systems sink,ours,clamsmtpd] [--proxy-quiet]
 *        [--proxy-arg ARG]... [--clamd-threads 8] [--clamd-pool N]
 *
 * -m per cell and system: a short untimed pilot (2 messages per session, 1 above 500 KB)
 * gives a first rate; untimed load follows for about --warmup-seconds of wall time, in runs
 * each sized from the rate of the one before (a
 * gateway on port 25 runs for days: a freshly started Node process needs a few seconds of
 * load before its JIT and heap settle — measured: 788, 1,089, 1,316, 1,419 msg/s in its first
 * four 1,000-message runs, then ~1,400–1,560) and gives the rate; each timed run sends
 * rate × --seconds messages (at least 2 per session),
 * and is cut at max(20 s, 6 × --seconds) if the system slows down (its rate is then what
 * arrived in that time, marked "cut"). The three systems alternate --repeats times per
 * cell; the median is printed with every run. A full default run takes ~10 minutes here.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createClamdAdapter } from '../adapters/clamd.js';
import { procCpuSeconds } from '../src/bench/host.js';
import { median } from '../src/bench/stats.js';
import { freePort } from '../src/core/net.js';
import type { LabClamd } from '../src/lab/clamd.js';
import { startClamsmtpd } from '../src/lab/clamsmtpd.js';
import { createSmtpDriver, type SmtpConnectionShape } from '../src/modes/smtp/index.js';
import { opt, readOptions } from './lib/args.js';
import { hostLine, loadAverage } from './lib/host.js';
import { loopback } from './lib/listen.js';
import { inWorkspace, runMain, wallTime } from './lib/run.js';
import { parseDump, smtpSource, type DumpSink, type SmtpSourceResult } from './lib/smtp.js';
import { startClamdAndSink, startServe, writeClamdConfig } from './lib/sut.js';

type Shape = 'per-conn' | 'kept';
type System = 'sink' | 'ours' | 'clamsmtpd';
type Part = 'tool' | 'clamd' | 'driver' | 'driver-vs-source';

interface Args {
  parts: Part[];
  shapes: Shape[];
  sessionsList: number[];
  sizes: number[];
  seconds: number;
  /** Untimed warm-up per system and cell after the pilot, in seconds of that system's pilot rate (0: none). */
  warmupSeconds: number;
  repeats: number;
  maxMessages: number;
  systems: System[];
  proxyQuiet: boolean;
  proxyArgs: string[];
  clamdThreads: number;
  /** poolSize in the proxy's clamd config entry (absent: the adapter's default, as a new user gets it). */
  clamdPool?: number;
}

const PARTS = ['tool', 'clamd', 'driver', 'driver-vs-source'] as const;
const SHAPES = ['per-conn', 'kept'] as const;
const SYSTEMS = ['sink', 'ours', 'clamsmtpd'] as const;

function parseArgs(argv: string[]): Args {
  const { proxyArg, ...v } = readOptions('bench-smtp', argv, {
    parts: opt.list(['tool', 'clamd', 'driver'], PARTS),
    shapes: opt.list(SHAPES, SHAPES),
    'sessions-list': opt.wholes([1, 8, 32]),
    sizes: opt.sizes('1K,100K,2M'),
    seconds: opt.number(1.5, (n) => n > 0),
    'warmup-seconds': opt.number(3, (n) => n >= 0),
    repeats: opt.whole(3),
    'max-messages': opt.whole(20_000),
    systems: opt.list(SYSTEMS, SYSTEMS),
    'proxy-quiet': opt.flag(),
    'proxy-arg': opt.strings(),
    'clamd-threads': opt.whole(8),
    'clamd-pool': opt.optionalWhole(0),
  });
  return { ...v, proxyArgs: proxyArg };
}

const out = (s: string): void => {
  process.stdout.write(s);
};
const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const sizeName = (n: number): string => (n >= 1e6 ? `${n / 1e6}MB` : n >= 1e3 ? `${n / 1e3}KB` : `${n}B`);
const load1 = (): string => (loadavg()[0] ?? 0).toFixed(1);

/** CPU ms (user + system) a process has used so far (0 when it is gone). */
function cpuMsOf(pid: number): number {
  return (procCpuSeconds(pid) ?? 0) * 1000;
}

function cpuSnapshot(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuMsOf(p)]));
}

/**
 * A run cut short: the messages complete at the sink (body identical to the reference)
 * count; a dump that is still being written (a prefix of a message: no body yet, or a
 * body that is a prefix of the reference) was in flight at the cut and is left out.
 */
function completeAtCut(files: Buffer[], reference: Buffer | undefined): { complete: Buffer[]; inFlight: number } {
  const complete: Buffer[] = [];
  let inFlight = 0;
  for (const f of files) {
    const p = parseDump(f);
    const partial = p.id === undefined || (reference !== undefined && p.body.length < reference.length && reference.subarray(0, p.body.length).equals(p.body));
    if (partial) inFlight++;
    else complete.push(f);
  }
  return { complete, inFlight };
}

/** Check one cell's arrivals: count, unique ids, bodies identical to the reference. */
function checkArrivals(files: Buffer[], sent: number, reference: Buffer | undefined, system: System): { ok: boolean; note: string } {
  const ids = new Set<string>();
  let dup = 0;
  let noId = 0;
  let altered = 0;
  let untagged = 0;
  for (const f of files) {
    const p = parseDump(f);
    if (p.id === undefined) noId++;
    else if (ids.has(p.id)) dup++;
    else ids.add(p.id);
    if (reference !== undefined && !p.body.equals(reference)) altered++;
    if (system === 'ours' && !/^X-Virus-Status: Clean$/im.test(p.headers)) untagged++;
  }
  const problems = [
    ...(files.length !== sent ? [`arrived ${files.length} of ${sent}`] : []),
    ...(dup > 0 ? [`${dup} duplicate ids`] : []),
    ...(noId > 0 ? [`${noId} without Message-Id`] : []),
    ...(altered > 0 ? [`${altered} bodies altered`] : []),
    ...(untagged > 0 ? [`${untagged} without X-Virus-Status: Clean`] : []),
  ];
  return problems.length === 0 ? { ok: true, note: `${files.length}/${sent} intact` } : { ok: false, note: problems.join(', ') };
}

interface CellRun {
  msgsPerSec: number;
  messages: number;
  ms: number;
  /** CPU µs per message, per process. */
  cpu: Record<string, number>;
  check: { ok: boolean; note: string };
  load: string;
}

interface Systems {
  ports: Record<System, number | undefined>;
  pids: Record<System, Record<string, number>>;
}

/** One smtp-source run (killed at `capMs`: `cut`). */
function source(port: number, shape: Shape, sessions: number, length: number, messages: number, capMs?: number): Promise<SmtpSourceResult> {
  return smtpSource(port, { kept: shape === 'kept', sessions, length, messages, ...(capMs === undefined ? {} : { capMs }) });
}

/**
 * One timed smtp-source run of one system in one cell. `sized` holds -m once known: the
 * first call runs an untimed pilot (2 messages per session) and untimed warm-up runs for about
 * --warmup-seconds of wall time (JIT, heap, pools), and sizes -m from the last warm-up run's
 * rate; later repeats reuse it.
 */
async function cell(sys: System, s: Systems, sink: DumpSink, shape: Shape, sessions: number, length: number, a: Args, reference: Buffer | undefined, sized: Map<System, number>): Promise<CellRun | { error: string }> {
  const port = s.ports[sys];
  if (port === undefined) return { error: 'not running' };
  let m = sized.get(sys);
  if (m === undefined) {
    const m0 = Math.max(4, (length > 500_000 ? 1 : 2) * sessions);
    const p = await source(port, shape, sessions, length, m0, 60_000);
    await sink.collect();
    if (!p.ok) return { error: `pilot: ${p.why}` };
    let rate = (m0 / p.ms) * 1000;
    // Untimed load for about --warmup-seconds of wall time, in runs sized from the latest rate:
    // a system that speeds up as it warms (our proxy's JIT: a fresh one needs ~3,000–4,000
    // messages) gets the whole time, not the few messages the cold pilot's rate would give.
    const warmUntil = performance.now() + a.warmupSeconds * 1000;
    while (a.warmupSeconds > 0 && performance.now() < warmUntil) {
      const left = Math.max(0.5, (warmUntil - performance.now()) / 1000);
      const mw = Math.min(a.maxMessages, Math.max(2 * sessions, 8, Math.round(rate * left)));
      const w = await source(port, shape, sessions, length, mw, Math.max(20_000, 6_000 * a.warmupSeconds));
      if (w.cut) await new Promise((res) => setTimeout(res, 2_000)); // what was in flight lands before the timed runs
      await sink.collect();
      if (!w.ok || w.cut) break;
      rate = (mw / w.ms) * 1000;
    }
    m = Math.min(a.maxMessages, Math.max(2 * sessions, 8, Math.round(rate * a.seconds)));
    sized.set(sys, m);
  }
  const pids = { ...s.pids[sys], 'smtp-sink': sink.pid };
  const load = load1();
  const c0 = cpuSnapshot(pids);
  // A system that slows down after the pilot must not stall the whole matrix: the run is
  // cut at max(20 s, 6 × --seconds) and its rate is what arrived in that time (marked "cut").
  const r = await source(port, shape, sessions, length, m, Math.max(20_000, 6_000 * a.seconds));
  const c1 = cpuSnapshot(pids);
  await new Promise((res) => setTimeout(res, 50)); // the last dump file is closed after the final 250
  const files = await sink.collect();
  if (r.cut) {
    // What was in flight when smtp-source was killed may still land: not this cell's, not the next one's.
    await new Promise((res) => setTimeout(res, 2_000));
    await sink.collect();
    const { complete, inFlight } = completeAtCut(files, reference);
    const check = checkArrivals(complete, complete.length, reference, sys);
    const n = Math.max(1, complete.length);
    const cpu = Object.fromEntries(Object.keys(pids).map((k) => [k, (((c1[k] ?? 0) - (c0[k] ?? 0)) * 1000) / n]));
    return {
      msgsPerSec: (complete.length / r.ms) * 1000,
      messages: complete.length,
      ms: r.ms,
      cpu,
      check: { ok: check.ok, note: `${r.why} of ${m}: ${check.note}, ${inFlight} in flight at the cut (rate = complete arrivals / time)` },
      load,
    };
  }
  const check = checkArrivals(files, m, reference, sys);
  if (!r.ok) check.note = `${r.why}; ${check.note}`;
  const cpu = Object.fromEntries(Object.keys(pids).map((k) => [k, (((c1[k] ?? 0) - (c0[k] ?? 0)) * 1000) / m]));
  return { msgsPerSec: (m / r.ms) * 1000, messages: m, ms: r.ms, cpu, check: { ok: check.ok && r.ok, note: check.note }, load };
}

/** The reference body for smtp-source -l LENGTH: what arrives at smtp-sink straight from smtp-source. */
async function referenceBody(sink: DumpSink, length: number): Promise<Buffer> {
  const r = await source(sink.port, 'per-conn', 1, length, 2);
  if (!r.ok) throw new Error(r.why);
  await new Promise((res) => setTimeout(res, 50));
  const files = await sink.collect();
  const bodies = files.map((f) => parseDump(f).body);
  if (bodies.length !== 2 || !(bodies[0] as Buffer).equals(bodies[1] as Buffer)) throw new Error(`smtp-source -l ${length}: bodies differ between messages; cannot check arrivals`);
  return bodies[0] as Buffer;
}

function target(length: number): number {
  return length <= 10_000 ? 10 : 3;
}

async function benchTool(a: Args, s: Systems, sink: DumpSink): Promise<void> {
  out(`\n## 1. smtp-source → {smtp-sink alone | avbench serve smtp + clamd | clamsmtpd + clamd} → smtp-sink (every message dumped and checked)\n`);
  out(`config: {"scanners":{"clamd":{"type":"clamd","socket":LAB${a.clamdPool === undefined ? '' : `,"poolSize":${a.clamdPool}`}}}${a.clamdPool === undefined ? ' (clamd adapter defaults)' : ''}\n`);
  out(`ours = \`node dist/src/cli/bin.cjs serve smtp --scanner clamd --config FILE${a.proxyQuiet ? ' --quiet' : ''}${a.proxyArgs.length > 0 ? ' ' + a.proxyArgs.join(' ') : ''}\` (per-message log lines ${a.proxyQuiet ? 'off' : 'on, to a file'}); clamsmtpd Action drop, debug 0; shapes: per-conn = smtp-source's default (a new connection per message), kept = smtp-source -d\n`);
  out(`timing = smtp-source's whole-process time, session start-up included for every system (clamsmtpd listens with a backlog of 5: 32 clients connecting at once lose SYNs and retry after 1 s; --seconds 5 dilutes that start-up in kept-open cells)\n`);
  out(`msg/s (median of ${a.repeats}; runs in brackets when > 1) · ratio ours/clamsmtpd vs target · ours as % of smtp-sink alone · CPU µs/msg per process · load1 at the run · arrivals\n\n`);
  const rows: string[] = [];
  const summary: string[] = [];
  for (const length of a.sizes) {
    const reference = await referenceBody(sink, length);
    for (const shape of a.shapes) {
      for (const sessions of a.sessionsList) {
        const runs: Record<System, CellRun[]> = { sink: [], ours: [], clamsmtpd: [] };
        const errors: string[] = [];
        const sized = new Map<System, number>();
        for (let r = 0; r < a.repeats; r++) {
          for (const sys of a.systems) {
            const res = await cell(sys, s, sink, shape, sessions, length, a, reference, sized);
            if ('error' in res) errors.push(`${sys}: ${res.error}`);
            else runs[sys].push(res);
          }
        }
        const med = (sys: System): number | undefined => (runs[sys].length === 0 ? undefined : median(runs[sys].map((x) => x.msgsPerSec)));
        const show = (sys: System): string => {
          const m = med(sys);
          if (m === undefined) return '—';
          const rr = runs[sys];
          return `${fmt(m)}${rr.length > 1 ? ` [${rr.map((x) => fmt(x.msgsPerSec)).join(', ')}]` : ''}`;
        };
        const o = med('ours');
        const t = med('clamsmtpd');
        const c = med('sink');
        const ratio = o !== undefined && t !== undefined ? o / t : undefined;
        const tg = target(length);
        const verdict = ratio === undefined ? '' : ratio >= tg ? 'MET' : 'MISSED';
        const lastCpu = (sys: System): string => {
          const x = runs[sys].at(-1);
          return x === undefined ? '' : Object.entries(x.cpu).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(' ');
        };
        const allChecks = (Object.keys(runs) as System[]).flatMap((k) => runs[k].map((x) => ({ k, ...x.check })));
        const bad = allChecks.filter((x) => !x.ok);
        const cuts = allChecks.filter((x) => x.note.startsWith('cut')).map((x) => `${x.k} ${x.note}`);
        const arrivals =
          bad.length === 0 && errors.length === 0
            ? `all intact (${allChecks.map((x) => (x.note.startsWith('cut') ? 'cut' : x.note.split(' ')[0])).join(' ')})${cuts.length > 0 ? ` · ${cuts.join('; ')}` : ''}`
            : `PROBLEM: ${[...bad.map((x) => `${x.k}: ${x.note}`), ...errors].join('; ')}`;
        const label = `${sizeName(length).padEnd(5)} ${shape.padEnd(8)} s=${String(sessions).padEnd(3)}`;
        const line =
          `${label} sink ${show('sink')} · ours ${show('ours')} · clamsmtpd ${show('clamsmtpd')} · ` +
          `${ratio === undefined ? 'ratio —' : `ours/clamsmtpd ${ratio.toFixed(1)}x (target ≥ ${tg}x: ${verdict})`}` +
          `${o !== undefined && c !== undefined ? ` · ours = ${((100 * o) / c).toFixed(0)}% of sink` : ''}\n` +
          `      CPU µs/msg ours: ${lastCpu('ours')} | clamsmtpd: ${lastCpu('clamsmtpd')} | sink alone: ${lastCpu('sink')} · load1 ${runs.ours.at(-1)?.load ?? load1()} · m ${(Object.keys(runs) as System[]).map((k) => `${k} ${runs[k].at(-1)?.messages ?? '-'}`).join(', ')} · ${arrivals}\n`;
        out(line);
        rows.push(line);
        if (ratio !== undefined) summary.push(`${label} ${ratio.toFixed(1)}x ${verdict}`);
      }
    }
  }
  out(`\nsummary (ours/clamsmtpd, target ≥ 10x at ≤ 10 KB, ≥ 3x above):\n  ${summary.join('\n  ')}\n`);
}

/** clamd's own ceiling: our adapter INSTREAMs the smtp-source message straight to clamd. */
async function benchClamd(a: Args, clamd: LabClamd, sink: DumpSink): Promise<void> {
  out(`\n## 2. clamd alone (the floor of any clamd front end): our clamd adapter INSTREAMs the smtp-source message (as smtp-sink got it, a new Message-Id each time) to the lab clamd, N in parallel\n`);
  const adapter = createClamdAdapter({ socket: clamd.socket, poolSize: 64, inPlace: 'never' });
  try {
    for (const length of a.sizes) {
      const r = await source(sink.port, 'per-conn', 1, length, 1);
      if (!r.ok) throw new Error(r.why);
      await new Promise((res) => setTimeout(res, 50));
      const [f] = await sink.collect();
      const p = parseDump(f as Buffer);
      const headerLines = p.headers.split('\n').filter((l) => !/^(X-Client-|X-Helo-|X-Mail-|X-Rcpt-|Received:|\t)/.test(l));
      // Every scan gets its own Message-Id, as smtp-source's messages do: clamd keeps an MD5
      // cache of content it found clean, and the same bytes again would only measure a hit.
      const head = headerLines.filter((l) => !/^Message-Id:/i.test(l)).join('\r\n');
      const body = Buffer.from(p.body.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
      let serial = 0;
      const next = (): Buffer => Buffer.concat([Buffer.from(`${head}\r\nMessage-Id: <${process.pid}.${++serial}.bench@vm>\r\n\r\n`, 'latin1'), body]);
      for (const n of a.sessionsList) {
        const scanOnce = async (): Promise<void> => {
          const v = await adapter.scan({ kind: 'message', data: next(), location: 'message' }, { deadline: Date.now() + 30_000, signal: new AbortController().signal });
          if (v.status !== 'clean') throw new Error(`clamd said ${JSON.stringify(v)}`);
        };
        await Promise.all(Array.from({ length: n }, scanOnce)); // warm
        const until = performance.now() + a.seconds * 1000;
        let done = 0;
        const c0 = cpuMsOf(clamd.pid);
        const b0 = process.cpuUsage();
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: n }, async () => {
            while (performance.now() < until) {
              await scanOnce();
              done++;
            }
          }),
        );
        const ms = performance.now() - t0;
        const b = process.cpuUsage(b0);
        const c = cpuMsOf(clamd.pid) - c0;
        out(`${sizeName(length).padEnd(5)} ${String(n).padStart(2)} parallel: ${fmt((done / ms) * 1000)} scans/s · CPU µs/scan clamd ${((c * 1000) / done).toFixed(0)}, client ${((b.user + b.system) / done).toFixed(0)} · load1 ${load1()}\n`);
      }
    }
  } finally {
    await adapter.close();
  }
}

/** Second opinion: our driver, 8 sessions, 1 KB, both shapes, through both systems (smtp-sink the final hop). */
async function benchDriver(a: Args, s: Systems, sink: DumpSink): Promise<void> {
  out(`\n## 3. second opinion: our SMTP driver (8 sessions, 1 KB body) through both systems into the same smtp-sink\n`);
  const line = 'abcdefghijklmnopqrstuvwxyz0123456789 the quick brown fox jumps over'.slice(0, 70) + '\r\n';
  const text = line.repeat(Math.ceil(1000 / line.length)).slice(0, 1000);
  const make = (i: number): Buffer => Buffer.from(`From: <foo@localhost>\r\nTo: <bar@localhost>\r\nMessage-Id: <${i}.bench@localhost>\r\nSubject: bench ${i}\r\n\r\n${text}\r\n`, 'latin1');
  for (const shape of ['per-message', 'kept-open'] as SmtpConnectionShape[]) {
    const figs: string[] = [];
    for (const sys of ['ours', 'clamsmtpd'] as const) {
      const port = s.ports[sys];
      if (port === undefined) continue;
      const driveN = async (n: number): Promise<{ rate: number; fates: Record<string, number> }> => {
        const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink: false, sessions: 8, connection: shape, graceMs: 1_000 });
        await driver.open();
        const fates: Record<string, number> = {};
        let next = 0;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (next < n) {
              const i = next++;
              const o = await driver.send({ file: `m${i}`, raw: make(i) });
              fates[o.fate] = (fates[o.fate] ?? 0) + 1;
            }
          }),
        );
        const ms = performance.now() - t0;
        await driver.close();
        await sink.collect();
        return { rate: (n / ms) * 1000, fates };
      };
      const pilot = await driveN(40);
      const n = Math.min(a.maxMessages, Math.max(40, Math.round(pilot.rate * a.seconds)));
      const r = await driveN(n);
      figs.push(`${sys} ${fmt(r.rate)} msg/s (${n} messages, fates ${JSON.stringify(r.fates)})`);
    }
    out(`${shape.padEnd(11)}: ${figs.join(' · ')} · load1 ${load1()}\n`);
  }
}

/** Our driver vs smtp-source into smtp-sink (the driver's own benchmark). */
async function benchDriverVsSource(a: Args, sink: DumpSink): Promise<void> {
  out(`\n## 4. our SMTP driver vs smtp-source -s 8 -l 1000, both into smtp-sink (dumping)\n`);
  for (const shape of ['per-message', 'kept-open'] as SmtpConnectionShape[]) {
    const n = Math.min(a.maxMessages, 4000);
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${sink.port}`, sink: false, sessions: 8, connection: shape, graceMs: 1_000 });
    await driver.open();
    const raw = Buffer.from(`From: <foo@localhost>\r\nTo: <bar@localhost>\r\n\r\n${'x'.repeat(998)}\r\n`, 'latin1');
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < n) {
          next++;
          await driver.send({ file: 'm', raw });
        }
      }),
    );
    const ours = (n / (performance.now() - t0)) * 1000;
    await driver.close();
    await sink.collect();
    const src = await source(sink.port, shape === 'kept-open' ? 'kept' : 'per-conn', 8, 1000, n);
    await sink.collect();
    const theirs = (n / src.ms) * 1000;
    out(`${shape.padEnd(11)}: our driver ${fmt(ours)} msg/s · smtp-source ${fmt(theirs)} msg/s · ratio ${(ours / theirs).toFixed(2)}x · load1 ${load1()}\n`);
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const started = performance.now();
  out(
    `# bench-smtp — ${new Date().toISOString()}\n` +
      `${hostLine()} (other work on the machine shares its cores)\n` +
      `matrix: sizes ${a.sizes.map(sizeName).join(', ')} × shapes ${a.shapes.join(', ')} × sessions ${a.sessionsList.join(', ')}; ~${a.seconds} s per timed run after a pilot and ~${a.warmupSeconds} s of untimed warm-up per system and cell; ${a.repeats} run(s) per system per cell\n`,
  );
  await inWorkspace('bench-smtp', async (w) => {
    const { base, stops } = w;
    const { clamd, sink } = await startClamdAndSink(w, a.clamdThreads);
    const s: Systems = { ports: { sink: sink.port, ours: undefined, clamsmtpd: undefined }, pids: { sink: {}, ours: { clamd: clamd.pid }, clamsmtpd: { clamd: clamd.pid } } };
    const needOurs = a.parts.some((p) => p === 'tool' || p === 'driver');
    if (needOurs) {
      const cfg = await writeClamdConfig(join(base, 'avbench.config.json'), { socket: clamd.socket, ...(a.clamdPool === undefined ? {} : { poolSize: a.clamdPool }) });
      const port = await freePort();
      const proxy = await startServe(
        'smtp',
        ['--listen', `127.0.0.1:${port}`, '--forward', `127.0.0.1:${sink.port}`, '--scanner', 'clamd', '--config', cfg, ...(a.proxyQuiet ? ['--quiet'] : []), ...a.proxyArgs],
        { ready: loopback(port), logFile: join(base, 'serve-smtp.log') },
      );
      stops.push(() => proxy.stop(5_000));
      s.ports.ours = port;
      s.pids.ours = { proxy: proxy.pid, clamd: clamd.pid };
      const cs = await startClamsmtpd({ clamdSocket: clamd.socket, outPort: sink.port, action: 'drop', debugLevel: 0 });
      stops.push(() => cs.stop());
      s.ports.clamsmtpd = Number(new URL(cs.url).port);
      s.pids.clamsmtpd = { clamsmtpd: cs.pid, clamd: clamd.pid };
      await sink.collect();
      out(`lab: clamd pid ${clamd.pid} (MaxThreads ${a.clamdThreads}, temp files on tmpfs), smtp-sink pid ${sink.pid} (dumping to ${sink.dir}), serve smtp pid ${proxy.pid}, clamsmtpd pid ${cs.pid}\n`);
    }
    if (a.parts.includes('tool')) await benchTool(a, s, sink);
    if (a.parts.includes('clamd')) await benchClamd(a, clamd, sink);
    if (a.parts.includes('driver')) await benchDriver(a, s, sink);
    if (a.parts.includes('driver-vs-source')) await benchDriverVsSource(a, sink);
  });
  out(`\n${wallTime(started)}, load average now ${loadAverage()}\n`);
}

runMain('bench-smtp', main);
