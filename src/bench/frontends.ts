/**
 * The systems a run drives: our front ends around one adapter (direct, SMTP proxy, milter,
 * `avbench deliver`) or a third-party SUT, each paired with its mode's driver.
 *
 *   direct  — the scanning core in process (createDirectDriver's logic, plus the part of
 *             the first detection for results.json)
 *   smtp    — createSmtpProxy on a free loopback port → the driver's sink; createSmtpDriver
 *   milter  — createMilterServer on a free loopback port; createMilterDriver
 *   lda     — `node dist/src/cli/bin.js deliver --scanner NAME --maildir DIR` per message
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Limits } from '../core/limits.js';
import { scanMessageDetailed } from '../core/scan.js';
import type { Adapter } from '../core/types.js';
import { outcomeOfVerdict } from '../modes/direct.js';
import { createLdaDriver } from '../modes/lda/driver.js';
import { createMilterDriver } from '../modes/milter/driver.js';
import { createMilterServer } from '../modes/milter/server.js';
import { milterUrl, parseMilterSocket } from '../modes/milter/socket-spec.js';
import { createSmtpDriver } from '../modes/smtp/driver.js';
import { createSmtpProxy } from '../modes/smtp/proxy.js';
import { createSmtpSink } from '../modes/smtp/sink.js';
import type { MessageOutcome, ModeDriver, ModeName, OutgoingMessage } from '../modes/types.js';
import type { LoadShape } from '../results/types.js';
import { builtCliPath } from '../core/package-root.js';
import type { SutSpec } from './sut.js';

/** A driver outcome plus where the first detection was found (direct mode knows it). */
export type BenchOutcome = MessageOutcome & { part?: string };

/** A driver whose outcomes may carry `part`. */
export interface BenchDriver extends ModeDriver {
  send(msg: OutgoingMessage): Promise<BenchOutcome>;
}

/** A running system under test with its driver. `close()` stops what was started and removes temp folders. */
export interface Target {
  mode: ModeName;
  /** results.json `sut`: "direct", "ours", or the --sut URL. */
  sut: string;
  driver: BenchDriver;
  /** In-flight messages the driver should be given (sessions/connections/processes). */
  concurrency: number;
  /** Processes whose load is sampled (a SUT's `pid=`). */
  pids: number[];
  /** How the driver loads the SUT (smtp: the connection shape and rate), for results.json. */
  shape?: LoadShape;
  /** Called after each pass (every message answered): forget per-pass state, e.g. the sink's arrivals. */
  afterPass?(): void;
  close(): Promise<void>;
}

/** What building our front end needs. */
export interface FrontEndOptions {
  adapter: Adapter;
  mode: ModeName;
  concurrency: number;
  limits?: Partial<Limits>;
  /** argv that runs `avbench deliver` (lda mode); default: this Node and the built CLI. */
  deliverCommand?: readonly string[];
  /** Config file handed to `avbench deliver` (so config-defined scanners resolve there too). */
  configPath?: string;
  /** Per-message deadline for drivers (ms, default 60 000). */
  timeoutMs?: number;
  /** SMTP load shape: connection per message or kept open (default per-message), rate (default flat out). */
  shape?: LoadShape;
}

/** The SMTP driver's options for a load shape (default: a connection per message, flat out). */
function smtpShape(shape: LoadShape | undefined): { connection: LoadShape['connection']; rate?: number; recorded: LoadShape } {
  const connection = shape?.connection ?? 'per-message';
  const rate = shape?.rate;
  const recorded: LoadShape = { connection, ...(rate === undefined ? {} : { rate }) };
  return { connection, ...(rate === undefined ? {} : { rate }), recorded };
}


/** `[node, <root>/dist/src/cli/bin.cjs, 'deliver']`; throws when the CLI is not built. */
export function defaultDeliverCommand(): string[] {
  const bin = builtCliPath();
  if (!existsSync(bin)) throw new Error(`lda mode needs the built CLI (${bin}): run npm run build`);
  return [process.execPath, bin, 'deliver'];
}

/** The direct driver (as createDirectDriver) recording the first detection's part. */
export function createBenchDirectDriver(adapters: readonly Adapter[], limits?: Partial<Limits>): BenchDriver {
  const opts = { scanners: adapters, ...(limits === undefined ? {} : { limits }) };
  return {
    mode: 'direct',
    sut: 'direct',
    open: () => Promise.resolve(),
    async send(msg: OutgoingMessage): Promise<BenchOutcome> {
      const t0 = performance.now();
      const scan = await scanMessageDetailed(msg.raw, opts);
      const ms = performance.now() - t0;
      const v = scan.verdict;
      if (v.status === 'clean') return { fate: 'scanned', verdict: 'clean', names: [], ms };
      const out: BenchOutcome = { fate: 'scanned', ...outcomeOfVerdict(v), ms };
      if (v.status === 'infected') {
        const part = v.detections[0]?.part;
        if (part !== undefined) out.part = part;
      }
      return out;
    },
    close: () => Promise.resolve(),
  };
}

/**
 * Our front end as a target: `open` starts the servers and opens the driver; when it throws,
 * `stops` (what was started before it) are closed. Closing the target closes the driver,
 * then `stops` in order, errors ignored. `more` adds what the driver's mode records.
 */
