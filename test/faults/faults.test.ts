/**
 * The fault suite (`npm run test:faults`): real clamd (lab, loopback), our SMTP proxy with
 * the clamd adapter, our sink as the next hop, driven by our SMTP driver — plus our milter
 * server and driver, and `avbench deliver` as an LDA. Each fault is one row of a table
 * (sent, delivered, rejected, tempfailed, lost) printed at the end and written to
 * out/faults.md; every row must show lost = 0. FAKE servers (named as such in fakes.ts)
 * only for what a real one cannot be made to do: hang, answer late.
 *
 * FAULTS_MESSAGES (default 5000) sets the size of each clamd kill/restart run, FAULTS_RATE
 * its pace (default 400 msg/s), FAULTS_RESTART_DELAY_MS how long clamd stays down (1000).
 */
import { access, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClamdAdapter } from '../../adapters/index.js';
import { spawnDaemon, which, type Daemon } from '../../src/core/exec.js';
import { connect, freePort } from '../../src/core/net.js';
import type { Adapter } from '../../src/core/types.js';
import { alive } from '../../src/daemon/pidfile.js';
import { startClamd, waitForClamd, type LabClamd } from '../../src/lab/clamd.js';
import { eicar } from '../../src/lab/signatures.js';
import { createLdaDriver } from '../../src/modes/lda/driver.js';
import { createMilterDriver } from '../../src/modes/milter/driver.js';
import { createMilterServer } from '../../src/modes/milter/server.js';
import { createSmtpDriver, createSmtpProxy, createSmtpSink, type FailAction, type ProxyEvent, type SmtpProxyOptions } from '../../src/modes/smtp/index.js';
import type { MessageOutcome } from '../../src/modes/types.js';
import { describeReal } from '../helpers/real.js';
import { byteRelay, fakeHangingClamd, fakeSlowNextHop, until } from './fakes.js';
import { countFates, formatFaultTable, writeFaultTable, type FaultRow } from './table.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'dist/src/cli/bin.js');
const OUT = join(ROOT, 'out/faults.md');
const N = Number(process.env['FAULTS_MESSAGES'] ?? 5_000);
const RATE = Number(process.env['FAULTS_RATE'] ?? 400);
const RESTART_DELAY_MS = Number(process.env['FAULTS_RESTART_DELAY_MS'] ?? 1_000);

const rows: FaultRow[] = [];

function cleanMail(i: number): Buffer {
  return Buffer.from(`From: a@example.org\r\nTo: b@example.net\r\nSubject: clean ${i}\r\nMessage-ID: <c${i}@example.org>\r\n\r\nHello ${i}.\r\n.a line with a leading dot\r\n`, 'latin1');
}
function eicarMail(i: number): Buffer {
  const b64 = eicar().toString('base64');
  return Buffer.from(
    `From: m@example.org\r\nTo: b@example.net\r\nSubject: eicar ${i}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XX"\r\n\r\n` +
      `--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--XX\r\nContent-Type: application/octet-stream; name="e.com"\r\n` +
      `Content-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--XX--\r\n`,
    'latin1',
  );
}
const isEicarIndex = (i: number): boolean => i % 10 === 7;

let lab: LabClamd;
let restarted: Daemon | undefined;
let clamdBin: string;

/** SIGKILL the running clamd and start it again on the same config (same socket, same port). */
async function killAndRestartClamd(): Promise<{ downMs: number }> {
  const pid = restarted?.pid ?? lab.pid;
  const t0 = performance.now();
  process.kill(pid, 'SIGKILL');
  const old = restarted;
  if (old !== undefined) await old.exited;
  else await until(() => !alive(pid), 5_000);
  // A supervisor's restart delay: the proxy meets a dead socket for this long.
  await new Promise((r) => setTimeout(r, RESTART_DELAY_MS));
  restarted = await spawnDaemon(clamdBin, [`--config-file=${lab.configFile}`], { cwd: lab.folder, logFile: join(lab.folder, 'clamd-restarted.out') });
  const d = restarted;
  const ok = await waitForClamd({ path: lab.socket }, Date.now() + 30_000, d.running);
  if (!ok) throw new Error('clamd did not come back after the restart');
  return { downMs: performance.now() - t0 };
}

