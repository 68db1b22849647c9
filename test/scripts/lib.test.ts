/**
 * scripts/lib: the scripts' command lines (node:util parseArgs and the value forms the
 * benches share) and the wait until a server listens (against a real smtp-sink).
 */
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/core/net.js';
import { startSmtpSink, type LabSmtpSink } from '../../src/lab/smtp-sink.js';
import { listOf, numberArg, opt, parseOptions, readOptions, scriptHelp, sizeBytes, sizeList, wholeNumber, wholeNumbers } from '../../scripts/lib/args.js';
import { run } from '../../src/core/exec.js';
import { loopback, waitListening } from '../../scripts/lib/listen.js';
import { parseDump, smtpSource, startDumpSink } from '../../scripts/lib/smtp.js';

describe('parseOptions', () => {
  const table = {
    sizes: { type: 'string' as const, default: '1K' },
    quiet: { type: 'boolean' as const, default: false },
    arg: { type: 'string' as const, multiple: true, default: [] as string[] },
  };

  it('gives defaults, values in both spellings, repeated options', () => {
    expect(parseOptions('t', [], table)).toEqual({ sizes: '1K', quiet: false, arg: [] });
    expect(parseOptions('t', ['--sizes', '2M', '--quiet', '--arg', 'a', '--arg=b'], table)).toEqual({ sizes: '2M', quiet: true, arg: ['a', 'b'] });
  });

  it('refuses an unknown option, a missing value and a stray argument, naming the script and its usage', () => {
    expect(() => parseOptions('bench-x', ['--nope'], table, 'bench-x [--sizes S]')).toThrow(/^bench-x: .*--nope[\s\S]*usage: bench-x \[--sizes S\]/);
    expect(() => parseOptions('bench-x', ['--sizes'], table)).toThrow(/^bench-x: .*--sizes/);
    expect(() => parseOptions('bench-x', ['stray'], table)).toThrow(/^bench-x: /);
  });
});

describe('readOptions: one table per script', () => {
  const table = {
    parts: opt.list(['a', 'b'], ['a', 'b', 'c'] as const),
    'sessions-list': opt.wholes([1, 8]),
    sizes: opt.sizes('1K'),
    seconds: opt.number(1.5, (n) => n > 0),
    'clamd-pool': opt.optionalWhole(0),
    corpus: opt.optionalString(),
    quiet: opt.flag('q'),
    arg: opt.strings(),
    temp: opt.oneOf('memory', ['memory', 'disk'] as const),
    listen: opt.custom('both', (raw) => (raw === 'both' ? ['inet', 'unix'] : [raw])),
  };

  it('gives every default, converted, in camelCase; an optional option is absent until given', () => {
    const v = readOptions('t', [], table);
    expect(v).toEqual({ parts: ['a', 'b'], sessionsList: [1, 8], sizes: [1000], seconds: 1.5, quiet: false, arg: [], temp: 'memory', listen: ['inet', 'unix'] });
    expect('clamdPool' in v || 'corpus' in v).toBe(false);
    const w = readOptions('t', ['--parts', 'c', '--sessions-list', '32', '--sizes', '2M,1K', '--seconds=0.5', '--clamd-pool', '0', '--corpus', 'x', '-q', '--arg', 'y', '--temp', 'disk', '--listen', 'unix'], table);
    expect(w).toEqual({ parts: ['c'], sessionsList: [32], sizes: [2_000_000, 1000], seconds: 0.5, clamdPool: 0, corpus: 'x', quiet: true, arg: ['y'], temp: 'disk', listen: ['unix'] });
  });

  it('a bad value names the script, the option and the usage', () => {
    expect(() => readOptions('bench-x', ['--parts', 'd'], table, 'bench-x [--parts P]')).toThrow(/^bench-x: --parts: d is not one of a, b, c\nusage: bench-x \[--parts P\]$/);
    expect(() => readOptions('bench-x', ['--seconds', '0'], table)).toThrow('bench-x: --seconds: bad value 0');
    expect(() => readOptions('bench-x', ['--temp', 'tape'], table)).toThrow('bench-x: --temp is one of memory, disk, got tape');
    expect(() => readOptions('bench-x', ['--clamd-pool', '-1'], table)).toThrow(/^bench-x: .*--clamd-pool/);
  });
});

