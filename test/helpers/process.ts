/** Process checks shared by the tests that start real daemons. */

/** Is process `pid` alive? (signal 0; any error, ESRCH or EPERM, counts as gone: the tests run as root and own what they start.) */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
