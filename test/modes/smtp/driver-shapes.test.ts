/**
 * The SMTP driver's load shapes against real servers: per-message opens one connection per
 * message (counted at the server side: Postfix smtp-sink's session counter, our proxy's
 * session ids), kept-open reuses its N sessions, a rate is an open-loop schedule no message
 * goes out ahead of (lower bounds only, no speed assertions), and the quick corpus gets the
 * same fates in both shapes.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../../adapters/index.js';
import { generateCorpus } from '../../../src/corpus/generate.js';
import { openCorpus } from '../../../src/corpus/read.js';
import { startSmtpSink, type LabSmtpSink } from '../../../src/lab/smtp-sink.js';
import { delay } from '../../../src/lab/util.js';
import { createSmtpDriver, createSmtpProxy, createSmtpSink, plannedOffsetMs, type SmtpConnectionShape } from '../../../src/modes/smtp/index.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'avbench-smtp-shapes-'));
  await generateCorpus({ out: join(tmp, 'corpus'), profile: 'quick' });
}, 60_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const msg = (n: number): { file: string; raw: Buffer } => ({ file: `m${n}`, raw: Buffer.from(`From: a@example.org\r\nSubject: ${n}\r\n\r\nbody ${n}\r\n`) });

/** smtp-sink -c: its last `sess=N quit=N mesg=N` counter line (sessions ended with QUIT, messages). */
async function sinkCounter(parent: string): Promise<{ sess: number; quit: number; mesg: number } | undefined> {
  const folder = (await readdir(parent)).find((f) => f.startsWith('avbench-smtp-sink-'));
  if (folder === undefined) return undefined;
  const log = await readFile(join(parent, folder, 'smtp-sink.log'), 'latin1').catch(() => '');
  const all = [...log.matchAll(/sess=(\d+) quit=(\d+) mesg=(\d+)/g)];
  const last = all[all.length - 1];
  return last === undefined ? undefined : { sess: Number(last[1]), quit: Number(last[2]), mesg: Number(last[3]) };
}

describe('connections per message or kept open: counted at Postfix smtp-sink', () => {
  it.each([
    ['per-message', 20, 3, 20],
    ['kept-open', 20, 3, 3],
  ] as const)('%s, %i messages over %i sessions: smtp-sink counts %i sessions', async (connection, messages, sessions, expected) => {
    const parent = await mkdtemp(join(tmp, `sink-${connection}-`));
    let sink: LabSmtpSink | undefined;
    try {
      // -c: smtp-sink prints "sess=N quit=N mesg=N" as sessions QUIT and messages arrive.
      sink = await startSmtpSink({ dir: parent, extraArgs: ['-c'] });
      // The start-up probe said QUIT once: that session is counted too.
      const before = 1;
      const driver = createSmtpDriver({ url: sink.url, sink: false, sessions, connection: connection as SmtpConnectionShape, timeoutMs: 10_000 });
      await driver.open();
      const outs = await Promise.all(Array.from({ length: messages }, (_, i) => driver.send(msg(i))));
      await driver.close();
      expect(outs.map((o) => o.fate)).toEqual(Array(messages).fill('delivered'));
      expect(driver.connections).toBe(expected);
      // smtp-sink writes its counter as it goes; wait (bounded) until every QUIT is shown.
      let c = await sinkCounter(parent);
      for (let i = 0; i < 100 && (c === undefined || c.quit < before + expected || c.mesg < messages); i++) {
        await delay(50);
        c = await sinkCounter(parent);
      }
      expect(c).toEqual({ sess: before + expected, quit: before + expected, mesg: messages });
    } finally {
      await sink?.stop();
    }
  });
});

describe('connections per message or kept open: counted by our proxy session ids', () => {
  it.each(['per-message', 'kept-open'] as const)('%s through createSmtpProxy → createSmtpSink', async (connection) => {
    const sink = await createSmtpSink();
    const sessionsSeen: string[] = [];
    const proxy = createSmtpProxy({ forward: { host: sink.host, port: sink.port }, scanners: [createEmbeddedAdapter()], log: (e) => sessionsSeen.push(e.session) });
    const { port } = await proxy.listen();
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink, sessions: 2, connection, timeoutMs: 10_000 });
    try {
      await driver.open();
      const outs = [];
      for (let i = 0; i < 10; i++) outs.push(await driver.send(msg(i)));
      expect(outs.map((o) => o.fate)).toEqual(Array(10).fill('delivered'));
      expect(sessionsSeen).toHaveLength(10);
      const distinct = new Set(sessionsSeen).size;
      if (connection === 'per-message') {
        expect(distinct).toBe(10);
        expect(driver.connections).toBe(10);
      } else {
        // One message at a time: the sessions are reused, none opened per message.
        expect(distinct).toBeLessThanOrEqual(2);
        expect(driver.connections).toBe(2);
      }
    } finally {
      await driver.close();
      await proxy.close();
      await sink.close();
    }
  });
});

