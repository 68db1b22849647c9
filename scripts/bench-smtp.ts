/**
 * Benchmark, point A (SMTP proxy). One run, same load, same clamd, same sink kind:
 *
 *  1. our proxy (`createSmtpProxy` + the clamd adapter, in its own process, as
 *     `avbench serve smtp` runs) against clamsmtpd, both in front of the same lab clamd and
 *     the same next hop, both driven by our SMTP driver at --sessions sessions → msgs/s
 *     each and the ratio (issue 4 target: ≥ 10x clamsmtpd).
 *  2. our SMTP driver against Postfix's `smtp-source -s S -m M -l L` (whole-process time),
 *     both into Postfix's `smtp-sink` → msgs/s each and the ratio (target ≥ 1.0x).
 *
 *   node dist/scripts/bench-smtp.js [--sessions 8] [--messages 2000] [--length 1000]
 *        [--repeats 3] [--sink smtp-sink|ours] [--infected-every 0] [--only proxy|driver]
 *
 * Each figure: the median of --repeats timed runs after one untimed warm-up (1,000 messages: the JIT), with every
 * run's figure listed (spread), and the host. Messages are synthetic, like smtp-source's:
 * a few headers and --length bytes of body text (--infected-every N makes every Nth one
 * carry EICAR as a base64 attachment).
 *
 * `--proxy-scanner embedded` puts the embedded scanner in our proxy instead of clamd (the
 * proxy's own ceiling; not the comparison).
 *
 * Internal: `--serve-proxy LISTEN_PORT FORWARD_PORT CLAMD_SOCKET SCANNER` runs the proxy child.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, type } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createClamdAdapter } from '../adapters/clamd.js';
import { createEmbeddedAdapter } from '../adapters/embedded.js';
import { run, spawnDaemon, type Daemon } from '../src/core/exec.js';
import { connect, freePort } from '../src/core/net.js';
import { startClamd } from '../src/lab/clamd.js';
import { startClamsmtpd } from '../src/lab/clamsmtpd.js';
import { eicar } from '../src/lab/signatures.js';
import { startSmtpSink } from '../src/lab/smtp-sink.js';
import { createSmtpDriver, createSmtpProxy, createSmtpSink, type SmtpSink } from '../src/modes/smtp/index.js';
import type { Fate } from '../src/modes/types.js';

interface Args {
  sessions: number;
  messages: number;
  length: number;
  repeats: number;
  sink: 'smtp-sink' | 'ours';
  infectedEvery: number;
  only?: 'proxy' | 'driver';
  /** Scanner in our proxy: clamd (the comparison) or embedded (to see the proxy's own ceiling). */
  proxyScanner: 'clamd' | 'embedded';
}

function parseArgs(argv: string[]): Args {
  const a: Args = { sessions: 8, messages: 2000, length: 1000, repeats: 3, sink: 'smtp-sink', infectedEvery: 0, proxyScanner: 'clamd' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    const need = (): string => {
      if (v === undefined) throw new Error(`${k} needs a value`);
      i++;
      return v;
    };
    if (k === '--sessions') a.sessions = Number(need());
    else if (k === '--messages') a.messages = Number(need());
    else if (k === '--length') a.length = Number(need());
    else if (k === '--repeats') a.repeats = Number(need());
    else if (k === '--infected-every') a.infectedEvery = Number(need());
    else if (k === '--sink') {
      const s = need();
      if (s !== 'smtp-sink' && s !== 'ours') throw new Error('--sink is smtp-sink or ours');
      a.sink = s;
    } else if (k === '--only') {
      const s = need();
      if (s !== 'proxy' && s !== 'driver') throw new Error('--only is proxy or driver');
      a.only = s;
    } else if (k === '--proxy-scanner') {
      const s = need();
      if (s !== 'clamd' && s !== 'embedded') throw new Error('--proxy-scanner is clamd or embedded');
      a.proxyScanner = s;
    } else throw new Error(`unknown argument ${String(k)}`);
  }
  return a;
}

/** smtp-source-like messages: headers and `length` bytes of text; every `infectedEvery`th with EICAR. */
function makeMessages(count: number, length: number, infectedEvery: number): Buffer[] {
  const line = 'abcdefghijklmnopqrstuvwxyz0123456789 the quick brown fox jumps over'.slice(0, 70) + '\r\n';
  const text = line.repeat(Math.ceil(length / line.length)).slice(0, length);
  const b64 = eicar().toString('base64');
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const head = `From: <foo@localhost>\r\nTo: <bar@localhost>\r\nMessage-Id: <${i}.bench@localhost>\r\nSubject: bench ${i}\r\n`;
    if (infectedEvery > 0 && i % infectedEvery === 0) {
      out.push(
        Buffer.from(
          `${head}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n${text}\r\n--b\r\n` +
            `Content-Type: application/octet-stream; name="t.com"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--b--\r\n`,
          'latin1',
        ),
      );
    } else {
      out.push(Buffer.from(`${head}\r\n${text}\r\n`, 'latin1'));
    }
  }
  return out;
}

