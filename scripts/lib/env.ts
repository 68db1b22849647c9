/**
 * The environment the benches' whole processes run in: the one users' processes get, not
 * this shell's. Node 20 reads and parses the file NODE_EXTRA_CA_CERTS names at every start,
 * before any script runs: with this machine's bundle (/etc/ssl/certs/ca-certificates.crt,
 * 220 KB) `node -e 0` takes ~65 ms instead of ~25 (measured 2026-12-04) — a tax the sandbox's
 * shell sets and an MTA or an administrator's shell does not. Both sides of a ratio
 * (`node -e 0` and `avbench deliver`; `avbench scan` and `clamdscan`) run in the same
 * environment; the bench prints which one.
 */

/**
 * The variables Postfix's local(8) and pipe(8) give a `mailbox_command` or a pipe transport:
 * HOME, LOGNAME, USER, SHELL, PATH (its own default path; here the bench's, so the same
 * `node` is found), and `export_environment` (default TZ MAIL_CONFIG LANG).
 */
export const MTA_VARIABLES = ['PATH', 'HOME', 'LOGNAME', 'USER', 'SHELL', 'TZ', 'MAIL_CONFIG', 'LANG'] as const;

/** Variables that change how fast a Node process starts, left out of the users' environment. */
export const START_UP_TAXES = ['NODE_EXTRA_CA_CERTS'] as const;

/**
 * Make this process's environment — which every child of the bench inherits (the process
 * door extends process.env) — what users' processes have. `mta`: only {@link MTA_VARIABLES}
 * (and TMPDIR when set, for the bench's own temp files); `shell`: this environment without
 * {@link START_UP_TAXES}; `as-is`: unchanged. Returns one line saying what was done.
 */
export function useUsersEnvironment(kind: 'mta' | 'shell' | 'as-is'): string {
  if (kind === 'as-is') {
    const taxes = START_UP_TAXES.filter((k) => process.env[k] !== undefined);
    return `environment: this shell's, as is${taxes.length > 0 ? ` (with ${taxes.join(', ')}: every Node process starts slower)` : ''}`;
  }
  const removed: string[] = [];
  const keep = new Set<string>(kind === 'mta' ? [...MTA_VARIABLES, 'TMPDIR'] : []);
  for (const k of Object.keys(process.env)) {
    const drop = kind === 'mta' ? !keep.has(k) : (START_UP_TAXES as readonly string[]).includes(k);
    if (drop) {
      delete process.env[k];
      removed.push(k);
    }
  }
  const taxes = removed.filter((k) => (START_UP_TAXES as readonly string[]).includes(k));
  if (kind === 'mta') {
    return `environment: what Postfix's local(8)/pipe(8) give a command (${[...keep].filter((k) => process.env[k] !== undefined).join(' ')}); ${removed.length} other variables of this shell left out${taxes.length > 0 ? `, among them ${taxes.join(', ')}` : ''} (--env as-is keeps them)`;
  }
  return `environment: this shell's${taxes.length > 0 ? ` without ${taxes.join(', ')} (a Node start-up tax this machine's shell sets; --env as-is keeps it)` : ''}`;
}
