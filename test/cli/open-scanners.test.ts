/**
 * One adapter lifecycle (issue 13.4, adapters/open.ts): every command that turns scanner
 * names into adapters probes them with a deadline, and `require` decides what a scanner
 * not available means. A FAKE adapter whose probe never answers shows the deadline (a real
 * scanner cannot be made to hang in its probe on demand); fake timers move the clock past
 * it, so nothing here waits 10 s and nothing asserts on speed.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Adapter, ProbeResult } from '../../src/core/types.js';
import { errorVerdict } from '../../src/core/verdict.js';

/** The FAKE: probe() never settles; scan() says the scanner is down; close() is counted. */
const fake = vi.hoisted(() => ({ probes: 0, scans: 0, closed: 0 }));
const FAKE_NAME = 'fake-silent';

vi.mock('../../adapters/index.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../adapters/index.js')>();
  const fakeAdapter = (name: string): Adapter => ({
    name,
    type: 'noop',
    granularity: 'message',
    probe: () => {
      fake.probes += 1;
      return new Promise<ProbeResult>(() => undefined);
    },
    scan: async () => {
      fake.scans += 1;
      return errorVerdict('CONNECT_FAILED', 'FAKE scanner is down');
    },
    close: async () => {
      fake.closed += 1;
    },
  });
  return {
    ...orig,
    adapterByName: (name: string, config?: Parameters<typeof orig.adapterByName>[1]) => (name === FAKE_NAME ? fakeAdapter(name) : orig.adapterByName(name, config)),
    // `avbench scanners` lists only the config's entries here (not every preset on the host).
    listScanners: (config?: Parameters<typeof orig.listScanners>[0]) => orig.listScanners(config).filter((e) => e.source === 'config'),
  };
});

const { runScan } = await import('../../src/cli/commands/scan.js');
const { runDeliver } = await import('../../src/cli/commands/deliver.js');
const { scannersCommand } = await import('../../src/cli/commands/scanners.js');
const { runDaemon } = await import('../../src/cli/daemon.js');
const { runBench } = await import('../../src/bench/runner.js');
const { ConfigError } = await import('../../src/config/config.js');

const DEADLINE_REASON = 'probe did not answer within 10 s';
const CLEAN = Buffer.from('From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\nMessage-ID: <1@example.org>\r\n\r\nhello\r\n');

let dir: string;
let config: string;
let message: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-open-'));
  config = join(dir, 'avbench.config.json');
  await writeFile(config, JSON.stringify({ scanners: { [FAKE_NAME]: { type: 'noop' } } }));
  message = join(dir, 'clean.eml');
  await writeFile(message, CLEAN);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake.probes = 0;
  fake.scans = 0;
  fake.closed = 0;
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Wait (in real turns of the event loop) until the FAKE was probed, then move the clock past the probe deadline. */
async function pastTheDeadline<T>(work: Promise<T>): Promise<T> {
  work.catch(() => undefined);
  for (let i = 0; fake.probes === 0; i++) {
    if (i > 100_000) throw new Error('the FAKE scanner was never probed');
    await new Promise((r) => setImmediate(r));
  }
  await vi.advanceTimersByTimeAsync(10_000);
  return work;
}

function sink(): { text: () => string; stream: { write: (s: string | Uint8Array) => boolean; isTTY: boolean } } {
  let text = '';
  return { text: () => text, stream: { write: (s) => ((text += String(s)), true), isTTY: false } };
}

