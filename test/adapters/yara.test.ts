import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createYaraAdapter, parseYaraOutput } from '../../adapters/yara.js';
import { eicarYaraRuleSource, writeEicarYaraRules } from '../../src/lab/signatures.js';
import { run } from '../../src/core/exec.js';
import { eicar } from '../../src/corpus/eicar.js';
import type { ScanContext, ScanUnit } from '../../src/core/types.js';
import { describeReal } from '../helpers/real.js';

function ctx(ms = 60_000): ScanContext {
  return { signal: new AbortController().signal, deadline: Date.now() + ms };
}
function part(data: Buffer | string, location = '1:file.bin', encoding?: string): ScanUnit {
  return { kind: 'part', data: Buffer.from(data), location, ...(encoding === undefined ? {} : { encoding }) };
}

it('the EICAR rule holds EICAR only as a hex string, never as text', () => {
  const src = eicarYaraRuleSource();
  expect(src).toContain('rule EICAR_Test_File');
  expect(src).not.toContain(eicar().toString('latin1'));
  expect(src.replace(/[^{]*\{[^{]*\{\s*([0-9A-F ]+)\}[\s\S]*/, '$1').replace(/ /g, '').toLowerCase()).toBe(eicar().toString('hex'));
  expect(() => eicarYaraRuleSource('not an identifier')).toThrow(TypeError);
});

it('parses "Rule PATH" lines and per-file errors', () => {
  const files = {
    indexOfPath: (p: string) => ({ '/t/u0001.bin': 0, '/t/u0002.bin': 1 } as Record<string, number>)[p],
    indexInText: (t: string) => (t.includes('u0001.bin') ? 0 : t.includes('u0002.bin') ? 1 : undefined),
  };
  const f = parseYaraOutput('EICAR_Test_File /t/u0001.bin\nOther /t/u0001.bin\n', 'error scanning /t/u0002.bin: could not open file\n', files, 2);
  expect(f[0]?.detections).toEqual(['EICAR_Test_File', 'Other']);
  expect(f[1]?.errors).toEqual(['error scanning /t/u0002.bin: could not open file']);
});

it('takes one of rules and compiled; with neither it is not available (never clean)', async () => {
  expect(() => createYaraAdapter({ rules: 'a.yar', compiled: 'a.yarc' })).toThrow(TypeError);
  const a = createYaraAdapter();
  expect(await a.scan(part('x'), ctx())).toMatchObject({ status: 'error', error: { code: 'NOT_AVAILABLE', message: expect.stringContaining('no YARA rules') } });
});

await describeReal('yara adapter (real yara)', ['yara', 'yarac'], () => {
  let dir: string;
  let rules: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-test-yara-'));
    rules = await writeEicarYaraRules(join(dir, 'eicar.yar'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('probe without rules says what to configure', async () => {
    expect(await createYaraAdapter().probe()).toMatchObject({ available: false, reason: expect.stringContaining('no YARA rules configured') });
  });

  it('probes the version and loads the rules', async () => {
    const p = await createYaraAdapter({ rules }).probe();
    expect(p).toMatchObject({ available: true, version: expect.stringMatching(/^\d+\.\d+/), signatures: `rules ${rules}` });
  });

  it('per part: EICAR decoded from base64 is found; the raw base64 text is not (why per-part matters)', async () => {
    const a = createYaraAdapter({ rules });
    expect(a.granularity).toBe('part');
    const b64 = eicar().toString('base64');
    // What the scanning core hands over: the decoded bytes of the base64 part.
    const decoded = await a.scan(part(Buffer.from(b64, 'base64'), '2:eicar.com', 'base64'), ctx());
    expect(decoded).toEqual({ status: 'infected', detections: [{ name: 'EICAR_Test_File', scanner: 'yara', part: '2:eicar.com' }] });
    // What raw `yara` on the .eml sees: the transfer-encoded text.
    const raw = await a.scan(part(`Content-Transfer-Encoding: base64\r\n\r\n${b64}\r\n`, 'message'), ctx());
    expect(raw).toEqual({ status: 'clean' });
  });

  it('loads compiled rules with -C', async () => {
    const compiled = join(dir, 'eicar.yarc');
    const c = await run('yarac', [rules, compiled], { deadline: Date.now() + 30_000 });
    expect(c).toMatchObject({ ok: true, exitCode: 0 });
    const a = createYaraAdapter({ compiled, name: 'yara-compiled' });
    expect((await a.probe()).available).toBe(true);
    expect(await a.scan(part(eicar()), ctx())).toMatchObject({ status: 'infected', detections: [{ name: 'EICAR_Test_File', scanner: 'yara-compiled' }] });
  });

  it('scans a batch of 50 units in one process, verdicts in order', async () => {
    const log = join(dir, 'runs.log');
    const wrapper = join(dir, 'yara-counting');
    await writeFile(wrapper, `#!/bin/sh\necho run >> '${log}'\nexec yara "$@"\n`, { mode: 0o700 });
    const a = createYaraAdapter({ rules, binary: wrapper });
    const units = Array.from({ length: 50 }, (_, i) => (i % 5 === 0 ? part(Buffer.concat([Buffer.from(`x${i}`), eicar()]), `p${i}`) : part(`clean ${i}`, `p${i}`)));
    const verdicts = await a.scanBatch!(units, ctx());
    expect(verdicts.map((v) => v.status)).toEqual(units.map((_, i) => (i % 5 === 0 ? 'infected' : 'clean')));
    expect(verdicts[10]).toEqual({ status: 'infected', detections: [{ name: 'EICAR_Test_File', scanner: 'yara', part: 'p10' }] });
    expect((await readFile(log, 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it('a rules file that does not compile: probe says why, scan gives SCANNER_EXIT (never clean)', async () => {
    const bad = join(dir, 'bad.yar');
    await writeFile(bad, 'rule broken {\n');
    const a = createYaraAdapter({ rules: bad });
    expect(await a.probe()).toMatchObject({ available: false, reason: expect.stringContaining('cannot load') });
    expect(await a.scan(part('x'), ctx())).toMatchObject({ status: 'error', error: { code: 'SCANNER_EXIT', message: expect.stringContaining('syntax error') } });
  });

  it('a missing rules file: probe not available', async () => {
    expect(await createYaraAdapter({ rules: join(dir, 'nope.yar') }).probe()).toMatchObject({ available: false, reason: expect.stringContaining('not readable') });
  });
});
