/**
 * `--user NAME` / `--group NAME`: bind as root, then run as an unprivileged account, as
 * clamd (User) and clamav-milter (User) do. The names are resolved before anything is
 * bound (a typo is a usage error); the switch happens after the listening socket, the unix
 * socket's owner and mode, and the pid file are in place.
 */
import { readFileSync } from 'node:fs';

/** A resolved account to switch to. */
export interface RunAs {
  user?: { name: string; uid: number; gid: number };
  group?: { name: string; gid: number };
}

/** The fields of `name` (or numeric id) in a passwd- or group-format file; undefined when absent. */
export function lookupAccount(file: string, name: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name || (/^\d+$/.test(name) && f[2] === name)) return f;
  }
  return undefined;
}

/**
 * Resolve `--user` and `--group` (names or numeric ids) from /etc/passwd and /etc/group.
 * Throws an Error saying what is wrong: an unknown name, or not running as root.
 */
export function resolveRunAs(user: string | undefined, group: string | undefined, files = { passwd: '/etc/passwd', group: '/etc/group' }): RunAs {
  const out: RunAs = {};
  if (user === undefined && group === undefined) return out;
  if (process.getuid?.() !== 0) throw new Error('--user/--group need the daemon to start as root (it drops to them after binding)');
  if (user !== undefined) {
    const f = lookupAccount(files.passwd, user);
    if (f === undefined) throw new Error(`--user ${user}: no such user in ${files.passwd}`);
    out.user = { name: f[0] as string, uid: Number(f[2]), gid: Number(f[3]) };
  }
  if (group !== undefined) {
    const f = lookupAccount(files.group, group);
    if (f === undefined) throw new Error(`--group ${group}: no such group in ${files.group}`);
    out.group = { name: f[0] as string, gid: Number(f[2]) };
  }
  return out;
}

/** The uid/gid a file the daemon creates before dropping root should get (-1: unchanged). */
export function ownerOf(runAs: RunAs): { uid: number; gid: number } {
  return { uid: runAs.user?.uid ?? -1, gid: runAs.group?.gid ?? runAs.user?.gid ?? -1 };
}

/** Switch to the account for good: supplementary groups, then gid, then uid. */
export function dropPrivileges(runAs: RunAs): void {
  const gid = runAs.group?.gid ?? runAs.user?.gid;
  if (gid === undefined) return;
  process.setgroups?.([gid]);
  process.setgid?.(gid);
  if (runAs.user !== undefined) process.setuid?.(runAs.user.uid);
}
