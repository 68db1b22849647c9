/**
 * `avbench deliver --scanner NAME [--defang] [--maildir DIR] [--quarantine DIR]
 *                  [--on-infected quarantine|reject] [--config FILE] -- COMMAND ARGS...`
 *
 * Interception point C: reads one message on stdin, scans it, and hands it to COMMAND (on
 * stdin, no shell) or writes it into a Maildir. Exits with a sysexits code the MTA
 * understands: 0 delivered or quarantined · 75 EX_TEMPFAIL scanner error (the MTA retries) ·
 * 77 EX_NOPERM infected and rejected (--reject-code) · COMMAND's own code otherwise.
 * A configuration problem (unknown scanner, bad config file) also exits 75: mail must not
 * bounce because the filter is misconfigured. One line on stderr says what happened.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { adapterByName } from '../../../adapters/index.js';
import { loadConfig } from '../../config/config.js';
import type { Adapter } from '../../core/types.js';
import { DEFAULT_DEFANG_EXTENSIONS } from '../../modes/lda/defang.js';
import { deliverMessage, EX_NOPERM, EX_TEMPFAIL, type DeliverOptions } from '../../modes/lda/deliver.js';
import type { CliState } from '../main.js';

interface DeliverArgs {
  scanner: string[];
  defang: boolean;
  defangExt?: string[];
  maildir?: string;
  quarantine?: string;
  onInfected: 'quarantine' | 'reject';
  rejectCode: number;
  onFail: 'tempfail' | 'deliver-tagged';
  config?: string;
  timeout: number;
  fsync: boolean;
  '--'?: Array<string | number>;
}

/** Where the command reads the message and writes its one-line report (replaceable in tests). */
export interface DeliverIo {
  readStdin(): Promise<Buffer>;
  log(line: string): void;
}

/** Read all of process.stdin. */
export async function readAllStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

const defaultIo: DeliverIo = {
  readStdin: readAllStdin,
  log: (line) => process.stderr.write(`avbench deliver: ${line}\n`),
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
        .option('on-infected', { choices: ['quarantine', 'reject'] as const, describe: 'infected: quarantine (exit 0) or reject (--reject-code); default quarantine when --quarantine is given, else reject' })
        .option('reject-code', { type: 'number', default: EX_NOPERM, describe: 'exit code for a rejected message (77 EX_NOPERM; 69 EX_UNAVAILABLE is common too)' })
        .option('on-fail', { choices: ['tempfail', 'deliver-tagged'] as const, default: 'tempfail' as const, describe: 'scanner error: tempfail (75) or deliver with X-Virus-Status: Unchecked' })
        .option('timeout', { type: 'number', default: 120, describe: 'seconds the delivery COMMAND may run' })
        .option('fsync', { type: 'boolean', default: true, describe: 'fsync Maildir/quarantine files (--no-fsync for benchmarks only)' })
        .option('config', { alias: 'c', type: 'string', describe: 'config file (default: ./avbench.config.json when present)' })
        .example('$0 deliver -s clamd --quarantine /var/quarantine -- /usr/bin/procmail -a "$EXTENSION"', 'as Postfix mailbox_command')
        .example('$0 deliver -s embedded --defang --maildir ~/Maildir', 'straight into a Maildir') as unknown as Argv<DeliverArgs>,
    handler: async (args: ArgumentsCamelCase<DeliverArgs>) => {
      state.exitCode = await runDeliver(args, io);
    },
  };
}

async function runDeliver(args: DeliverArgs, io: DeliverIo): Promise<number> {
  const command = (args['--'] ?? []).map(String);
  let adapters: Adapter[] = [];
  try {
    const { config } = await loadConfig(args.config);
    const onInfected = args.onInfected ?? (args.quarantine === undefined ? 'reject' : 'quarantine');
    if (command.length === 0 && args.maildir === undefined) throw new TypeError('name a delivery COMMAND after -- or give --maildir DIR');
    adapters = [...new Set(args.scanner)].map((n) => adapterByName(n, config));
    const exts = args.defangExt?.flatMap((e) => e.split(/[,\s]+/)).filter((e) => e !== '');
    const opts: DeliverOptions = {
      scanners: adapters,
      onInfected,
      onFail: args.onFail,
      rejectExitCode: args.rejectCode,
      commandTimeoutMs: Math.max(1, args.timeout) * 1000,
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
