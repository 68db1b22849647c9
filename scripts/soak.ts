/**
 * Bounded soak of the SMTP proxy (issue 7): our proxy in its own Node process
 * (`avbench serve smtp`, clamd adapter) in front of our sink, a lab clamd behind it, our
 * SMTP driver in front.
 *
 *  1. measure the proxy's maximum throughput: closed loop, --sessions sessions, --measure s;
 *  2. run at --load (default 80%) of it, rate-limited, for --minutes;
 *  3. sample the proxy's RSS (/proc/PID/status VmRSS) every 10 s, p99 latency per minute,
 *     count lost messages (no answer, or 250 and never at the sink).
 *
 *   node dist/scripts/soak.js [--minutes 10] [--sessions 8] [--measure 20] [--load 0.8]
 *        [--infected-every 10] [--out out/soak.json]
 *
 * Prints RSS first / base (after the first minute, the warm-up) / last / max and the growth
 * from base to last (target < 10%), p99 per minute, lost (target 0). Exits 1 when lost > 0
 * or RSS grew 10% or more. Everything runs on loopback and stops by itself.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { procRss } from '../src/bench/host.js';
import { percentile } from '../src/bench/stats.js';
import type { Daemon } from '../src/core/exec.js';
import { freePort } from '../src/core/net.js';
import { startClamd, type LabClamd } from '../src/lab/clamd.js';
import { eicar } from '../src/lab/signatures.js';
import { createSmtpDriver, createSmtpSink, type SmtpDriver, type SmtpSink } from '../src/modes/smtp/index.js';
import type { MessageOutcome } from '../src/modes/types.js';
import { opt, readOptions } from './lib/args.js';
import { loopback } from './lib/listen.js';
import { startServe, writeClamdConfig } from './lib/sut.js';

/** The command line (see the comment at the top). */
function parseArgs(argv: string[]) {
  return readOptions('soak', argv, {
    minutes: opt.number(10, (n) => n > 0),
    sessions: opt.whole(8),
    measure: opt.number(20, (n) => n > 0),
    load: opt.number(0.8, (n) => n > 0 && n <= 1),
    'infected-every': opt.whole(10, 0),
    out: opt.string('out/soak.json'),
  });
}

/** One message: a few headers and ~1 KB of text; every Nth carries EICAR as an attachment. */
function message(i: number, infectedEvery: number): Buffer {
  const text = `Line ${i} of a soak message, nothing to see here.\r\n`.repeat(20);
  if (infectedEvery > 0 && i % infectedEvery === infectedEvery - 1) {
    const b64 = eicar().toString('base64');
    return Buffer.from(
      `From: soak@example.org\r\nTo: sink@example.net\r\nSubject: soak ${i}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="S"\r\n\r\n` +
        `--S\r\nContent-Type: text/plain\r\n\r\n${text}--S\r\nContent-Type: application/octet-stream; name="e.com"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--S--\r\n`,
      'latin1',
    );
  }
  return Buffer.from(`From: soak@example.org\r\nTo: sink@example.net\r\nSubject: soak ${i}\r\n\r\n${text}`, 'latin1');
}

/** VmRSS of a process in KiB (undefined once it is gone). */
function rssKiB(pid: number): number | undefined {
  const r = procRss(pid);
  return r === undefined ? undefined : r.rss / 1024;
}

/** The p-th percentile of ascending values (nearest rank); NaN for an empty list. */
function percentileOf(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : percentile(sorted, p);
}

