/**
 * amavisd-new (Debian `amavisd-new`) as a real system under test (issue 15.1): a private
 * Postfix whose public smtpd queues every message with `content_filter` → a real amavisd-new
 * (started here from a generated config, @av_scanners = the lab clamd over its unix socket)
 * → Postfix's re-injection listener → the bench driver's sink. The quick corpus goes through
 * it with the bench's `--sut` runner next to clamd direct and is compared message by message.
 *
 * After the queue, Postfix has said 250 to the sender before amavisd sees the message: a
 * detection is a message that never arrives at the sink (the driver's "250 + never arrived →
 * dropped"). amavisd's D_REJECT answers Postfix 554 5.7.0 and Postfix bounces the message;
 * the maillog line of that bounce, found by the queue id in the driver's 250 reply, names the
 * virus, and the names are compared with clamd direct's too.
 *
 * Before the queue, amavisd-milter (Debian amavisd-milter) hands each message to the same
 * amavisd over AM.PDP: the milter driver gets its 554 5.7.0 reject at end of DATA, names and all.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/core/net.js';
import { readManifest } from '../../src/corpus/manifest.js';
import { amavisConfig, findAmavisd, startAmavis, startAmavisdMilter, type LabAmavis, type LabAmavisdMilter } from '../../src/lab/amavis.js';
import { which } from '../../src/core/exec.js';
import type { LabClamd } from '../../src/lab/clamd.js';
import { postfixAfterQueueMasterCf, startPostfixAfterQueue, type LabPostfix } from '../../src/lab/postfix.js';
import { alive } from '../../src/lab/up.js';
import { validateResults } from '../../src/results/schema.js';
import { describeReal } from '../helpers/real.js';
import { benchBesideDirect, expectAllAccountedFor, expectRunIds, labelledEicars, quickCorpusAndClamd, reportMissingProgram } from './gateway-helpers.js';
import { startPlainPostfix, type PlainPostfix } from './postfix-helpers.js';

describe('amavisConfig and the after-queue master.cf', () => {
  it('listens on loopback, forwards to the re-injection port, scans with clamd only, rejects viruses, no spam checks', () => {
    const conf = amavisConfig({ home: '/tmp/a/home', port: 10024, reinjectPort: 10025, clamdSocket: '/tmp/c/clamd.sock' });
    expect(conf).toContain("$inet_socket_bind = '127.0.0.1';");
    expect(conf).toContain('$inet_socket_port = 10024;');
    expect(conf).toContain("$forward_method = 'smtp:[127.0.0.1]:10025';");
    expect(conf).toContain("$MYHOME         = '/tmp/a/home';");
    expect(conf).toContain('$final_virus_destiny      = D_REJECT;');
    expect(conf).toContain('@bypass_spam_checks_maps   = (1);');
    expect(conf).toMatch(/@av_scanners = \(\n {2}\['ClamAV-clamd', \\&ask_daemon, \["CONTSCAN \{\}\\n", '\/tmp\/c\/clamd\.sock'\],/);
    expect(conf.match(/\['[^']+', \\&ask_/g)).toHaveLength(1);
    expect(conf).toContain("$daemon_user  = 'amavis';");
  });
  it('clears content_filter on the re-injection listener', () => {
    const cf = postfixAfterQueueMasterCf({ filterConcurrency: 4, reinjectPort: 10025 });
    expect(cf).toMatch(/^avbench-filter unix .* 4 {7}smtp$/m);
    expect(cf).toMatch(/^127\.0\.0\.1:10025 inet n - n - - smtpd\n {2}-o content_filter=\n/m);
  });
});

const amavisd = (await findAmavisd()) === undefined || (await which('amavisd-milter')) === undefined ? undefined : await findAmavisd();
if (amavisd === undefined) reportMissingProgram('amavisd-new after queue', 'amavisd-new', 'amavisd-new: needs the Debian packages amavisd-new and amavisd-milter (apt-get install amavisd-new amavisd-milter; see docs/gateways.md)');

await describeReal('amavisd-new → clamd: after the queue behind Postfix, and before it through amavisd-milter, through bench --sut', ['clamd', 'postfix'], () => {
  if (amavisd === undefined) return;
  let dir: string;
  let corpus: string;
  let clamd: LabClamd;
  let amavis: LabAmavis;
  let milter: LabAmavisdMilter;
  let postfix: LabPostfix & { reinjectPort: number };
  let sinkPort: number;
  let plainPostfix: PlainPostfix;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-amavis-test-'));
    // amavisd (user amavis) reads its config and reaches clamd's socket below this folder.
    await chmod(dir, 0o711);
    ({ corpus, clamd } = await quickCorpusAndClamd(dir));
    sinkPort = await freePort();
    const reinjectPort = await freePort();
    amavis = await startAmavis({ clamdSocket: clamd.socket, reinjectPort, dir, maxServers: 4, pdpSocket: true });
    milter = await startAmavisdMilter({ amavisSocket: amavis.pdpSocket!, workDir: amavis.pdpWorkDir!, maxConns: 4, dir });
    postfix = await startPostfixAfterQueue({ relayPort: sinkPort, filterPort: amavis.port, filterConcurrency: 4, reinjectPort, dir });
    plainPostfix = await startPlainPostfix(dir);
  }, 180_000);

  afterAll(async () => {
    await postfix?.stop();
    await plainPostfix?.stop();
    await milter?.stop();
    await amavis?.stop();
    await clamd?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('detects what clamd direct detects, message by message (a detection = never arrives); EICAR never arrives; none lost', async () => {
    const manifest = await readManifest(corpus);
    const results = await benchBesideDirect(
      corpus,
      clamd,
      [
        `smtp://127.0.0.1:${postfix.port}?sink=${sinkPort}&name=amavisd-new&pid=${postfix.pid},${amavis.pid},${clamd.pid}`,
        // The same Postfix setup without a filter: what Postfix alone does to the corpus.
        plainPostfix.sut,
      ],
      { concurrency: 8, timeoutMs: 30_000 },
    );
    expectRunIds(results, ['clamd/direct/c8', 'amavisd-new/smtp/c8', 'postfix/smtp/c8']);
    const [direct, gw, plain] = results.runs as [(typeof results.runs)[0], (typeof results.runs)[0], (typeof results.runs)[0]];
    expectAllAccountedFor(gw, manifest.length);
    expect(gw.results).toHaveLength(manifest.length);

    const nulFiles = new Set<string>();
    for (const e of manifest) if ((await readFile(join(corpus, e.file))).includes(0)) nulFiles.add(e.file);
    // Postfix takes every message (250 queued as ID) before amavisd sees it.
    const queueIds = new Map<string, string>();
    for (const r of gw.results) {
      const m = /^250 2\.0\.0 Ok: queued as ([0-9A-F]+)$/.exec(r.smtpReply ?? '');
      expect(`${r.file} ${m === null ? r.smtpReply : 'queued'}`).toBe(`${r.file} queued`);
      queueIds.set(r.file, m![1]!);
    }
    // A message is detected when it did not arrive (dropped); a clean one arrives (delivered),
    // so a clean message that never arrived would show here as a difference, not pass as a detection.
    const log = await postfix.log();
    const amavisLog = await readFile(amavis.logFile, 'utf8');
    const byFile = new Map(direct.results.map((r) => [r.file, r]));
    const plainByFile = new Map(plain.results.map((r) => [r.file, r]));
    const differences: string[] = [];
    for (const r of gw.results) {
      const d = byFile.get(r.file)!;
      const fate = d.verdict === 'infected' ? 'dropped' : 'delivered';
      if (r.verdict !== d.verdict || r.fate !== fate) differences.push(`${r.file} direct ${d.verdict} · amavisd-new ${r.fate} ${r.verdict} ${r.errorCode ?? ''}`.trim());
      // Postfix's bounce line for that queue id names what amavisd found (its 554 to Postfix).
      const qid = queueIds.get(r.file)!;
      const bounced = new RegExp(`: ${qid}: to=<[^>]*>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${amavis.port}, .*status=bounced \\(host \\S+ said: 554 5\\.7\\.0 Reject, id=\\S+ - INFECTED: ([^()]+) \\(in reply to end of DATA command\\)\\)`).exec(log);
      if (d.verdict === 'infected') {
        const names = bounced?.[1]?.split(', ') ?? [];
        if ([...new Set(names)].sort().join(',') !== [...new Set(d.names)].sort().join(',')) differences.push(`${r.file} names: direct ${d.names.join(',')} · amavisd-new ${names.join(',')}`);
      } else if (bounced !== null) expect(r.fate).toBe('dropped');
    }
    // Each difference is the programs' own behaviour, reproduced here:
    const explained = (line: string): boolean => {
      const file = line.split(' ')[0]!;
      const e = manifest.find((x) => x.file === file)!;
      if (line.endsWith('amavisd-new delivered error ALTERED')) {
        // (1) Postfix itself changes the message (NUL bytes, binary garbage: the plain Postfix run
        // beside it, no filter, delivers the same file ALTERED), or (2) amavisd-new replaces NUL
        // bytes when it forwards ("smtp forwarding: SANITIZED n NULL byte(s)" in its log).
        return plainByFile.get(file)?.errorCode === 'ALTERED' || (nulFiles.has(file) && /smtp forwarding: SANITIZED \d+ NULL byte/.test(amavisLog));
      }
      // (3) EICAR under 200 nested multiparts: clamd, given the whole message, stops at its own
      // recursion limit and says OK; amavisd-new decodes every level itself (MIME-tools) and hands
      // clamd the decoded leaf, so it finds EICAR and Postfix bounces the message.
      return e.category === 'deep-nesting' && line.endsWith('amavisd-new dropped infected') && new RegExp(`Queue-ID: ${queueIds.get(file)}\\b`).test(amavisLog.split('\n').filter((l) => l.includes('Blocked INFECTED (Eicar')).join('\n'));
    };
    expect(differences.filter((line) => !explained(line))).toEqual([]);
    // Only messages the corpus marks `expected: any` (malformed) differ.
    for (const line of differences) expect(`${line} ${manifest.find((x) => x.file === line.split(' ')[0])!.expected}`).toBe(`${line} any`);

    // EICAR-family messages labelled infected never arrive.
    const eicars = labelledEicars(manifest, gw.results);
    for (const r of eicars) expect(`${r.file} ${r.fate}`).toBe(`${r.file} dropped`);
    expect(eicars.length).toBeGreaterThan(10);
    expect(gw.resources?.scanner?.pids).toEqual(expect.arrayContaining([amavis.pid, clamd.pid]));
    expect(validateResults(JSON.parse(JSON.stringify(results)))).toEqual([]);
  }, 600_000);

  it('amavisd-milter before the queue: the same verdicts and names as clamd direct, EICAR rejected 554 5.7.0 at end of DATA, none lost', async () => {
    const manifest = await readManifest(corpus);
    const results = await benchBesideDirect(corpus, clamd, [`${milter.url}?name=amavisd-milter&pid=${milter.pid},${amavis.pid},${clamd.pid}`], { concurrency: 4, timeoutMs: 30_000 });
    expectRunIds(results, ['clamd/direct/c4', 'amavisd-milter/milter/c4']);
    const [direct, gw] = results.runs as [(typeof results.runs)[0], (typeof results.runs)[0]];
    expectAllAccountedFor(gw, manifest.length);
    expect(gw.fates.tempfailed).toBe(0);
    const byFile = new Map(direct.results.map((r) => [r.file, r]));
    const key = (r: { verdict: string; names: readonly string[] }): string => `${r.verdict} ${[...new Set(r.names)].sort().join(',')}`;
    const differences = gw.results.filter((r) => key(r) !== key(byFile.get(r.file)!)).map((r) => `${r.file} direct ${key(byFile.get(r.file)!)} · amavisd-milter ${r.fate} ${key(r)}`);
    // The one difference, as after the queue: EICAR under 200 nested multiparts, which clamd
    // given the whole message does not reach and amavisd-new's own MIME decoding does.
    const deep = manifest.filter((e) => e.category === 'deep-nesting' && (e as { variant?: string }).variant === 'eicar-at-bottom' && byFile.get(e.file)!.verdict === 'clean');
    expect(differences).toEqual(deep.map((e) => `${e.file} direct clean  · amavisd-milter rejected infected Eicar-Test-NDB.UNOFFICIAL`));
    for (const r of gw.results) {
      if (r.verdict !== 'infected') continue;
      expect(`${r.file} ${r.fate} ${r.milterAction}`).toBe(`${r.file} rejected ${`replycode 554 5.7.0 Reject, id=${/id=(\S+)/.exec(r.milterAction ?? '')?.[1]} - INFECTED: ${r.names.join(', ')}`}`);
    }
    const eicars = labelledEicars(manifest, gw.results);
    expect(eicars.length).toBeGreaterThan(10);
    for (const r of eicars) expect(`${r.file} ${r.fate}`).toBe(`${r.file} rejected`);
    expect(validateResults(JSON.parse(JSON.stringify(results)))).toEqual([]);
  }, 600_000);

  it('stops: no amavisd process left, its folder removed', async () => {
    await milter.stop();
    expect(alive(milter.pid)).toBe(false);
    expect(existsSync(milter.folder)).toBe(false);
    const { pid, folder } = amavis;
    await amavis.stop();
    expect(alive(pid)).toBe(false);
    expect(existsSync(folder)).toBe(false);
    await postfix.stop();
    expect(alive(postfix.pid)).toBe(false);
  }, 60_000);
});
