/**
 * Owner, group and mode of a daemon's unix socket (`--socket-owner`, `--socket-group`,
 * `--socket-mode`), as clamav-milter's MilterSocketGroup/MilterSocketMode: Postfix's smtpd
 * runs as user postfix and must be able to connect.
 */
import { chmod, chown } from 'node:fs/promises';

/** Parse an octal mode such as `660` or `0o660`; throws a usage error otherwise. */
export function parseSocketMode(s: string): number {
  const m = /^(?:0o?)?([0-7]{3})$/.exec(s.trim());
  if (m === null) throw new Error(`--socket-mode ${s}: give an octal mode such as 660`);
  return parseInt(m[1] as string, 8);
}

/** Set the socket file's mode, then its owner and group (-1 keeps one). */
export async function secureUnixSocket(path: string, o: { mode: number; uid: number; gid: number }): Promise<void> {
  await chmod(path, o.mode);
  if (o.uid !== -1 || o.gid !== -1) await chown(path, o.uid, o.gid);
}
