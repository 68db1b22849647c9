/**
 * Issue 15 point 6, AVPKeeper-style re-injection through the real Postfix: a private Postfix
 * whose public smtpd queues every message with `-o content_filter=avscan:dummy` (Postfix
 * FILTER_README's "simple content filter"); the pipe(8) service `avscan` runs the built
 * `avbench deliver --scanner clamd -- /usr/sbin/sendmail -C DIR -G -i -f ${sender} --
 * ${recipient}` as nobody; what passes is re-injected through sendmail → pickup (no
 * content_filter there: no loop) and relayed to the bench driver's sink. The quick corpus goes
 * through it with `bench --sut` next to clamd direct (the same lab clamd) and is compared
 * message by message.
 *
 * After the queue, Postfix has said 250 before deliver sees the message: a detection is a
 * message that never arrives at the sink (the driver's "250 + never arrived → dropped");
 * deliver exits 77 and Postfix bounces the message, its maillog line (found by the queue id
 * of the driver's 250) carrying deliver's "rejected: infected: NAMES", compared with clamd
 * direct's names.
 *
 * Then plain point C through the same real Postfix: a pipe(8) transport into `avbench deliver
 * --on-infected tag --maildir DIR` (nothing relayed, so no sink: the bench's smtp driver
 * cannot judge it, and its lda driver runs the command itself, not behind an MTA); the test
 * sends the quick corpus with the smtp driver and reads every message back from the Maildir.
 */
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClamdAdapter } from '../../adapters/index.js';
import { freePort } from '../../src/core/net.js';
import { readManifest } from '../../src/corpus/manifest.js';
import { createDirectDriver } from '../../src/modes/direct.js';
import { parseVirusStatus } from '../../src/modes/policy.js';
import { createSmtpDriver } from '../../src/modes/smtp/driver.js';
import type { LabClamd } from '../../src/lab/clamd.js';
import { postfixReinjectMasterCf, startPostfixReinject, type LabPostfixReinject } from '../../src/lab/postfix-front.js';
import { startPostfix } from '../../src/lab/postfix.js';
import { alive } from '../../src/lab/up.js';
import { validateResults } from '../../src/results/schema.js';
import { describeReal } from '../helpers/real.js';
import { buildCli, type Build } from '../modes/lda/build.js';
import { benchGatewayAgainstDirect, labelledEicars, quickCorpusAndClamd } from './gateway-helpers.js';
import { startPlainPostfix, type PlainPostfix } from './postfix-helpers.js';

const NOBODY = 65534;

describe('postfixReinjectMasterCf', () => {
  it('adds pickup and a pipe service running as USER; refuses root, postfix and white space', () => {
    const cf = postfixReinjectMasterCf({ argv: ['/usr/bin/node', '/b/bin.js', 'deliver', '--', '/usr/sbin/sendmail', '-f', '${sender}', '--', '${recipient}'], user: 'nobody', maxproc: 10 });
    expect(cf).toMatch(/^pickup {4}unix {2}n {7}- {7}n {7}60 {6}1 {7}pickup$/m);
    expect(cf).toMatch(/^avscan {4}unix {2}- {7}n {7}n {7}- {7}10 {6}pipe\n {2}flags=Rq user=nobody argv=\/usr\/bin\/node \/b\/bin\.js deliver -- \/usr\/sbin\/sendmail -f \$\{sender\} -- \$\{recipient\}$/m);
    expect(() => postfixReinjectMasterCf({ argv: ['a'], user: 'root', maxproc: 1 })).toThrow(/unprivileged/);
    expect(() => postfixReinjectMasterCf({ argv: ['a'], user: 'postfix', maxproc: 1 })).toThrow(/unprivileged/);
    expect(() => postfixReinjectMasterCf({ argv: ['a b'], user: 'nobody', maxproc: 1 })).toThrow(/white space/);
  });
});

