/**
 * `--pid-file FILE`, as clamd's PidFile: written once the daemon is bound (before it drops
 * root, so the file may live in a root-owned folder such as /run), removed when it exits.
 * A file naming a live process is refused ("already running"); a stale one is replaced.
 */
import { open, readFile, rm } from 'node:fs/promises';

/** A written pid file. */
export interface PidFile {
  readonly path: string;
  /** Remove the file if it still names this process. Safe to call twice. */
  remove(): Promise<void>;
}

/** Is process `pid` alive (signal 0; EPERM: it is, owned by another user)? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The PID a pid file names (undefined when it is missing, empty or not a positive integer). */
export async function readPid(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Write `process.pid` to `path` (mode 0644). Throws an Error that says what to do when
 * another live process holds it or the folder is not writable.
 */
export async function writePidFile(path: string, pid = process.pid): Promise<PidFile> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(`${pid}\n`);
      } finally {
        await fh.close();
      }
      let removed = false;
      return {
        path,
        async remove() {
          if (removed) return;
          removed = true;
          if ((await readPid(path)) === pid) await rm(path, { force: true });
        },
      };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'EEXIST') throw new Error(`cannot write pid file ${path}: ${err.message}`);
      const other = await readPid(path);
      if (other !== undefined && other !== pid && alive(other)) throw new Error(`pid file ${path} names a running process (pid ${other}): is another avbench daemon running? Stop it or choose another --pid-file`);
      await rm(path, { force: true });
    }
  }
  throw new Error(`cannot write pid file ${path}: it keeps reappearing`);
}
