/**
 * Benchmark of point B, our milter, in two parts (`--parts postfix,driver`, both by default).
 *
 * 1. `postfix` — as a user runs it (issue 11): Postfix's `smtp-source` (its defaults: a new
 *    SMTP connection per message) drives a private Postfix that relays to `smtp-sink`; the
 *    same run measures
 *      - Postfix alone (an identical instance without `smtpd_milters`, the same sink),
 *      - Postfix + `node dist/src/cli/bin.cjs serve milter --scanner clamd --config FILE`
 *        (whole process, its defaults; the config points at the lab clamd),
 *      - Postfix + clamav-milter on the same lab clamd,
 *      - Postfix + our milter server with a null scanner (every message clean at once, no
 *        clamd): what the milter protocol alone costs Postfix and us, the ceiling of any
 *        milter that scans,
 *    each milter over loopback TCP and over a unix socket, for every sessions count (`-s`)
 *    and message size (`-l`), `--runs` rounds alternating the systems. Every message is
 *    accounted for: the Postfix instance's maillog must show one more ` status=sent ` per
 *    message smtp-source sent (else the run is flagged). Printed per run: msg/s (messages ÷
 *    smtp-source's wall time), the ratio to Postfix alone in the same round and to
 *    clamav-milter, CPU ms per message of each part (Postfix = master + its children, ours,
 *    clamd, clamav-milter, smtp-source), the load average; then a summary with the median of
 *    the ratios and the CPU-bound ratio (all CPU per message on the alone path ÷ on ours: what
 *    a machine saturated by this path alone would show, whatever else runs on it).
 * 2. `driver` — the second opinion: our milter driver (kept-open milter connections, no MTA)
 *    replays a corpus into ours and clamav-milter at equal concurrency.
 *
 *   node dist/scripts/bench-milter.js [--parts postfix,driver] [--sessions 1,8,32]
 *        [--sizes 1K,100K,2M] [--listen inet,unix] [--runs 3] [--messages N]
 *        [--systems alone,ours,null,clamav-milter] [--milter-arg ARG]... [--json FILE]
 *        [--corpus DIR] [--driver-messages 2000] [--concurrency 8]
 *
 * Sizes are bytes as smtp-source's -l takes them (K = 1000, M = 1,000,000). Without
 * --messages a run sends 300 messages with 1 session and 2,000 with more (fewer for large
 * messages: at most 400 at ≥ 100 KB, 100 at ≥ 1 MB).
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClamdAdapter } from '../adapters/clamd.js';
import { hostInfo } from '../src/bench/host.js';
import { median } from '../src/bench/stats.js';
import type { Daemon } from '../src/core/exec.js';
import { freePort } from '../src/core/net.js';
import { generateCorpus } from '../src/corpus/generate.js';
import { openCorpus } from '../src/corpus/read.js';
import { startClamd, type LabClamd } from '../src/lab/clamd.js';
import { startClamavMilter, type LabClamavMilter } from '../src/lab/clamav-milter.js';
import { startPostfix, type LabPostfix } from '../src/lab/postfix.js';
import { startSmtpSink } from '../src/lab/smtp-sink.js';
import { createMilterDriver, type MilterOutcome } from '../src/modes/milter/driver.js';
import { createMilterServer } from '../src/modes/milter/server.js';
import { milterEndpoint, milterUrl, parseMilterSocket } from '../src/modes/milter/socket-spec.js';
import type { Adapter } from '../src/core/types.js';
import type { Fate } from '../src/modes/types.js';
import { listOf, opt, readOptions } from './lib/args.js';
import { hostLine, loadAverage } from './lib/host.js';
import { runMain, stopAll, type Stops } from './lib/run.js';
import { cpuMs, postfixRun, type PostfixRun } from './lib/postfix.js';
import { startNodeServer, startServe, writeClamdConfig } from './lib/sut.js';

type Part = 'postfix' | 'driver';
type Listen = 'inet' | 'unix';
type SystemKind = 'alone' | 'ours' | 'null' | 'clamav-milter';

interface Args {
  parts: Part[];
  sessions: number[];
  sizes: number[];
  listen: Listen[];
  runs: number;
  messages?: number;
  systems: SystemKind[];
  milterArgs: string[];
  json?: string;
  corpus?: string;
  driverMessages: number;
  concurrency: number;
}

const PARTS = ['postfix', 'driver'] as const;
const LISTENS = ['inet', 'unix'] as const;
const SYSTEM_KINDS = ['alone', 'ours', 'null', 'clamav-milter'] as const;

function parseArgs(argv: string[]): Args {
  const { milterArg, ...v } = readOptions('bench-milter', argv, {
    parts: opt.list(PARTS, PARTS),
    sessions: opt.wholes([1, 8, 32]),
    sizes: opt.sizes('1000'),
    listen: opt.custom('both', (raw, flag) => (raw === 'both' ? [...LISTENS] : listOf(raw, LISTENS, flag))),
    runs: opt.whole(3),
    messages: opt.optionalWhole(),
    systems: opt.list(SYSTEM_KINDS, SYSTEM_KINDS),
    'milter-arg': opt.strings(),
    json: opt.optionalString(),
    corpus: opt.optionalString(),
    'driver-messages': opt.whole(2000),
    concurrency: opt.whole(8),
  });
  if (!v.systems.includes('alone') && v.parts.includes('postfix')) throw new Error('--systems must include alone: every ratio is to Postfix alone');
  return { ...v, milterArgs: milterArg };
}

const out = (s: string): void => {
  process.stdout.write(s);
};
const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const sizeName = (n: number): string => (n >= 1e6 ? `${n / 1e6} MB` : n >= 1e3 ? `${n / 1e3} KB` : `${n} B`);
const load = (): string => loadAverage();

/** Where a milter listen spec (`inet:PORT@HOST`, `unix:PATH`) accepts connections. */
function endpointOf(spec: string): ReturnType<typeof milterEndpoint> {
  return milterEndpoint(parseMilterSocket(spec));
}

