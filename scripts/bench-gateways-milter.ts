/**
 * Point B behind the same Postfix (issue 15, "our serve milter ≥ 1.5x rspamd"): Postfix's
 * `smtp-source -s 8` (a new connection per message, as Postfix's own load tool does by
 * default) drives identical private Postfix instances that relay to one `smtp-sink`:
 *   - Postfix alone (no smtpd_milters), the reference ceiling;
 *   - Postfix + `node dist/src/cli/bin.cjs serve milter --scanner clamd --config FILE`
 *     (whole process, its defaults);
 *   - Postfix + rspamd 3.4 (its proxy worker in milter mode → normal worker → antivirus
 *     module, clamav rule; src/lab/rspamd.ts: no Redis, no rules, scan_mime_parts = false).
 * Both scan with the same lab clamd over loopback TCP (rspamd's workers do not run as root
 * and cannot reach the lab's private unix socket, so ours uses TCP too). Rounds alternate
 * the systems; every message must show up as ` status=sent ` in the instance's maillog.
 * Printed per run: msg/s (messages ÷ smtp-source's wall time), CPU ms per message of each
 * part, load average; then medians and the ratio ours / rspamd taken within each round.
 *
 * Each milter listens on loopback TCP (rspamd's packaged default, localhost:11332) and, with
 * `--listen inet,unix` (the default), also on a unix socket: Postfix writes the milter
 * commands that need no reply back to back, and over TCP Nagle's algorithm (Postfix does not
 * set TCP_NODELAY on its milter socket) meets the milter's delayed ACK — a stall per message
 * that a unix socket has not (docs/gateways.md).
 *
 *   node dist/scripts/bench-gateways-milter.js [--sessions 8] [--size 1000] [--messages 1000]
 *        [--runs 3] [--listen inet,unix] [--shapes per-connection,kept-open] [--rspamd-workers N]
 *
 * Shapes: `per-connection` (smtp-source's default) and `kept-open` (`-d`: each session sends
 * its messages over one SMTP connection, so Postfix keeps one milter connection per session).
 *
 * The measuring part, `measureMilterGateways`, takes an already started clamd and sink:
 * bench-gateways-all runs it next to the other gateway benches on one clamd and one sink.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { median } from '../src/bench/stats.js';
import { freePort } from '../src/core/net.js';
import { startClamd, type LabClamd } from '../src/lab/clamd.js';
import { startPostfix, type LabPostfix } from '../src/lab/postfix.js';
import { startRspamd } from '../src/lab/rspamd.js';
import { startSmtpSink } from '../src/lab/smtp-sink.js';
import { opt, readOptions } from './lib/args.js';
import { hostLine, loadAverage } from './lib/host.js';
import { runMain, stopAll, stopSince, type Stops } from './lib/run.js';
import { cpuMs, postfixRun, treeCpuMs, type PostfixRun } from './lib/postfix.js';
import { startServe, writeClamdConfig } from './lib/sut.js';

/** The command line's values (see the comment at the top). */
export interface Args {
  sessions: number;
  size: number;
  messages: number;
  runs: number;
  listen: ('inet' | 'unix')[];
  shapes: ('per-connection' | 'kept-open')[];
  rspamdWorkers?: number;
}

function args(argv: string[]): Args {
  return readOptions('bench-gateways-milter', argv, {
    sessions: opt.whole(8),
    size: opt.whole(1000),
    messages: opt.whole(1000),
    runs: opt.whole(3),
    listen: opt.list(['inet', 'unix'], ['inet', 'unix'] as const),
    shapes: opt.list(['per-connection', 'kept-open'], ['per-connection', 'kept-open'] as const),
    'rspamd-workers': opt.optionalWhole(),
  });
}

const out = (s: string): void => {
  process.stdout.write(s);
};
const load = (): string => loadAverage();
const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

interface System {
  /** `alone`, `ours-inet`, `rspamd-unix`, ... */
  key: string;
  label: string;
  postfix: LabPostfix;
  /** CPU ms so far of each named part (Postfix is measured separately). */
  cpu: Record<string, () => number>;
}

function oneRun(s: System, a: MilterGatewaysOptions, messages: number, kept: boolean): Promise<PostfixRun> {
  return postfixRun(s.postfix, s.cpu, { sessions: a.sessions, messages, length: a.size, kept });
}

