import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../../adapters/index.js';
import { generateCorpus } from '../../../src/corpus/generate.js';
import { openCorpus, type CorpusEntry } from '../../../src/corpus/read.js';
import { createDirectDriver } from '../../../src/modes/direct.js';
import { createLdaDriver, namesInOutput, parseLdaSut } from '../../../src/modes/lda/driver.js';
import type { Fate, MessageOutcome } from '../../../src/modes/types.js';
import { EICAR, mailWithAttachment } from '../../helpers/eicar.js';
import { buildCli, type Build } from './build.js';

describe('parseLdaSut / namesInOutput', () => {
  it('splits lda:COMMAND on white space, no shell', () => {
    expect(parseLdaSut('lda:procmail -m /tmp/x/rc')).toEqual({ command: ['procmail', '-m', '/tmp/x/rc'] });
    expect(parseLdaSut('lda:  avbench  deliver -s clamd --  /usr/bin/procmail ')).toEqual({
      command: ['avbench', 'deliver', '-s', 'clamd', '--', '/usr/bin/procmail'],
    });
    expect(parseLdaSut('lda:echo $(rm -rf /);x')).toEqual({ command: ['echo', '$(rm', '-rf', '/);x'] });
    expect(() => parseLdaSut('lda:')).toThrow(/no command/);
    expect(() => parseLdaSut('smtp://127.0.0.1:25')).toThrow(/not an lda SUT/);
  });

  it('finds virus names in delivery agent output', () => {
    expect(namesInOutput('avbench deliver: rejected: infected: Eicar-Test-Signature, Foo.Bar\n')).toEqual(['Eicar-Test-Signature', 'Foo.Bar']);
    expect(namesInOutput('stdin: Eicar-Test-NDB.UNOFFICIAL FOUND\n')).toEqual(['Eicar-Test-NDB.UNOFFICIAL']);
    expect(namesInOutput('avbench deliver: quarantined: infected: X.Y in /q/1.eml\n')).toEqual(['X.Y']);
    expect(namesInOutput('procmail: Error while writing to "/x"\n')).toEqual([]);
  });
});

