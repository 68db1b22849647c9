/**
 * Start a real c-icap with the virus_scan service on loopback, talking to a (lab) clamd:
 * a copy of the stock c-icap.conf with our own Port, PidFile, CommandsSocket, TmpDir and
 * logs in a private temp folder, plus RUNBOOK.md's virus_scan lines. Service alias
 * `avscan`. `stop()` ends it and removes the folder.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, freePort } from '../core/net.js';
import { requireProgram, startLabDaemon, type LabListener, type LabProcess } from './daemon.js';
import { pollUntil } from './util.js';

/** Options of {@link startCicap}. */
export interface StartCicapOptions {
  /** clamd's unix socket the virus_scan module talks to. */
  clamdSocket: string;
  /** Parent folder for the private temp folder (default: the OS temp folder). */
  dir?: string;
  /** The stock config to start from (default /etc/c-icap/c-icap.conf). */
  baseConfig?: string;
  /** virus_scan.MaxObjectSize (default 5M). */
  maxObjectSize?: string;
  /** How long to wait for OPTIONS to answer (ms, default 20 000). */
  readyTimeoutMs?: number;
}

/** A running lab c-icap (`url` = `icap://127.0.0.1:PORT/avscan`). */
export interface LabCicap extends LabListener, LabProcess {
  configFile: string;
}

/** Keys of the stock config that the lab replaces. */
const OVERRIDDEN = new Set(['port', 'pidfile', 'commandssocket', 'tmpdir', 'serverlog', 'accesslog', 'user', 'group', 'startservers', 'include']);

/** Build the lab's c-icap.conf from the stock one. */
export function cicapConfig(stock: string, o: { port: number; folder: string; clamdSocket: string; maxObjectSize: string }): string {
  const kept = stock
    .split(/\r?\n/)
    .filter((line) => {
      const key = /^\s*(\S+)/.exec(line)?.[1]?.toLowerCase();
      return key === undefined || key.startsWith('#') || !OVERRIDDEN.has(key);
    })
    .join('\n');
  const ours = [
    '# --- avbench lab overrides ---',
    `Port 127.0.0.1:${o.port}`,
    `PidFile ${join(o.folder, 'c-icap.pid')}`,
    `CommandsSocket ${join(o.folder, 'c-icap.ctl')}`,
    `TmpDir ${join(o.folder, 'tmp')}`,
    `ServerLog ${join(o.folder, 'server.log')}`,
    `AccessLog ${join(o.folder, 'access.log')}`,
    'StartServers 1',
    'Module common clamd_mod.so',
    `clamd_mod.ClamdSocket ${o.clamdSocket}`,
    'Service antivirus_module virus_scan.so',
    'ServiceAlias avscan virus_scan?allow204=on&sizelimit=off&mode=simple',
    'virus_scan.ScanFileTypes TEXT DATA EXECUTABLE ARCHIVE GIF JPEG MSOFFICE',
    `virus_scan.MaxObjectSize ${o.maxObjectSize}`,
    'virus_scan.DefaultEngine clamd',
  ];
  return `${kept}\n${ours.join('\n')}\n`;
}

/** Does an ICAP server answer OPTIONS on `host:port/service` with 200? */
export async function icapOptionsOk(host: string, port: number, service: string, deadline: number): Promise<boolean> {
  try {
    const c = await connect({ host, port }, { deadline });
    try {
      await c.write(Buffer.from(`OPTIONS icap://${host}:${port}/${service} ICAP/1.0\r\nHost: ${host}:${port}\r\nEncapsulated: null-body=0\r\n\r\n`, 'latin1'));
      const head = (await c.readUntil('\r\n\r\n')).toString('latin1');
      return /^ICAP\/1\.0 200/.test(head);
    } finally {
      c.destroy();
    }
  } catch {
    return false;
  }
}

/** Start c-icap (throws, with the log's tail, if it cannot start or never answers OPTIONS). */
export async function startCicap(opts: StartCicapOptions): Promise<LabCicap> {
  const bin = await requireProgram('c-icap', 'apt-get install c-icap libc-icap-mod-virus-scan; see docs/install.md');
  const stock = await readFile(opts.baseConfig ?? '/etc/c-icap/c-icap.conf', 'utf8');
  const host = '127.0.0.1';
  const { launch, ...proc } = await startLabDaemon({
    name: 'c-icap',
    slug: 'cicap',
    dir: opts.dir,
    pidFile: 'avbench.pid',
    stopGraceMs: 5_000,
    async setup(folder) {
      await mkdir(join(folder, 'tmp'), { mode: 0o700 });
      const port = await freePort();
      const configFile = join(folder, 'c-icap.conf');
      await writeFile(configFile, cicapConfig(stock, { port, folder, clamdSocket: opts.clamdSocket, maxObjectSize: opts.maxObjectSize ?? '5M' }), { mode: 0o600 });
      const outFile = join(folder, 'c-icap.out');
      return {
        bin,
        args: ['-N', '-D', '-d', '3', '-f', configFile],
        outFile,
        ready: (deadline: number, alive: () => boolean) => pollUntil((d) => icapOptionsOk(host, port, 'avscan', d), deadline, alive, { tryMs: 2_000 }),
        readyTimeoutMs: opts.readyTimeoutMs ?? 20_000,
        notReady: 'did not answer OPTIONS in time',
        logs: [join(folder, 'server.log'), outFile],
        port,
        configFile,
      };
    },
  });
  return { ...proc, url: `icap://${host}:${launch.port}/avscan`, host, port: launch.port, configFile: launch.configFile };
}
