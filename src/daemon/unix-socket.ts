/**
 * A daemon's unix socket (issue 12.4), the one implementation `serve milter` uses:
 * - before binding: a socket file left by a dead run is removed; one something still
 *   answers on is an EADDRINUSE error (the daemon prints its one line, exit 2); a path
 *   that is not a socket is refused, never replaced;
 * - after binding and before root is dropped: mode, owner and group (`--socket-mode`,
 *   `--socket-owner`, `--socket-group`), as clamav-milter's MilterSocketMode /
 *   MilterSocketGroup — Postfix's smtpd runs as user postfix and must be able to connect
 *   (`--socket-group postfix --socket-mode 660`).
 */
import { constants } from 'node:fs';
import { access, chmod, chown, lstat, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { connect, NetError } from '../core/net.js';
import { lookupAccount } from './privileges.js';

/** Parse an octal mode such as `660`, `0660` or `0o660`; throws a usage error otherwise. */
export function parseSocketMode(s: string): number {
  const m = /^(?:0o?)?([0-7]{3})$/.exec(s.trim());
  if (m === null) throw new Error(`--socket-mode ${s}: give an octal mode such as 660`);
  return parseInt(m[1] as string, 8);
}

/** Owner and group ids for the socket file (-1: leave as created). */
export interface SocketOwner {
  uid: number;
  gid: number;
}

/**
 * Resolve `--socket-owner USER` and `--socket-group GROUP` (names or numeric ids) from
 * /etc/passwd and /etc/group; throws an Error saying what is wrong (unknown name, not root).
 * Unset ones fall back to `fallback` (the daemon's --user/--group, as clamav-milter's
 * socket belongs to its User).
 */
export function resolveSocketOwner(
  owner: string | undefined,
  group: string | undefined,
  fallback: SocketOwner = { uid: -1, gid: -1 },
  files = { passwd: '/etc/passwd', group: '/etc/group' },
): SocketOwner {
  const out = { ...fallback };
  if (owner === undefined && group === undefined) return out;
  if (process.getuid?.() !== 0) throw new Error('--socket-owner/--socket-group need the daemon to start as root');
  if (owner !== undefined) {
    const f = lookupAccount(files.passwd, owner);
    if (f === undefined) throw new Error(`--socket-owner ${owner}: no such user in ${files.passwd}`);
    out.uid = Number(f[2]);
  }
  if (group !== undefined) {
    const f = lookupAccount(files.group, group);
    if (f === undefined) throw new Error(`--socket-group ${group}: no such group in ${files.group}`);
    out.gid = Number(f[2]);
  }
  return out;
}

/** An Error with an errno-style code (so the daemon's bind message names it). */
function codeError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * Make `path` free to bind: nothing there, or a socket nobody answers on (removed).
 * Throws `EADDRINUSE` when something accepts a connection on it (or does not refuse one
 * within a second), and an Error when the path is not a socket.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  const dir = dirname(path);
  const d = await stat(dir).catch(() => undefined);
  if (d === undefined || !d.isDirectory()) throw codeError('ENOENT', `the folder ${dir} does not exist: create it first (systemd: RuntimeDirectory=)`);
  if (!(await access(dir, constants.W_OK | constants.X_OK).then(() => true, () => false))) throw codeError('EPERM', `the folder ${dir} is not writable by this user: start as root (with --user) or choose another folder`);
  let st;
  try {
    st = await lstat(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw codeError('EEXIST', `${path} exists and is not a socket; refusing to replace it`);
  try {
    const c = await connect({ path }, { deadline: Date.now() + 1_000 });
    c.destroy();
  } catch (err) {
    // Refused or gone: a left-over of a dead run. A timeout: a live listener, too busy to accept.
    if (err instanceof NetError && err.code === 'CONNECT_FAILED') {
      await unlink(path).catch(() => undefined);
      return;
    }
  }
  throw codeError('EADDRINUSE', `${path}: another process is listening on it`);
}

/** Set the socket file's mode, then its owner and group (-1 keeps one). */
export async function secureUnixSocket(path: string, o: { mode: number; uid: number; gid: number }): Promise<void> {
  await chmod(path, o.mode);
  if (o.uid !== -1 || o.gid !== -1) await chown(path, o.uid, o.gid);
}
