/**
 * Benchmark (issue 15): a Postfix after-queue content filter, amavisd-new against our SMTP
 * proxy, as an administrator deploys each — whole processes, Postfix's `smtp-source` with its
 * defaults, the same lab clamd, the same next hop.
 *
 *   amavisd-new = a private Postfix (src/lab/postfix.ts startPostfixAfterQueue) whose public
 *                 smtpd queues with `content_filter` → amavisd-new (src/lab/amavis.ts:
 *                 @av_scanners = ClamAV-clamd CONTSCAN over the clamd's unix socket,
 *                 $max_servers = --filter-procs, spam checks off, log level 0) → the Postfix's
 *                 re-injection smtpd → smtp-sink
 *   ours        = an identical private Postfix whose content filter is
 *                 `node dist/src/cli/bin.cjs serve smtp --scanner clamd --quiet` (a private copy of
 *                 dist/) forwarding to that Postfix's re-injection smtpd → the same smtp-sink
 *
 * After the queue the sender's 250 comes at queueing time, so the figure is msg/s DELIVERED:
 * smtp-source's start to the last of its messages at the sink (every message must arrive,
 * each Message-Id once). smtp-source's own msg/s (accepted into the queue) is printed beside
 * it. The two systems alternate --repeats times after one untimed warm-up each; medians,
 * every run, the ratio ours / amavisd-new against the issue's target (≥ 2x), CPU µs per
 * message of each process (Postfix's whole tree, amavisd's tree, clamd, serve smtp) and the
 * load average at each run are printed.
 *
 * `--places milter` (default: both places) does the same before the queue: Postfix with
 * `smtpd_milters` = amavisd-milter (→ the same amavisd over AM.PDP, `-m` = --filter-procs)
 * against Postfix with `smtpd_milters` = our `serve milter`; issue 15's target there is ≥ 3x.
 *
 *   node dist/scripts/bench-amavis.js [--places after-queue,milter] [--shapes per-conn,kept]
 *        [--sessions 8] [--sizes 1K] [--messages 500] [--repeats 3] [--filter-procs 8] [--clamd-threads 8]
 *
 * The measuring part, `measureAmavis`, takes an already started clamd and sink:
 * bench-gateways-all runs it next to the other gateway benches on one clamd and one sink.
 */
import { readdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { procCpuSeconds, procTreeCpuSeconds } from '../src/bench/host.js';
import { median } from '../src/bench/stats.js';
import { freePort } from '../src/core/net.js';
import { findAmavisd, startAmavisGateway } from '../src/lab/amavis.js';
import type { LabClamd } from '../src/lab/clamd.js';
import { startPostfix, startPostfixAfterQueue } from '../src/lab/postfix.js';
import { opt, readOptions } from './lib/args.js';
import { hostLine } from './lib/host.js';
import { loopback } from './lib/listen.js';
import { inWorkspace, runMain, stopSince, wallTime, type Stops } from './lib/run.js';
import { parseDump, smtpSource, type DumpSink } from './lib/smtp.js';
import { privateDist, startClamdAndSink, startNodeServer, writeClamdConfig } from './lib/sut.js';

/** `per-conn`: smtp-source's default, a new connection per message; `kept`: `-d`. */
export type Shape = 'per-conn' | 'kept';
/** `after-queue`: content_filter; `milter`: smtpd_milters (amavisd-milter). */
export type Place = 'after-queue' | 'milter';
export type System = 'ours' | 'amavisd-new';
const SHAPES = ['per-conn', 'kept'] as const;
const PLACES = ['after-queue', 'milter'] as const;
const SYSTEMS: System[] = ['ours', 'amavisd-new'];
/** Issue 15's targets: our proxy in front of Postfix ≥ 2x amavisd-new as content filter; our milter ≥ 3x amavisd-milter behind the same Postfix. */
export const TARGET: Record<Place, number> = { 'after-queue': 2, milter: 3 };
const LABEL: Record<Place, Record<System, string>> = {
  'after-queue': { ours: 'Postfix+ours', 'amavisd-new': 'Postfix+amavisd-new' },
  milter: { ours: 'Postfix+serve milter', 'amavisd-new': 'Postfix+amavisd-milter' },
};
const FROM = 'avbench@sender.localhost';
const TO = 'sink@recipient.localhost';

function parseArgs(argv: string[]) {
  return readOptions('bench-amavis', argv, {
    places: opt.list(PLACES, PLACES),
    shapes: opt.list(['per-conn'], SHAPES),
    sessions: opt.whole(8),
    sizes: opt.sizes('1K'),
    messages: opt.whole(500),
    repeats: opt.whole(3),
    'filter-procs': opt.whole(8),
    'clamd-threads': opt.whole(8),
  });
}

const out = (s: string): void => {
  process.stdout.write(s);
};
const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const sizeName = (n: number): string => (n >= 1e6 ? `${n / 1e6}MB` : n >= 1e3 ? `${n / 1e3}KB` : `${n}B`);

/** One timed run of one system. */
export interface RunFigure {
  /** Messages per second from smtp-source's start to the last arrival at the sink. */
  deliveredPerSec: number;
  /** smtp-source's own: accepted into Postfix's queue. */
  acceptedPerSec: number;
  cpu: Record<string, number>;
  load1: string;
  ok: boolean;
  note: string;
}

/** CPU seconds of a measured process: Postfix and amavisd fork workers (their tree), others themselves. */
const cpuOf = (k: string, p: number): number => (k === 'postfix' || k === 'amavisd' ? procTreeCpuSeconds(p) : (procCpuSeconds(p) ?? 0));


/**
 * Wait (up to 120 s) until `m` messages arrived at the sink, then read them: their count and
 * distinct Message-Ids, and when the m-th file appeared. Files are read only once all are
 * there and smtp-sink had 300 ms to close the last (a file read while it is written lacks
 * its end, or its Message-Id).
 */
async function drain(sink: DumpSink, m: number): Promise<{ files: number; ids: Set<string>; at: number }> {
  let at = performance.now();
  for (const until = Date.now() + 120_000; Date.now() < until; ) {
    const n = (await readdir(sink.dir)).length;
    at = performance.now();
    if (n >= m) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  await new Promise((res) => setTimeout(res, 300));
  const files = await sink.collect();
  const ids = new Set<string>();
  for (const f of files) {
    const id = parseDump(f).id;
    if (id !== undefined) ids.add(id);
  }
  return { files: files.length, ids, at };
}

async function timedRun(port: number, pids: Record<string, number>, sink: DumpSink, shape: Shape, sessions: number, length: number, m: number): Promise<RunFigure> {
  const load1 = (loadavg()[0] ?? 0).toFixed(1);
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuOf(k, p)]));
  const t0 = performance.now();
  const r = await smtpSource(port, { kept: shape === 'kept', sessions, messages: m, length, from: FROM, to: TO, capMs: 600_000 });
  const got = await drain(sink, m);
  const cpu = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ((cpuOf(k, p) - (cpu0[k] ?? 0)) * 1e6) / m]));
  const problems = [...(r.why === '' ? [] : [r.why]), ...(got.files !== m ? [`arrived ${got.files} of ${m}`] : []), ...(got.ids.size !== got.files ? [`${got.files - got.ids.size} without or with a repeated Message-Id`] : [])];
  return {
    deliveredPerSec: (m * 1000) / (got.at - t0),
    acceptedPerSec: (m * 1000) / r.ms,
    cpu,
    load1,
    ok: problems.length === 0,
    note: problems.length === 0 ? `${got.files}/${m} arrived` : problems.join('; '),
  };
}

/** What {@link measureAmavis} needs already started: a private folder, the lab clamd and the dump sink. */
export interface AmavisLab {
  /** The private folder (mode 0711: user amavis traverses it). */
  base: string;
  /** What the part starts is pushed here, and stopped (and taken off) when the part ends. */
  stops: Stops;
  /** Reached over its unix socket (amavisd's CONTSCAN, our config); its folder is made traversable for user amavis. */
  clamd: LabClamd;
  sink: DumpSink;
  /** A private copy of dist/ (scripts/lib/sut.ts privateDist). */
  app: string;
}

/** The load and what to run (the command line's values, see the comment at the top). */
export interface AmavisOptions {
  places: readonly Place[];
  shapes: readonly Shape[];
  sessions: number;
  sizes: readonly number[];
  messages: number;
  repeats: number;
  filterProcs: number;
}

/** One cell (place × size × shape): every run of each system, in round order. */
export interface AmavisCell {
  place: Place;
  shape: Shape;
  length: number;
  runs: Record<System, RunFigure[]>;
}

/**
 * The measuring part of this bench: start amavisd-new behind its Postfix (and, with
 * `milter` in `a.places`, amavisd-milter behind another) and the same with our `serve smtp`
 * as content filter (our `serve milter`), all relaying to `lab.sink`, scanning with
 * `lab.clamd`; for each cell one untimed warm-up per system, then `a.repeats` alternating
 * timed runs, each waiting until every message arrived at the sink (each Message-Id once).
 * Prints every run (as this script always has); returns the cells and each cell's summary
 * line. Stops what it started.
 */
