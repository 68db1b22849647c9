/**
 * `avbench serve smtp|milter`: our front ends (interception points A and B) around any adapter.
 */
import type { Argv, CommandModule } from 'yargs';
import type { CliState } from '../types.js';
import { serveMilterCommand } from './serve-milter.js';
import { serveSmtpCommand } from './serve-smtp.js';

export function serveCommand(state: CliState): CommandModule<object, object> {
  return {
    command: 'serve <front-end>',
    describe: 'Run a front end: an SMTP proxy (point A) or a milter (point B) around a scanner',
    builder: (y: Argv) =>
      y
        .command(serveSmtpCommand(state) as CommandModule)
        .command(serveMilterCommand(state) as CommandModule)
        .demandCommand(1, 'Name a front end: smtp or milter') as Argv,
    handler: () => undefined,
  };
}
