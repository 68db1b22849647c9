/**
 * The SMTP load path of the benches: Postfix's `smtp-source` as the load tool (its
 * defaults, whole-process time) and `smtp-sink` dumping every message into a folder, so
 * that each arrival can be counted and checked.
 */
import { chown, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run, spawnDaemon, which } from '../../src/core/exec.js';
import { freePort } from '../../src/core/net.js';
import { loopback, waitListening } from './listen.js';

/** One smtp-source run. */
export interface SmtpSourceOptions {
  /** `-s`: sessions in parallel. */
  sessions: number;
  /** `-m`: messages in all. */
  messages: number;
  /** `-l`: message size in bytes. */
  length: number;
  /** `-d`: keep each session open for several messages (default: a new connection per message). */
  kept?: boolean;
  /** `-f` sender and `-t` recipient (default smtp-source's own). */
  from?: string;
  to?: string;
  /** Kill it after this long (default 600 s): the run is then `cut`. */
  capMs?: number;
}

/** What an smtp-source run gave: its whole-process time, and why not ok ('' when it was). */
export interface SmtpSourceResult {
  ms: number;
  ok: boolean;
  /** Killed at capMs. */
  cut: boolean;
  why: string;
}

/** Run `smtp-source [-d] -s N -m M -l SIZE [-f FROM] [-t TO] 127.0.0.1:PORT`, timed from spawn to exit. */
export async function smtpSource(port: number, o: SmtpSourceOptions): Promise<SmtpSourceResult> {
  const args = [
    ...(o.kept === true ? ['-d'] : []),
    '-s',
    String(o.sessions),
    '-m',
    String(o.messages),
    '-l',
    String(o.length),
    ...(o.from === undefined ? [] : ['-f', o.from]),
    ...(o.to === undefined ? [] : ['-t', o.to]),
    `127.0.0.1:${port}`,
  ];
  const t0 = performance.now();
  const res = await run('smtp-source', args, { deadline: Date.now() + (o.capMs ?? 600_000) });
  const ms = performance.now() - t0;
  const cut = !res.ok && res.reason === 'TIMEOUT';
  const why = res.ok && res.exitCode === 0 ? '' : cut ? `cut at ${(ms / 1000).toFixed(0)} s` : `smtp-source ${args.join(' ')}: ${res.ok ? `exit ${res.exitCode}` : res.reason} ${(res.stderr || res.stdout).trim().slice(0, 200)}`;
  return { ms, ok: why === '', cut, why };
}

/** Dumped messages read (and removed) at once by DumpSink.collect(). */
const COLLECT_AT_ONCE = 256;

/** smtp-sink dumping every transaction into a folder (one file per message), so each can be checked. */
export interface DumpSink {
  port: number;
  pid: number;
  dir: string;
  /** Read and delete every dumped message. */
  collect(): Promise<Buffer[]>;
  stop(): Promise<void>;
}

/** The postfix user's uid and gid (smtp-sink -u postfix writes the dumps as it). */
async function postfixIds(): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  const line = passwd.split('\n').find((l) => l.startsWith('postfix:'));
  if (line === undefined) return undefined;
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/**
 * Start `smtp-sink -d BASE/sink/%H%M%S. 127.0.0.1:PORT 1024` (as root: `-u postfix`, the
 * folder given to it) and wait for its greeting; its log is BASE/smtp-sink.log. Put BASE on
 * tmpfs (/dev/shm) so the dumps cost no disk.
 */
export async function startDumpSink(base: string): Promise<DumpSink> {
  const bin = (await which('smtp-sink')) ?? (await which('/usr/sbin/smtp-sink'));
  if (bin === undefined) throw new Error('smtp-sink is not installed (postfix; see docs/install.md)');
  const dir = join(base, 'sink');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const ids = await postfixIds();
    if (ids === undefined) throw new Error('no postfix user for smtp-sink -u postfix');
    await chown(dir, ids.uid, ids.gid);
  }
  const port = await freePort();
  const d = await spawnDaemon(bin, [...(asRoot ? ['-u', 'postfix'] : []), '-d', `${dir}/%H%M%S.`, `127.0.0.1:${port}`, '1024'], { logFile: join(base, 'smtp-sink.log') });
  await waitListening(loopback(port), { timeoutMs: 10_000, alive: d.running, expect: 'smtp', what: 'smtp-sink' });
  // The readiness probe's session leaves no message.
  return {
    port,
    pid: d.pid,
    dir,
    async collect() {
      const names = await readdir(dir);
      const files: Buffer[] = [];
      // COLLECT_AT_ONCE files open at a time: a kept-open cell dumps ~20,000 messages, and all
      // of them at once ran out of file descriptors (EMFILE; `ulimit -n` is 20,000 here).
      for (let i = 0; i < names.length; i += COLLECT_AT_ONCE) {
        const some = names.slice(i, i + COLLECT_AT_ONCE).map((n) => join(dir, n));
        files.push(...(await Promise.all(some.map((f) => readFile(f)))));
        await Promise.all(some.map((f) => rm(f, { force: true })));
      }
      return files;
    },
    stop: () => d.stop(3_000),
  };
}

/** A dumped message → Message-Id and body (what follows the header block, without smtp-sink's trailing empty line). */
export function parseDump(f: Buffer): { id?: string; body: Buffer; headers: string } {
  const end = f.indexOf('\n\n');
  const headers = (end < 0 ? f : f.subarray(0, end)).toString('latin1');
  const id = /^Message-Id: (.*)$/im.exec(headers)?.[1];
  let body = end < 0 ? Buffer.alloc(0) : f.subarray(end + 2);
  if (body.length > 0 && body[body.length - 1] === 0x0a) body = body.subarray(0, body.length - 1);
  return { ...(id === undefined ? {} : { id }), body, headers };
}