export async function measureAmavis(lab: AmavisLab, a: AmavisOptions): Promise<{ cells: AmavisCell[]; summary: string[] }> {
  const { base, stops, clamd, sink, app } = lab;
  const mark = stops.length;
  try {
    const amavis = await startAmavisGateway({ clamdSocket: clamd.socket, sinkPort: sink.port, maxServers: a.filterProcs, dir: base, milter: a.places.includes('milter') });
    stops.push(() => amavis.stop());
    const cfg = await writeClamdConfig(join(base, 'avbench.config.json'), { socket: clamd.socket });
    const oursPort = await freePort();
    const oursPostfix = await startPostfixAfterQueue({ relayPort: sink.port, filterPort: oursPort, filterConcurrency: a.filterProcs, dir: base });
    stops.push(() => oursPostfix.stop());
    const proxy = await startNodeServer(
      [join(app, 'dist/src/cli/bin.cjs'), 'serve', 'smtp', '--listen', `127.0.0.1:${oursPort}`, '--forward', `127.0.0.1:${oursPostfix.reinjectPort}`, '--scanner', 'clamd', '--config', cfg, '--quiet'],
      { ready: loopback(oursPort), expect: 'smtp', logFile: join(base, 'serve-smtp.log'), cwd: app, what: 'avbench serve smtp' },
    );
    stops.push(() => proxy.stop(5_000));
    const places: Record<Place, Record<System, { port: number; pids: Record<string, number> }>> = {
      'after-queue': {
        ours: { port: oursPostfix.port, pids: { postfix: oursPostfix.pid, 'serve smtp': proxy.pid, clamd: clamd.pid } },
        'amavisd-new': { port: amavis.postfix.port, pids: { postfix: amavis.postfix.pid, amavisd: amavis.amavis.pid, clamd: clamd.pid } },
      },
      milter: { ours: { port: 0, pids: {} }, 'amavisd-new': { port: 0, pids: {} } },
    };
    out(`lab: clamd pid ${clamd.pid}, smtp-sink pid ${sink.pid}; amavisd-new pid ${amavis.amavis.pid} behind Postfix master ${amavis.postfix.pid}; serve smtp pid ${proxy.pid} behind Postfix master ${oursPostfix.pid}\n`);
    if (amavis.milter !== undefined) {
      const milterPort = await freePort();
      const ourMilter = await startNodeServer(
        [join(app, 'dist/src/cli/bin.cjs'), 'serve', 'milter', '--listen', `inet:${milterPort}@127.0.0.1`, '--scanner', 'clamd', '--config', cfg],
        { ready: loopback(milterPort), logFile: join(base, 'serve-milter.log'), cwd: app, what: 'avbench serve milter' },
      );
      stops.push(() => ourMilter.stop(5_000));
      const pfOurs = await startPostfix({ relayPort: sink.port, milter: `inet:127.0.0.1:${milterPort}`, dir: base });
      stops.push(() => pfOurs.stop());
      const pfAmavis = await startPostfix({ relayPort: sink.port, milter: `inet:127.0.0.1:${amavis.milter.port}`, dir: base });
      stops.push(() => pfAmavis.stop());
      places.milter = {
        ours: { port: pfOurs.port, pids: { postfix: pfOurs.pid, 'serve milter': ourMilter.pid, clamd: clamd.pid } },
        'amavisd-new': { port: pfAmavis.port, pids: { postfix: pfAmavis.pid, 'amavisd-milter': amavis.milter.pid, amavisd: amavis.amavis.pid, clamd: clamd.pid } },
      };
      out(`     serve milter pid ${ourMilter.pid} behind Postfix master ${pfOurs.pid}; amavisd-milter pid ${amavis.milter.pid} (→ the same amavisd) behind Postfix master ${pfAmavis.pid}\n`);
    }
    out('\n');
    await sink.collect();
    const summary: string[] = [];
    const cells: AmavisCell[] = [];
    for (const place of a.places) {
      const systems = places[place];
      for (const length of a.sizes) {
        for (const shape of a.shapes) {
          out(`## ${place} · ${shape} · ${a.sessions} sessions · ${sizeName(length)}\n`);
          for (const sys of SYSTEMS) {
            const w = Math.max(100, 4 * a.sessions);
            const r = await smtpSource(systems[sys].port, { kept: shape === 'kept', sessions: a.sessions, messages: w, length, from: FROM, to: TO, capMs: 300_000 });
            const got = await drain(sink, w);
            if (r.why !== '' || got.files !== w) out(`  warm-up ${sys}: ${r.why} arrived ${got.files} of ${w}\n`);
          }
          const runs: Record<System, RunFigure[]> = { ours: [], 'amavisd-new': [] };
          for (let r = 0; r < a.repeats; r++) {
            for (const sys of SYSTEMS) {
              const f = await timedRun(systems[sys].port, systems[sys].pids, sink, shape, a.sessions, length, a.messages);
              runs[sys].push(f);
              const cpu = Object.entries(f.cpu)
                .map(([k, v]) => `${k} ${v.toFixed(0)}`)
                .join(', ');
              out(`  run ${r + 1} ${LABEL[place][sys].padEnd(22)} ${fmt(f.deliveredPerSec).padStart(6)} msg/s delivered (${fmt(f.acceptedPerSec)} accepted) · CPU µs/msg: ${cpu} · load1 ${f.load1} · ${f.note}\n`);
            }
          }
          cells.push({ place, shape, length, runs });
          const med = (sys: System): number => median(runs[sys].map((f) => f.deliveredPerSec));
          const medCpu = (sys: System, k: string): number => median(runs[sys].map((f) => f.cpu[k] ?? 0));
          const ratio = med('ours') / med('amavisd-new');
          const ok = SYSTEMS.every((s) => runs[s].every((f) => f.ok));
          const ownCpu = (sys: System): string =>
            Object.keys(systems[sys].pids)
              .filter((k) => k !== 'postfix' && k !== 'clamd')
              .map((k) => `${k} ${medCpu(sys, k).toFixed(0)}`)
              .join(' + ');
          const line =
            `${place.padEnd(11)} ${shape.padEnd(8)} s${a.sessions} ${sizeName(length).padEnd(5)}: ${LABEL[place].ours} ${fmt(med('ours'))} msg/s [${runs.ours.map((f) => fmt(f.deliveredPerSec)).join(', ')}] · ` +
            `${LABEL[place]['amavisd-new']} ${fmt(med('amavisd-new'))} msg/s [${runs['amavisd-new'].map((f) => fmt(f.deliveredPerSec)).join(', ')}] · ratio ${ratio.toFixed(2)}x (target ≥ ${TARGET[place]}x: ${ratio >= TARGET[place] ? 'met' : 'NOT met'}) · ` +
            `filter's own CPU µs/msg: ${ownCpu('ours')}; ${ownCpu('amavisd-new')}; Postfix ${medCpu('ours', 'postfix').toFixed(0)} / ${medCpu('amavisd-new', 'postfix').toFixed(0)}; clamd ${medCpu('ours', 'clamd').toFixed(0)} / ${medCpu('amavisd-new', 'clamd').toFixed(0)} · ` +
            `load1 ${SYSTEMS.flatMap((s) => runs[s].map((f) => f.load1)).join(' ')}${ok ? '' : ' · ARRIVAL PROBLEMS (see runs)'}`;
          summary.push(line);
          out('\n');
        }
      }
    }
    return { cells, summary };
  } finally {
    await stopSince(stops, mark);
  }
}

