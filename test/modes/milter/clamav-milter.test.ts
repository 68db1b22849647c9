/**
 * Our milter driver against the real clamav-milter and a real clamd (lab: loopback, free
 * ports, generated configs, stopped after).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClamdAdapter } from '../../../adapters/index.js';
import { scanMessage } from '../../../src/core/scan.js';
import { generateCorpus } from '../../../src/corpus/generate.js';
import { openCorpus } from '../../../src/corpus/read.js';
import { startClamd, type LabClamd } from '../../../src/lab/clamd.js';
import { startClamavMilter, type LabClamavMilter } from '../../../src/lab/clamav-milter.js';
import { EICAR_NDB_NAME, eicar } from '../../../src/lab/signatures.js';
import { createMilterDriver } from '../../../src/modes/milter/driver.js';
import { alive } from '../../../src/daemon/pidfile.js';
import { describeReal } from '../../helpers/real.js';

const clean = (n: number): Buffer =>
  Buffer.from(`From: a@example.org\r\nTo: b@example.org\r\nSubject: clean ${n}\r\nX-Virus-Status: Infected (forged)\r\n\r\nNothing here, number ${n}.\r\n`);
const infected = (): Buffer =>
  Buffer.from(
    'From: m@example.org\r\nTo: b@example.org\r\nSubject: eicar\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n' +
      `--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--B\r\nContent-Type: application/octet-stream; name="e.com"\r\nContent-Transfer-Encoding: base64\r\n\r\n${eicar().toString('base64')}\r\n--B--\r\n`,
  );

await describeReal('our milter driver against real clamav-milter + clamd', ['clamav-milter', 'clamd'], () => {
  let clamd: LabClamd;
  let milter: LabClamavMilter;
  let milterUnix: LabClamavMilter;
  beforeAll(async () => {
    clamd = await startClamd();
    [milter, milterUnix] = await Promise.all([startClamavMilter({ clamdSocket: clamd.socket }), startClamavMilter({ clamdSocket: clamd.socket, listen: 'unix' })]);
  });
  afterAll(async () => {
    const pids = [milter?.pid, milterUnix?.pid, clamd?.pid].filter((p): p is number => p !== undefined);
    await Promise.all([milter?.stop(), milterUnix?.stop()]);
    await clamd?.stop();
    for (const p of pids) expect(alive(p)).toBe(false);
  });

  it('starts with a generated config as this user, listening on loopback', () => {
    expect(milter.url).toMatch(/^milter:\/\/127\.0\.0\.1:\d+$/);
    expect(milterUnix.url).toMatch(/^milter\+unix:\/\/\/.+clamav-milter\.sock$/);
    expect(alive(milter.pid)).toBe(true);
  });

  it('EICAR → rejected with the virus name; clean → delivered with X-Virus-Status: Clean replacing a forged one', async () => {
    for (const url of [milter.url, milterUnix.url]) {
      const d = createMilterDriver({ url, concurrency: 2, timeoutMs: 20_000 });
      await d.open();
      const [bad, good, good2] = await Promise.all([d.send({ file: 'e', raw: infected() }), d.send({ file: 'c', raw: clean(1) }), d.send({ file: 'c2', raw: clean(2) })]);
      // And a second round on the reused connections (abort between messages).
      const [bad2, good3] = [await d.send({ file: 'e2', raw: infected() }), await d.send({ file: 'c3', raw: clean(3) })];
      await d.close();
      for (const b of [bad, bad2]) {
        expect(b.fate).toBe('rejected');
        expect(b.verdict).toBe('infected');
        expect(b.milterAction).toBe(`replycode 550 5.7.1 Virus found: ${EICAR_NDB_NAME}`);
        expect(b.names).toEqual([EICAR_NDB_NAME]);
      }
      for (const g of [good, good2, good3]) {
        expect(g.fate).toBe('delivered');
        expect(g.verdict).toBe('clean');
        const status = g.modifications.filter((m) => 'name' in m && m.name === 'X-Virus-Status');
        expect(status.at(-1)).toMatchObject({ value: 'Clean' });
        expect(g.modifications.some((m) => 'name' in m && m.name === 'X-Virus-Scanned')).toBe(true);
      }
    }
  });

  it("the quick corpus through clamav-milter equals ClamAV's direct result, message by message; none lost", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'avbench-clamav-milter-corpus-'));
    const adapter = createClamdAdapter({ socket: clamd.socket, name: 'clamd' } as never);
    const d = createMilterDriver({ url: milterUnix.url, concurrency: 4, timeoutMs: 60_000 });
    try {
      await generateCorpus({ out: dir, profile: 'quick', seed: 2 });
      await d.open();
      const rows: { file: string; direct: string; milter: string; fate: string }[] = [];
      const jobs: Promise<void>[] = [];
      for await (const entry of (await openCorpus(dir)).entries) {
        const raw = await entry.read();
        jobs.push(
          (async () => {
            const [direct, via] = await Promise.all([scanMessage(raw, { scanners: [adapter] }), d.send({ file: entry.file, raw })]);
            const names = direct.status === 'infected' ? [...new Set(direct.detections.map((x) => x.name))].sort() : [];
            rows.push({ file: entry.file, direct: `${direct.status} ${names.join(',')}`, milter: `${via.verdict} ${[...via.names].sort().join(',')}`, fate: via.fate });
          })(),
        );
      }
      await Promise.all(jobs);
      expect(rows.length).toBeGreaterThan(50);
      const differ = rows.filter((r) => r.direct !== r.milter);
      expect(differ, JSON.stringify(differ.slice(0, 5), null, 1)).toEqual([]);
      expect(rows.filter((r) => r.fate === 'lost')).toEqual([]);
      expect(rows.some((r) => r.fate === 'rejected') && rows.some((r) => r.fate === 'delivered')).toBe(true);
    } finally {
      await d.close();
      await adapter.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('clamd stopped → tempfailed (OnFail Defer)', async () => {
    await clamd.stop();
    const d = createMilterDriver({ url: milter.url, concurrency: 1, timeoutMs: 30_000 });
    await d.open();
    const o = await d.send({ file: 'c', raw: clean(9) });
    await d.close();
    expect(o.fate).toBe('tempfailed');
    expect(o.verdict).toBe('error');
    expect(o.errorCode).toBe('TEMPFAIL');
  });
});
