/**
 * `avbench lab up|down|status [--dir DIR] [--detach]`: real third-party daemons on loopback.
 */
import { mkdir, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { spawnDaemon } from '../../core/exec.js';
import { alive, checkLabComponents, DEFAULT_LAB_DIR, LAB_COMPONENTS, labDown, labUp, readLabState, unknownLabComponents, type LabComponent, type LabState } from '../../lab/up.js';
import type { CliState } from '../types.js';

interface LabArgs {
  action: 'up' | 'down' | 'status';
  dir: string;
  detach: boolean;
  json: boolean;
  only?: string[];
}

/** `--only a,b --only c` → [a, b, c]. */
function onlyList(v: readonly string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return v.flatMap((x) => String(x).split(',')).map((x) => x.trim()).filter((x) => x !== '');
}

function printState(state: LabState, out = process.stdout): void {
  const t = new Table({ head: ['daemon', 'pid', 'running', 'endpoint'], style: { head: [], border: [] } });
  for (const d of state.daemons) t.push([d.name, d.pid, alive(d.pid) ? 'yes' : 'NO', d.endpoint]);
  out.write(t.toString() + '\n');
  out.write(`config for --config: ${state.configFile}\n`);
  for (const [name, url] of Object.entries(state.suts)) out.write(`--sut for ${name}: ${url}\n`);
}

async function waitForReady(dir: string, childPid: number, deadline: number): Promise<LabState | undefined> {
  while (Date.now() < deadline) {
    const s = await readLabState(dir);
    if (s !== undefined && s.pid === childPid && s.ready) return s;
    if (!alive(childPid)) return undefined;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

export function labCommand(state: CliState): CommandModule<object, LabArgs> {
  return {
    command: 'lab <action>',
    describe: 'Start/stop real clamd, c-icap, clamav-milter, clamsmtpd, smtp-sink and the installed gateways (rspamd, Haraka, Exim, Sendmail, amavisd-new) on loopback',
    builder: (y: Argv) =>
      y
        .positional('action', { choices: ['up', 'down', 'status'] as const, describe: 'up: start (foreground; --detach to background) · down: stop · status' })
        .option('dir', { type: 'string', default: DEFAULT_LAB_DIR, describe: 'lab folder: state.json, avbench.config.json, lab.log' })
        .option('detach', { type: 'boolean', default: false, describe: 'with up: run the lab in the background and return once it is ready' })
        .option('json', { type: 'boolean', default: false, describe: 'with status: print state.json' })
        .option('only', {
          type: 'string',
          array: true,
          describe: `with up: start only these, comma-separated (clamd always): ${LAB_COMPONENTS.join(', ')}; a gateway named here must be installed. Default: all, each optional gateway where installed`,
        })
        .check((a) => {
          const only = onlyList(a['only'] as string[] | undefined);
          if (only === undefined) return true;
          if (a['action'] !== 'up') throw new Error('--only goes with `lab up`');
          if (only.length === 0) throw new Error(`--only needs names: ${LAB_COMPONENTS.join(', ')}`);
          const unknown = unknownLabComponents(only);
          if (unknown.length > 0) throw new Error(`--only: no lab daemon named ${unknown.join(', ')} (known: ${LAB_COMPONENTS.join(', ')})`);
          return true;
        })
        .example('$0 lab up --detach && $0 bench --config .avbench-lab/avbench.config.json --corpus corpora/quick', 'bench against the lab')
        .example('$0 lab up --detach --only exim,haraka', 'clamd, Exim and Haraka only')
        .example('$0 lab down', 'stop everything the lab started') as unknown as Argv<LabArgs>,
    handler: async (args: ArgumentsCamelCase<LabArgs>) => {
      const dir = resolve(args.dir);
      if (args.action === 'status') {
        const s = await readLabState(dir);
        if (s === undefined || !alive(s.pid)) {
          process.stdout.write(args.json ? 'null\n' : `no lab is up in ${dir}\n`);
          state.exitCode = 3;
          return;
        }
        if (args.json) process.stdout.write(JSON.stringify(s, null, 2) + '\n');
        else printState(s);
        state.exitCode = s.daemons.every((d) => alive(d.pid)) ? 0 : 1;
        return;
      }
      if (args.action === 'down') {
        const r = await labDown(dir);
        process.stdout.write(r.wasUp ? `lab in ${dir} stopped${r.killed.length ? ` (had to kill ${r.killed.join(', ')})` : ''}\n` : `no lab was up in ${dir}\n`);
        state.exitCode = 0;
        return;
      }
      if (args.detach) {
        // A gateway named with --only that is not installed: said here, before the folder and its log exist.
        try {
          await checkLabComponents(onlyList(args.only));
        } catch (err) {
          process.stderr.write(`avbench: ${(err as Error).message}\n`);
          state.exitCode = 2;
          return;
        }
        await mkdir(dir, { recursive: true });
        const logFile = join(dir, 'lab.log');
        await (await open(logFile, 'a', 0o644)).close();
        const bin = fileURLToPath(new URL('../bin.js', import.meta.url));
        const only = onlyList(args.only);
        const child = await spawnDaemon(process.execPath, [bin, 'lab', 'up', '--dir', dir, ...(only === undefined ? [] : ['--only', only.join(',')])], { logFile, detached: true });
        const ready = await waitForReady(dir, child.pid, Date.now() + 90_000);
        if (ready === undefined) {
          process.stderr.write(`avbench: the lab did not come up; see ${logFile}\n`);
          state.exitCode = 1;
          return;
        }
        printState(ready);
        process.stdout.write(`lab running in the background (supervisor pid ${ready.pid}); stop it with \`avbench lab down --dir ${args.dir}\`\n`);
        state.exitCode = 0;
        return;
      }
      const only = onlyList(args.only);
      const lab = await labUp(dir, only === undefined ? {} : { only: only as LabComponent[] });
      printState(lab.state);
      process.stdout.write('lab is up; Ctrl-C (or `avbench lab down`) stops it\n');
      await new Promise<void>((resolveStop) => {
        const stop = (): void => resolveStop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await lab.stop();
      process.stdout.write('lab stopped\n');
      state.exitCode = 0;
    },
  };
}