const isLost = (o: MessageOutcome): boolean => o.fate === 'lost' || o.fate === 'dropped';

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const work = await mkdtemp(join(tmpdir(), 'avbench-soak-'));
  let lab: LabClamd | undefined;
  let sink: SmtpSink | undefined;
  let proxy: Daemon | undefined;
  let driver: SmtpDriver | undefined;
  try {
    lab = await startClamd({ maxThreads: 8 });
    sink = await createSmtpSink();
    const config = await writeClamdConfig(join(work, 'avbench.config.json'), { name: 'soak-clamd', socket: lab.socket });
    const port = await freePort();
    proxy = await startServe(
      'smtp',
      ['--listen', `127.0.0.1:${port}`, '--forward', `127.0.0.1:${sink.port}`, '--scanner', 'soak-clamd', '--config', config, '--quiet'],
      { cwd: work, ready: loopback(port), logFile: join(work, 'proxy.log') },
    );
    const pid = proxy.pid;
    driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink, sessions: args.sessions, graceMs: 5_000, timeoutMs: 30_000 });
    await driver.open();
    const d = driver;
    let seq = 0;
    const send = (): Promise<MessageOutcome> => {
      const i = seq++;
      return d.send({ file: `soak-${i}.eml`, raw: message(i, args.infectedEvery) });
    };
    let lost = 0;
    let answered = 0;
    const note = (o: MessageOutcome): void => {
      answered++;
      if (isLost(o)) lost++;
    };

    // 1. Maximum throughput: closed loop, all sessions busy (2 s warm-up, then --measure s).
    const s = sink;
    const closedLoop = async (seconds: number): Promise<number> => {
      const end = performance.now() + seconds * 1000;
      let done = 0;
      await Promise.all(
        Array.from({ length: args.sessions }, async () => {
          while (performance.now() < end) {
            note(await send());
            done++;
          }
        }),
      );
      s.clear();
      return done / seconds;
    };
    await closedLoop(2);
    const max = await closedLoop(args.measure);
    const rate = max * args.load;
    process.stdout.write(`max throughput: ${max.toFixed(0)} msg/s (${args.sessions} sessions, ${args.measure} s); soak at ${(args.load * 100).toFixed(0)}% = ${rate.toFixed(0)} msg/s for ${args.minutes} min\n`);

    // 2. Rate-limited soak with samples.
    const samples: Array<{ s: number; rssKiB: number }> = [];
    const perMinute: number[][] = [];
    const perMinuteLost: number[] = [];
    const pending = new Set<Promise<void>>();
    const t0 = performance.now();
    const durationMs = args.minutes * 60_000;
    let nextSample = 0;
    let sent = 0;
    let behind = 0;
    const firstRss = rssKiB(pid);
    if (firstRss !== undefined) samples.push({ s: 0, rssKiB: firstRss });
    nextSample = 10_000;
    for (;;) {
      const now = performance.now() - t0;
      if (now >= durationMs) break;
      if (now >= nextSample) {
        // Drain in-flight messages, then forget the sink's records (they are only needed until each outcome is known).
        await Promise.all(pending);
        s.clear();
        const rss = rssKiB(pid);
        if (rss === undefined) throw new Error('the proxy process is gone');
        samples.push({ s: Math.round(now / 1000), rssKiB: rss });
        nextSample += 10_000;
        continue;
      }
      const due = (sent * 1000) / rate;
      if (due > now) {
        await new Promise((r) => setTimeout(r, Math.min(due - now, nextSample - now)));
        continue;
      }
      if (pending.size > args.sessions * 50) {
        behind++;
        await Promise.race(pending);
        continue;
      }
      const minute = Math.floor(now / 60_000);
      sent++;
      const p: Promise<void> = send().then((o) => {
        note(o);
        (perMinute[minute] ??= []).push(o.ms);
        if (isLost(o)) perMinuteLost[minute] = (perMinuteLost[minute] ?? 0) + 1;
        pending.delete(p);
      });
      pending.add(p);
    }
    await Promise.all(pending);
    const elapsed = (performance.now() - t0) / 1000;
    const lastRss = rssKiB(pid);
    if (lastRss !== undefined) samples.push({ s: Math.round(elapsed), rssKiB: lastRss });
    await driver.close();
    const extras = driver.stats().extras;
    driver = undefined;

    const baseSample = samples.find((x) => x.s >= 60) ?? samples[0];
    const rssList = samples.map((x) => x.rssKiB);
    const base = baseSample?.rssKiB ?? Number.NaN;
    const last = rssList[rssList.length - 1] ?? Number.NaN;
    const growth = ((last - base) / base) * 100;
    const p99s = perMinute.map((l) => percentileOf([...l].sort((a, b) => a - b), 99));
    const p50s = perMinute.map((l) => percentileOf([...l].sort((a, b) => a - b), 50));
    const summary = {
      command: `node dist/scripts/soak.js ${process.argv.slice(2).join(' ')}`.trim(),
      when: new Date().toISOString(),
      maxThroughput: Math.round(max),
      rate: Math.round(rate),
      minutes: args.minutes,
      sessions: args.sessions,
      sent,
      achieved: Math.round(sent / elapsed),
      answeredTotal: answered,
      lost,
      extras,
      backpressureWaits: behind,
      rssKiB: { first: rssList[0], base, baseAtSecond: baseSample?.s, last, max: Math.max(...rssList), growthPercent: Number(growth.toFixed(1)) },
      p99msPerMinute: p99s.map((x) => Number(x.toFixed(1))),
      p50msPerMinute: p50s.map((x) => Number(x.toFixed(1))),
      lostPerMinute: perMinute.map((_, i) => perMinuteLost[i] ?? 0),
      samples,
    };
    await mkdir(dirname(args.out), { recursive: true });
    await writeFile(args.out, `${JSON.stringify(summary, null, 2)}\n`);
    const mb = (k: number | undefined): string => (k === undefined ? '?' : `${(k / 1024).toFixed(1)} MB`);
    process.stdout.write(
      [
        `soak: ${sent} messages in ${elapsed.toFixed(0)} s (${summary.achieved} msg/s of ${summary.rate} asked), lost ${lost}, extras ${extras}`,
        `proxy RSS: first ${mb(rssList[0])}, base ${mb(base)} (at ${baseSample?.s ?? 0} s), last ${mb(last)}, max ${mb(summary.rssKiB.max)}, growth base→last ${growth.toFixed(1)}% (target < 10%)`,
        `p99 ms per minute: ${summary.p99msPerMinute.join(', ')}`,
        `p50 ms per minute: ${summary.p50msPerMinute.join(', ')}`,
        `written: ${args.out}`,
        '',
      ].join('\n'),
    );
    return lost === 0 && extras === 0 && growth < 10 ? 0 : 1;
  } finally {
    await driver?.close().catch(() => undefined);
    await proxy?.stop(3_000);
    await sink?.close();
    await lab?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(2);
  },
);
