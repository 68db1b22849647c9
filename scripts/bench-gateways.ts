/**
 * Benchmark: our SMTP proxy against the third-party SMTP gateways of issue 15, measured the
 * way a mail administrator would — whole processes, Postfix's `smtp-source` with its
 * defaults, the same lab clamd, the same next hop. Today: Haraka + haraka-plugin-clamd, and
 * Exim's malware ACL when scripts/install-exim.sh unpacked it.
 *
 *   ours   = `node dist/src/cli/bin.cjs serve smtp --scanner clamd --config FILE --quiet`
 *            (a private copy of dist/: others may rebuild the shared tree meanwhile)
 *   haraka = Haraka (npm devDependency) from src/lab/haraka.ts: clamd plugin → the same
 *            clamd's unix socket, reject on virus, queue/smtp_forward → the same sink;
 *            log level warn (no line per message, like ours with --quiet)
 *   exim   = Exim (exim4-daemon-heavy) from src/lab/exim.ts: `deny malware = *` → the same
 *            clamd's unix socket (clamd reads Exim's spool file), manualroute → the same sink.
 *            Store-and-forward: its 250 comes after spooling, before delivery, so each run
 *            also waits for every message at the sink (msg/s delivered: smtp-source's start
 *            to the last arrival); its CPU is the daemon's tree (reaped and live children)
 *   both   → smtp-sink dumping every message to tmpfs; each run checks that as many
 *            arrived as smtp-source sent, each Message-Id once.
 *
 * For each shape (per-conn = smtp-source's default, a new connection per message; kept =
 * `smtp-source -d`, sessions kept open) × sessions (`-s`, default 8) × size (`-l`, default
 * 1 KB), the two systems alternate --repeats times (after one untimed warm-up each); the
 * median msg/s of each, every run, the ratio ours / Haraka against the issue's target
 * (≥ 2x), CPU µs per message of each process and the load average at each run are printed.
 *
 *   node dist/scripts/bench-gateways.js [--shapes per-conn,kept] [--sessions-list 8]
 *        [--sizes 1K] [--messages 1000] [--repeats 3] [--logs] [--clamd-threads 8]
 *
 * The measuring part, `measureSmtpGateways`, takes an already started clamd and sink:
 * bench-gateways-all runs it next to the other gateway benches on one clamd and one sink.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { procCpuSeconds, procTreeCpuSeconds } from '../src/bench/host.js';
import { median } from '../src/bench/stats.js';
import { freePort } from '../src/core/net.js';
import { findHaraka, startHaraka } from '../src/lab/haraka.js';
import type { LabClamd } from '../src/lab/clamd.js';
import { findExim, startExim, type EximInstall } from '../src/lab/exim.js';
import { opt, readOptions } from './lib/args.js';
import { hostLine, loadAverage } from './lib/host.js';
import { loopback } from './lib/listen.js';
import { inWorkspace, runMain, stopSince, wallTime, type Stops } from './lib/run.js';
import { parseDump, smtpSource, type DumpSink, type SmtpSourceResult } from './lib/smtp.js';
import { privateDist, startClamdAndSink, startNodeServer, writeClamdConfig } from './lib/sut.js';

/** `per-conn`: smtp-source's default, a new connection per message; `kept`: `-d`. */
export type Shape = 'per-conn' | 'kept';
/** Exim joins when installed (main). */
export type System = 'ours' | 'haraka' | 'exim';
const SHAPES = ['per-conn', 'kept'] as const;
/** Issue 15's target: our serve smtp ≥ 2x Haraka + clamd. */
export const TARGET = 2;
const FROM = 'avbench@sender.localhost';
/** A recipient in Haraka's host_list (src/lab/haraka.ts: recipient.localhost). */
const TO = 'sink@recipient.localhost';

/** The command line (see the comment at the top). */
function parseArgs(argv: string[]) {
  return readOptions('bench-gateways', argv, {
    shapes: opt.list(SHAPES, SHAPES),
    'sessions-list': opt.wholes([8]),
    sizes: opt.sizes('1K'),
    messages: opt.whole(1000),
    repeats: opt.whole(3),
    logs: opt.flag(),
    'clamd-threads': opt.whole(8),
  });
}

