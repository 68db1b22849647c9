/**
 * rspamd (Debian `rspamd`) as a real system under test (issue 15.4): its antivirus module
 * with a clamav rule pointed at a lab clamd, reached as a milter (its proxy worker in milter
 * mode), started here on loopback from a generated config (src/lab/rspamd.ts), no Redis.
 * - `bench --sut milter://…?name=rspamd`: the quick corpus through rspamd equals clamd direct
 *   message by message, every message accounted for, none lost, EICAR rejected.
 * - Postfix with `smtpd_milters` → rspamd: EICAR refused after DATA, clean relayed to a sink.
 * - rspamd's own part selection (`scan_mime_parts = true`, its default): what it skips, and
 *   the 3.4 bug that disables the rule when text parts are asked for.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClamdAdapter } from '../../adapters/index.js';
import { scanMessage } from '../../src/core/scan.js';
import { freePort } from '../../src/core/net.js';
import { generateCorpus } from '../../src/corpus/generate.js';
import { readManifest } from '../../src/corpus/manifest.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { startPostfix, type LabPostfix } from '../../src/lab/postfix.js';
import { rspamdConfig, startRspamd, type LabRspamd } from '../../src/lab/rspamd.js';
import { EICAR_NDB_NAME } from '../../src/lab/signatures.js';
import { createMilterDriver } from '../../src/modes/milter/driver.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';
import { alive } from '../../src/daemon/pidfile.js';
import { describeReal } from '../helpers/real.js';
import { benchBesideDirect, quickCorpusAndClamd } from './gateway-helpers.js';
import { recordingSink, swaks } from './postfix-helpers.js';

const withId = (id: string, raw: Buffer): Buffer => Buffer.concat([Buffer.from(`X-Avbench-Id: ${id}\r\n`), raw]);
const clean = (id: string): Buffer => withId(id, mailWithAttachment('notes.txt', Buffer.from('minutes of the meeting\n')));
const bad = (id: string): Buffer => withId(id, mailWithAttachment('eicar.com', EICAR));

/** verdict and sorted names of one per-message result, for message-by-message comparison. */
const key = (r: { verdict: string; names: readonly string[] }): string => `${r.verdict} ${[...new Set(r.names)].sort().join(',')}`;

it('generates a config reduced to the antivirus module, with no Redis section', () => {
  const conf = rspamdConfig({
    folder: '/x',
    milter: 1,
    normalPort: 2,
    clamd: { host: '127.0.0.1', port: 3 },
    action: 'reject',
    scanMimeParts: false,
    onFail: 'tempfail',
    clamdTimeoutSec: 60,
  });
  expect(conf).toContain('milter = yes;');
  expect(conf).toContain('servers = "127.0.0.1:3";');
  expect(conf).toContain('scan_mime_parts = false;');
  expect(conf).toContain('expression = "CLAM_VIRUS_FAIL";');
  expect(conf).not.toMatch(/redis/i);
  expect(conf).not.toMatch(/^lua = /m);
});

