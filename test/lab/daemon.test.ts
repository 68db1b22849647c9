/**
 * The lab's one daemon skeleton (src/lab/daemon.ts startLabDaemon) with real programs:
 * smtp-sink for a daemon that comes up, `sleep` for one that never becomes ready, `false`
 * for one that exits at once. Whatever happens, nothing is left running and no folder stays.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { which } from '../../src/core/exec.js';
import { freePort } from '../../src/core/net.js';
import { startLabDaemon, whenGreeting } from '../../src/lab/daemon.js';
import { alive } from '../../src/daemon/pidfile.js';
import { describeReal } from '../helpers/real.js';

await describeReal('lab daemon skeleton (startLabDaemon)', ['smtp-sink', 'sleep', 'false'], () => {
  let parent: string;
  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'avbench-labtest-'));
  });
  afterAll(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it('starts a daemon in its private folder, records its PID, waits for it; stop() (twice) ends it and removes its folders', async () => {
    const port = await freePort();
    const extra = join(parent, 'extra');
    const seen: boolean[] = [];
    const bin = (await which('smtp-sink'))!;
    const d = await startLabDaemon({
      name: 'smtp-sink',
      slug: 'skeleton',
      dir: parent,
      pidFile: 'sink.pid',
      stopGraceMs: 3_000,
      afterExit: async (failed) => {
        seen.push(failed);
      },
      async setup(folder, alsoRemove) {
        await mkdir(extra);
        alsoRemove(extra);
        await writeFile(join(folder, 'config'), 'generated\n');
        return { bin, args: [...(process.getuid?.() === 0 ? ['-u', 'postfix'] : []), `127.0.0.1:${port}`, '16'], outFile: join(folder, 'out.log'), ...whenGreeting(port, 10_000), port };
      },
    });
    expect(d.launch.port).toBe(port);
    expect(d.folder.startsWith(join(parent, 'avbench-skeleton-'))).toBe(true);
    expect(alive(d.pid)).toBe(true);
    expect((await readFile(join(d.folder, 'sink.pid'), 'utf8')).trim()).toBe(String(d.pid));
    const first = d.stop();
    expect(d.stop()).toBe(first);
    await first;
    expect(alive(d.pid)).toBe(false);
    expect(seen).toEqual([false]);
    expect(existsSync(d.folder)).toBe(false);
    expect(existsSync(extra)).toBe(false);
    expect(await readdir(parent)).toEqual([]);
  });

  it('a daemon that is never ready: an error naming it with its log tail; it is stopped and its folder removed', async () => {
    const seen: boolean[] = [];
    let filesSeen = 0;
    const start = startLabDaemon({
      name: 'sleeper',
      dir: parent,
      stopGraceMs: 1_000,
      afterExit: async (failed) => {
        seen.push(failed);
      },
      async setup(folder) {
        const outFile = join(folder, 'out.log');
        await writeFile(outFile, 'the last words of the log\n');
        return {
          bin: (await which('sleep'))!,
          args: ['30'],
          outFile,
          ready: async (_deadline: number, isAlive: () => boolean) => {
            filesSeen = (await readdir(folder)).length;
            return !isAlive();
          },
          readyTimeoutMs: 200,
          notReady: 'did not answer in time',
        };
      },
    });
    await expect(start).rejects.toThrow(/^sleeper did not answer in time: the last words of the log/);
    expect(filesSeen).toBeGreaterThan(0);
    expect(seen).toEqual([true]);
    expect(await readdir(parent)).toEqual([]);
  });

  it('a program that exits at once: "exited", folder removed', async () => {
    await expect(
      startLabDaemon({
        name: 'quitter',
        dir: parent,
        stopGraceMs: 1_000,
        setup: async (folder) => ({ bin: (await which('false'))!, args: [], outFile: join(folder, 'out.log'), ...whenGreeting(await freePort(), 5_000) }),
      }),
    ).rejects.toThrow(/^quitter exited: /);
    expect(await readdir(parent)).toEqual([]);
  });
});