// ───────────────────────────── part 1: Postfix + smtp-source ─────────────────────────────

/** One system under smtp-source: a Postfix instance, maybe with a milter in front of a clamd. */
interface PfSystem {
  key: string;
  label: string;
  kind: SystemKind;
  listen?: Listen;
  postfix: LabPostfix;
  /** CPU accounting: name → pid (the Postfix tree is measured separately). */
  pids: Record<string, number>;
}


/** A timed run: smtp-source, then wait until the maillog shows every message sent to the sink. */
function pfRun(s: PfSystem, sessions: number, length: number, messages: number): Promise<PostfixRun> {
  return postfixRun(s.postfix, Object.fromEntries(Object.entries(s.pids).map(([k, p]) => [k, () => cpuMs(p)])), { sessions, length, messages });
}

function messagesFor(a: Args, sessions: number, length: number): number {
  if (a.messages !== undefined) return a.messages;
  const n = sessions === 1 ? 300 : 2000;
  return length >= 1_000_000 ? Math.min(n, 100) : length >= 100_000 ? Math.min(n, 400) : n;
}

interface CellReport {
  size: number;
  sessions: number;
  messages: number;
  runs: Record<string, PostfixRun[]>;
}

async function postfixPart(a: Args, work: string, clamd: LabClamd, stops: Stops, report: Record<string, unknown>): Promise<void> {
  out(`\n## 1. smtp-source → Postfix (→ milter → clamd) → smtp-sink: Postfix alone vs + our milter vs + clamav-milter\n`);
  const sink = await startSmtpSink({ backlog: 1024, dir: work });
  stops.push(() => sink.stop());
  const cfg = await writeClamdConfig(join(work, 'avbench.config.json'), { socket: clamd.socket });
  const systems: PfSystem[] = [];
  const alone = await startPostfix({ relayPort: sink.port, dir: work });
  stops.push(() => alone.stop());
  systems.push({ key: 'alone', label: 'Postfix alone', kind: 'alone', postfix: alone, pids: { 'smtp-sink': sink.pid } });
  const daemons: Daemon[] = [];
  for (const how of a.listen) {
    if (a.systems.includes('ours')) {
      const listen = how === 'unix' ? `unix:${join(work, 'ours.sock')}` : `inet:${await freePort()}@127.0.0.1`;
      const args = ['--listen', listen, '--scanner', 'clamd', '--config', cfg, ...(how === 'unix' ? ['--socket-mode', '666'] : []), ...a.milterArgs];
      const d = await startServe('milter', args, { ready: endpointOf(listen), logFile: join(work, `serve-milter-${how}.log`) });
      daemons.push(d);
      stops.push(() => d.stop(5_000));
      const pf = await startPostfix({ relayPort: sink.port, milter: listen, dir: work });
      stops.push(() => pf.stop());
      systems.push({ key: `ours-${how}`, label: `+ avbench serve milter (${how})`, kind: 'ours', listen: how, postfix: pf, pids: { milter: d.pid, clamd: clamd.pid, 'smtp-sink': sink.pid } });
      out(`ours (${how}): node dist/src/cli/bin.cjs serve milter ${args.join(' ')}  (pid ${d.pid})\n`);
    }
    if (a.systems.includes('null')) {
      const listen = how === 'unix' ? `unix:${join(work, 'null.sock')}` : `inet:${await freePort()}@127.0.0.1`;
      const d = await startNodeServer([fileURLToPath(import.meta.url), '--serve-null', listen], { ready: endpointOf(listen), logFile: join(work, `null-milter-${how}.log`), what: `the null milter at ${listen}` });
      daemons.push(d);
      stops.push(() => d.stop(5_000));
      const pf = await startPostfix({ relayPort: sink.port, milter: listen, dir: work });
      stops.push(() => pf.stop());
      systems.push({ key: `null-${how}`, label: `+ null milter (${how})`, kind: 'null', listen: how, postfix: pf, pids: { milter: d.pid, 'smtp-sink': sink.pid } });
    }
    if (a.systems.includes('clamav-milter')) {
      // Postfix's smtpd (user postfix) must reach the socket: mode 666 in a traversable folder.
      // (the lab config says MilterSocketMode 660 and clamav-milter keeps the first such line, so chmod here)
      const c = await startClamavMilter({ clamdSocket: clamd.socket, listen: how, readyTimeoutMs: 30_000 });
      stops.push(() => c.stop());
      if (how === 'unix') {
        await chmod(c.folder, 0o711);
        await chmod(c.socket.replace(/^unix:/, ''), 0o666);
      }
      const pf = await startPostfix({ relayPort: sink.port, milter: c.socket, dir: work });
      stops.push(() => pf.stop());
      systems.push({ key: `clamav-milter-${how}`, label: `+ clamav-milter (${how})`, kind: 'clamav-milter', listen: how, postfix: pf, pids: { milter: c.pid, clamd: clamd.pid, 'smtp-sink': sink.pid } });
    }
  }
  out(`Postfix instances: identical main.cf/master.cf (src/lab/postfix.ts) but for smtpd_milters (milter_default_action = tempfail), all relaying to one smtp-sink (pid ${sink.pid}); clamd pid ${clamd.pid}\n`);
  out(`msg/s = messages ÷ smtp-source's wall time (smtp-source -s N -m M -l SIZE, a new connection per message); each run then waits until the maillog shows every message status=sent\n`);

  // Warm-up (untimed): JIT, clamd, Postfix's process pools.
  for (const s of systems) await pfRun(s, 8, 1000, 200);

  const cells: CellReport[] = [];
  for (const length of a.sizes) {
    for (const sessions of a.sessions) {
      const messages = messagesFor(a, sessions, length);
      const cell: CellReport = { size: length, sessions, messages, runs: Object.fromEntries(systems.map((s) => [s.key, [] as PostfixRun[]])) };
      out(`\n### ${sizeName(length)}, ${sessions} session${sessions === 1 ? '' : 's'}, ${messages} messages per run\n`);
      for (let r = 0; r < a.runs; r++) {
        for (const s of systems) {
          const res = await pfRun(s, sessions, length, messages);
          cell.runs[s.key]?.push(res);
          const base = cell.runs['alone']?.[r];
          const vsAlone = s.kind === 'alone' || base === undefined ? '' : `  ${(res.msgsPerSec / base.msgsPerSec).toFixed(2)}x alone`;
          const cpu = Object.entries(res.cpuPerMsg)
            .map(([k, v]) => `${k} ${v.toFixed(2)}`)
            .join(', ');
          out(`  run ${r + 1}  ${s.label.padEnd(34)} ${fmt(res.msgsPerSec).padStart(6)} msg/s${vsAlone.padEnd(14)} sent ${res.sent}/${res.messages}  CPU ms/msg: ${cpu}  load ${res.load}${res.ok ? '' : `  !! ${res.note}`}\n`);
        }
      }
      cells.push(cell);
    }
  }

  out(`\n### Summary (median over ${a.runs} run${a.runs === 1 ? '' : 's'}; a ratio is taken within each round, then the median; target ours ≥ 0.85x Postfix alone)\n`);
  out(`| size | sessions | listener | Postfix alone msg/s | + ours msg/s | ours / alone (runs) | + clamav-milter msg/s | ours / clamav-milter | null milter / alone | ours CPU ms/msg (milter · clamd · Postfix) | CPU-bound ratio | every message sent |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n`);
  const summary: Record<string, unknown>[] = [];
  for (const c of cells) {
    const aloneRuns = c.runs['alone'] ?? [];
    for (const how of a.listen) {
      const ours = c.runs[`ours-${how}`] ?? [];
      const theirs = c.runs[`clamav-milter-${how}`] ?? [];
      const nul = c.runs[`null-${how}`] ?? [];
      const nullRatios = nul.map((o, i) => o.msgsPerSec / (aloneRuns[i]?.msgsPerSec ?? Number.NaN));
      const ratios = ours.map((o, i) => o.msgsPerSec / (aloneRuns[i]?.msgsPerSec ?? Number.NaN));
      const vsTheirs = ours.map((o, i) => o.msgsPerSec / (theirs[i]?.msgsPerSec ?? Number.NaN));
      const cpu = (k: string): string => (ours.length === 0 ? '–' : median(ours.map((r) => r.cpuPerMsg[k] ?? 0)).toFixed(2));
      const allOk = [...aloneRuns, ...ours, ...theirs, ...nul].every((r) => r.ok);
      // All CPU per message on the path (Postfix, sink, smtp-source, milter, clamd): alone ÷ ours, the
      // ratio a machine saturated by this path alone would show (independent of other load).
      const total = (rs: PostfixRun[]): number => median(rs.map((r) => Object.values(r.cpuPerMsg).reduce((x, y) => x + y, 0)));
      const cpuRatio = ours.length === 0 || aloneRuns.length === 0 ? Number.NaN : total(aloneRuns) / total(ours);
      const med = (rs: PostfixRun[]): string => (rs.length === 0 ? '–' : fmt(median(rs.map((r) => r.msgsPerSec))));
      out(
        `| ${sizeName(c.size)} | ${c.sessions} | ${how} | ${med(aloneRuns)} | ${med(ours)} | **${ours.length === 0 ? '–' : median(ratios).toFixed(2)}x** (${ratios.map((x) => x.toFixed(2)).join(' / ')}) | ${med(theirs)} | ${theirs.length === 0 ? '–' : `${median(vsTheirs).toFixed(2)}x`} | ${nul.length === 0 ? '–' : `${median(nullRatios).toFixed(2)}x`} | ${cpu('milter')} · ${cpu('clamd')} · ${cpu('postfix')} | ${Number.isNaN(cpuRatio) ? '–' : `${cpuRatio.toFixed(2)}x`} | ${allOk ? 'yes' : 'NO'} |\n`,
      );
      summary.push({ size: c.size, sessions: c.sessions, listen: how, messages: c.messages, ratioToAlone: ratios, medianRatioToAlone: median(ratios), ratioToClamavMilter: vsTheirs, nullRatioToAlone: nullRatios, cpuBoundRatio: cpuRatio, allSent: allOk });
    }
  }
  report['postfix'] = { cells, summary };
  for (const d of daemons) await d.stop(5_000);
}

