import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClamdAdapter } from '../../../adapters/index.js';
import { generateCorpus } from '../../../src/corpus/generate.js';
import { openCorpus } from '../../../src/corpus/read.js';
import { startClamd, type LabClamd } from '../../../src/lab/clamd.js';
import { EICAR_NDB_NAME } from '../../../src/lab/signatures.js';
import { createProcmailSut, type ProcmailSut } from '../../../src/lab/procmail.js';
import { createDirectDriver } from '../../../src/modes/direct.js';
import { createLdaDriver } from '../../../src/modes/lda/driver.js';
import type { Fate } from '../../../src/modes/types.js';
import { describeReal } from '../../helpers/real.js';
import { EICAR, mailWithAttachment } from '../../helpers/eicar.js';

await describeReal('procmail recipe with clamdscan as an lda system under test', ['procmail', 'formail', 'clamdscan', 'clamd'], () => {
  let clamd: LabClamd;
  let sut: ProcmailSut;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-procmail-test-'));
    clamd = await startClamd();
    sut = await createProcmailSut({ clamdConfig: clamd.configFile });
  }, 60_000);
  afterAll(async () => {
    await sut?.remove();
    await clamd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('tags, drops and rejects infected mail; delivers clean mail with X-Virus-Status: Clean', async () => {
    const lda = createLdaDriver({ command: sut.command, maildir: sut.maildir, sut: sut.sut });
    expect(lda.sut).toMatch(/^lda:\S*procmail -m \S+procmailrc$/);
    const clean = await lda.send({ file: 'c.eml', raw: mailWithAttachment('a.txt', Buffer.from('hello\n')) });
    const bad = await lda.send({ file: 'b.eml', raw: mailWithAttachment('eicar.com', EICAR) });
    expect(clean).toMatchObject({ fate: 'delivered', verdict: 'clean', names: [], exitCode: 0 });
    expect(bad).toMatchObject({ fate: 'tagged', verdict: 'infected', names: [EICAR_NDB_NAME], exitCode: 0 });
    const drop = await createProcmailSut({ clamdConfig: clamd.configFile, onInfected: 'drop', dir });
    const reject = await createProcmailSut({ clamdConfig: clamd.configFile, onInfected: 'reject', dir });
    const d = await createLdaDriver({ command: drop.command, maildir: drop.maildir }).send({ file: 'b.eml', raw: mailWithAttachment('eicar.com', EICAR) });
    expect(d).toMatchObject({ fate: 'dropped', verdict: 'infected', exitCode: 0 });
    const r = await createLdaDriver({ command: reject.command, maildir: reject.maildir }).send({ file: 'b.eml', raw: mailWithAttachment('eicar.com', EICAR) });
    // procmail says nothing on its way out, so a reject carries no name: error SCANNER_EXIT (docs/modes.md).
    expect(r).toMatchObject({ fate: 'rejected', exitCode: 77, verdict: 'error', errorCode: 'SCANNER_EXIT' });
    expect(await readdir(join(drop.maildir, 'new'))).toEqual([]);
    expect(await readdir(join(reject.maildir, 'new'))).toEqual([]);
  }, 60_000);

  it('over the quick corpus equals ClamAV direct (same clamd), message by message; lost = 0', async () => {
    const corpusDir = join(dir, 'corpus');
    await generateCorpus({ out: corpusDir, profile: 'quick', seed: 11 });
    const adapter = createClamdAdapter({ name: 'clamd', socket: clamd.socket });
    const direct = createDirectDriver({ scanners: [adapter] });
    const lda = createLdaDriver({ command: sut.command, maildir: sut.maildir, concurrency: 4 });
    const before = (await readdir(join(sut.maildir, 'new'))).length;
    const fates: Record<Fate, number> = { scanned: 0, delivered: 0, tagged: 0, rejected: 0, tempfailed: 0, dropped: 0, lost: 0 };
    const mismatches: string[] = [];
    let n = 0;
    try {
      const jobs: Promise<void>[] = [];
      for await (const e of (await openCorpus(corpusDir)).entries) {
        n++;
        jobs.push(
          (async () => {
            const raw = await e.read();
            const [dv, lv] = await Promise.all([direct.send({ file: e.file, raw }), lda.send({ file: e.file, raw })]);
            fates[lv.fate]++;
            if (dv.verdict !== lv.verdict || dv.names.join() !== lv.names.join()) {
              mismatches.push(`${e.file}: clamd ${dv.verdict} ${dv.names.join()} ${dv.errorCode ?? ''} / procmail ${lv.fate} ${lv.verdict} ${lv.names.join()} ${lv.errorCode ?? ''}`);
            }
          })(),
        );
      }
      await Promise.all(jobs);
    } finally {
      await adapter.close();
    }
    process.stderr.write(`[procmail test] ${n} messages: ${JSON.stringify(fates)}\n`);
    expect(mismatches).toEqual([]);
    expect(fates.lost).toBe(0);
    expect(fates.delivered + fates.tagged).toBe(n);
    expect(fates.tagged).toBeGreaterThan(0);
    expect((await readdir(join(sut.maildir, 'new'))).length - before).toBe(n);
  }, 300_000);

  it('tempfails (75) when clamd is down, and nothing is delivered', async () => {
    const other = await startClamd();
    const s = await createProcmailSut({ clamdConfig: other.configFile, dir });
    await other.stop();
    const o = await createLdaDriver({ command: s.command, maildir: s.maildir }).send({ file: 'c.eml', raw: mailWithAttachment('a.txt', Buffer.from('x\n')) });
    expect(o).toMatchObject({ fate: 'tempfailed', verdict: 'error', exitCode: 75 });
    expect(await readdir(join(s.maildir, 'new'))).toEqual([]);
    expect(await readFile(s.rcFile, 'utf8')).toContain('SHELLMETAS=');
  }, 60_000);
});
