/** Waiting in tests that start real processes. */

/** Resolve when `cond()` holds, polling; false after `ms`. */
export async function until(cond: () => boolean, ms: number, step = 20): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, step));
  }
  return cond();
}