// ───────────────────────────── part 2: our driver (second opinion) ─────────────────────────────

/** Our milter server with `adapter` at `listen` until SIGTERM or SIGINT (a child of this script, see main()). */
async function serveMilter(listen: string, adapter: Adapter, socketMode?: number): Promise<void> {
  const server = createMilterServer({ scanners: [adapter], listen, ...(socketMode === undefined ? {} : { socketMode }), onConnectionError: (e) => process.stderr.write(`milter: ${e.message}\n`) });
  await server.listen();
  process.stdout.write(`listening ${server.address}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await server.close();
  await adapter.close();
}

/** A scanner that finds every message clean at once (no clamd): the `null` milter. */
const NULL_ADAPTER: Adapter = {
  name: 'null',
  type: 'null',
  granularity: 'message',
  probe: () => Promise.resolve({ available: true }),
  scan: () => Promise.resolve({ status: 'clean' }),
  close: () => Promise.resolve(),
};

interface RunResult {
  /** CPU ms per message: the system under test, clamd, and this driver process. */
  cpuPerMsg?: { sut: number; clamd: number; driver: number };
  msgsPerSec: number;
  ms: number;
  fates: Partial<Record<Fate, number>>;
  verdicts: string[];
}

/** One pass: every message once, `concurrency` in flight, through a fresh driver. */
async function pass(url: string, messages: readonly Buffer[], concurrency: number): Promise<RunResult> {
  const driver = createMilterDriver({ url, concurrency, timeoutMs: 60_000, messagesPerConnection: 1_000_000 });
  await driver.open();
  const res: MilterOutcome[] = new Array<MilterOutcome>(messages.length);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < messages.length; i = next++) res[i] = await driver.send({ file: String(i), raw: messages[i] as Buffer });
    }),
  );
  const ms = performance.now() - t0;
  await driver.close();
  const fates: Partial<Record<Fate, number>> = {};
  for (const o of res) fates[o.fate] = (fates[o.fate] ?? 0) + 1;
  return { msgsPerSec: (messages.length * 1000) / ms, ms, fates, verdicts: res.map((o) => `${o.verdict} ${[...o.names].sort().join(',')}`) };
}

async function driverPart(a: Args, work: string, clamd: LabClamd, stops: Stops, report: Record<string, unknown>): Promise<void> {
  let corpusDir = a.corpus;
  if (corpusDir === undefined) {
    corpusDir = join(work, 'corpus');
    await generateCorpus({ out: corpusDir, profile: 'quick', seed: 1 });
  }
  const base: Buffer[] = [];
  for await (const e of (await openCorpus(corpusDir)).entries) base.push(await e.read());
  if (base.length === 0) throw new Error(`no messages in ${corpusDir}`);
  const messages = Array.from({ length: a.driverMessages }, (_, i) => base[i % base.length] as Buffer);
  const bytes = messages.reduce((n, m) => n + m.length, 0);
  const self = fileURLToPath(import.meta.url);
  out(
    `\n## 2. our milter driver (kept-open milter connections, no MTA) → ours | clamav-milter, same clamd: ${messages.length} messages (${(bytes / 1e6).toFixed(1)} MB, ${base.length} distinct from ${a.corpus ?? 'a generated quick corpus'}), concurrency ${a.concurrency}, ${a.runs} measured runs after 1 warm-up\n`,
  );
  const rows: Record<string, unknown>[] = [];
  for (const how of a.listen) {
    const theirs: LabClamavMilter = await startClamavMilter({ clamdSocket: clamd.socket, listen: how, readyTimeoutMs: 30_000 });
    stops.push(() => theirs.stop());
    const oursListen = how === 'unix' ? `unix:${join(work, `driver-ours-${how}.sock`)}` : `inet:${await freePort()}@127.0.0.1`;
    const oursUrl = milterUrl(parseMilterSocket(oursListen));
    const ours = await startNodeServer([self, '--serve', oursListen, clamd.socket], { ready: endpointOf(oursListen), logFile: join(work, `driver-ours-${how}.log`), what: `our milter at ${oursListen}` });
    stops.push(() => ours.stop(5_000));

    const systems = [
      { name: 'ours (avbench milter + clamd adapter)', url: oursUrl, pid: ours.pid, runs: [] as RunResult[] },
      { name: 'clamav-milter', url: theirs.url, pid: theirs.pid, runs: [] as RunResult[] },
    ];
    for (const s of systems) await pass(s.url, messages.slice(0, Math.min(200, messages.length)), a.concurrency); // warm-up
    for (let r = 0; r < a.runs; r++) {
      for (const s of systems) {
        const [sut0, clamd0, self0] = [cpuMs(s.pid), cpuMs(clamd.pid), process.cpuUsage()];
        const res = await pass(s.url, messages, a.concurrency);
        const self1 = process.cpuUsage(self0);
        const n = messages.length;
        res.cpuPerMsg = { sut: (cpuMs(s.pid) - sut0) / n, clamd: (cpuMs(clamd.pid) - clamd0) / n, driver: (self1.user + self1.system) / 1000 / n };
        s.runs.push(res);
      }
    }
    out(`\n[${how === 'unix' ? 'unix socket' : 'loopback TCP'}]  load ${load()}\n`);
    for (const s of systems) {
      const rates = s.runs.map((r) => r.msgsPerSec);
      const last = s.runs[s.runs.length - 1];
      const cpu = last?.cpuPerMsg;
      out(`  ${s.name.padEnd(40)} median ${median(rates).toFixed(0).padStart(6)} msg/s  runs [${rates.map((x) => x.toFixed(0)).join(', ')}]  fates ${JSON.stringify(last?.fates ?? {})}\n`);
      if (cpu !== undefined) out(`  ${''.padEnd(40)} CPU ms/msg: system under test ${cpu.sut.toFixed(3)}, clamd ${cpu.clamd.toFixed(3)}, driver ${cpu.driver.toFixed(3)}\n`);
    }
    const [o, t] = systems as [(typeof systems)[0], (typeof systems)[0]];
    const ratio = median(o.runs.map((r) => r.msgsPerSec)) / median(t.runs.map((r) => r.msgsPerSec));
    const ov = o.runs[0]?.verdicts ?? [];
    const tv = t.runs[0]?.verdicts ?? [];
    const same = ov.filter((v, i) => v === tv[i]).length;
    out(`  ratio ours / clamav-milter: ${ratio.toFixed(2)}x   same verdict and names: ${same}/${ov.length}\n`);
    const diffs = ov
      .map((v, i) => [i, v, tv[i]] as const)
      .filter(([, x, y]) => x !== y)
      .slice(0, 5);
    for (const [i, x, y] of diffs) out(`    differs: message ${i % base.length}: ours "${x}" vs clamav-milter "${y}"\n`);
    rows.push({
      listen: how,
      concurrency: a.concurrency,
      messages: messages.length,
      ratio,
      sameVerdict: same,
      systems: systems.map((s) => ({ name: s.name, url: s.url, msgsPerSec: s.runs.map((r) => r.msgsPerSec), cpuPerMsg: s.runs.map((r) => r.cpuPerMsg), median: median(s.runs.map((r) => r.msgsPerSec)), fates: s.runs.map((r) => r.fates) })),
    });
    await ours.stop(5_000);
    await theirs.stop();
  }
  report['driver'] = rows;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--serve') {
    // `--serve LISTEN CLAMD_SOCKET`: our milter with the clamd adapter
    await serveMilter(argv[1] as string, createClamdAdapter({ socket: argv[2] as string, name: 'clamd' }));
    return;
  }
  if (argv[0] === '--serve-null') {
    // `--serve-null LISTEN`: our milter server with the null scanner, its socket open to Postfix
    await serveMilter(argv[1] as string, NULL_ADAPTER, 0o666);
    return;
  }
  const a = parseArgs(argv);
  if (a.parts.includes('postfix') && process.getuid?.() !== 0) throw new Error('the postfix part needs root (a private Postfix instance); use --parts driver');
  const work = await mkdtemp(join(process.env['TMPDIR'] ?? '/tmp', 'avbench-bench-milter-'));
  await chmod(work, 0o711); // Postfix (user postfix) reaches our unix socket and its private folders inside
  const stops: Stops = [];
  const maxSessions = Math.max(...a.sessions, a.concurrency);
  const threads = Math.max(8, Math.min(32, maxSessions));
  out(
    `# bench-milter — ${new Date().toISOString()}\n` +
      `${hostLine()} (other work on the machine shares its cores)\n` +
      `parts: ${a.parts.join(', ')}; sizes ${a.sizes.map(sizeName).join(', ')}; sessions ${a.sessions.join(', ')}; listeners ${a.listen.join(', ')}; ${a.runs} run(s) each; one lab clamd (MaxThreads ${threads}, lab signatures)\n`,
  );
  const report: Record<string, unknown> = { startedAt: new Date().toISOString(), host: hostInfo(), args: a };
  try {
    const clamd = await startClamd({ maxThreads: threads });
    stops.push(() => clamd.stop());
    if (a.parts.includes('postfix')) await postfixPart(a, work, clamd, stops, report);
    if (a.parts.includes('driver')) await driverPart(a, work, clamd, stops, report);
    out(`\nload average at the end: ${load()}\n`);
    if (a.json !== undefined) await writeFile(a.json, `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await stopAll(stops);
    await rm(work, { recursive: true, force: true });
  }
}

runMain('bench-milter', main);
