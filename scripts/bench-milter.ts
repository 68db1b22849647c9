/**
 * Benchmark (issue 4, point B): our milter (clamd adapter) against clamav-milter, both in
 * front of the SAME lab clamd, both driven by our milter driver at equal concurrency over
 * the same messages, both listening the same way (unix socket, TCP, or both in turn).
 * Our milter runs in its own Node process (this script with --serve), as clamav-milter
 * runs in its own, so the driver does not share an event loop with the system under test.
 *
 *   node dist/scripts/bench-milter.js [--corpus DIR] [--messages 2000] [--concurrency 8]
 *        [--listen unix|inet|both] [--runs 3] [--json FILE]
 *
 * Without --corpus a quick corpus is generated into a private temp folder; its messages
 * are cycled up to --messages. Each system gets one untimed warm-up pass, then --runs
 * measured passes, alternating ours / theirs; msgs/s is reported per run with the median,
 * the ratio of medians, the fates, and how many messages got the same verdict from both.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClamdAdapter } from '../adapters/clamd.js';
import { spawnDaemon, type Daemon } from '../src/core/exec.js';
import { connect, freePort } from '../src/core/net.js';
import { generateCorpus } from '../src/corpus/generate.js';
import { openCorpus } from '../src/corpus/read.js';
import { startClamd } from '../src/lab/clamd.js';
import { startClamavMilter, type LabClamavMilter } from '../src/lab/clamav-milter.js';
import { createMilterDriver, type MilterOutcome } from '../src/modes/milter/driver.js';
import { createMilterServer } from '../src/modes/milter/server.js';
import { milterEndpoint, milterUrl, parseMilterSocket, parseMilterUrl } from '../src/modes/milter/socket.js';
import type { Fate } from '../src/modes/types.js';

interface Args {
  corpus?: string;
  messages: number;
  concurrency: number;
  listen: ('unix' | 'inet')[];
  runs: number;
  json?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { messages: 2000, concurrency: 8, listen: ['unix', 'inet'], runs: 3 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const need = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value`);
      return v;
    };
    if (k === '--corpus') a.corpus = need();
    else if (k === '--messages') a.messages = Number(need());
    else if (k === '--concurrency') a.concurrency = Number(need());
    else if (k === '--runs') a.runs = Number(need());
    else if (k === '--json') a.json = need();
    else if (k === '--listen') {
      const v = need();
      if (v === 'both') a.listen = ['unix', 'inet'];
      else if (v === 'unix' || v === 'inet') a.listen = [v];
      else throw new Error('--listen is unix, inet or both');
    } else throw new Error(`unknown argument ${String(k)}`);
  }
  for (const [k, v] of [['--messages', a.messages], ['--concurrency', a.concurrency], ['--runs', a.runs]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer`);
  }
  return a;
}

/** `--serve LISTEN CLAMD_SOCKET`: our milter with the clamd adapter, until SIGTERM. */
async function serve(listen: string, clamdSocket: string): Promise<void> {
  const adapter = createClamdAdapter({ socket: clamdSocket, name: 'clamd' } as never);
  const server = createMilterServer({ scanners: [adapter], listen, onConnectionError: (e) => process.stderr.write(`milter: ${e.message}\n`) });
  await server.listen();
  process.stdout.write(`listening ${server.address}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await server.close();
  await adapter.close();
}

async function waitListening(url: string, daemon: Daemon): Promise<void> {
  const ep = milterEndpoint(parseMilterUrl(url));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && daemon.running()) {
    try {
      (await connect(ep, { deadline: Date.now() + 1_000 })).destroy();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`our milter did not listen at ${url}`);
}

/** CPU time (user + system, ms) a process has used so far, from /proc (0 when unreadable). */
async function cpuMs(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

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
  const out: MilterOutcome[] = new Array<MilterOutcome>(messages.length);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < messages.length; i = next++) out[i] = await driver.send({ file: String(i), raw: messages[i] as Buffer });
    }),
  );
  const ms = performance.now() - t0;
  await driver.close();
  const fates: Partial<Record<Fate, number>> = {};
  for (const o of out) fates[o.fate] = (fates[o.fate] ?? 0) + 1;
  return { msgsPerSec: (messages.length * 1000) / ms, ms, fates, verdicts: out.map((o) => `${o.verdict} ${[...o.names].sort().join(',')}`) };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--serve') {
    await serve(argv[1] as string, argv[2] as string);
    return;
  }
  const args = parseArgs(argv);
  const work = await mkdtemp(join(process.env['TMPDIR'] ?? '/tmp', 'avbench-bench-milter-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    let corpusDir = args.corpus;
    if (corpusDir === undefined) {
      corpusDir = join(work, 'corpus');
      await generateCorpus({ out: corpusDir, profile: 'quick', seed: 1 });
    }
    const base: Buffer[] = [];
    for await (const e of (await openCorpus(corpusDir)).entries) base.push(await e.read());
    if (base.length === 0) throw new Error(`no messages in ${corpusDir}`);
    const messages = Array.from({ length: args.messages }, (_, i) => base[i % base.length] as Buffer);
    const bytes = messages.reduce((n, m) => n + m.length, 0);

    const clamd = await startClamd({ maxThreads: Math.max(8, args.concurrency) });
    stops.push(() => clamd.stop());
    const self = fileURLToPath(import.meta.url);

    const cpu = cpus()[0]?.model ?? 'unknown cpu';
    console.log(`bench-milter: ${messages.length} messages (${(bytes / 1e6).toFixed(1)} MB, ${base.length} distinct from ${args.corpus ?? 'a generated quick corpus'}), concurrency ${args.concurrency}, ${args.runs} measured runs after 1 warm-up`);
    console.log(`host: ${cpu} ×${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${type()}, node ${process.version}; clamd pid ${clamd.pid} (MaxThreads ${Math.max(8, args.concurrency)}), lab signatures`);

    const report: Record<string, unknown>[] = [];
    for (const how of args.listen) {
      // clamav-milter
      const theirs: LabClamavMilter = await startClamavMilter({ clamdSocket: clamd.socket, listen: how, readyTimeoutMs: 30_000 });
      stops.push(() => theirs.stop());
      // ours, in its own process
      const oursListen = how === 'unix' ? `unix:${join(work, `ours-${how}.sock`)}` : `inet:${await freePort()}@127.0.0.1`;
      const oursUrl = milterUrl(parseMilterSocket(oursListen));
      const ours = await spawnDaemon(process.execPath, [self, '--serve', oursListen, clamd.socket], { logFile: join(work, `ours-${how}.log`) });
      stops.push(() => ours.stop(5_000));
      await waitListening(oursUrl, ours);

      const systems = [
        { name: 'ours (avbench milter + clamd adapter)', url: oursUrl, runs: [] as RunResult[] },
        { name: 'clamav-milter', url: theirs.url, runs: [] as RunResult[] },
      ];
      for (const s of systems) await pass(s.url, messages.slice(0, Math.min(200, messages.length)), args.concurrency); // warm-up
      const pids: Record<string, number> = { [oursUrl]: ours.pid, [theirs.url]: theirs.pid };
      for (let r = 0; r < args.runs; r++) {
        for (const s of systems) {
          const pid = pids[s.url] as number;
          const [sut0, clamd0, self0] = [await cpuMs(pid), await cpuMs(clamd.pid), process.cpuUsage()];
          const res = await pass(s.url, messages, args.concurrency);
          const self1 = process.cpuUsage(self0);
          const n = messages.length;
          res.cpuPerMsg = { sut: ((await cpuMs(pid)) - sut0) / n, clamd: ((await cpuMs(clamd.pid)) - clamd0) / n, driver: (self1.user + self1.system) / 1000 / n };
          s.runs.push(res);
        }
      }

      console.log(`\n[${how === 'unix' ? 'unix socket' : 'loopback TCP'}]`);
      for (const s of systems) {
        const rates = s.runs.map((r) => r.msgsPerSec);
        const last = s.runs[s.runs.length - 1];
        const cpu = last?.cpuPerMsg;
        console.log(
          `  ${s.name.padEnd(40)} median ${median(rates).toFixed(0).padStart(6)} msg/s  runs [${rates.map((x) => x.toFixed(0)).join(', ')}]  fates ${JSON.stringify(last?.fates ?? {})}`,
        );
        if (cpu !== undefined) console.log(`  ${''.padEnd(40)} CPU ms/msg: system under test ${cpu.sut.toFixed(3)}, clamd ${cpu.clamd.toFixed(3)}, driver ${cpu.driver.toFixed(3)}`);
      }
      const [o, t] = systems as [(typeof systems)[0], (typeof systems)[0]];
      const ratio = median(o.runs.map((r) => r.msgsPerSec)) / median(t.runs.map((r) => r.msgsPerSec));
      const ov = o.runs[0]?.verdicts ?? [];
      const tv = t.runs[0]?.verdicts ?? [];
      const same = ov.filter((v, i) => v === tv[i]).length;
      console.log(`  ratio ours / clamav-milter: ${ratio.toFixed(2)}x (target ≥ 1.5x)   same verdict and names: ${same}/${ov.length}`);
      const diffs = ov.map((v, i) => [i, v, tv[i]] as const).filter(([, a, b]) => a !== b).slice(0, 5);
      for (const [i, a, b] of diffs) console.log(`    differs: message ${i % base.length}: ours "${a}" vs clamav-milter "${b}"`);
      report.push({
        listen: how,
        concurrency: args.concurrency,
        messages: messages.length,
        ratio,
        sameVerdict: same,
        systems: systems.map((s) => ({ name: s.name, url: s.url, msgsPerSec: s.runs.map((r) => r.msgsPerSec), cpuPerMsg: s.runs.map((r) => r.cpuPerMsg), median: median(s.runs.map((r) => r.msgsPerSec)), fates: s.runs.map((r) => r.fates) })),
      });

      await ours.stop(5_000);
      await theirs.stop();
    }
    if (args.json !== undefined) {
      await writeFile(args.json, `${JSON.stringify({ host: { cpu, cores: cpus().length, os: type(), node: process.version }, runs: report }, null, 2)}\n`);
    }
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-milter: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