await describeReal('rspamd antivirus module (clamav rule) as a milter', ['rspamd', 'clamd'], () => {
  let dir: string;
  let corpus: string;
  let clamd: LabClamd;
  let rs: LabRspamd;
  /** rspamd's own default part selection: scan_mime_parts = true. */
  let rsParts: LabRspamd;
  let pids: number[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-rspamd-test-'));
    ({ corpus, clamd } = await quickCorpusAndClamd(dir));
    // Not inside `dir` (0700, root's): rspamd's workers run as _rspamd and must reach their folder.
    rs = await startRspamd({ clamd: { host: clamd.host, port: clamd.port } });
    rsParts = await startRspamd({ clamd: { host: clamd.host, port: clamd.port }, scanMimeParts: true });
    pids = [...rs.pids, ...rsParts.pids, clamd.pid];
  }, 120_000);

  afterAll(async () => {
    await rs?.stop();
    await rsParts?.stop();
    await clamd?.stop();
    await rm(dir, { recursive: true, force: true });
    for (const p of pids) expect(alive(p), `pid ${p} still running`).toBe(false);
  }, 60_000);

  it('runs from its generated config on loopback: main + proxy + normal worker, antivirus engine added, no Redis', async () => {
    expect(rs.url).toMatch(/^milter:\/\/127\.0\.0\.1:\d+$/);
    expect(rs.pids.length).toBeGreaterThanOrEqual(3);
    for (const p of rs.pids) expect(alive(p)).toBe(true);
    const log = await readFile(rs.logFile, 'utf8');
    expect(log).toContain('added antivirus engine clamav -> CLAM_VIRUS');
    // Lines naming Redis are only "disabling unconfigured lua module" ones: nothing connects to it.
    expect(log.split('\n').filter((l) => /redis/i.test(l) && !/unconfigured|has not been configured/.test(l))).toEqual([]);
  });

  it('EICAR → rejected 554 5.7.1 naming the virus; clean → accepted', async () => {
    const d = createMilterDriver({ url: rs.url, concurrency: 2, timeoutMs: 30_000 });
    await d.open();
    try {
      const [b, c] = await Promise.all([d.send({ file: 'b', raw: bad('b') }), d.send({ file: 'c', raw: clean('c') })]);
      expect(b).toMatchObject({ fate: 'rejected', verdict: 'infected', names: [EICAR_NDB_NAME], milterAction: `replycode 554 5.7.1 clamav: virus found: ${EICAR_NDB_NAME}` });
      expect(c).toMatchObject({ fate: 'delivered', verdict: 'clean', milterAction: 'accept' });
    } finally {
      await d.close();
    }
  });

  it('bench --sut: the quick corpus through rspamd equals clamd direct message by message; all accounted for, none lost', async () => {
    const sut = `${rs.url}?name=rspamd&pid=${[...rs.pids, clamd.pid].join(',')}`;
    const results = await benchBesideDirect(corpus, clamd, [sut, `${rsParts.url}?name=rspamd-parts`], { concurrency: 4, timeoutMs: 60_000 });
    const direct = results.runs.find((r) => r.id === 'clamd/direct/c4')!;
    const via = results.runs.find((r) => r.id === 'rspamd/milter/c4')!;
    expect(direct, results.runs.map((r) => r.id).join(' ')).toBeDefined();
    expect(via, results.runs.map((r) => r.id).join(' ')).toBeDefined();
    const manifest = await readManifest(corpus);
    expect(via.messages).toBe(manifest.length);
    expect(via.results.length).toBe(manifest.length);
    expect(via.fates.lost).toBe(0);
    const f = via.fates;
    expect(f.delivered + f.tagged + f.rejected + f.tempfailed + f.dropped + f.lost).toBe(manifest.length);
    const byFile = new Map(direct.results.map((r) => [r.file, r]));
    const differ: string[] = [];
    for (const r of via.results) {
      const d = byFile.get(r.file)!;
      if (key(d) !== key(r)) differ.push(`${r.file}: direct ${key(d)} · rspamd ${key(r)} (${r.fate} ${r.milterAction ?? ''})`);
    }
    expect(differ).toEqual([]);
    // Every infected message rejected, every clean one delivered: no error, no tempfail.
    expect(via.results.filter((r) => r.verdict === 'infected').every((r) => r.fate === 'rejected')).toBe(true);
    expect(via.results.filter((r) => r.verdict === 'clean').every((r) => r.fate === 'delivered')).toBe(true);
    expect(via.detection.errors).toBe(0);
    expect(f.rejected).toBeGreaterThan(10);
    expect(via.resources?.scanner?.pids).toEqual(expect.arrayContaining([rs.pid, clamd.pid]));

    // rspamd's default (scan_mime_parts = true) sends clamd only the parts it selects:
    // attachments and parts whose detected type wants an AV check — never a text part
    // (scan_text_mime needs text_part_min_words, which fails in 3.4: next test). What it
    // misses is exactly EICAR in a text part: the whole text/plain body, and uuencode blocks
    // inside a text part (clamd finds them when it parses the whole message).
    const parts = results.runs.find((r) => r.id === 'rspamd-parts/milter/c4')!;
    expect(parts.fates.lost).toBe(0);
    const labels = new Map(manifest.map((e) => [e.file, e]));
    const missed = parts.results.filter((r) => key(r) !== key(byFile.get(r.file)!));
    for (const r of missed) {
      const e = labels.get(r.file)!;
      expect(`${r.file} ${key(byFile.get(r.file)!).split(' ')[0]} → ${r.verdict} ${r.fate}`).toBe(`${r.file} infected → clean delivered`);
      expect(['plain', 'uuencode', 'broken-base64'], `${r.file} ${e.category}`).toContain(e.category);
    }
    // Every such message of the corpus is missed, and nothing else.
    const textBorne = manifest.filter((e) => (e.category === 'plain' || e.category === 'uuencode') && e.expected === 'infected');
    expect(textBorne.length).toBeGreaterThan(3);
    expect(missed.map((r) => r.file)).toEqual(expect.arrayContaining(textBorne.map((e) => e.file)));
  }, 300_000);

  it('rspamd 3.4: scan_text_mime + text_part_min_words breaks the rule (a Lua error per message): nothing is scanned, EICAR passes', async () => {
    // common.lua calls get_words_count() on a mime part (it is a text-part method): the
    // CLAM_VIRUS callback fails before any INSTREAM, no CLAM_VIRUS_FAIL symbol is set (so
    // the force_actions tempfail does not fire), and the message is accepted. Reproduced, not hidden.
    const own = await startRspamd({ clamd: { host: clamd.host, port: clamd.port }, scanMimeParts: true, extraRule: ['scan_text_mime = true;', 'text_part_min_words = 1;'] });
    const d = createMilterDriver({ url: own.url, concurrency: 1, timeoutMs: 30_000 });
    try {
      await d.open();
      const o = await d.send({ file: 'a', raw: bad('a') });
      expect(o).toMatchObject({ fate: 'delivered', verdict: 'clean' });
      expect(await readFile(own.logFile, 'utf8')).toMatch(/call to \(CLAM_VIRUS\) failed .*get_words_count/);
    } finally {
      await d.close();
      await own.stop();
    }
  }, 60_000);

  it('clamd unreachable → 451 4.7.1 tempfail (force_actions on CLAM_VIRUS_FAIL), not a silent accept', async () => {
    const own = await startRspamd({ clamd: { host: '127.0.0.1', port: await freePort() }, clamdTimeoutSec: 2 });
    const d = createMilterDriver({ url: own.url, concurrency: 1, timeoutMs: 30_000 });
    try {
      await d.open();
      const o = await d.send({ file: 'c', raw: clean('c') });
      expect(o).toMatchObject({ fate: 'tempfailed', verdict: 'error', errorCode: 'TEMPFAIL' });
      expect(o.milterAction).toMatch(/^replycode 451 4\.7\.1 /);
    } finally {
      await d.close();
      await own.stop();
    }
  }, 60_000);
});

