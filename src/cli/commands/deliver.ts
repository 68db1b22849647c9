/**
 * `avbench deliver --scanner NAME [--defang] [--maildir DIR] [--quarantine DIR]
 *                  [--on-infected reject|tempfail|drop|tag|quarantine] [--on-fail tempfail|accept]
 *                  [--timeout 120s] [--config FILE] -- COMMAND ARGS...`
 *
 * Interception point C: reads one message on stdin, scans it, and hands it to COMMAND (on
 * stdin, no shell) or writes it into a Maildir. Exits with a sysexits code the MTA
 * understands: 0 delivered or quarantined · 75 EX_TEMPFAIL scanner error (the MTA retries) ·
 * 77 EX_NOPERM infected and rejected (--reject-code) · COMMAND's own code otherwise.
 * A configuration problem (unknown scanner, bad config file) also exits 75: mail must not
 * bounce because the filter is misconfigured. One line on stderr says what happened.
 */
import { readSync, writeSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { openScanners } from '../../../adapters/open.js';
import { loadConfig } from '../../config/config.js';
import type { Adapter } from '../../core/types.js';
import { DEFAULT_DEFANG_EXTENSIONS } from '../../modes/lda/defang.js';
import { deliverMessage, EX_NOPERM, EX_TEMPFAIL, type DeliverOptions } from '../../modes/lda/deliver.js';
import { FAIL_CHOICES, INFECTED_CHOICES, parseTimeout, policyFrom } from '../../modes/policy.js';
import { CONFIG_OPTION } from '../options.js';
import type { CliState } from '../types.js';
import { readLeanArgv } from '../lean-argv.js';
import { readStream } from '../read-stream.js';

/** The options of `avbench deliver` as yargs hands them to the handler. */
export interface DeliverArgs {
  scanner: string[];
  defang: boolean;
  defangExt?: string[];
  maildir?: string;
  quarantine?: string;
  /** The policy's words (src/modes/policy.ts; old spellings warned about). Unset: the config file's policy.onInfected, else quarantine when --quarantine is given, else reject. */
  onInfected?: string;
  rejectCode: number;
  /** tempfail | accept (old: deliver-tagged). Unset: the config file's policy.onFail, else tempfail. */
  onFail?: string;
  config?: string;
  /** How long the delivery COMMAND may run: seconds, or with a unit (`120`, `90s`, `2m`). */
  timeout: string;
  fsync: boolean;
  '--'?: Array<string | number>;
}

/** Where the command reads the message and writes its one-line report (replaceable in tests). */
export interface DeliverIo {
  readStdin(): Promise<Buffer>;
  log(line: string): void;
}

/** Bytes asked of each read of stdin (a pipe holds 64 KiB). */
const STDIN_CHUNK = 64 * 1024;

/**
 * Read all of stdin. Plain reads of fd 0 (`readSync`), not process.stdin: the message is the
 * first and only thing this process reads, and making the stream (a net.Socket for the
 * MTA's pipe, an fs.ReadStream for `< FILE`) costs about 1 ms of a per-message process.
 * A stdin in non-blocking mode (EAGAIN) is read on through process.stdin, after what the
 * plain reads got.
 */
export function readAllStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let buf = Buffer.allocUnsafe(STDIN_CHUNK);
  let used = 0;
  try {
    for (;;) {
      const n = readSync(0, buf, used, buf.length - used, null);
      if (n === 0) break;
      used += n;
      if (used === buf.length) {
        chunks.push(buf);
        buf = Buffer.allocUnsafe(STDIN_CHUNK);
        used = 0;
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return Promise.reject(err);
    if (used > 0) chunks.push(buf.subarray(0, used));
    return readStream(process.stdin, chunks);
  }
  if (used > 0) chunks.push(buf.subarray(0, used));
  return Promise.resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
}

/**
 * Write one line to stderr with plain writes of fd 2 (not process.stderr: making that stream
 * costs about 1 ms, and this is the only thing a delivery writes). A stderr in non-blocking
 * mode (EAGAIN) gets the rest through process.stderr.
 */
export function writeStderr(text: string): void {
  const data = Buffer.from(text);
  let done = 0;
  try {
    while (done < data.length) done += writeSync(2, data, done, data.length - done);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') process.stderr.write(data.subarray(done));
    // Otherwise stderr is closed or broken: the exit code still tells the MTA what happened.
  }
}

const defaultIo: DeliverIo = {
  readStdin: readAllStdin,
  log: (line) => writeStderr(`avbench deliver: ${line}\n`),
};

/** The yargs module of `avbench deliver` (sets `state.exitCode` to the sysexits code). */
export function deliverCommand(state: CliState, io: DeliverIo = defaultIo): CommandModule<object, DeliverArgs> {
  return {
    command: 'deliver',
    describe: 'Scan the message on stdin, then deliver it (COMMAND after --, or --maildir); sysexits exit codes',
    builder: (y: Argv) =>
      y
        .parserConfiguration({ 'populate--': true, 'parse-positional-numbers': false })
        .option('scanner', { alias: 's', type: 'string', array: true, nargs: 1, demandOption: true, describe: 'scanner name (repeatable)' })
        .option('defang', { type: 'boolean', default: false, describe: 'rename dangerous attachment extensions (invoice.exe → invoice.DEFANGED-EXE)' })
        .option('defang-ext', { type: 'string', array: true, nargs: 1, describe: `extensions to defang (default: ${DEFAULT_DEFANG_EXTENSIONS.slice(0, 12).join(' ')} ...); implies --defang` })
        .option('maildir', { type: 'string', describe: 'deliver into this Maildir (when no COMMAND is given)' })
        .option('quarantine', { type: 'string', describe: 'quarantine folder for infected mail' })
        .option('on-infected', { type: 'string', choices: INFECTED_CHOICES as string[], describe: 'infected: reject (exit --reject-code), tempfail (75), drop (0, discarded), tag (delivered with X-Virus-Status: Infected), quarantine (0, kept in --quarantine); default quarantine when --quarantine is given, else reject' })
        .option('reject-code', { type: 'number', default: EX_NOPERM, describe: 'exit code for a rejected message (77 EX_NOPERM; 69 EX_UNAVAILABLE is common too)' })
        .option('on-fail', { type: 'string', choices: FAIL_CHOICES as string[], describe: 'scanner error: tempfail (75, default) or accept (deliver with X-Virus-Status: Unchecked); deliver-tagged: old spelling of accept' })
        .option('timeout', { type: 'string', default: '120', describe: 'how long the delivery COMMAND may run: seconds, or 90s, 500ms, 2m' })
        .check((a) => {
          // A bad duration is a usage error (exit 64) before stdin is read.
          try {
            parseTimeout(String(a['timeout']), '--timeout');
          } catch (err) {
            throw new Error((err as Error).message);
          }
          if (a['onInfected'] === 'quarantine' && a['quarantine'] === undefined) throw new Error('--on-infected quarantine needs --quarantine DIR');
          const rest = a['--'];
          if ((!Array.isArray(rest) || rest.length === 0) && a['maildir'] === undefined) throw new Error('name a delivery COMMAND after -- or give --maildir DIR');
          return true;
        })
        .option('fsync', { type: 'boolean', default: true, describe: 'fsync Maildir/quarantine files (--no-fsync for benchmarks only)' })
        .option('config', CONFIG_OPTION)
        .example('$0 deliver -s clamd --quarantine /var/quarantine -- /usr/bin/procmail -a "$EXTENSION"', 'as Postfix mailbox_command')
        .example('$0 deliver -s embedded --defang --maildir ~/Maildir', 'straight into a Maildir') as unknown as Argv<DeliverArgs>,
    handler: async (args: ArgumentsCamelCase<DeliverArgs>) => {
      state.exitCode = await runDeliver(args, io);
    },
  };
}

/**
 * Run one delivery with parsed options (the handler of the yargs module and of the lean
 * entry, src/cli/deliver-lean.ts). Resolves to the sysexits code; never throws.
 */
export async function runDeliver(args: DeliverArgs, io: DeliverIo = defaultIo): Promise<number> {
  const command = (args['--'] ?? []).map(String);
  let adapters: Adapter[] = [];
  try {
    const { config } = await loadConfig(args.config);
    const fromFile = config.policy?.onInfected !== undefined;
    const policy = policyFrom(
      { onInfected: args.onInfected ?? (!fromFile && args.quarantine !== undefined ? 'quarantine' : undefined), onFail: args.onFail },
      config.policy,
      { warn: (line) => io.log(line) },
    );
    const commandTimeoutMs = parseTimeout(args.timeout, '--timeout');
    if (command.length === 0 && args.maildir === undefined) throw new TypeError('name a delivery COMMAND after -- or give --maildir DIR');
    // One lifecycle (adapters/open.ts): an unknown name is bad configuration (75 below,
    // before stdin is read); each scanner is probed with a deadline, and one not available
    // is kept, as the daemons keep it: its scan fails and --on-fail decides (75, or
    // delivered Unchecked), so the code in the tempfail line stays the scanner's own.
    adapters = (await openScanners(args.scanner, config, { require: false })).adapters;
    const exts = args.defangExt?.flatMap((e) => e.split(/[,\s]+/)).filter((e) => e !== '');
    const opts: DeliverOptions = {
      scanners: adapters,
      onInfected: policy.onInfected,
      onFail: policy.onFail,
      rejectExitCode: args.rejectCode,
      commandTimeoutMs,
      fsync: args.fsync,
      ...(command.length > 0 ? { command } : {}),
      ...(args.maildir === undefined ? {} : { maildir: args.maildir }),
      ...(args.quarantine === undefined ? {} : { quarantineDir: args.quarantine }),
      ...(exts !== undefined && exts.length > 0 ? { defang: { extensions: exts } } : args.defang ? { defang: true } : {}),
      ...(config.limits === undefined ? {} : { limits: config.limits }),
    };
    const raw = await io.readStdin();
    const r = await deliverMessage(raw, opts);
    io.log(r.message);
    return r.exitCode;
  } catch (err) {
    // Bad configuration: tempfail so the MTA keeps the mail while the admin fixes it.
    io.log(`tempfail: CONFIG: ${(err as Error).message}`);
    return EX_TEMPFAIL;
  } finally {
    await Promise.all(adapters.map((a) => a.close().catch(() => undefined)));
  }
}

/** Options that take one value, by their spelling on the command line (yargs' kebab-case names). */
const VALUE_OPTIONS: Record<string, 'scanner' | 'defangExt' | 'maildir' | 'quarantine' | 'onInfected' | 'rejectCode' | 'onFail' | 'timeout' | 'config'> = {
  '-s': 'scanner',
  '--scanner': 'scanner',
  '--defang-ext': 'defangExt',
  '--maildir': 'maildir',
  '--quarantine': 'quarantine',
  '--on-infected': 'onInfected',
  '--reject-code': 'rejectCode',
  '--on-fail': 'onFail',
  '--timeout': 'timeout',
  '-c': 'config',
  '--config': 'config',
};

/** Boolean flags: spelling → [option, value]. */
const FLAGS: Record<string, ['defang' | 'fsync', boolean]> = {
  '--defang': ['defang', true],
  '--no-defang': ['defang', false],
  '--fsync': ['fsync', true],
  '--no-fsync': ['fsync', false],
};

/** A plain decimal number as yargs' `type: 'number'` reads it (anything else: not ours to judge). */
const PLAIN_NUMBER = /^[0-9]+(\.[0-9]+)?$/;
/** A duration parseDuration takes and that is more than 0 (anything else: yargs' check reports it). */
const DURATION = /^(?=.*[1-9])[0-9]+(\.[0-9]+)?(ms|s|m|h)?$/i;

/**
 * Parse the arguments after `deliver` the way the yargs module above does, for the common
 * spellings an MTA configuration uses: `-s NAME`, `--scanner NAME`, `--opt=VALUE`, the
 * flags `--defang`, `--no-fsync` etc., `-c FILE`, and everything after `--` as COMMAND.
 * Returns undefined for anything else — help, version, an unknown or repeated option, a
 * bad choice or number, a missing `--scanner`, a stray positional argument — so the caller
 * hands the whole command line to yargs, which then behaves exactly as it always has.
 * For every argument list it accepts, the result equals what yargs passes to the handler
 * (test/cli/deliver-argv.test.ts compares the two).
 */
export function parseDeliverArgv(argv: readonly string[]): DeliverArgs | undefined {
  const scanner: string[] = [];
  const defangExt: string[] = [];
  const out: DeliverArgs = { scanner, defang: false, rejectCode: EX_NOPERM, timeout: '120', fsync: true };
  let command: string[] | undefined;
  const ok = readLeanArgv(argv, {
    flags: FLAGS,
    values: VALUE_OPTIONS,
    repeatable: ['scanner', 'defangExt'],
    flag: (option, value) => {
      out[option] = value;
    },
    rest: (args) => {
      command = args;
    },
    value: (key, value) => {
      if (key === 'scanner') scanner.push(value);
      else if (key === 'defangExt') defangExt.push(value);
      else {
        if (key === 'rejectCode') {
          if (!PLAIN_NUMBER.test(value)) return false;
          out[key] = Number(value);
        } else if (key === 'timeout') {
          if (!DURATION.test(value)) return false;
          out.timeout = value;
        } else if (key === 'onInfected') {
          if (!INFECTED_CHOICES.includes(value)) return false;
          out.onInfected = value;
        } else if (key === 'onFail') {
          if (!FAIL_CHOICES.includes(value)) return false;
          out.onFail = value;
        } else out[key] = value;
      }
      return true;
    },
  });
  if (!ok) return undefined;
  if (scanner.length === 0) return undefined;
  // Usage errors for yargs to report (exit 64).
  if (out.onInfected === 'quarantine' && out.quarantine === undefined) return undefined;
  if ((command === undefined || command.length === 0) && out.maildir === undefined) return undefined;
  if (defangExt.length > 0) out.defangExt = defangExt;
  if (command !== undefined && command.length > 0) out['--'] = command;
  return out;
}
