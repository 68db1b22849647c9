/**
 * Versions and signatures (issue 14.5) against real daemons started here on loopback: a lab
 * clamd (the lab's .ndb/.hdb database), clamsmtpd and clamav-milter in front of it. Every
 * program's version is recorded (not `?`), clamd's database is found with its signature
 * count, clamsmtpd's TimeOut is read as its deadline; and the parsers on real tool output.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  databasesLine,
  describeAdapter,
  describeCommand,
  describeDatabaseDir,
  describeProcesses,
  fromClamdVersion,
  parseConfig,
  parseCvdHeader,
  parseSigtoolInfo,
  programsLine,
  withDescription,
} from '../../src/bench/versions.js';
import { eicarYaraRuleSource } from '../../src/lab/signatures.js';
import { runCli } from '../../src/cli/main.js';
import { freePort } from '../../src/core/net.js';
import { startClamavMilter, type LabClamavMilter } from '../../src/lab/clamav-milter.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { startClamsmtpd, type LabClamsmtpd } from '../../src/lab/clamsmtpd.js';
import { createSmtpSink } from '../../src/modes/smtp/sink.js';
import { captureOutput } from '../helpers/capture.js';
import { describeReal } from '../helpers/real.js';

describe('version and database parsers', () => {
  it('reads sigtool --info, a CVD header, clamd VERSION and config files', () => {
    const info = 'File: daily.cvd\nBuild time: 04 Dec 2026 10:24 +0000\nVersion: 7\nSignatures: 2\nFunctionality level: 216\n';
    expect(parseSigtoolInfo(info)).toEqual({ version: '7', buildTime: '2026-12-04T10:24:00.000Z', signatures: 2 });
    expect(parseCvdHeader('ClamAV-VDB:04 Dec 2026 10-24 +0000:7:2:216:70c0:X:x:1796379842   ')).toEqual({ version: '7', buildTime: '2026-12-04T10:24:00.000Z', signatures: 2 });
    expect(parseCvdHeader('garbage')).toBeUndefined();
    expect(fromClamdVersion('ClamAV 1.4.6/27000/Tue Dec  1 09:00:00 2026')).toMatchObject({
      program: { name: 'clamd', version: 'ClamAV 1.4.6', source: 'clamd VERSION' },
      database: { name: 'daily', version: '27000', source: 'clamd VERSION' },
    });
    expect(fromClamdVersion('ClamAV 1.4.6')).toEqual({ program: { name: 'clamd', version: 'ClamAV 1.4.6', source: 'clamd VERSION' } });
    const conf = parseConfig('# x\nLocalSocket /tmp/s\nTimeOut: 20\nClamAddress: /run/c.sock\n');
    expect([conf.get('localsocket'), conf.get('timeout'), conf.get('clamaddress')]).toEqual(['/tmp/s', '20', '/run/c.sock']);
    expect(programsLine([{ name: 'clamsmtpd', version: '1.10', source: 'clamsmtpd -v' }, { name: 'clamd', version: 'ClamAV 1.4.6', source: 'clamd VERSION' }])).toBe('clamsmtpd 1.10 + ClamAV 1.4.6');
    expect(databasesLine([{ name: 'daily.cvd', path: '/x/daily.cvd', version: '7', signatures: 2, buildTime: '2026-12-04T10:24:00.000Z', source: 'sigtool --info' }])).toBe('daily 7 (2 sigs, built 2026-12-04T10:24Z)');
  });
});

await describeReal('the program of an lda: SUT', ['procmail'], () => {
  it('procmail -v', async () => {
    expect(await describeCommand('procmail')).toMatchObject({ name: 'procmail', version: expect.stringMatching(/^\d+\.\d+/), source: 'procmail -v' });
    expect(await describeCommand('/nonexistent/lda')).toMatchObject({ name: 'lda', source: 'lda --version' });
  });
});

await describeReal('versions of real clamd, clamsmtpd and clamav-milter', ['clamd', 'clamsmtpd', 'clamav-milter', 'sigtool'], () => {
  let dir: string;
  let clamd: LabClamd;
  let smtpd: LabClamsmtpd;
  let milter: LabClamavMilter;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-versions-'));
    clamd = await startClamd({ dir });
    const sink = await createSmtpSink({ port: await freePort() });
    try {
      smtpd = await startClamsmtpd({ clamdSocket: clamd.socket, outPort: sink.port, dir, timeoutSec: 7 });
    } finally {
      await sink.close();
    }
    milter = await startClamavMilter({ clamdSocket: clamd.socket, dir });
  }, 120_000);

  afterAll(async () => {
    await smtpd?.stop();
    await milter?.stop();
    await clamd?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('clamsmtpd: its version, its clamd (from its config) and its TimeOut as the deadline', async () => {
    const d = await describeProcesses([smtpd.pid]);
    const p = d.programs.find((x) => x.name === 'clamsmtpd');
    expect(p).toMatchObject({ source: 'clamsmtpd -v', pid: smtpd.pid });
    expect(p?.version).toMatch(/^\d+\.\d+/);
    expect(d.programs.find((x) => x.name === 'clamd')?.version).toMatch(/^ClamAV \d/);
    expect(d.deadlineMs).toBe(7_000);
  }, 30_000);

  it('clamav-milter and clamd by PID: versions, and the lab database with its signature count', async () => {
    const d = await describeProcesses([milter.pid, clamd.pid]);
    expect(d.programs.find((x) => x.name === 'clamav-milter')?.version).toMatch(/^\d+\.\d+/);
    const byPid = d.programs.find((x) => x.pid === clamd.pid);
    expect(byPid?.name).toBe('clamd');
    expect(byPid?.version).toMatch(/^ClamAV \d/);
    // clamd asked by PID and by VERSION on its socket says the same: recorded once.
    expect(d.programs.filter((x) => x.name === 'clamd')).toHaveLength(1);
    expect(d.databases.map((x) => [x.name, x.signatures, x.source])).toEqual([
      ['avbench.hdb', 1, 'counted lines'],
      ['avbench.ndb', 1, 'counted lines'],
    ]);
    for (const db of d.databases) expect(Number.isNaN(Date.parse(db.buildTime ?? ''))).toBe(false);
    const info = withDescription({ name: 'clamav-milter', type: 'sut' }, d);
    expect(info.version).toMatch(/clamav-milter \d/);
    expect(info.version).not.toContain('?');
    expect(info.signatures).toMatch(/^2 signatures in avbench\.hdb, avbench\.ndb/);
  }, 30_000);

  it('the clamd adapter by its socket (VERSION) and config (database), clamscan by its database, sigtool on a CVD', async () => {
    const d = await describeAdapter('clamd', { socket: clamd.socket, configFile: clamd.configFile });
    expect(d.programs).toEqual([{ name: 'clamd', version: expect.stringMatching(/^ClamAV \d/), source: 'clamd VERSION' }]);
    expect(d.databases.map((x) => x.name)).toEqual(['avbench.hdb', 'avbench.ndb']);
    const c = await describeAdapter('clamscan', { database: clamd.dbDir });
    expect(c.programs[0]).toMatchObject({ name: 'clamscan', version: expect.stringMatching(/^ClamAV \d/) });
    expect(c.databases.reduce((s, x) => s + (x.signatures ?? 0), 0)).toBe(2);
    // A CVD header as freshclam's files have (this one unsigned: sigtool still prints its header).
    const cvdDir = join(dir, 'cvd');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(cvdDir);
    const header = 'ClamAV-VDB:04 Dec 2026 10-24 +0000:27123:355000:216:70c02a208f0b691fdbb69e27d17cebf1:X:x:1796379842';
    await writeFile(join(cvdDir, 'daily.cvd'), Buffer.concat([Buffer.from(header.padEnd(512, ' '), 'latin1'), Buffer.alloc(64)]));
    const dbs = await describeDatabaseDir(cvdDir);
    expect(dbs).toEqual([{ name: 'daily.cvd', path: join(cvdDir, 'daily.cvd'), version: '27123', signatures: 355000, buildTime: '2026-12-04T10:24:00.000Z', source: expect.stringMatching(/^(sigtool --info|CVD header)$/) }]);
  }, 60_000);

  it('avbench scanners: clamd, clamdscan, clamscan and yara with versions, databases and signature counts', async () => {
    const rules = join(dir, 'eicar.yar');
    await writeFile(rules, eicarYaraRuleSource());
    const cfg = join(dir, 'avbench.config.json');
    await writeFile(
      cfg,
      JSON.stringify({
        scanners: {
          clamd: { type: 'clamd', socket: clamd.socket, configFile: clamd.configFile },
          clamdscan: { type: 'clamdscan', configFile: clamd.configFile },
          clamscan: { type: 'clamscan', database: clamd.dbDir },
          yara: { type: 'yara', rules },
        },
      }),
    );
    const r = await captureOutput(() => runCli(['scanners', '--json', '--config', cfg]));
    expect(r.result).toBe(0);
    type Row = { name: string; available: boolean; version?: string; signatures?: string; programs?: { name: string; version?: string }[]; databases?: { name: string; signatures?: number }[] };
    const rows = new Map((JSON.parse(r.stdout) as Row[]).map((x) => [x.name, x]));
    for (const name of ['clamd', 'clamdscan', 'clamscan']) {
      const row = rows.get(name)!;
      expect(row.available, name).toBe(true);
      expect(row.version, name).toMatch(/\d+\.\d+\.\d+/);
      expect(row.databases?.map((d) => `${d.name} ${d.signatures}`), name).toEqual(['avbench.hdb 1', 'avbench.ndb 1']);
      expect(row.signatures, name).toMatch(/2 signatures in avbench\.hdb, avbench\.ndb/);
    }
    expect(rows.get('clamdscan')?.programs?.map((p) => p.name)).toEqual(['clamd', 'clamdscan']);
    const y = rows.get('yara')!;
    expect(y.programs?.[0]?.version).toMatch(/^\d+\.\d+/);
    expect(y.databases).toEqual([expect.objectContaining({ name: 'eicar.yar', signatures: 1 })]);
    // The table form carries the same lines.
    const t = await captureOutput(() => runCli(['scanners', '--config', cfg]));
    expect(t.stdout).toContain('avbench.hdb');
  }, 60_000);
});