describe('rate: an open-loop arrival schedule', () => {
  it('message k is due k/rate s after the start', () => {
    expect([0, 1, 2, 10].map((k) => plannedOffsetMs(k, 50))).toEqual([0, 20, 40, 200]);
    expect(plannedOffsetMs(3, 0.5)).toBe(6000);
  });

  it('options are checked', () => {
    expect(() => createSmtpDriver({ url: 'smtp://127.0.0.1:25', rate: 0 })).toThrow(/rate/);
    expect(() => createSmtpDriver({ url: 'smtp://127.0.0.1:25', rate: Number.NaN })).toThrow(/rate/);
    expect(() => createSmtpDriver({ url: 'smtp://127.0.0.1:25', connection: 'sometimes' as SmtpConnectionShape })).toThrow(/connection/);
    expect(createSmtpDriver({ url: 'smtp://127.0.0.1:25', sink: false }).shape).toEqual({ connection: 'kept-open', sessions: 1 });
  });

  it.each(['per-message', 'kept-open'] as const)('%s at 40 msgs/s over 3 sessions: no message reaches the sink before it is due; n messages take ≥ (n−1)/rate; restartable', async (connection) => {
    const rate = 40;
    const n = 12;
    const sink = await createSmtpSink();
    const driver = createSmtpDriver({ url: sink.url, sink: false, sessions: 3, connection, rate, timeoutMs: 10_000 });
    try {
      await driver.open();
      expect(driver.shape).toEqual({ connection, sessions: 3, rate });
      for (const pass of [1, 2]) {
        sink.clear();
        const t0 = performance.now();
        // All sent at once: the schedule, not the caller, spaces them.
        const outs = await Promise.all(Array.from({ length: n }, (_, i) => driver.send(msg(i))));
        const took = performance.now() - t0;
        expect(outs.map((o) => o.fate)).toEqual(Array(n).fill('delivered'));
        expect(sink.received).toBe(n);
        // Lower bounds only: the j-th arrival came no earlier than the j-th message was due.
        const arrivals = [...sink.arrivals.values()].map((a) => a.at).sort((a, b) => a - b);
        arrivals.forEach((at, j) => expect(at - t0, `pass ${pass}, arrival ${j}`).toBeGreaterThanOrEqual(plannedOffsetMs(j, rate)));
        expect(took).toBeGreaterThanOrEqual(((n - 1) * 1000) / rate);
        driver.restartSchedule();
      }
      expect(driver.connections).toBe(connection === 'per-message' ? 2 * n : 3);
    } finally {
      await driver.close();
      await sink.close();
    }
  });
});

describe('quick corpus: the same fates in both shapes', () => {
  it('through our proxy (embedded) to our sink, 4 sessions: per-message and kept-open agree message by message', async () => {
    const scanner = createEmbeddedAdapter();
    const sink = await createSmtpSink();
    const proxy = createSmtpProxy({ forward: { host: sink.host, port: sink.port }, scanners: [scanner] });
    const { port } = await proxy.listen();
    const corpus = await openCorpus(join(tmp, 'corpus'));
    const raws: Array<{ file: string; raw: Buffer }> = [];
    for await (const e of corpus.entries) raws.push({ file: e.file, raw: await e.read() });
    const fatesOf = async (connection: SmtpConnectionShape): Promise<{ rows: string[]; connections: number }> => {
      const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink, sessions: 4, connection, graceMs: 1_000, timeoutMs: 30_000 });
      await driver.open();
      try {
        const rows = await Promise.all(raws.map(async (m) => {
          const o = await driver.send(m);
          return `${m.file} ${o.fate} ${o.verdict}${o.errorCode === undefined ? '' : `:${o.errorCode}`} ${[...o.names].sort().join(',')}`;
        }));
        return { rows, connections: driver.connections };
      } finally {
        await driver.close();
        sink.clear();
      }
    };
    try {
      const perMessage = await fatesOf('per-message');
      const keptOpen = await fatesOf('kept-open');
      expect(perMessage.rows).toHaveLength(corpus.info.messages);
      expect(perMessage.rows).toEqual(keptOpen.rows);
      expect(perMessage.connections).toBe(corpus.info.messages);
      expect(keptOpen.connections).toBe(4);
      const fates = new Set(perMessage.rows.map((r) => r.split(' ')[1]));
      // Both kinds of outcome, and nothing lost, so the comparison means something.
      expect(fates.has('delivered') && fates.has('rejected')).toBe(true);
      expect(fates.has('lost')).toBe(false);
    } finally {
      await proxy.close();
      await sink.close();
    }
  }, 120_000);
});
