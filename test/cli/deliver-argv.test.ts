/**
 * The lean `avbench deliver` parses its arguments without yargs (parseDeliverArgv). Whatever
 * it accepts must reach runDeliver exactly as yargs would hand it over; everything else it
 * must leave to yargs (undefined). Compared here against the real yargs command module.
 */
import fc from 'fast-check';
import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { deliverCommand, parseDeliverArgv, type DeliverArgs } from '../../src/cli/commands/deliver.js';

const KEYS = ['scanner', 'defang', 'defangExt', 'maildir', 'quarantine', 'onInfected', 'rejectCode', 'onFail', 'config', 'timeout', 'fsync', '--'] as const;

/** The options runDeliver reads, without the undefined ones. */
function pick(a: Partial<DeliverArgs>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of KEYS) {
    const v = a[k];
    if (v !== undefined) o[k] = k === '--' ? (v as unknown[]).map(String) : v;
  }
  return o;
}

/** What the yargs command module hands its handler for `deliver ARGV...` (or the usage error). */
async function viaYargs(argv: string[]): Promise<Record<string, unknown> | { error: string }> {
  const mod = deliverCommand({ exitCode: 0 });
  let got: Record<string, unknown> | undefined;
  let failed: string | undefined;
  await yargs(['deliver', ...argv])
    .command({ ...mod, handler: (a) => void (got = pick(a as unknown as DeliverArgs)) })
    .strict()
    .exitProcess(false)
    .help(false)
    .version(false)
    .fail((msg, err) => {
      failed = msg || String(err);
    })
    .parseAsync()
    .catch((e: unknown) => {
      failed = String(e);
    });
  return failed !== undefined ? { error: failed } : (got ?? { error: 'handler not called' });
}

function lean(argv: string[]): Record<string, unknown> | undefined {
  const a = parseDeliverArgv(argv);
  return a === undefined ? undefined : pick(a);
}

describe('parseDeliverArgv (lean deliver) against the yargs command module', () => {
  const accepted: string[][] = [
    ['-s', 'clamd', '--', '/usr/bin/procmail', '-a', '$EXTENSION'],
    ['--scanner', 'clamd', '--scanner', 'embedded', '--quarantine', '/var/q', '--', 'procmail'],
    ['-s', 'embedded', '--defang', '--maildir', '/home/u/Maildir'],
    ['-s', 'embedded', '--no-fsync', '--maildir=/m', '--on-infected', 'reject', '--reject-code', '69'],
    ['-s', 'embedded', '--defang-ext', 'exe,scr', '--defang-ext', 'js', '--maildir', '/m'],
    ['--scanner=clamd', '-c', '/etc/avbench.json', '--on-fail', 'deliver-tagged', '--timeout', '30', '--', 'cat'],
    ['-s', 'x', '--config=/c.json', '--on-infected=quarantine', '--quarantine=/q', '--reject-code=077', '--timeout=1.5', '--fsync', '--no-defang', '--maildir', '/m'],
    ['-s', 'embedded', '--', 'cmd', '0755', '1e3', '0x10', '-5', '--', '--help', '$(id)', 'a b'],
    ['-s', 'embedded', '--maildir', '123'],
    ['-s', 'embedded', '--on-infected', 'tag', '--on-fail', 'accept', '--timeout', '90s', '--', 'cat'],
    ['-s', 'embedded', '--on-infected=drop', '--on-fail=tempfail', '--timeout=500ms', '--maildir', '/m'],
    ['-s', 'embedded', '--on-infected', 'discard', '--timeout', '2m', '--', 'cat'],
  ];
  for (const argv of accepted) {
    it(`accepts ${argv.join(' ')} exactly as yargs reads it`, async () => {
      const mine = lean(argv);
      expect(mine).toBeDefined();
      expect(mine).toEqual(await viaYargs(argv));
    });
  }

  const leftToYargs: string[][] = [
    [],
    ['--help'],
    ['-h'],
    ['--version'],
    ['--maildir', '/m'], // no scanner: yargs' "Missing required argument"
    ['-s', 'embedded', '--'], // no COMMAND and no --maildir: a usage error (64)
    ['-s'],
    ['-s', '--', 'cat'],
    ['-s', 'embedded', 'cat'], // stray positional: yargs' strict mode
    ['-s', 'embedded', '--bogus', '--', 'cat'],
    ['-s', 'embedded', '--on-infected', 'bounce', '--', 'cat'],
    ['-s', 'embedded', '--on-fail', 'open', '--', 'cat'],
    ['-s', 'embedded', '--timeout', '0', '--', 'cat'],
    ['-s', 'embedded', '--timeout', '5x', '--', 'cat'],
    ['-s', 'embedded', '--reject-code', 'abc', '--', 'cat'],
    ['-s', 'embedded', '--reject-code', '0x45', '--', 'cat'],
    ['-s', 'embedded', '--timeout', '-1', '--', 'cat'],
    ['-s', 'embedded', '--maildir', '/a', '--maildir', '/b'],
    ['-s', 'embedded', '--defang', 'true', '--', 'cat'],
    ['-s', 'embedded', '--defang=false', '--', 'cat'],
    ['-s', 'embedded', '--onInfected', 'reject', '--', 'cat'],
    ['-sembedded', '--', 'cat'],
    ['-s', 'embedded', '--maildir='],
  ];
  for (const argv of leftToYargs) {
    it(`leaves ${JSON.stringify(argv)} to yargs`, () => {
      expect(lean(argv)).toBeUndefined();
    });
  }

  it('random argument lists: whatever it accepts, yargs reads the same way', async () => {
    const token = fc.constantFrom(
      '-s', '--scanner', '--scanner=clamd', 'clamd', 'embedded', '--defang', '--no-defang', '--defang-ext', 'exe,js', '--maildir', '/m',
      '--maildir=/n', '--quarantine', '/q', '--on-infected', 'reject', 'quarantine', '--reject-code', '69', '7.5', '--on-fail', 'tempfail',
      'deliver-tagged', 'accept', 'tag', '--timeout', '30', '2m', '0', '--fsync', '--no-fsync', '-c', '--config', '/c.json', '--', 'cat', '-x', '1e3', '',
    );
    await fc.assert(
      fc.asyncProperty(fc.array(token, { maxLength: 12 }), async (argv) => {
        const mine = lean(argv);
        if (mine === undefined) return;
        expect(mine).toEqual(await viaYargs(argv));
      }),
      { numRuns: 400 },
    );
  });
});