const out = (s: string): void => {
  process.stdout.write(s);
};
const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const sizeName = (n: number): string => (n >= 1e6 ? `${n / 1e6}MB` : n >= 1e3 ? `${n / 1e3}KB` : `${n}B`);
const loadNow = (): string => loadAverage();

/** One smtp-source run; its whole-process time. */
function source(port: number, shape: Shape, sessions: number, length: number, messages: number): Promise<SmtpSourceResult> {
  return smtpSource(port, { kept: shape === 'kept', sessions, messages, length, from: FROM, to: TO, capMs: 300_000 });
}

/** What arrived at the sink since the last call: how many files, and their distinct Message-Ids. */
async function arrivals(sink: DumpSink): Promise<{ files: number; ids: Set<string> }> {
  const files = await sink.collect();
  const ids = new Set<string>();
  for (const f of files) {
    const id = parseDump(f).id;
    if (id !== undefined) ids.add(id);
  }
  return { files: files.length, ids };
}

/** One timed run of one system. */
export interface RunFigure {
  msgsPerSec: number;
  /** CPU µs per message, per process. */
  cpu: Record<string, number>;
  load1: string;
  note: string;
  /** Every message arrived, each Message-Id once, smtp-source exited 0. */
  ok: boolean;
  /** Messages per second from smtp-source's start to the last arrival at the sink. */
  deliveredPerSec: number;
}

/** CPU seconds of a measured process (`exim`: the daemon's tree, its reception and delivery processes). */
const cpuOf = (k: string, p: number): number => (k === 'exim' ? procTreeCpuSeconds(p) : (procCpuSeconds(p) ?? 0));

async function timedRun(port: number, pids: Record<string, number>, sink: DumpSink, shape: Shape, sessions: number, length: number, m: number): Promise<RunFigure> {
  const load1 = (loadavg()[0] ?? 0).toFixed(1);
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuOf(k, p)]));
  const t0 = performance.now();
  const r = await source(port, shape, sessions, length, m);
  await new Promise((res) => setTimeout(res, 100)); // the last dump file is closed after the final 250
  // A store-and-forward MTA (Exim) may still be delivering: wait (up to 60 s) for every message.
  const got = await arrivals(sink);
  for (const until = Date.now() + 60_000; got.files < m && Date.now() < until; ) {
    await new Promise((res) => setTimeout(res, 50));
    const more = await arrivals(sink);
    got.files += more.files;
    for (const id of more.ids) got.ids.add(id);
  }
  const lastArrivalMs = performance.now() - t0;
  const cpu = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ((cpuOf(k, p) - (cpu0[k] ?? 0)) * 1e6) / m]));
  const problems = [...(r.why === '' ? [] : [r.why]), ...(got.files !== m ? [`arrived ${got.files} of ${m}`] : []), ...(got.ids.size !== got.files ? [`${got.files - got.ids.size} without or with a repeated Message-Id`] : [])];
  return { msgsPerSec: (m / r.ms) * 1000, deliveredPerSec: (m / Math.max(r.ms, lastArrivalMs - 100)) * 1000, cpu, load1, note: problems.length === 0 ? `${got.files}/${m} arrived` : problems.join('; '), ok: problems.length === 0 };
}

/** What {@link measureSmtpGateways} needs already started: a private folder, the lab clamd and the dump sink. */
export interface SmtpGatewaysLab {
  /** The private folder (tmpfs, mode 0711). */
  base: string;
  /** What the part starts is pushed here, and stopped (and taken off) when the part ends. */
  stops: Stops;
  clamd: LabClamd;
  sink: DumpSink;
  /** A private copy of dist/ ({@link privateDist}). */
  app: string;
}

/** The load and what to run (the command line's values, see the comment at the top). */
export interface SmtpGatewaysOptions {
  shapes: readonly Shape[];
  sessionsList: readonly number[];
  sizes: readonly number[];
  messages: number;
  repeats: number;
  logs: boolean;
  /** Printed in the lab line: the clamd's MaxThreads. */
  clamdThreads: number;
  /** Exim joins the alternation when given (found by findExim). */
  exim?: EximInstall;
}

/** One cell (size × shape × sessions): every run of each system, in round order. */
export interface SmtpGatewaysCell {
  shape: Shape;
  sessions: number;
  length: number;
  systems: readonly System[];
  runs: Record<System, RunFigure[]>;
}

