import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveUntilStopped, type DaemonHooks } from '../../src/daemon/lifecycle.js';
import { formatFields, openDaemonLog, parseFields, type DaemonLog } from '../../src/daemon/log.js';
import { writePidFile } from '../../src/daemon/pidfile.js';
import { resolveRunAs } from '../../src/daemon/privileges.js';
import { parseSocketMode } from '../../src/daemon/unix-socket.js';
import { describeReal } from '../helpers/real.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-daemon-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('key=value log lines', () => {
  it('plain values bare, others quoted; always one line; parsed back to the same values', () => {
    expect(formatFields({ a: 'x', b: 'two words', c: 3, d: 1.25, e: undefined, f: 'say "hi"\r\nX-Injected: 1' })).toBe(
      'a=x b="two words" c=3 d=1.3 f="say \\"hi\\"\\r\\nX-Injected: 1"',
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (v, w) => {
        const line = formatFields({ k: v, other: w });
        expect(line).not.toMatch(/[\r\n]/);
        expect(parseFields(line)).toEqual({ k: v, other: w });
      }),
      { numRuns: 2000 },
    );
  });

  it('stderr lines carry ts, level, daemon and event', async () => {
    const lines: string[] = [];
    const log = await openDaemonLog({ daemon: 'smtp', stderr: (l) => lines.push(l), now: () => new Date('2026-12-04T00:00:00Z') });
    log.write('info', 'message', { from: '<a@b>', verdict: 'clean' });
    await log.close();
    expect(lines).toEqual(['ts=2026-12-04T00:00:00.000Z level=info daemon=smtp event=message from=<a@b> verdict=clean\n']);
  });

  it('on the real stderr, lines are gathered: one write for a burst, after at most 20 ms or at close', async () => {
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const log = await openDaemonLog({ daemon: 'smtp', now: () => new Date('2026-12-04T00:00:00Z') });
      for (let i = 0; i < 3; i++) log.write('info', 'message', { n: i });
      expect(writes).toEqual([]); // not one write per line
      // Its timer (20 ms) writes them; a loaded machine may run it later: wait up to 5 s.
      for (const until = Date.now() + 5_000; writes.length === 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
      expect(writes).toHaveLength(1);
      expect(writes[0]?.split('\n')).toEqual([0, 1, 2].map((i) => `ts=2026-12-04T00:00:00.000Z level=info daemon=smtp event=message n=${i}`).concat(''));
      log.write('warning', 'last', { why: 'closing' });
      await log.close();
      expect(writes).toHaveLength(2);
      expect(writes[1]).toBe('ts=2026-12-04T00:00:00.000Z level=warning daemon=smtp event=last why=closing\n');
    } finally {
      process.stderr.write = orig;
    }
  });
});