await describeReal('Postfix simple content filter → avbench deliver → sendmail re-injection (issue 15.6), through bench --sut', ['postfix', 'sendmail', 'clamd'], () => {
  let dir: string;
  let corpus: string;
  let build: Build;
  let clamd: LabClamd;
  let pf: LabPostfixReinject;
  let sinkPort: number;
  let plain: PlainPostfix;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-pf-reinject-'));
    await chmod(dir, 0o755); // deliver runs as nobody and reads its config here
    ({ corpus, clamd } = await quickCorpusAndClamd(dir));
    build = await buildCli();
    await chmod(build.dir, 0o755);
    // nobody reaches the lab clamd over TCP (its unix socket's folder is private).
    const cfg = join(dir, 'avbench.config.json');
    await writeFile(cfg, JSON.stringify({ scanners: { clamd: { type: 'clamd', host: clamd.host, port: clamd.port } } }), { mode: 0o644 });
    sinkPort = await freePort();
    pf = await startPostfixReinject({ relayPort: sinkPort, deliver: build.deliver, deliverOptions: ['--scanner', 'clamd', '--config', cfg], maxproc: 10, dir });
    plain = await startPlainPostfix(dir);
  }, 400_000);

  afterAll(async () => {
    await pf?.stop();
    await plain?.stop();
    await clamd?.stop();
    await build?.remove();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('master.cf has the filter on the public smtpd only, pickup, and the pipe to deliver → sendmail -C', async () => {
    const cf = await readFile(join(pf.configDir, 'master.cf'), 'utf8');
    expect(cf).toContain(`127.0.0.1:${pf.port} inet n - n - - smtpd\n  -o content_filter=avscan:dummy\n`);
    expect(cf).toContain(` deliver --scanner clamd --config ${join(dir, 'avbench.config.json')} -- /usr/sbin/sendmail -C ${pf.configDir} -G -i -f \${sender} -- \${recipient}\n`);
    expect(pf.sutUrl(2526, { pids: [7] })).toBe(`smtp://127.0.0.1:${pf.port}?sink=2526&grace=10&name=postfix%2Bavbench-deliver&pid=${pf.pid},7`);
  });

  it('detects what clamd direct detects, message by message (a detection = bounced by Postfix, never at the sink); EICAR bounced; every message accounted for, none lost', async () => {
    const name = 'postfix+avbench-deliver';
    const sut = pf.sutUrl(sinkPort, { pids: [clamd.pid] });
    const t0 = Date.now();
    const { manifest, results, byFile, direct, gw } = await benchGatewayAgainstDirect(corpus, clamd, sut, name, { concurrency: 16, timeoutMs: 60_000, cold: false });
    const wallS = (Date.now() - t0) / 1000;
    // The same Postfix without a filter: what Postfix alone does to the corpus (Postfix's own changes).
    const plainRun = await benchGatewayAgainstDirect(corpus, clamd, plain.sut, 'postfix', { concurrency: 8, cold: false });
    const plainByFile = new Map(plainRun.gw.results.map((r) => [r.file, r]));
    const log = await pf.log();
    const differences: string[] = [];
    const explained: string[] = [];
    let bounced = 0;
    for (const r of gw.results) {
      const d = byFile.get(r.file)!;
      const m = /^250 2\.0\.0 Ok: queued as ([0-9A-F]+)$/.exec(r.smtpReply ?? '');
      expect(`${r.file} ${m === null ? r.smtpReply : 'queued'}`).toBe(`${r.file} queued`);
      const qid = m![1]!;
      // deliver's exit 77 → Postfix bounces: `QID: to=<...>, relay=avscan, ..., dsn=5.7.0, status=bounced (... rejected: infected: NAMES ...)`.
      const line = new RegExp(`: ${qid}: to=<[^>]*>, relay=avscan, .*dsn=5\\.7\\.0, status=bounced \\(.*rejected: infected: ([^()]+?)\\s*\\)$`, 'm').exec(log);
      if (line !== null) bounced++;
      const names = line === null ? [] : line[1]!.split(', ');
      const key = (v: string, n: readonly string[]): string => `${v} ${[...new Set(n)].sort().join(',')}`;
      const got = r.fate === 'dropped' && line !== null ? key('infected', names) : key(r.verdict, r.names);
      if (got !== key(d.verdict, d.names)) {
        const text = `${r.file}: direct ${key(d.verdict, d.names)} · ${name} ${r.fate} ${got} ${r.errorCode ?? ''}`.trim();
        // Postfix's own change in transit (NUL bytes, long lines...): the plain Postfix run delivers the same file ALTERED.
        if (d.verdict === 'clean' && r.errorCode === 'ALTERED' && plainByFile.get(r.file)?.errorCode === 'ALTERED') explained.push(text);
        else differences.push(text);
      }
      if (d.verdict === 'infected') expect(`${r.file} ${r.fate}`).toBe(`${r.file} dropped`);
    }
    // How long a passing message took from the driver's first byte to its arrival at the sink: what grace= must exceed.
    const arrivedMs = gw.results.filter((r) => r.fate === 'delivered').map((r) => r.ms).sort((a, b) => a - b);
    process.stderr.write(
      `[postfix-reinject] delivered messages: median ${arrivedMs[Math.floor(arrivedMs.length / 2)]?.toFixed(0)} ms, max ${arrivedMs.at(-1)?.toFixed(0)} ms to the sink (grace 10 s)\n[postfix-reinject] ${name}: ${gw.messages} messages, detection ${gw.detection.tp}/${gw.detection.tp + gw.detection.fn} (clamd direct ${direct.detection.tp}/${direct.detection.tp + direct.detection.fn}), bounced ${bounced}, ` +
        `fates ${JSON.stringify(gw.fates)}, ${gw.throughput.msgsPerSec.toFixed(2)} msg/s at c16 (grace-bound: a blocked message holds its session 10 s; clamd direct ${direct.throughput.msgsPerSec.toFixed(1)}), wall ${wallS.toFixed(0)} s, explained ${explained.length}\n`,
    );
    for (const l of explained) process.stderr.write(`[postfix-reinject]   explained: ${l}\n`);
    expect(differences).toEqual([]);
    // What Postfix changes is only among messages the corpus marks `expected: any`.
    const labels = new Map(manifest.map((e) => [e.file, e]));
    for (const l of explained) expect(`${l} ${labels.get(l.split(':')[0]!)!.expected}`).toBe(`${l} any`);
    expect(bounced).toBe(direct.results.filter((x) => x.verdict === 'infected').length);
    const eicars = labelledEicars(manifest, gw.results);
    for (const r of eicars) expect(`${r.file} ${r.fate}`).toBe(`${r.file} dropped`);
    expect(eicars.length).toBeGreaterThan(10);
    expect(gw.resources?.scanner?.pids).toEqual(expect.arrayContaining([pf.pid, clamd.pid]));
    expect(validateResults(JSON.parse(JSON.stringify(results)))).toEqual([]);
  }, 900_000);

  it('Postfix pipe → avbench deliver --maildir (plain point C, --on-infected tag): every message in the Maildir exactly once, its X-Virus-Status as clamd direct finds it', async () => {
    const maildir = join(dir, 'Maildir');
    await mkdir(maildir, { mode: 0o700 });
    await chown(maildir, NOBODY, NOBODY);
    const cfg = join(dir, 'avbench.config.json');
    // No sink: mail for recipient.localhost goes to the pipe; nothing is relayed.
    const pipe = await startPostfix({
      relayPort: await freePort(),
      pipeTransports: [{ name: 'avbench', domain: 'recipient.localhost', user: 'nobody', argv: [...build.deliver, '--scanner', 'clamd', '--config', cfg, '--on-infected', 'tag', '--no-fsync', '--maildir', maildir] }],
      dir,
    });
    const adapter = createClamdAdapter({ name: 'clamd', socket: clamd.socket });
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${pipe.port}`, sink: false, sessions: 8, timeoutMs: 60_000 });
    try {
      const direct = createDirectDriver({ scanners: [adapter] });
      await driver.open();
      const manifest = await readManifest(corpus);
      const want = new Map<string, string>();
      const key = (v: string, n: readonly string[]): string => `${v} ${[...new Set(n)].sort().join(',')}`;
      const t0 = Date.now();
      await Promise.all(
        manifest.map(async (e) => {
          const raw = await readFile(join(corpus, e.file));
          const [dv, sv] = await Promise.all([direct.send({ file: e.file, raw }), driver.send({ file: e.file, raw: Buffer.concat([Buffer.from(`X-Test-File: ${e.file}\r\n`), raw]) })]);
          want.set(e.file, key(dv.verdict, dv.names));
          // Postfix queues every message (250); the pipe decides after the queue.
          expect(`${e.file} ${sv.fate} ${sv.smtpReply?.slice(0, 3)}`).toBe(`${e.file} delivered 250`);
        }),
      );
      const deadline = Date.now() + 300_000;
      while (Date.now() < deadline && (await readdir(join(maildir, 'new')).catch(() => [])).length < manifest.length) await new Promise((r) => setTimeout(r, 250));
      const wallS = (Date.now() - t0) / 1000;
      const got = new Map<string, string[]>();
      for (const f of await readdir(join(maildir, 'new'))) {
        const text = (await readFile(join(maildir, 'new', f))).toString('latin1');
        const file = /^X-Test-File: (\S+)\r?$/m.exec(text)?.[1] ?? `?${f}`;
        const status = parseVirusStatus(/^X-Virus-Status: (.*?)\r?$/m.exec(text)?.[1] ?? '');
        got.set(file, [...(got.get(file) ?? []), status === undefined ? 'no status' : key(status.verdict, status.names)]);
      }
      const log = await pipe.log();
      process.stderr.write(
        `[postfix-reinject] pipe → deliver --maildir: ${manifest.length} sent, ${got.size} in the Maildir, ${(manifest.length / wallS).toFixed(1)} msg/s end to end at 8 sessions (first 250 to last Maildir file, ${wallS.toFixed(0)} s), ` +
          `${(log.match(/ status=deferred /g) ?? []).length} deferred, ${(log.match(/ status=bounced /g) ?? []).length} bounced\n`,
      );
      const differences: string[] = [];
      for (const e of manifest) {
        const g = got.get(e.file) ?? [];
        if (g.length !== 1 || g[0] !== want.get(e.file)) differences.push(`${e.file}: direct ${want.get(e.file)} · Maildir ${g.length === 0 ? 'missing' : g.join(' | ')}`);
      }
      expect(differences).toEqual([]);
      expect([...got.keys()].filter((f) => !want.has(f))).toEqual([]);
    } finally {
      await driver.close();
      await adapter.close();
      await pipe.stop();
    }
  }, 600_000);

  it('stops: master gone, its folder removed', async () => {
    for (const p of [pf, plain]) {
      await p.stop();
      expect(alive(p.pid)).toBe(false);
      expect(existsSync(p.dir)).toBe(false);
    }
  }, 60_000);
});