/**
 * The measuring part of this bench: start our `serve smtp` (from `lab.app`), Haraka and, with
 * `a.exim`, Exim in front of `lab.clamd` and `lab.sink`; for each cell one untimed warm-up
 * per system, then `a.repeats` alternating timed runs, each checked at the sink (every
 * message arrived, each Message-Id once). Prints every run and each cell's line (as this
 * script always has); returns the cells and those lines. Stops what it started.
 */
export async function measureSmtpGateways(lab: SmtpGatewaysLab, a: SmtpGatewaysOptions): Promise<{ cells: SmtpGatewaysCell[]; summary: string[] }> {
  const { base, stops, clamd, sink, app } = lab;
  const mark = stops.length;
  const SYSTEMS: System[] = a.exim === undefined ? ['ours', 'haraka'] : ['ours', 'haraka', 'exim'];
  try {
    const cfg = await writeClamdConfig(join(base, 'avbench.config.json'), { socket: clamd.socket });
    const oursPort = await freePort();
    const proxy = await startNodeServer(
      [join(app, 'dist/src/cli/bin.cjs'), 'serve', 'smtp', '--listen', `127.0.0.1:${oursPort}`, '--forward', `127.0.0.1:${sink.port}`, '--scanner', 'clamd', '--config', cfg, ...(a.logs ? [] : ['--quiet'])],
      { ready: loopback(oursPort), expect: 'smtp', logFile: join(base, 'serve-smtp.log'), cwd: app, what: 'avbench serve smtp' },
    );
    stops.push(() => proxy.stop(5_000));
    const haraka = await startHaraka({ clamd: clamd.socket, forwardPort: sink.port, logLevel: a.logs ? 'info' : 'warn', dir: base });
    stops.push(() => haraka.stop());
    const eximLab = a.exim === undefined ? undefined : await startExim({ clamd: clamd.socket, forwardPort: sink.port, dir: base });
    if (eximLab !== undefined) stops.push(() => eximLab.stop());
    await sink.collect();
    out(`lab: clamd pid ${clamd.pid} (MaxThreads ${a.clamdThreads}), smtp-sink pid ${sink.pid}, serve smtp pid ${proxy.pid}, Haraka pid ${haraka.pid}${eximLab === undefined ? '' : `, Exim pid ${eximLab.pid}`}\n\n`);
    const systems: Partial<Record<System, { port: number; pids: Record<string, number> }>> = {
      ours: { port: oursPort, pids: { 'serve smtp': proxy.pid, clamd: clamd.pid, 'smtp-sink': sink.pid } },
      haraka: { port: haraka.port, pids: { haraka: haraka.pid, clamd: clamd.pid, 'smtp-sink': sink.pid } },
      ...(eximLab === undefined ? {} : { exim: { port: eximLab.port, pids: { exim: eximLab.pid, clamd: clamd.pid, 'smtp-sink': sink.pid } } }),
    };
    const summary: string[] = [];
    const cells: SmtpGatewaysCell[] = [];
    for (const length of a.sizes) {
      for (const shape of a.shapes) {
        for (const sessions of a.sessionsList) {
          out(`## ${shape} · ${sessions} sessions · ${sizeName(length)}\n`);
          for (const sys of SYSTEMS) {
            const w = await source(systems[sys]!.port, shape, sessions, length, Math.max(100, 4 * sessions));
            await new Promise((res) => setTimeout(res, sys === 'exim' ? 3_000 : 100)); // Exim delivers after its 250
            await sink.collect();
            if (w.why !== '') out(`  warm-up ${sys}: ${w.why}\n`);
          }
          const runs: Record<System, RunFigure[]> = { ours: [], haraka: [], exim: [] };
          for (let r = 0; r < a.repeats; r++) {
            for (const sys of SYSTEMS) {
              const f = await timedRun(systems[sys]!.port, systems[sys]!.pids, sink, shape, sessions, length, a.messages);
              runs[sys].push(f);
              const cpu = Object.entries(f.cpu)
                .map(([k, v]) => `${k} ${v.toFixed(0)}`)
                .join(', ');
              out(`  run ${r + 1} ${sys.padEnd(6)} ${fmt(f.msgsPerSec).padStart(6)} msg/s${sys === 'exim' ? ` (${fmt(f.deliveredPerSec)} delivered)` : ''} · CPU µs/msg: ${cpu} · load1 ${f.load1} · ${f.note}\n`);
            }
          }
          cells.push({ shape, sessions, length, systems: SYSTEMS, runs });
          const med = (sys: System): number => median(runs[sys].map((f) => f.msgsPerSec));
          const ok = SYSTEMS.every((s) => runs[s].every((f) => f.ok));
          const ratio = med('ours') / med('haraka');
          const medCpu = (sys: System, k: string): number => median(runs[sys].map((f) => f.cpu[k] ?? 0));
          const line =
            `${shape.padEnd(8)} s${sessions} ${sizeName(length).padEnd(5)}: ours ${fmt(med('ours'))} msg/s [${runs.ours.map((f) => fmt(f.msgsPerSec)).join(', ')}] · ` +
            `Haraka ${fmt(med('haraka'))} msg/s [${runs.haraka.map((f) => fmt(f.msgsPerSec)).join(', ')}] · ratio ${ratio.toFixed(2)}x (target ≥ ${TARGET}x: ${ratio >= TARGET ? 'met' : 'NOT met'}) · ` +
            `front end's own CPU µs/msg: ours ${medCpu('ours', 'serve smtp').toFixed(0)}, Haraka ${medCpu('haraka', 'haraka').toFixed(0)}; clamd ${medCpu('ours', 'clamd').toFixed(0)} / ${medCpu('haraka', 'clamd').toFixed(0)} · ` +
            (SYSTEMS.includes('exim')
              ? `Exim ${fmt(med('exim'))} msg/s accepted [${runs.exim.map((f) => fmt(f.msgsPerSec)).join(', ')}], ${fmt(median(runs.exim.map((f) => f.deliveredPerSec)))} delivered · ratio ours/Exim ${(med('ours') / median(runs.exim.map((f) => f.deliveredPerSec))).toFixed(2)}x (delivered; no target) · Exim tree CPU µs/msg ${medCpu('exim', 'exim').toFixed(0)}, clamd ${medCpu('exim', 'clamd').toFixed(0)} · `
              : '') +
            `load1 ${SYSTEMS.flatMap((s) => runs[s].map((f) => f.load1)).join(' ')}${ok ? '' : ' · ARRIVAL PROBLEMS (see runs)'}`;
          out(`  ${line}\n\n`);
          summary.push(line);
        }
      }
    }
    return { cells, summary };
  } finally {
    await stopSince(stops, mark);
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const install = await findHaraka();
  if (install === undefined) throw new Error('Haraka is not installed (npm ci installs the devDependencies Haraka and haraka-plugin-clamd)');
  const exim = await findExim();
  out(
    `# bench-gateways — ${new Date().toISOString()}\n` +
      `${hostLine()} (other work on the machine shares its cores)\n` +
      `Haraka ${install.version} + haraka-plugin-clamd ${install.clamdPluginVersion} (one process, log level ${a.logs ? 'info' : 'warn'}) vs avbench serve smtp (${a.logs ? 'per-message log lines on, to a file' : '--quiet'}); same clamd (unix socket), same smtp-sink\n` +
      `${exim === undefined ? 'Exim: not installed (scripts/install-exim.sh)' : `Exim ${exim.version} (exim4-daemon-heavy, ${exim.bin}): deny malware = * (clamd, same unix socket), manualroute to the same smtp-sink`}\n` +
      `smtp-source -f ${FROM} -t ${TO} [-d] -s N -m ${a.messages} -l SIZE; ${a.repeats} alternating run(s) per system per cell after one untimed warm-up run each; timing = smtp-source's whole-process time\n`,
  );
  await inWorkspace('bench-gateways', async (w) => {
    const { clamd, sink } = await startClamdAndSink(w, a.clamdThreads);
    const app = await privateDist(w.base);
    const { summary } = await measureSmtpGateways({ ...w, clamd, sink, app }, { ...a, ...(exim === undefined ? {} : { exim }) });
    out(`## summary (medians)\n${summary.join('\n')}\n`);
  });
  out(`\n${wallTime(started)}, load average now ${loadNow()}\n`);
}

runMain('bench-gateways', main, import.meta.url);