interface DriveResult {
  ms: number;
  msgsPerSec: number;
  fates: Partial<Record<Fate, number>>;
}

/** Our driver: open, send every message over `sessions` sessions, close; wall time of all of it. */
async function drive(url: string, sink: SmtpSink | false, sessions: number, messages: Buffer[]): Promise<DriveResult> {
  const t0 = performance.now();
  const driver = createSmtpDriver({ url, sink, sessions, graceMs: 2_000 });
  await driver.open();
  const fates: Partial<Record<Fate, number>> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: sessions }, async () => {
      while (next < messages.length) {
        const i = next++;
        const o = await driver.send({ file: `m${i}`, raw: messages[i] as Buffer });
        fates[o.fate] = (fates[o.fate] ?? 0) + 1;
      }
    }),
  );
  await driver.close();
  const ms = performance.now() - t0;
  return { ms, msgsPerSec: (messages.length / ms) * 1000, fates };
}

/** CPU ms (user + system) a process has used so far, from /proc (0 where /proc is missing). */
function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
  } catch {
    return 0;
  }
}

/** Run `f` and report CPU µs per message of each named process (the driver is this process). */
async function withCpu<T>(pids: Record<string, number>, messages: number, f: () => Promise<T>): Promise<{ value: T; cpu: string }> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuMsOf(p)]));
  const c0 = process.cpuUsage();
  const value = await f();
  const c = process.cpuUsage(c0);
  const parts = Object.entries(pids).map(([k, p]) => `${k} ${(((cpuMsOf(p) - (before[k] ?? 0)) * 1000) / messages).toFixed(0)}`);
  parts.unshift(`driver ${((c.user + c.system) / messages).toFixed(0)}`);
  return { value, cpu: `CPU µs/msg: ${parts.join(', ')}` };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const fmt = (n: number): string => n.toFixed(0);

async function waitGreeting(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 1_000 });
      const line = (await c.readUntil('\n')).toString('latin1');
      c.destroy();
      if (line.startsWith('220')) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing greeted on port ${port}`);
}

/** The proxy child: our proxy + clamd adapter, until SIGTERM. */
async function serveProxyChild(listenPort: number, forwardPort: number, clamdSocket: string, scanner: string): Promise<void> {
  const clamd = scanner === 'embedded' ? createEmbeddedAdapter() : createClamdAdapter({ socket: clamdSocket, poolSize: 16 });
  const proxy = createSmtpProxy({ listen: { host: '127.0.0.1', port: listenPort }, forward: { host: '127.0.0.1', port: forwardPort }, scanners: [clamd] });
  await proxy.listen();
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await proxy.close();
  await clamd.close();
}

async function benchProxy(a: Args, msgs: Buffer[]): Promise<void> {
  const clamd = await startClamd({ maxThreads: 8 });
  let proxyChild: Daemon | undefined;
  const stops: Array<() => Promise<void>> = [() => clamd.stop()];
  try {
    let nextHopPort: number;
    let nextHopPid: Record<string, number> = {};
    let sink: SmtpSink | false = false;
    if (a.sink === 'smtp-sink') {
      const s = await startSmtpSink();
      stops.push(() => s.stop());
      nextHopPort = s.port;
      nextHopPid = { 'smtp-sink': s.pid };
    } else {
      const s = await createSmtpSink();
      stops.push(() => s.close());
      sink = s;
      nextHopPort = s.port;
    }
    const clamsmtpd = await startClamsmtpd({ clamdSocket: clamd.socket, outPort: nextHopPort, action: 'drop', debugLevel: 0 });
    stops.push(() => clamsmtpd.stop());
    const proxyPort = await freePort();
    const self = fileURLToPath(import.meta.url);
    proxyChild = await spawnDaemon(process.execPath, [self, '--serve-proxy', String(proxyPort), String(nextHopPort), clamd.socket, a.proxyScanner]);
    const child = proxyChild;
    stops.push(() => child.stop(5_000));
    await waitGreeting(proxyPort, 15_000);
    const ours = `smtp://127.0.0.1:${proxyPort}`;

    process.stdout.write(`\n## 1. our proxy + clamd adapter vs clamsmtpd + the same clamd (pid ${clamd.pid}), next hop ${a.sink}, ${a.sessions} sessions, ${msgs.length} messages\n`);
    const warm = msgs.slice(0, Math.min(1000, msgs.length));
    await drive(ours, sink, a.sessions, warm);
    await drive(clamsmtpd.url, sink, a.sessions, warm);
    const oursRuns: DriveResult[] = [];
    const theirs: DriveResult[] = [];
    let oursCpu = '';
    let theirCpu = '';
    for (let r = 0; r < a.repeats; r++) {
      sink === false || sink.clear();
      const o1 = await withCpu({ proxy: child.pid, clamd: clamd.pid, ...nextHopPid }, msgs.length, () => drive(ours, sink, a.sessions, msgs));
      oursRuns.push(o1.value);
      oursCpu = o1.cpu;
      sink === false || sink.clear();
      const t1 = await withCpu({ clamsmtpd: clamsmtpd.pid, clamd: clamd.pid, ...nextHopPid }, msgs.length, () => drive(clamsmtpd.url, sink, a.sessions, msgs));
      theirs.push(t1.value);
      theirCpu = t1.cpu;
    }
    const o = median(oursRuns.map((x) => x.msgsPerSec));
    const t = median(theirs.map((x) => x.msgsPerSec));
    process.stdout.write(`our proxy (${a.proxyScanner}, own process) : ${fmt(o)} msg/s  runs [${oursRuns.map((x) => fmt(x.msgsPerSec)).join(', ')}]  fates ${JSON.stringify(oursRuns[0]?.fates)}\n    last run ${oursCpu}\n`);
    process.stdout.write(`clamsmtpd                     : ${fmt(t)} msg/s  runs [${theirs.map((x) => fmt(x.msgsPerSec)).join(', ')}]  fates ${JSON.stringify(theirs[0]?.fates)}\n    last run ${theirCpu}\n`);
    process.stdout.write(`ratio our proxy / clamsmtpd   : ${(o / t).toFixed(1)}x (target >= 10x)\n`);
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  }
}