/** What {@link measureMilterGateways} needs already started: a private folder, the lab clamd and a sink. */
export interface MilterGatewaysLab {
  /** A private folder (mode 0711: rspamd's and Postfix's users traverse it). */
  work: string;
  /** What the part starts is pushed here, and stopped (and taken off) when the part ends. */
  stops: Stops;
  /** Reached over loopback TCP by both milters (rspamd's workers cannot reach the lab's private unix socket). */
  clamd: LabClamd;
  /** The next hop of every Postfix; `collect`, when it dumps, is called after each run so its folder does not fill. */
  sink: { port: number; pid: number; collect?: () => Promise<unknown> };
  /** Run our CLI from this copy of dist/ (scripts/lib/sut.ts privateDist); default the repository's. */
  app?: string;
}

/** The load and what to run (the command line's values, see the comment at the top). */
export type MilterGatewaysOptions = Args;

/** One shape: the systems (`alone`, `ours-inet`, `rspamd-inet`, `ours-unix`, `rspamd-unix`) and each one's runs in round order. */
export interface MilterGatewaysShape {
  shape: 'per-connection' | 'kept-open';
  systems: { key: string; label: string }[];
  rows: Record<string, PostfixRun[]>;
}

/**
 * The measuring part of this bench: start Postfix alone and, per transport of `a.listen`,
 * Postfix + our `serve milter` and Postfix + rspamd, all relaying to `lab.sink`, both milters
 * scanning with `lab.clamd` over TCP; one untimed warm-up each, then per shape `a.runs`
 * rounds alternating the systems, every message checked ` status=sent ` in the instance's
 * maillog. Prints every round and each shape's summary (as this script always has); returns
 * the runs. Stops what it started.
 */