await describeReal('Postfix + rspamd (proxy worker in milter mode) + clamd', ['rspamd', 'clamd', 'postfix', 'swaks'], () => {
  let sink: Awaited<ReturnType<typeof recordingSink>>;
  let pf: LabPostfix;
  let clamd: LabClamd;
  let rs: LabRspamd;
  let pids: number[] = [];
  beforeAll(async () => {
    sink = await recordingSink();
    clamd = await startClamd();
    rs = await startRspamd({ clamd: { host: clamd.host, port: clamd.port } });
    pf = await startPostfix({ relayPort: sink.port, milter: rs.socket });
    pids = [...rs.pids, clamd.pid, pf.pid];
  }, 120_000);
  afterAll(async () => {
    await pf?.stop();
    await rs?.stop();
    await clamd?.stop();
    await sink?.close();
    for (const p of pids) expect(alive(p), `pid ${p} still running`).toBe(false);
  }, 60_000);

  it('relays clean mail to the sink; refuses EICAR after DATA with 554 5.7.1 naming the virus, nothing relayed', async () => {
    const ok = await swaks(pf.port, { raw: clean('pf-clean') });
    expect(ok.exitCode, ok.out).toBe(0);
    expect(await pf.waitForSent(1, Date.now() + 30_000)).toBe(true);
    expect(sink.messages.at(-1)!.toString('latin1')).toContain('X-Avbench-Id: pf-clean');
    const r = await swaks(pf.port, { raw: bad('pf-bad') });
    expect(r.exitCode, r.out).toBe(26);
    expect(r.out).toMatch(new RegExp(`<\\*\\* 554 5\\.7\\.1 .*${EICAR_NDB_NAME.replace(/\./g, '\\.')}`));
    await new Promise((res) => setTimeout(res, 1_500));
    expect(sink.messages.length).toBe(1);
    expect(await pf.sentCount()).toBe(1);
  }, 90_000);

  it('rspamd on a unix socket (mode 0666 in its folder): Postfix reaches it as user postfix; EICAR refused, clean relayed', async () => {
    const own = await startRspamd({ clamd: { host: clamd.host, port: clamd.port }, listen: 'unix' });
    expect(own.url).toMatch(/^milter\+unix:\/\/\/.+rspamd-milter\.sock$/);
    const pf2 = await startPostfix({ relayPort: sink.port, milter: own.socket });
    try {
      const before = sink.messages.length;
      const ok = await swaks(pf2.port, { raw: clean('pf-unix-clean') });
      expect(ok.exitCode, ok.out).toBe(0);
      const r = await swaks(pf2.port, { raw: bad('pf-unix-bad') });
      expect(r.exitCode, r.out).toBe(26);
      expect(r.out).toMatch(/<\*\* 554 5\.7\.1 clamav: virus found: /);
      expect(await pf2.waitForSent(1, Date.now() + 30_000)).toBe(true);
      expect(sink.messages.slice(before).map((m) => /X-Avbench-Id: (\S+)/.exec(m.toString('latin1'))?.[1])).toEqual(['pf-unix-clean']);
    } finally {
      await pf2.stop();
      await own.stop();
    }
  }, 90_000);

  it('the first 24 messages of the quick corpus through Postfix → rspamd: refused (554) exactly when clamd direct finds a virus, else relayed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'avbench-rspamd-pf-'));
    const adapter = createClamdAdapter({ socket: clamd.socket, name: 'clamd' } as never);
    try {
      await generateCorpus({ out: dir, profile: 'quick' });
      const entries = (await readManifest(dir)).slice(0, 24);
      const sentBefore = await pf.sentCount();
      const rows: string[] = [];
      let relayed = 0;
      for (const e of entries) {
        const raw = await readFile(join(dir, e.file));
        const direct = await scanMessage(raw, { scanners: [adapter] });
        const r = await swaks(pf.port, { raw });
        const want = direct.status === 'infected' ? 26 : 0;
        if (want === 0) relayed++;
        rows.push(`${e.file} ${direct.status} swaks ${r.exitCode}${r.exitCode === want ? '' : ` (want ${want})`}`);
        if (want === 26) expect(r.out, e.file).toMatch(/<\*\* 554 5\.7\.1 clamav: virus found: /);
      }
      expect(rows.filter((x) => x.includes('want'))).toEqual([]);
      expect(rows.some((x) => x.includes(' infected ')) && relayed > 0).toBe(true);
      // Every accepted message reaches the sink (none lost in Postfix's queue).
      expect(await pf.waitForSent(sentBefore + relayed, Date.now() + 60_000)).toBe(true);
    } finally {
      await adapter.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