await describeReal('syslog through logger', ['logger'], () => {
  let server: Server;
  const received: string[] = [];
  const socket = () => join(dir, 'syslog.sock');
  beforeAll(async () => {
    server = createServer((c) => c.on('data', (d) => received.push(d.toString('utf8'))));
    await new Promise<void>((r) => server.listen(socket(), r));
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('--syslog: each event reaches the syslog socket, facility mail, with its priority and tag', async () => {
    const log = await openDaemonLog({ daemon: 'milter', syslog: true, syslogSocket: socket(), stderr: () => { throw new Error('not on stderr'); } });
    log.write('info', 'started', { listen: 'unix:/x' });
    log.write('error', 'reload-failed', { error: 'bad "config"' });
    await log.close();
    const deadline = Date.now() + 5_000;
    while (received.join('').split('avbench-milter').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const text = received.join('');
    expect(text).toMatch(/<22>[^\n]*avbench-milter\[\d+\]: level=info daemon=milter event=started listen=unix:\/x/);
    expect(text).toMatch(/<19>[^\n]*avbench-milter\[\d+\]: level=error daemon=milter event=reload-failed error="bad \\"config\\""/);
  });
});

describe('pid file', () => {
  it('written, refused while its process lives, replaced when stale, removed on exit', async () => {
    const path = join(dir, 'd.pid');
    const pf = await writePidFile(path);
    expect(await readFile(path, 'utf8')).toBe(`${process.pid}\n`);
    await expect(writePidFile(path, process.pid + 1)).rejects.toThrow(/names a running process \(pid \d+\).*another avbench daemon/);
    await pf.remove();
    await expect(readFile(path)).rejects.toMatchObject({ code: 'ENOENT' });
    await writeFile(path, '999999999\n');
    const again = await writePidFile(path);
    expect(await readFile(path, 'utf8')).toBe(`${process.pid}\n`);
    await again.remove();
    await expect(writePidFile(join(dir, 'no-such-folder', 'x.pid'))).rejects.toThrow(/cannot write pid file/);
  });
});

describe('--user/--group and --socket-mode are checked before anything is bound', () => {
  it('unknown names and bad modes are errors that say what is wrong', () => {
    if (process.getuid?.() === 0) {
      expect(() => resolveRunAs('no-such-user-avbench', undefined)).toThrow(/--user no-such-user-avbench: no such user/);
      expect(() => resolveRunAs(undefined, 'no-such-group-avbench')).toThrow(/--group no-such-group-avbench: no such group/);
      expect(resolveRunAs('nobody', 'nogroup')).toMatchObject({ user: { name: 'nobody' }, group: { name: 'nogroup' } });
    } else {
      expect(() => resolveRunAs('nobody', undefined)).toThrow(/need the daemon to start as root/);
    }
    expect(parseSocketMode('660')).toBe(0o660);
    expect(parseSocketMode('0o666')).toBe(0o666);
    expect(() => parseSocketMode('rw-rw----')).toThrow(/octal mode/);
  });
});

describe('signals', () => {
  function harness() {
    const proc = new EventEmitter();
    const events: string[] = [];
    const log: DaemonLog = { write: (level, event, f) => void events.push(`${level} ${event} ${formatFields(f ?? {})}`), close: async () => undefined };
    return { proc, events, log };
  }

  it('SIGHUP reloads (a failed reload keeps the old set), HUPs during a reload fold into one, SIGTERM drains then resolves', async () => {
    const { proc, events, log } = harness();
    let reloads = 0;
    let release!: () => void;
    const drains: number[] = [];
    const hooks: DaemonHooks = {
      reload: async () => {
        reloads++;
        if (reloads === 1) await new Promise<void>((r) => (release = r));
        if (reloads === 2) throw new Error('scanner clamd is not available');
        return { scanners: 'clamd' };
      },
      drain: async (deadline) => {
        drains.push(deadline);
        return { cut: 0 };
      },
    };
    const done = serveUntilStopped(log, hooks, { drainMs: 1234, signals: proc as unknown as NodeJS.Process });
    proc.emit('SIGHUP');
    proc.emit('SIGHUP');
    proc.emit('SIGHUP');
    release();
    await new Promise((r) => setTimeout(r, 20));
    expect(reloads).toBe(2);
    expect(events).toContain('error reload-failed error="scanner clamd is not available" kept="previous config and scanners"');
    proc.emit('SIGHUP');
    await new Promise((r) => setTimeout(r, 20));
    expect(events).toContain('info reloaded scanners=clamd');
    const t0 = Date.now();
    proc.emit('SIGTERM');
    await done;
    expect(drains).toHaveLength(1);
    expect((drains[0] as number) - t0).toBeGreaterThanOrEqual(1234 - 50);
    expect(events.at(-1)).toMatch(/^info stopped signal=SIGTERM cut=0 ms=\d+$/);
    expect(proc.listenerCount('SIGHUP') + proc.listenerCount('SIGTERM') + proc.listenerCount('SIGINT')).toBe(0);
  });

  it('a second SIGTERM cuts at once', async () => {
    const { proc, events, log } = harness();
    const deadlines: number[] = [];
    let finish!: () => void;
    const hooks: DaemonHooks = {
      reload: async () => ({}),
      drain: (deadline) => {
        deadlines.push(deadline);
        if (deadlines.length === 1) return new Promise((r) => (finish = () => r({ cut: 2 })));
        finish();
        return Promise.resolve({ cut: 2 });
      },
    };
    const done = serveUntilStopped(log, hooks, { drainMs: 60_000, signals: proc as unknown as NodeJS.Process });
    proc.emit('SIGTERM');
    proc.emit('SIGINT');
    await done;
    expect(deadlines).toHaveLength(2);
    expect((deadlines[1] as number) <= Date.now()).toBe(true);
    expect(events.some((e) => e.startsWith('warning stop-now signal=SIGINT'))).toBe(true);
    expect(events.at(-1)).toMatch(/^info stopped signal=SIGTERM cut=2/);
  });
});