/** Send `count` messages at `rate` msg/s through `send`, calling `at(i)` before message i. */
async function paced(count: number, rate: number, send: (i: number) => Promise<MessageOutcome>, at?: (i: number) => void): Promise<MessageOutcome[]> {
  const start = performance.now();
  const all: Promise<MessageOutcome>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    at?.(i);
    all.push(send(i));
  }
  return Promise.all(all);
}

/** Proxy (clamd adapter) in front of `sink`; returns the proxy's port and a closer. */
async function proxyFor(sink: { host: string; port: number }, scanners: Adapter[], extra: Partial<SmtpProxyOptions> = {}) {
  const events: ProxyEvent[] = [];
  const proxy = createSmtpProxy({ forward: { host: sink.host, port: sink.port }, scanners, log: (e) => events.push(e), ...extra });
  const { port } = await proxy.listen();
  return { port, events, close: () => proxy.close() };
}

await describeReal('fault suite (real clamd, our proxy, our sink, our drivers)', ['clamd'], () => {
  beforeAll(async () => {
    try {
      await access(BIN);
    } catch {
      throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test and test:faults do)`);
    }
    clamdBin = (await which('clamd')) as string;
    lab = await startClamd({ maxThreads: 8 });
  }, 60_000);

  afterAll(async () => {
    await restarted?.stop(3_000);
    await lab?.stop();
    if (rows.length > 0) {
      const table = formatFaultTable(rows);
      process.stdout.write(`\nFault table (${rows.length} faults)\n${table}\n`);
      await writeFaultTable(OUT, rows);
    }
  });

  for (const onFail of ['tempfail', 'accept'] as const satisfies readonly FailAction[]) {
    it(`clamd SIGKILLed and restarted in the middle of ${N} messages (onFail ${onFail})`, async () => {
      const sink = await createSmtpSink({ keepMessages: true });
      const clamd = createClamdAdapter({ socket: lab.socket, timeoutMs: 5_000 });
      const proxy = await proxyFor(sink, [clamd], { onFail, limits: { timeoutMs: 10_000 } });
      const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${proxy.port}`, sink, sessions: 8, graceMs: 3_000, timeoutMs: 30_000 });
      await driver.open();
      const killAt = Math.floor(N * 0.3);
      let restart: Promise<{ downMs: number }> | undefined;
      let restartedAtIndex = N;
      let downMs = 0;
      let outcomes: MessageOutcome[];
      try {
        outcomes = await paced(
          N,
          RATE,
          (i) => driver.send({ file: `m${i}.eml`, raw: isEicarIndex(i) ? eicarMail(i) : cleanMail(i) }),
          (i) => {
            if (i === killAt) restart = killAndRestartClamd();
          },
        );
        downMs = (await (restart as Promise<{ downMs: number }>)).downMs;
      } finally {
        await driver.close();
        await proxy.close();
        await clamd.close?.();
      }
      // Index of the first message sent after clamd answered again: recovery must show after it.
      const back = proxy.events.findIndex((e, k) => k > killAt && e.verdict === 'clean');
      restartedAtIndex = back < 0 ? N : back;
      const fates = countFates(outcomes);
      const stats = driver.stats();
      await sink.close();

      // Every message has an answer: delivered (arrived), rejected (5xx) or tempfailed (4xx).
      expect(fates.lost).toBe(0);
      expect(fates.delivered + fates.rejected + fates.tempfailed).toBe(N);
      expect(stats.extras).toBe(0);
      // The fault happened and the proxy recovered.
      expect(fates.tempfailed + (onFail === 'accept' ? outcomes.filter((o) => o.verdict === 'error').length : 0)).toBeGreaterThan(0);
      expect(restartedAtIndex).toBeLessThan(N);
      expect(outcomes.slice(-100).filter((o, k) => !isEicarIndex(N - 100 + k)).every((o) => o.fate === 'delivered' && o.verdict === 'clean')).toBe(true);

      // No unscanned delivery: every arrival carries X-Virus-Scanned and Clean — or, fail-open only, Unchecked.
      let unchecked = 0;
      for (const [id, a] of sink.arrivals) {
        expect(a.virusScanned, id).toEqual(['avbench (clamd)']);
        const status = a.virusStatus[0] ?? '';
        if (onFail === 'tempfail') expect(status, id).toBe('Clean');
        else {
          expect(status, id).toMatch(/^(Clean|Unchecked \([A-Z_]+\))$/);
          if (status.startsWith('Unchecked')) unchecked++;
        }
        // No EICAR message ever delivered as clean.
        const body = sink.messages.get(id)?.toString('latin1') ?? '';
        if (/^Subject: eicar /m.test(body)) {
          expect(onFail, `EICAR ${id} arrived`).toBe('accept');
          expect(status, `EICAR ${id} arrived as ${status}`).toMatch(/^Unchecked/);
        }
      }
      expect(sink.arrivals.size).toBe(fates.delivered);
      expect(sink.duplicates.length + sink.unidentified.length).toBe(0);
      // EICAR: never delivered clean; with clamd up, always a 550.
      const eicarOutcomes = outcomes.filter((_, i) => isEicarIndex(i));
      expect(eicarOutcomes.every((o) => o.fate === 'rejected' || o.fate === 'tempfailed' || (o.fate === 'delivered' && o.verdict === 'error'))).toBe(true);
      rows.push({
        fault: `clamd SIGKILL + restart mid-run, onFail ${onFail}`,
        ...fates,
        note:
          onFail === 'tempfail'
            ? `clamd down ${Math.round(downMs)} ms; all ${sink.arrivals.size} arrivals X-Virus-Scanned + Clean; no EICAR arrived`
            : `clamd down ${Math.round(downMs)} ms; arrivals X-Virus-Scanned + Clean or Unchecked (${unchecked} tagged Unchecked); no EICAR arrived as Clean`,
      });
    }, 180_000);
  }

  it('next hop down: 451, never 250', async () => {
    const down = await freePort();
    const sink = await createSmtpSink();
    const proxy = await proxyFor({ host: '127.0.0.1', port: down }, [createClamdAdapter({ socket: lab.socket })]);
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${proxy.port}`, sink, sessions: 2, graceMs: 300 });
    await driver.open();
    const outcomes: MessageOutcome[] = [];
    try {
      for (let i = 0; i < 20; i++) outcomes.push(await driver.send({ file: `d${i}`, raw: cleanMail(i) }));
    } finally {
      await driver.close();
      await proxy.close();
      await sink.close();
    }
    for (const o of outcomes) expect(o.smtpReply).toMatch(/^451 4\.4\.1 next hop unavailable/);
    rows.push({ fault: 'next hop down (closed port)', ...countFates(outcomes), note: 'every reply 451 4.4.1, none 250' });
  });

  for (const where of ['banner', 'final'] as const) {
    it(`next hop slow (FAKE next hop answering its ${where} after 3 s, proxy nextHopMs 800): 451, never 250`, async () => {
      const slow = await fakeSlowNextHop(where, 3_000);
      const sink = await createSmtpSink();
      const proxy = await proxyFor({ host: '127.0.0.1', port: slow.port }, [createClamdAdapter({ socket: lab.socket })], { timeouts: { nextHopMs: 800 } });
      const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${proxy.port}`, sink, sessions: 4, graceMs: 200, timeoutMs: 10_000 });
      await driver.open();
      let outcomes: MessageOutcome[];
      try {
        outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => driver.send({ file: `s${i}`, raw: cleanMail(i) })));
      } finally {
        await driver.close();
        await proxy.close();
        await slow.close();
        await sink.close();
      }
      for (const o of outcomes) {
        expect(o.smtpReply).toMatch(/^451 4\.4\.1 next hop did not answer in time/);
        expect(o.ms).toBeLessThan(800 + 2_500);
      }
      rows.push({ fault: `next hop slow (FAKE, ${where} after 3 s > nextHopMs 0.8 s)`, ...countFates(outcomes), note: 'every reply 451 4.4.1 within the deadline, none 250' });
    });
  }

  it('scanner hangs (FAKE clamd that accepts and never answers): the deadline fires, 451', async () => {
    const hang = await fakeHangingClamd();
    const sink = await createSmtpSink();
    const hung = createClamdAdapter({ name: 'clamd', host: '127.0.0.1', port: hang.port });
    const deadlineMs = 1_500;
    const proxy = await proxyFor(sink, [hung], { limits: { timeoutMs: deadlineMs } });
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${proxy.port}`, sink, sessions: 4, graceMs: 200, timeoutMs: 15_000 });
    await driver.open();
    let outcomes: MessageOutcome[];
    try {
      outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => driver.send({ file: `h${i}`, raw: isEicarIndex(i) ? eicarMail(i) : cleanMail(i) })));
    } finally {
      await driver.close();
      await proxy.close();
      await hung.close?.();
      await hang.close();
      await sink.close();
    }
    expect(hang.accepted).toBeGreaterThan(0);
    for (const o of outcomes) {
      expect(o.smtpReply).toMatch(/^451 4\.3\.0 Virus scan failed \(TIMEOUT\)/);
      // the per-message deadline (1.5 s), with slack for a loaded machine — far below the adapter's 30 s default
      expect(o.ms).toBeLessThan(deadlineMs + 3_000);
    }
    expect(sink.received).toBe(0);
    rows.push({ fault: 'scanner hangs (FAKE clamd, never answers; deadline 1.5 s)', ...countFates(outcomes), note: `451 4.3.0 (TIMEOUT) in ≤ ${Math.ceil(Math.max(...outcomes.map((o) => o.ms)))} ms; nothing delivered` });
  });

  it('milter: our server process SIGKILLed mid-body → our driver tempfails; a restarted server serves the next message', async () => {
    const port = await freePort();
    const startServer = (): Promise<Daemon> =>
      spawnDaemon(process.execPath, [BIN, 'serve', 'milter', '--listen', `inet:${port}@127.0.0.1`, '--scanner', 'embedded'], { cwd: ROOT });
    /** Wait until the server process listens (throws if it never does). */
    const poll = async (d: Daemon): Promise<void> => {
      const end = Date.now() + 15_000;
      while (Date.now() < end && d.running()) {
        try {
          (await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 500 })).destroy();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error('serve milter did not start listening');
    };
    let server = await startServer();
    await poll(server);
    const outcomes: MessageOutcome[] = [];
    const big = Buffer.concat([Buffer.from('From: a@example.org\r\nSubject: big\r\n\r\n'), Buffer.alloc(8 * 1024 * 1024, 'abcdefgh\r\n')]);
    try {
      for (let round = 0; round < 3; round++) {
        let killed = false;
        const victim = server;
        const relay = await byteRelay({
          target: { host: '127.0.0.1', port },
          afterBytes: 1024 * 1024,
          onThreshold: () => {
            killed = true;
            process.kill(victim.pid, 'SIGKILL');
          },
        });
        const d = createMilterDriver({ url: `milter://127.0.0.1:${relay.port}`, concurrency: 1, timeoutMs: 15_000 });
        await d.open();
        const o = await d.send({ file: `big${round}`, raw: big });
        await d.close();
        await relay.close();
        expect(killed).toBe(true);
        expect(o.fate).toBe('tempfailed');
        outcomes.push(o);
        await victim.exited;
        server = await startServer();
        await poll(server);
        const d2 = createMilterDriver({ url: `milter://127.0.0.1:${port}`, concurrency: 1, timeoutMs: 15_000 });
        await d2.open();
        const ok = await d2.send({ file: `after${round}`, raw: cleanMail(round) });
        const bad = await d2.send({ file: `eicar${round}`, raw: eicarMail(round) });
        await d2.close();
        expect(ok).toMatchObject({ fate: 'delivered', verdict: 'clean' });
        expect(bad).toMatchObject({ fate: 'rejected', verdict: 'infected' });
        outcomes.push(ok, bad);
      }
    } finally {
      await server.stop(2_000);
    }
    rows.push({ fault: 'milter server process SIGKILLed mid-body (×3), then restarted', ...countFates(outcomes), note: 'cut messages tempfailed (milter_default_action tempfail); restarted server accepts clean, rejects EICAR' });
  }, 90_000);

  it('milter: a client that disconnects mid-body — our server stays up and serves the next client', async () => {
    const errors: Error[] = [];
    const server = createMilterServer({ scanners: [createClamdAdapter({ socket: lab.socket })], listen: 'inet:0@127.0.0.1', onConnectionError: (e) => errors.push(e) });
    await server.listen();
    const port = Number(/^inet:(\d+)@/.exec(server.address)?.[1]);
    const outcomes: MessageOutcome[] = [];
    const big = Buffer.concat([Buffer.from('From: a@example.org\r\nSubject: big\r\n\r\n'), Buffer.alloc(4 * 1024 * 1024, 'abcdefgh\r\n')]);
    try {
      for (let round = 0; round < 5; round++) {
        const relay = await byteRelay({ target: { host: '127.0.0.1', port }, afterBytes: 512 * 1024, onThreshold: (cut) => cut() });
        const d = createMilterDriver({ url: `milter://127.0.0.1:${relay.port}`, concurrency: 1, timeoutMs: 15_000 });
        await d.open();
        const o = await d.send({ file: `cut${round}`, raw: big });
        await d.close();
        await relay.close();
        expect(o.fate).toBe('tempfailed');
        outcomes.push(o);
      }
      expect(await until(() => server.connections === 0, 5_000)).toBe(true);
      const d = createMilterDriver({ url: `milter://127.0.0.1:${port}`, concurrency: 2, timeoutMs: 15_000 });
      await d.open();
      for (let i = 0; i < 10; i++) outcomes.push(await d.send({ file: `next${i}`, raw: isEicarIndex(i) ? eicarMail(i) : cleanMail(i) }));
      await d.close();
    } finally {
      await server.close();
    }
    const after = outcomes.slice(5);
    expect(after.filter((o) => o.fate === 'delivered')).toHaveLength(9);
    expect(after.filter((o) => o.fate === 'rejected' && o.verdict === 'infected')).toHaveLength(1);
    rows.push({ fault: 'milter client disconnects mid-body (×5), server side', ...countFates(outcomes), note: 'server kept running, connections back to 0, next client: 9 accepted + EICAR rejected' });
  }, 60_000);

  it('LDA: a delivery command that exits 75, is killed, or does not exist → avbench deliver exits 75 (EX_TEMPFAIL) to the MTA', async () => {
    const node = process.execPath;
    const commands: Array<{ what: string; argv: string[] }> = [
      { what: 'exits 75', argv: [node, '-e', 'process.stdin.resume();process.stdin.on("end",()=>process.exit(75))'] },
      { what: 'killed (SIGKILL)', argv: [node, '-e', 'process.kill(process.pid,"SIGKILL")'] },
      { what: 'does not exist', argv: ['/nonexistent/avbench-no-such-delivery-agent'] },
    ];
    const outcomes: MessageOutcome[] = [];
    for (const c of commands) {
      const driver = createLdaDriver({ command: [node, BIN, 'deliver', '--scanner', 'embedded', '--', ...c.argv], timeoutMs: 60_000 });
      await driver.open();
      try {
        for (let i = 0; i < 2; i++) {
          const o = await driver.send({ file: `l${i}`, raw: cleanMail(i) });
          expect(o.exitCode, c.what).toBe(75);
          expect(o.fate, c.what).toBe('tempfailed');
          outcomes.push(o);
        }
      } finally {
        await driver.close();
      }
    }
    rows.push({ fault: 'LDA delivery command fails (exit 75 / SIGKILL / missing), ×2 each', ...countFates(outcomes), note: 'avbench deliver exit 75 every time' });
  }, 90_000);

  /** `avbench serve smtp` as its own process (clamd adapter on the lab clamd) in front of the sink at `sinkPort`. */
  async function serveSmtp(sinkPort: number, o: { maxClients: number; socketMs: number }): Promise<{ port: number; close(): Promise<void> }> {
    const config = join(lab.folder, 'avbench.config.json');
    await writeFile(config, JSON.stringify({ scanners: { 'faults-clamd': { type: 'clamd', socket: lab.socket } } }), { mode: 0o600 });
    const port = await freePort();
    const d = await spawnDaemon(
      process.execPath,
      [BIN, 'serve', 'smtp', '--listen', `127.0.0.1:${port}`, '--forward', `127.0.0.1:${sinkPort}`, '--scanner', 'faults-clamd', '--config', config,
        '--max-clients', String(o.maxClients), '--socket-timeout', `${o.socketMs}ms`, '--quiet'],
      { cwd: lab.folder },
    );
    const end = Date.now() + 20_000;
    for (;;) {
      try {
        (await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + 500 })).destroy();
        break;
      } catch {
        if (Date.now() > end || !d.running()) {
          await d.stop(1_000);
          throw new Error('avbench serve smtp did not start listening');
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // The probe connection above took (and gave back) a slot: wait until the process has seen it close.
    await new Promise((r) => setTimeout(r, 200));
    return { port, close: () => d.stop(5_000) };
  }

  it('slow clients (a byte a second) against serve smtp: others are served; silent ones are cut by the socket timeout', async () => {
    const sink = await createSmtpSink();
    const socketMs = 1_500;
    const proxy = await serveSmtp(sink.port, { maxClients: 10, socketMs });
    const slow = Array.from({ length: 5 }, () => slowClient(proxy.port));
    await Promise.all(slow.map((s) => s.connected));
    // A byte a second for ~4 s: not idle, so the socket timeout does not cut them; they hold 5 of 10 slots.
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${proxy.port}`, sink, sessions: 2, graceMs: 2_000 });
    await driver.open();
    const outcomes: MessageOutcome[] = [];
    for (let i = 0; i < 20; i++) outcomes.push(await driver.send({ file: `n${i}`, raw: isEicarIndex(i) ? eicarMail(i) : cleanMail(i) }));
    await driver.close();
    await new Promise((r) => setTimeout(r, Math.max(0, 4_000 - (Date.now() - slow[0]!.started))));
    expect(slow.every((s) => !s.closed)).toBe(true);
    // Now they go silent: each must be cut after socketMs with a 421.
    for (const s of slow) s.stop();
    expect(await until(() => slow.every((s) => s.closed), socketMs + 5_000)).toBe(true);
    // Cut after socketMs of silence (from each one's last byte), not before.
    const idle = slow.map((s) => (s.closedAt ?? 0) - s.lastByteAt);
    for (const ms of idle) expect(ms).toBeGreaterThanOrEqual(socketMs - 100);
    const cutMs = Math.max(...idle);
    for (const s of slow) expect(s.text).toMatch(/421 .*[Tt]imeout/);
    await proxy.close();
    await sink.close();
    const fates = countFates(outcomes);
    expect(fates.delivered).toBe(18);
    expect(fates.rejected).toBe(2);
    rows.push({ fault: 'serve smtp: 5 slow clients (1 byte/s), --max-clients 10, --socket-timeout 1.5 s', ...fates, note: `normal client served meanwhile; slow ones cut 421 ${cutMs} ms after going silent` });
  }, 60_000);

  it('connection flood (500 connections) against maxClients 20: 421 or refused past the limit, idle ones cut, a normal client is served', async () => {
    const sink = await createSmtpSink();
    const socketMs = 2_000;
    const maxClients = 20;
    const proxy = await serveSmtp(sink.port, { maxClients, socketMs });
    const flood = await Promise.all(Array.from({ length: 500 }, () => holdConnection(proxy.port)));
    const banners = flood.map((f) => f.first);
    const greeted = banners.filter((b) => b.startsWith('220')).length;
    const turnedAway = banners.filter((b) => b.startsWith('421') || b === 'refused' || b === 'closed').length;
    expect(greeted).toBeLessThanOrEqual(maxClients + 1);
    expect(greeted + turnedAway).toBe(500);
    // A normal client, retrying as an MTA would, is served once idle flood connections are cut.
    const t0 = Date.now();
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${proxy.port}`, sink, sessions: 1, graceMs: 2_000 });
    await driver.open();
    const outcomes: MessageOutcome[] = [];
    let attempts = 0;
    for (let i = 0; i < 10; i++) {
      for (;;) {
        attempts++;
        const o = await driver.send({ file: `f${i}`, raw: isEicarIndex(i) ? eicarMail(i) : cleanMail(i) });
        if (o.fate === 'tempfailed' && Date.now() - t0 < socketMs + 10_000) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        outcomes.push(o);
        break;
      }
    }
    const servedAfter = Date.now() - t0;
    await driver.close();
    expect(await until(() => flood.every((f) => f.closed), socketMs + 5_000)).toBe(true);
    for (const f of flood) f.destroy();
    await proxy.close();
    await sink.close();
    const fates = countFates(outcomes);
    // On failure, say what each message got (fate, error code, reply) and how the flood was met.
    const seen = outcomes.map((o) => `${o.fate} ${o.errorCode ?? ''} ${o.smtpReply ?? ''}`.trim());
    expect({ delivered: fates.delivered, rejected: fates.rejected, seen: fates.delivered === 9 ? [] : seen, greeted, attempts }).toEqual({ delivered: 9, rejected: 1, seen: [], greeted, attempts });
    expect(servedAfter).toBeLessThan(socketMs + 10_000);
    rows.push({
      fault: 'serve smtp: flood of 500 connections, --max-clients 20, --socket-timeout 2 s',
      ...fates,
      note: `${greeted} greeted, ${turnedAway} got 421/refused; idle ones cut; normal client served (${attempts} tries, ${servedAfter} ms)`,
    });
  }, 60_000);

  it('the fault table shows lost = 0 in every row', () => {
    expect(rows.length).toBeGreaterThanOrEqual(8);
    for (const r of rows) {
      expect(r.lost, r.fault).toBe(0);
      expect(r.delivered + r.rejected + r.tempfailed + r.lost, r.fault).toBe(r.sent);
    }
  });
});