export async function measureMilterGateways(lab: MilterGatewaysLab, a: MilterGatewaysOptions): Promise<MilterGatewaysShape[]> {
  const { work, stops, clamd, sink } = lab;
  const mark = stops.length;
  const result: MilterGatewaysShape[] = [];
  try {
    const ms = (pid: number) => (): number => cpuMs(pid);
    const treeMs = (pid: number) => (): number => treeCpuMs(pid);
    const clear = async (): Promise<void> => {
      await sink.collect?.();
    };

    const alone = await startPostfix({ relayPort: sink.port, dir: work });
    stops.push(() => alone.stop());

    const cfg = await writeClamdConfig(join(work, 'avbench.config.json'), { host: clamd.host, port: clamd.port });
    const systems: System[] = [{ key: 'alone', label: 'Postfix alone', postfix: alone, cpu: { 'smtp-sink': ms(sink.pid) } }];
    for (const how of a.listen) {
      const port = how === 'inet' ? await freePort() : 0;
      const path = join(work, 'ours.sock');
      const listen = how === 'inet' ? `inet:${port}@127.0.0.1` : `unix:${path}`;
      const serveArgs = ['--listen', listen, '--scanner', 'clamd', '--config', cfg, ...(how === 'unix' ? ['--socket-mode', '666'] : [])];
      const ours = await startServe('milter', serveArgs, { ready: how === 'inet' ? { host: '127.0.0.1', port } : { path }, logFile: join(work, `serve-milter-${how}.log`), ...(lab.app === undefined ? {} : { app: lab.app }) });
      stops.push(() => ours.stop(5_000));
      const pfOurs = await startPostfix({ relayPort: sink.port, milter: listen, dir: work });
      stops.push(() => pfOurs.stop());
      const rs = await startRspamd({ clamd: { host: clamd.host, port: clamd.port }, listen: how, ...(a.rspamdWorkers === undefined ? {} : { normalWorkers: a.rspamdWorkers }) });
      stops.push(() => rs.stop());
      const pfRs = await startPostfix({ relayPort: sink.port, milter: rs.socket, dir: work });
      stops.push(() => pfRs.stop());
      out(`ours (${how}): node dist/src/cli/bin.cjs serve milter ${serveArgs.join(' ')} (pid ${ours.pid})\n`);
      out(`rspamd (${how}): rspamd -f -c ${rs.configFile}, milter ${rs.socket} (processes ${rs.pids.join(',')}: main, 1 proxy in milter mode, ${a.rspamdWorkers ?? "rspamd's default count of"} normal worker(s), hs_helper)\n`);
      systems.push(
        { key: `ours-${how}`, label: `+ avbench serve milter (${how})`, postfix: pfOurs, cpu: { milter: ms(ours.pid), clamd: ms(clamd.pid), 'smtp-sink': ms(sink.pid) } },
        { key: `rspamd-${how}`, label: `+ rspamd (${how})`, postfix: pfRs, cpu: { milter: treeMs(rs.pid), clamd: ms(clamd.pid), 'smtp-sink': ms(sink.pid) } },
      );
    }
    out(`clamd pid ${clamd.pid} (TCP ${clamd.host}:${clamd.port}); smtp-sink pid ${sink.pid}\n`);
    for (const s of systems) {
      await oneRun(s, a, Math.min(200, a.messages), false); // warm-up, untimed
      await clear();
    }

    for (const shape of a.shapes) {
      const kept = shape === 'kept-open';
      out(`\n## ${shape} (smtp-source${kept ? ' -d' : ''} -s ${a.sessions})\n`);
      const rows: Record<string, PostfixRun[]> = Object.fromEntries(systems.map((s) => [s.key, [] as PostfixRun[]]));
      for (let r = 0; r < a.runs; r++) {
        // Alternate the order each round, so neither milter always runs right after the other.
        const order = r % 2 === 0 ? systems : [systems[0] as System, ...systems.slice(1).reverse()];
        for (const s of order) {
          const row = await oneRun(s, a, a.messages, kept);
          await clear();
          rows[s.key]?.push(row);
          const cpu = Object.entries(row.cpuPerMsg)
            .map(([k, v]) => `${k} ${v.toFixed(2)}`)
            .join(', ');
          out(`  round ${r + 1}  ${s.label.padEnd(32)} ${fmt(row.msgsPerSec).padStart(6)} msg/s  sent ${row.sent}/${a.messages}  CPU ms/msg: ${cpu}  load ${row.load}${row.ok ? '' : `  !! ${row.note}`}\n`);
        }
      }
      result.push({ shape, systems: systems.map((s) => ({ key: s.key, label: s.label })), rows });
      const med = (k: string): number => median((rows[k] ?? []).map((x) => x.msgsPerSec));
      const cpuMed = (k: string, part: string): string => (rows[k]?.[0]?.cpuPerMsg[part] === undefined ? '–' : median((rows[k] ?? []).map((x) => x.cpuPerMsg[part] ?? 0)).toFixed(2));
      const allOk = Object.values(rows).every((rs2) => rs2.every((x) => x.ok));
      out(`\n### Summary, ${shape} (median of ${a.runs} rounds; a ratio is taken within each round, then the median; target ours ≥ 1.5x rspamd)\n`);
      out(`| system | msg/s [rounds] | CPU ms/msg milter · clamd · Postfix |\n|---|---|---|\n`);
      for (const s of systems) out(`| ${s.label} | ${fmt(med(s.key))} [${(rows[s.key] ?? []).map((x) => fmt(x.msgsPerSec)).join(', ')}] | ${cpuMed(s.key, 'milter')} · ${cpuMed(s.key, 'clamd')} · ${cpuMed(s.key, 'postfix')} |\n`);
      out('\n');
      const ratio = (x: string, y: string): string => {
        const rs2 = (rows[x] ?? []).map((o, i) => o.msgsPerSec / (rows[y]?.[i]?.msgsPerSec ?? Number.NaN));
        return `**${median(rs2).toFixed(2)}x** (rounds: ${rs2.map((v) => v.toFixed(2)).join(' / ')})`;
      };
      for (const how of a.listen) out(`ratio ours / rspamd, both on ${how}: ${ratio(`ours-${how}`, `rspamd-${how}`)}\n`);
      if (a.listen.length === 2) out(`ratio ours (inet) / rspamd (unix): ${ratio('ours-inet', 'rspamd-unix')}; ours (unix) / rspamd (inet): ${ratio('ours-unix', 'rspamd-inet')}\n`);
      out(`every message sent: ${allOk ? 'yes' : 'NO'}; load average ${load()}\n`);
    }
    return result;
  } finally {
    await stopSince(stops, mark);
  }
}

async function main(): Promise<void> {
  const a = args(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('needs root (private Postfix instances; rspamd then runs as _rspamd)');
  const work = await mkdtemp(join(process.env['TMPDIR'] ?? '/tmp', 'avbench-bench-gw-milter-'));
  await chmod(work, 0o711);
  const stops: Stops = [];
  out(
    `# bench-gateways-milter — ${new Date().toISOString()}\n` +
      `${hostLine()} (other work shares the cores)\n` +
      `smtp-source -s ${a.sessions} -m ${a.messages} -l ${a.size} (${a.shapes.join(', then ')}) → Postfix (→ milter → clamd over TCP) → smtp-sink; ${a.runs} rounds alternating the systems after a warm-up\n`,
  );
  try {
    const clamd = await startClamd({ maxThreads: Math.max(8, a.sessions * 2) });
    stops.push(() => clamd.stop());
    const sink = await startSmtpSink({ backlog: 1024, dir: work });
    stops.push(() => sink.stop());
    await measureMilterGateways({ work, stops, clamd, sink }, a);
  } finally {
    await stopAll(stops);
    await rm(work, { recursive: true, force: true });
  }
}

runMain('bench-gateways-milter', main, import.meta.url);
