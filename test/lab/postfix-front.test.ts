/**
 * Issue 15 point 7, Postfix in front as a whole-gateway mode: a private Postfix whose
 * `smtpd_milters` (or `smtpd_proxy_filter`) is the system under test, relaying to the bench
 * driver's sink, driven as one `smtp://` `--sut` (startPostfixFront, src/lab/postfix-front.ts)
 * — with clamav-milter, with our `avbench serve milter` and with our `avbench serve smtp` as
 * a before-queue proxy filter (the built CLI, its own processes), all scanning with the same
 * lab clamd. The quick corpus goes through each next to clamd
 * direct and is compared message by message; a plain Postfix (no filter) beside them shows
 * what Postfix itself changes in transit.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/core/exec.js';
import { freePort } from '../../src/core/net.js';
import { startClamavMilter, type LabClamavMilter } from '../../src/lab/clamav-milter.js';
import type { LabClamd } from '../../src/lab/clamd.js';
import { postfixFrontSutUrl, reinjectPortFor, startPostfixFront, type LabPostfixFront } from '../../src/lab/postfix-front.js';
import { parseSut } from '../../src/bench/sut.js';
import { alive } from '../../src/lab/up.js';
import { validateResults } from '../../src/results/schema.js';
import { benchGatewayAgainstDirect, expectPostfixGatewayLikeDirect, type GatewayRun, quickCorpusAndClamd, startServe, writeClamdConfig } from './gateway-helpers.js';
import { describeReal } from '../helpers/real.js';

describe('postfixFrontSutUrl', () => {
  it('percent-encodes the name (a + in a query is a space) and lists master first', () => {
    const url = postfixFrontSutUrl({ port: 2525, sinkPort: 2526, name: 'postfix+clamav-milter', pids: [10, 11] });
    expect(url).toBe('smtp://127.0.0.1:2525?sink=2526&name=postfix%2Bclamav-milter&pid=10,11');
    expect(parseSut(url)).toMatchObject({ kind: 'smtp', name: 'postfix+clamav-milter', sinkPort: 2526, pids: [10, 11] });
  });
});

await describeReal('Postfix in front (issue 15.7): smtpd_milters = clamav-milter, = our serve milter; smtpd_proxy_filter = our serve smtp; through bench --sut', ['postfix', 'clamd', 'clamav-milter'], () => {
  let dir: string;
  let corpus: string;
  let clamd: LabClamd;
  let ours: Daemon;
  let clamavMilter: LabClamavMilter;
  let oursSmtp: Daemon;
  const fronts: Partial<Record<'ours' | 'clamav' | 'smtp' | 'plain', LabPostfixFront>> = {};
  let plainRun: GatewayRun | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-pf-front-test-'));
    await chmod(dir, 0o711); // Postfix's master opens its lock file below it as user postfix
    ({ corpus, clamd } = await quickCorpusAndClamd(dir));
    const cfg = await writeClamdConfig(dir, clamd);
    const port = await freePort();
    ours = await startServe('milter', port, cfg, dir);
    clamavMilter = await startClamavMilter({ clamdSocket: clamd.socket, dir });
    fronts.ours = await startPostfixFront({ milter: `inet:${port}@127.0.0.1`, sinkPort: await freePort(), name: 'postfix+avbench-milter', pids: [ours.pid, clamd.pid], dir });
    fronts.clamav = await startPostfixFront({ milter: clamavMilter.url, sinkPort: await freePort(), name: 'postfix+clamav-milter', pids: [clamavMilter.pid, clamd.pid], dir });
    // smtpd_proxy_filter = our serve smtp, forwarding to this Postfix's re-injection smtpd.
    const proxyPort = await freePort();
    const reinjectPort = await reinjectPortFor();
    oursSmtp = await startServe('smtp', proxyPort, cfg, dir, ['--forward', `127.0.0.1:${reinjectPort}`]);
    fronts.smtp = await startPostfixFront({ proxyFilter: `127.0.0.1:${proxyPort}`, reinjectPort, sinkPort: await freePort(), name: 'postfix+avbench-smtp', pids: [oursSmtp.pid, clamd.pid], dir });
    // No filter: what Postfix alone changes in transit.
    fronts.plain = await startPostfixFront({ sinkPort: await freePort(), name: 'postfix', dir });
  }, 180_000);

  afterAll(async () => {
    for (const f of Object.values(fronts)) await f?.stop();
    await clamavMilter?.stop();
    await ours?.stop(5_000);
    await oursSmtp?.stop(5_000);
    await clamd?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  /** What plain Postfix does to each file (ALTERED: Postfix's own change in transit). */
  async function plain(): Promise<GatewayRun> {
    plainRun ??= await benchGatewayAgainstDirect(corpus, clamd, fronts.plain!.sut, 'postfix', { concurrency: 8 });
    return plainRun;
  }

  /** Bench one front, assert detection equal to clamd direct message by message, EICAR rejected with `reply`. */
  async function benchFront(key: 'ours' | 'clamav' | 'smtp', name: string, reply: (names: string[]) => string): Promise<void> {
    const pf = fronts[key]!;
    expect(pf.sut).toMatch(new RegExp(`^smtp://127\\.0\\.0\\.1:${pf.port}\\?sink=\\d+&name=${encodeURIComponent(name)}&pid=${pf.pid},\\d+,${clamd.pid}$`));
    const run = await benchGatewayAgainstDirect(corpus, clamd, pf.sut, name, { concurrency: 8, timeoutMs: 30_000 });
    const plainRun = await plain();
    const plainByFile = new Map(plainRun.gw.results.map((r) => [r.file, r]));
    // A difference is Postfix's own change in transit when the plain Postfix run shows it on the same file.
    expectPostfixGatewayLikeDirect('postfix-front', name, run, {
      alteredByPostfix: (file) => plainByFile.get(file)?.errorCode === 'ALTERED',
      reply,
      pids: [pf.pid, clamd.pid],
      note: `${run.gw.throughput.msgsPerSec.toFixed(1)} msg/s at c8 (clamd direct ${run.direct.throughput.msgsPerSec.toFixed(1)}, plain Postfix ${plainRun.gw.throughput.msgsPerSec.toFixed(1)})`,
    });
    const { results } = run;
    expect(validateResults(JSON.parse(JSON.stringify(results)))).toEqual([]);
  }

  it('Postfix + our serve milter: detection equal to clamd direct, message by message; EICAR rejected 550 5.7.1 at end of DATA; every message accounted for, none lost', async () => {
    await benchFront('ours', 'postfix+avbench-milter', (names) => `550 5.7.1 Virus found: ${names.join(', ')}`);
  }, 600_000);

  it('Postfix + clamav-milter: detection equal to clamd direct, message by message; EICAR rejected 550 5.7.1 at end of DATA; every message accounted for, none lost', async () => {
    await benchFront('clamav', 'postfix+clamav-milter', (names) => `550 5.7.1 Virus found: ${names.join(', ')}`);
  }, 600_000);

  it('Postfix + our serve smtp as smtpd_proxy_filter (before the queue): detection equal to clamd direct, message by message; EICAR rejected 550 5.7.1 after DATA; every message accounted for, none lost', async () => {
    await benchFront('smtp', 'postfix+avbench-smtp', (names) => `550 5.7.1 Virus found: ${names.join(', ')}`);
  }, 600_000);

  it('stops: every master gone, its folder removed', async () => {
    for (const f of Object.values(fronts)) {
      await f!.stop();
      expect(alive(f!.pid)).toBe(false);
      expect(existsSync(f!.dir)).toBe(false);
    }
  }, 60_000);
});