/** A client that sends an SMTP dialogue one byte a second until stopped. */
function slowClient(port: number): { connected: Promise<void>; started: number; closed: boolean; closedAt: number | undefined; lastByteAt: number; text: string; stop(): void } {
  const script = Buffer.from('EHLO slow.example\r\nMAIL FROM:<slow@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: slow\r\n\r\n' + 'x'.repeat(200), 'latin1');
  const s = net.connect(port, '127.0.0.1');
  const state = {
    connected: new Promise<void>((r) => s.once('connect', () => r())),
    started: Date.now(),
    closed: false,
    closedAt: undefined as number | undefined,
    lastByteAt: Date.now(),
    text: '',
    stop: () => clearInterval(timer),
  };
  let k = 0;
  const timer = setInterval(() => {
    if (k < script.length && !s.destroyed) {
      s.write(script.subarray(k, ++k));
      state.lastByteAt = Date.now();
    }
  }, 1_000);
  s.on('data', (d) => (state.text += d.toString('latin1')));
  s.on('error', () => undefined);
  s.on('close', () => {
    clearInterval(timer);
    state.closed = true;
    state.closedAt = Date.now();
  });
  return state;
}

/** Open a connection and say nothing; `first` is the first reply line (or refused/closed). */
async function holdConnection(port: number): Promise<{ first: string; closed: boolean; destroy(): void }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const st = { first: '', closed: false, destroy: () => s.destroy() };
    let buf = '';
    let done = false;
    const finish = (v: string): void => {
      if (done) return;
      done = true;
      st.first = v;
      resolve(st);
    };
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const i = buf.indexOf('\r\n');
      if (i >= 0) finish(buf.slice(0, i));
    });
    s.on('error', () => finish('refused'));
    s.on('close', () => {
      st.closed = true;
      finish(buf === '' ? 'closed' : buf);
    });
  });
}