/** The root check and the amavisd-new install check, before anything starts. */
export async function checkAmavisCanRun(): Promise<void> {
  if ((await findAmavisd()) === undefined) throw new Error('amavisd-new is not installed (apt-get install amavisd-new)');
  if (process.getuid?.() !== 0) throw new Error('bench-amavis runs private Postfix instances and amavisd: run it as root');
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const started = performance.now();
  await checkAmavisCanRun();
  out(
    `# bench-amavis — ${new Date().toISOString()}\n` +
      `${hostLine()} (other work on the machine shares its cores)\n` +
      `Postfix after-queue content_filter → amavisd-new ($max_servers ${a.filterProcs}, ClamAV-clamd CONTSCAN, log level 0) vs → avbench serve smtp (--quiet); each behind its own identical private Postfix (feeding transport maxproc ${a.filterProcs}); same clamd (unix socket, MaxThreads ${a.clamdThreads}), same smtp-sink\n` +
      `smtp-source -f ${FROM} -t ${TO} [-d] -s ${a.sessions} -m ${a.messages} -l SIZE; ${a.repeats} alternating run(s) per system after one untimed warm-up each; msg/s delivered = smtp-source's start to the last arrival at the sink\n`,
  );
  await inWorkspace(
    'bench-amavis',
    async (w) => {
      const { clamd, sink } = await startClamdAndSink(w, a.clamdThreads, { clamdInWorkspace: true });
      const app = await privateDist(w.base);
      const { summary } = await measureAmavis({ base: w.base, stops: w.stops, clamd, sink, app }, a);
      out(`## summary (medians; ${wallTime(started)})\n${summary.join('\n')}\n`);
    },
    { stopOnSignal: true },
  );
}

runMain('bench-amavis', main, import.meta.url);