async function benchDriver(a: Args, msgs: Buffer[]): Promise<void> {
  const sink = await startSmtpSink();
  try {
    process.stdout.write(`\n## 2. our SMTP driver vs smtp-source -s ${a.sessions} -m ${a.messages} -l ${a.length}, both into Postfix smtp-sink (pid ${sink.pid})\n`);
    const addr = `127.0.0.1:${sink.port}`;
    const srcArgs = ['-s', String(a.sessions), '-m', String(a.messages), '-l', String(a.length), addr];
    const warm = msgs.slice(0, Math.min(1000, msgs.length));
    await drive(sink.url, false, a.sessions, warm);
    await run('smtp-source', ['-s', String(a.sessions), '-m', '1000', '-l', String(a.length), addr], { deadline: Date.now() + 60_000 });
    const oursRuns: DriveResult[] = [];
    const src: number[] = [];
    const srcKeep: number[] = [];
    for (let r = 0; r < a.repeats; r++) {
      oursRuns.push(await drive(sink.url, false, a.sessions, msgs));
      const t0 = performance.now();
      const res = await run('smtp-source', srcArgs, { deadline: Date.now() + 300_000 });
      const ms = performance.now() - t0;
      if (!res.ok || res.exitCode !== 0) throw new Error(`smtp-source failed: ${JSON.stringify(res).slice(0, 300)}`);
      src.push((a.messages / ms) * 1000);
      const t1 = performance.now();
      const res2 = await run('smtp-source', ['-d', ...srcArgs], { deadline: Date.now() + 300_000 });
      const ms2 = performance.now() - t1;
      if (res2.ok && res2.exitCode === 0) srcKeep.push((a.messages / ms2) * 1000);
    }
    const o = median(oursRuns.map((x) => x.msgsPerSec));
    const s = median(src);
    process.stdout.write(`our driver (connections reused, PIPELINING): ${fmt(o)} msg/s  runs [${oursRuns.map((x) => fmt(x.msgsPerSec)).join(', ')}]  fates ${JSON.stringify(oursRuns[0]?.fates)}\n`);
    process.stdout.write(`smtp-source (as given: a connection per message): ${fmt(s)} msg/s  runs [${src.map(fmt).join(', ')}]\n`);
    if (srcKeep.length > 0) process.stdout.write(`smtp-source -d (connections kept, for reference): ${fmt(median(srcKeep))} msg/s  runs [${srcKeep.map(fmt).join(', ')}]\n`);
    process.stdout.write(`ratio our driver / smtp-source: ${(o / s).toFixed(2)}x (target >= 1.0x)`);
    if (srcKeep.length > 0) process.stdout.write(`; / smtp-source -d: ${(o / median(srcKeep)).toFixed(2)}x`);
    process.stdout.write('\n');
  } finally {
    await sink.stop();
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--serve-proxy') {
    await serveProxyChild(Number(argv[1]), Number(argv[2]), String(argv[3]), String(argv[4] ?? 'clamd'));
    return;
  }
  const a = parseArgs(argv);
  const msgs = makeMessages(a.messages, a.length, a.infectedEvery);
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  process.stdout.write(
    `# bench-smtp — ${new Date().toISOString()}\nhost: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${type()}, node ${process.version}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} (other work on the machine shares its cores)\n` +
      `load: ${a.messages} messages of ${a.length} body bytes${a.infectedEvery > 0 ? `, every ${a.infectedEvery}th with EICAR` : ''}, ${a.sessions} sessions; median of ${a.repeats} runs after a warm-up\n`,
  );
  if (a.only !== 'driver') await benchProxy(a, msgs);
  if (a.only !== 'proxy') await benchDriver(a, msgs);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-smtp: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