async function ourTarget<D extends BenchDriver>(
  mode: ModeName,
  concurrency: number,
  stops: readonly (() => Promise<unknown>)[],
  open: () => Promise<D>,
  more: (driver: D) => Pick<Target, 'shape' | 'afterPass'> = () => ({}),
): Promise<Target> {
  let driver: D;
  try {
    driver = await open();
  } catch (err) {
    for (const stop of stops) await stop().catch(() => undefined);
    throw err;
  }
  const d = driver;
  return {
    mode,
    sut: 'ours',
    driver: d,
    concurrency,
    pids: [],
    ...more(d),
    async close() {
      await d.close().catch(() => undefined);
      for (const stop of stops) await stop().catch(() => undefined);
    },
  };
}

/** Start our front end of `mode` around one adapter, and its driver (opened). */
export async function startFrontEnd(o: FrontEndOptions): Promise<Target> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const limits = o.limits === undefined ? {} : { limits: o.limits };
  switch (o.mode) {
    case 'direct': {
      const driver = createBenchDirectDriver([o.adapter], o.limits);
      return { mode: 'direct', sut: 'direct', driver, concurrency: o.concurrency, pids: [], close: () => Promise.resolve() };
    }
    case 'smtp': {
      const { recorded, ...shape } = smtpShape(o.shape);
      const sink = await createSmtpSink();
      const proxy = createSmtpProxy({ forward: { host: sink.host, port: sink.port }, scanners: [o.adapter], maxClients: Math.max(100, o.concurrency * 2), ...limits });
      return ourTarget(
        'smtp',
        o.concurrency,
        [() => proxy.close(), () => sink.close()],
        async () => {
          const addr = await proxy.listen();
          const driver = createSmtpDriver({ url: `smtp://${addr.host}:${addr.port}`, sink, sessions: o.concurrency, timeoutMs, ...shape });
          await driver.open();
          return driver;
        },
        (d) => ({
          shape: recorded,
          afterPass: () => {
            sink.clear();
            d.restartSchedule();
          },
        }),
      );
    }
    case 'milter': {
      const server = createMilterServer({ scanners: [o.adapter], listen: 'inet:0@127.0.0.1', ...limits });
      return ourTarget('milter', o.concurrency, [() => server.close()], async () => {
        await server.listen();
        const driver = createMilterDriver({ url: milterUrl(parseMilterSocket(server.address)), concurrency: o.concurrency, timeoutMs });
        await driver.open();
        return driver;
      });
    }
    case 'lda': {
      const prefix = o.deliverCommand ?? defaultDeliverCommand();
      const maildir = await mkdtemp(join(tmpdir(), 'avbench-bench-maildir-'));
      const command = [...prefix, '--scanner', o.adapter.name, '--maildir', maildir, ...(o.configPath === undefined ? [] : ['--config', o.configPath])];
      const driver = createLdaDriver({ command, maildir, concurrency: o.concurrency, timeoutMs, sut: 'ours' });
      await driver.open();
      return {
        mode: 'lda',
        sut: 'ours',
        driver,
        concurrency: o.concurrency,
        pids: [],
        async close() {
          await driver.close().catch(() => undefined);
          await rm(maildir, { recursive: true, force: true });
        },
      };
    }
  }
}

/** Connect to a third-party SUT (the drivers start their own sink when asked); `loadShape` shapes an smtp SUT's load. */
export async function startSut(spec: SutSpec, concurrency: number, timeoutMs = 60_000, loadShape?: LoadShape): Promise<Target> {
  switch (spec.kind) {
    case 'smtp': {
      const { recorded, ...shape } = smtpShape(loadShape);
      const sink = spec.sinkPort === undefined ? undefined : await createSmtpSink({ port: spec.sinkPort });
      const driver = createSmtpDriver({ url: spec.driverUrl, sink: sink ?? false, sessions: concurrency, timeoutMs, ...shape, ...(spec.graceMs === undefined ? {} : { graceMs: spec.graceMs }) });
      try {
        await driver.open();
      } catch (err) {
        await sink?.close().catch(() => undefined);
        throw err;
      }
      return {
        mode: 'smtp',
        sut: spec.url,
        driver,
        concurrency,
        pids: spec.pids,
        shape: recorded,
        afterPass: () => {
          sink?.clear();
          driver.restartSchedule();
        },
        async close() {
          await driver.close().catch(() => undefined);
          await sink?.close().catch(() => undefined);
        },
      };
    }
    case 'milter': {
      const driver = createMilterDriver({ url: spec.driverUrl, concurrency, timeoutMs });
      await driver.open();
      return { mode: 'milter', sut: spec.url, driver, concurrency, pids: spec.pids, close: () => driver.close().catch(() => undefined) };
    }
    case 'lda': {
      const driver = createLdaDriver({ command: spec.command, concurrency, timeoutMs, sut: spec.url });
      await driver.open();
      return { mode: 'lda', sut: spec.url, driver, concurrency, pids: spec.pids, close: () => driver.close().catch(() => undefined) };
    }
  }
}