describe('a scanner whose probe never answers, through the one lifecycle', () => {
  it('scan: required — one ConfigError line naming the scanner and the deadline, nothing scanned, the adapter closed', async () => {
    const out = sink();
    const err = sink();
    const run = runScan({ paths: [message], scanner: [FAKE_NAME], json: false, config, infected: false, summary: false }, { stdout: out.stream, stderr: err.stream });
    const e = await pastTheDeadline(run).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toBe(`scanner ${FAKE_NAME} is not available: ${DEADLINE_REASON}`);
    expect(out.text()).toBe('');
    expect(fake.scans).toBe(0);
    expect(fake.closed).toBe(1);
  });

  it('deliver: kept — the scan fails and --on-fail decides: 75 with the scanner’s code, or delivered Unchecked', async () => {
    const md = join(dir, 'Maildir');
    await mkdir(md, { recursive: true });
    const lines: string[] = [];
    const io = { readStdin: async () => CLEAN, log: (l: string) => lines.push(l) };
    const base = { scanner: [FAKE_NAME], defang: false, rejectCode: 77, config, timeout: '120', fsync: false, maildir: md };

    expect(await pastTheDeadline(runDeliver(base, io))).toBe(75);
    expect(lines).toEqual([expect.stringMatching(/^tempfail: CONNECT_FAILED: /)]);
    expect(fake.closed).toBe(1);
    expect(await readdir(join(md, 'new')).catch(() => [])).toEqual([]);

    fake.probes = 0;
    lines.length = 0;
    expect(await pastTheDeadline(runDeliver({ ...base, onFail: 'accept' }, io))).toBe(0);
    expect(lines).toEqual([expect.stringMatching(/^delivered: unchecked \(CONNECT_FAILED/)]);
    expect(await readdir(join(md, 'new'))).toHaveLength(1);
    expect(fake.closed).toBe(2);
  });

  it('scanners: reported — its row says not available and why, exit 0', async () => {
    let stdout = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
    const state = { exitCode: -1 };
    try {
      const handler = scannersCommand(state).handler as (a: unknown) => Promise<void>;
      await pastTheDeadline(handler({ json: true, config, _: [], $0: 'avbench' }));
    } finally {
      spy.mockRestore();
    }
    expect(state.exitCode).toBe(0);
    const rows = JSON.parse(stdout) as Array<{ name: string; available: boolean; reason?: string }>;
    expect(rows.find((r) => r.name === FAKE_NAME)).toMatchObject({ available: false, reason: DEADLINE_REASON });
    expect(fake.closed).toBe(1);
  });

  it('serve (smtp, milter): kept — logged as unavailable and handed to the front end, which starts with it', async () => {
    const lines: string[] = [];
    let given: readonly Adapter[] = [];
    const said = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const code = await pastTheDeadline(
      runDaemon({
        daemon: 'smtp',
        args: { scanner: [FAKE_NAME], syslog: false, drain: '1s' },
        listen: '127.0.0.1:0',
        config: { scanners: { [FAKE_NAME]: { type: 'noop' } } },
        reloadConfig: async () => ({ scanners: {} }),
        stderr: (l) => lines.push(l),
        start: async ({ scanners }) => {
          given = scanners;
          throw new Error('FAKE front end: stop here');
        },
      }),
    );
    said.mockRestore();
    expect(given.map((a) => a.name)).toEqual([FAKE_NAME]);
    expect(lines.join('')).toMatch(new RegExp(`event=scanner-unavailable scanner=${FAKE_NAME} reason="${DEADLINE_REASON}"`));
    expect(code).toBe(2); // only because the FAKE front end would not start
    expect(fake.closed).toBe(1);
  });

  it('bench: reported — the scanner is skipped with the reason, and with nothing else to bench that is the input error', async () => {
    const events: Array<{ type: string; name?: string; reason?: string }> = [];
    const run = runBench({ corpus: message, scanners: [FAKE_NAME], config: { scanners: { [FAKE_NAME]: { type: 'noop' } } }, baseline: false, onEvent: (e) => events.push(e as never) });
    await expect(pastTheDeadline(run)).rejects.toThrow(`nothing to bench: ${FAKE_NAME} (${DEADLINE_REASON})`);
    expect(events).toContainEqual(expect.objectContaining({ type: 'skip', name: FAKE_NAME, reason: DEADLINE_REASON }));
    expect(fake.closed).toBe(1);
  });
});