describe('value forms', () => {
  it('lists are checked against what is allowed', () => {
    expect(listOf(' a, b,,c ', ['a', 'b', 'c'] as const, '--x')).toEqual(['a', 'b', 'c']);
    expect(() => listOf('a,d', ['a', 'b'] as const, '--x')).toThrow('--x: d is not one of a, b');
  });

  it("sizes are bytes as smtp-source's -l takes them (K = 1000, M = 1,000,000)", () => {
    expect(sizeList('1K,100k,2M,1000,1.5K')).toEqual([1000, 100_000, 2_000_000, 1000, 1500]);
    expect(sizeBytes(' 2m ')).toBe(2_000_000);
    expect(() => sizeBytes('1G')).toThrow('--sizes: bad size 1G');
  });

  it('whole numbers and numbers are checked', () => {
    expect(wholeNumber('3', '--runs')).toBe(3);
    expect(wholeNumber('0', '--pool', 0)).toBe(0);
    expect(() => wholeNumber('0', '--runs')).toThrow('--runs');
    expect(() => wholeNumber('1.5', '--runs')).toThrow('--runs');
    expect(() => wholeNumber('x', '--runs')).toThrow('--runs');
    expect(wholeNumbers('1,8, 32', '--sessions')).toEqual([1, 8, 32]);
    expect(() => wholeNumbers('1,-8', '--sessions')).toThrow('--sessions');
    expect(numberArg('0.8', '--load', (n) => n > 0 && n <= 1)).toBe(0.8);
    expect(() => numberArg('1.2', '--load', (n) => n > 0 && n <= 1)).toThrow('--load: bad value 1.2');
    expect(() => numberArg('', '--load')).toThrow('--load');
  });
});

describe('waitListening', () => {
  let sink: LabSmtpSink | undefined;
  afterEach(async () => {
    await sink?.stop();
    sink = undefined;
  });

  it('resolves once a real smtp-sink started later greets (smtp) and accepts (connect)', async () => {
    const port = await freePort();
    const waiting = waitListening(loopback(port), { expect: 'smtp', timeoutMs: 20_000 });
    sink = await startSmtpSink({ port });
    await expect(waiting).resolves.toBeUndefined();
    await expect(waitListening(loopback(port), { timeoutMs: 5_000 })).resolves.toBeUndefined();
  });

  it('throws when nothing listens in time, and at once when the process has exited', async () => {
    const port = await freePort();
    await expect(waitListening(loopback(port), { timeoutMs: 300, what: 'nothing' })).rejects.toThrow('nothing did not listen within 0.3 s');
    await expect(waitListening(loopback(port), { timeoutMs: 60_000, alive: () => false, expect: 'smtp' })).rejects.toThrow(/did not greet .*its process exited/);
  });
});

describe('startDumpSink', () => {
  it('dumps each message smtp-source sends; collect() reads them all (more than it opens at once) and empties the folder', async () => {
    const base = await mkdtemp(join(tmpdir(), 'avbench-dumpsink-'));
    await chmod(base, 0o711); // smtp-sink runs as postfix when started by root (as the benches' workspace: scripts/lib/run.ts)
    const sink = await startDumpSink(base);
    try {
      const sent = await smtpSource(sink.port, { sessions: 4, messages: 600, length: 200, kept: true, from: 'a@example.test', to: 'b@example.test', capMs: 60_000 });
      expect(sent.why).toBe("");
      expect(sent.ok).toBe(true);
      // smtp-sink writes each dump before its 250: all are there when smtp-source exits.
      const files = await sink.collect();
      expect(files).toHaveLength(600);
      expect(new Set(files.map((f) => parseDump(f).id)).size).toBe(600);
      expect(await readdir(sink.dir)).toEqual([]);
      expect(await sink.collect()).toEqual([]);
    } finally {
      await sink.stop();
      await rm(base, { recursive: true, force: true });
    }
  });
});

describe('--help of a script', () => {
  it('scriptHelp: the usage line, then the comment at the head of the script file, its " * " margins removed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'avbench-help-'));
    try {
      const entry = join(dir, 'bench-x.js');
      await writeFile(entry, "/**\n * Benchmark X: what it measures.\n *\n *   node bench-x.js [--runs N]\n */\nimport x from 'y';\n/** not this one */\n");
      expect(scriptHelp('bench-x', 'bench-x [--runs N]', entry)).toBe('usage: bench-x [--runs N]\n\nBenchmark X: what it measures.\n\n  node bench-x.js [--runs N]\n');
      expect(scriptHelp('bench-x', undefined, join(dir, 'missing.js'))).toBe('bench-x\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('node dist/scripts/bench-smtp.js --help prints what it does and exits 0, before starting anything', async () => {
    const r = await run(process.execPath, [join(import.meta.dirname, '../../dist/scripts/bench-smtp.js'), '--help'], { deadline: Date.now() + 20_000 });
    expect(r).toMatchObject({ ok: true, exitCode: 0 });
    expect(r.stdout).toMatch(/^bench-smtp\n\nBenchmark, point A \(SMTP proxy\)/);
    expect(r.stdout).toMatch(/smtp-source/);
  });
});