describe('lda driver with `avbench deliver` as the delivery agent (a separate process per message)', () => {
  let dir: string;
  let build: Build;
  const embedded = createEmbeddedAdapter();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-lda-'));
    build = await buildCli();
    process.stderr.write(`[lda driver test] avbench deliver runs as ${build.entry}\n`);
  }, 300_000);
  afterAll(async () => {
    await embedded.close();
    await build?.remove();
    await rm(dir, { recursive: true, force: true });
  });

  it('maps each exit code and Maildir arrival to a fate', async () => {
    const md = join(dir, 'Maildir-fates');
    const q = join(dir, 'quarantine');
    const clean = mailWithAttachment('notes.txt', Buffer.from('hello\n'));
    const bad = mailWithAttachment('eicar.com', EICAR);
    const exe = mailWithAttachment('setup.exe', Buffer.from('MZ not a virus'));

    const base = [...build.deliver, '-s', 'embedded', '--no-fsync', '--maildir', md];
    const rejecting = createLdaDriver({ command: base, maildir: md });
    const quarantining = createLdaDriver({ command: [...base, '--quarantine', q], maildir: md });
    const defanging = createLdaDriver({ command: [...base, '--defang'], maildir: md });
    const cfg = join(dir, 'down.json');
    await writeFile(cfg, JSON.stringify({ scanners: { down: { type: 'clamd', socket: join(dir, 'none.sock'), timeoutMs: 2000 } } }));
    const failing = createLdaDriver({ command: [...build.deliver, '-s', 'down', '--config', cfg, '--maildir', md], maildir: md });
    const failOpen = createLdaDriver({ command: [...build.deliver, '-s', 'down', '--config', cfg, '--maildir', md, '--on-fail', 'accept'], maildir: md });

    const pick = (o: MessageOutcome): Record<string, unknown> => ({
      fate: o.fate,
      verdict: o.verdict,
      names: o.names,
      exitCode: o.exitCode,
      ...(o.errorCode === undefined ? {} : { errorCode: o.errorCode }),
    });
    const [c, r, qd, df, tf, fo] = await Promise.all([
      rejecting.send({ file: 'clean.eml', raw: clean }),
      rejecting.send({ file: 'bad.eml', raw: bad }),
      quarantining.send({ file: 'bad.eml', raw: bad }),
      defanging.send({ file: 'exe.eml', raw: exe }),
      failing.send({ file: 'clean.eml', raw: clean }),
      failOpen.send({ file: 'clean.eml', raw: clean }),
    ]);
    expect(pick(c)).toEqual({ fate: 'delivered', verdict: 'clean', names: [], exitCode: 0 });
    expect(pick(r)).toEqual({ fate: 'rejected', verdict: 'infected', names: ['Eicar-Test-Signature'], exitCode: 77 });
    expect(pick(qd)).toEqual({ fate: 'dropped', verdict: 'infected', names: ['Eicar-Test-Signature'], exitCode: 0 });
    expect(pick(df)).toEqual({ fate: 'tagged', verdict: 'clean', names: [], exitCode: 0 });
    expect(pick(tf)).toEqual({ fate: 'tempfailed', verdict: 'error', names: [], exitCode: 75, errorCode: 'CONNECT_FAILED' });
    expect(pick(fo)).toEqual({ fate: 'delivered', verdict: 'error', names: [], exitCode: 0, errorCode: 'CONNECT_FAILED' });
    expect(await readdir(q)).toHaveLength(1);
    // Three arrived: the clean one, the defanged one, the fail-open one.
    expect(await readdir(join(md, 'new'))).toHaveLength(3);
  }, 120_000);

  it('over the quick corpus gives, message by message, the same verdict as the direct driver; lost = 0', async () => {
    const corpusDir = join(dir, 'corpus');
    await generateCorpus({ out: corpusDir, profile: 'quick', seed: 7 });
    const md = join(dir, 'Maildir');
    const entries: CorpusEntry[] = [];
    for await (const e of (await openCorpus(corpusDir)).entries) entries.push(e);
    const direct = createDirectDriver({ scanners: [embedded] });
    const lda = createLdaDriver({ command: [...build.deliver, '-s', 'embedded', '--no-fsync', '--maildir', md], maildir: md, concurrency: 3 });
    await direct.open();
    await lda.open();
    const results = await Promise.all(
      entries.map(async (e) => {
        const raw = await e.read();
        const [d, l] = await Promise.all([direct.send({ file: e.file, raw }), lda.send({ file: e.file, raw })]);
        return { e, d, l };
      }),
    );
    await lda.close();
    await direct.close();

    const fates: Record<Fate, number> = { scanned: 0, delivered: 0, tagged: 0, rejected: 0, tempfailed: 0, dropped: 0, lost: 0 };
    const mismatches: string[] = [];
    for (const { e, d, l } of results) {
      fates[l.fate] += 1;
      expect(d.fate).toBe('scanned');
      if (d.verdict !== l.verdict || d.names.join() !== l.names.join() || (d.errorCode ?? '') !== (l.errorCode ?? '')) {
        mismatches.push(`${e.file}: direct ${d.verdict} ${d.names.join()} ${d.errorCode ?? ''} / lda ${l.fate} ${l.verdict} ${l.names.join()} ${l.errorCode ?? ''}`);
      }
      // Every message has exactly the fate its verdict calls for.
      const want = d.verdict === 'clean' ? 'delivered' : d.verdict === 'infected' ? 'rejected' : 'tempfailed';
      expect(`${e.file}: ${l.fate}`).toBe(`${e.file}: ${want}`);
    }
    expect(mismatches).toEqual([]);
    expect(fates.lost).toBe(0);
    expect(fates.delivered + fates.rejected + fates.tempfailed).toBe(entries.length);
    expect(fates.delivered).toBeGreaterThan(0);
    expect(fates.rejected).toBeGreaterThan(0);
    // What arrived is exactly the clean messages, each once, bodies intact.
    const arrived = await readdir(join(md, 'new'));
    expect(arrived.length).toBe(fates.delivered);
    const ids = new Set<string>();
    for (const f of arrived) {
      const text = (await readFile(join(md, 'new', f))).toString('latin1');
      expect(text).toMatch(/^X-Virus-Scanned: avbench deliver \(embedded\)/);
      expect(text).toContain('X-Virus-Status: Clean');
      ids.add(/^X-Avbench-Id: (\S+)/m.exec(text)?.[1] ?? '');
    }
    expect(ids.size).toBe(fates.delivered);
    process.stderr.write(`[lda driver test] ${entries.length} messages: ${JSON.stringify(fates)}\n`);
  }, 600_000);
});
