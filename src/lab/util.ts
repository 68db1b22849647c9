/** Small helpers shared by the lab's daemon starters. */
import { readdir, readFile } from 'node:fs/promises';
import { connect, type Endpoint } from '../core/net.js';

/** Last `n` bytes of a log file ('' when it cannot be read), for error messages. */
export async function logTail(file: string, n = 2_000): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.slice(-n);
  } catch {
    return '';
  }
}

/** PIDs whose parent is `ppid`, ascending (from /proc; [] where /proc cannot be read). */
export async function childrenOf(ppid: number): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(e)) continue;
    const stat = await readFile(`/proc/${e}/stat`, 'latin1').catch(() => '');
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === ppid) out.push(Number(e));
  }
  return out.sort((a, b) => a - b);
}

/**
 * End processes: SIGTERM to each that `find()` lists (unless `term` is false: their parent
 * signals them), wait up to `graceMs` until it lists none, then SIGKILL what is left.
 */
export async function endProcesses(find: () => Promise<number[]>, graceMs: number, term = true): Promise<void> {
  if (term) for (const pid of await find()) signal(pid, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (Date.now() < until && (await find()).length > 0) await delay(50);
  for (const pid of await find()) signal(pid, 'SIGKILL');
}

/** Signal a process, ignoring one that is gone. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

/** Sleep `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Poll `probe(tryDeadline)` every `intervalMs` (default 100) until it says true, each try
 * bounded by `tryMs` (default 1 000); false at `deadline` or once `alive()` is false (the
 * process died).
 */
export async function pollUntil(
  probe: (tryDeadline: number) => Promise<boolean>,
  deadline: number,
  alive: () => boolean,
  o: { intervalMs?: number; tryMs?: number } = {},
): Promise<boolean> {
  while (Date.now() < deadline && alive()) {
    if (await probe(Math.min(deadline, Date.now() + (o.tryMs ?? 1_000)))) return true;
    await delay(o.intervalMs ?? 100);
  }
  return false;
}

/** Does something accept connections at `ep` now (before `deadline`, default 1 s)? */
export async function accepting(ep: Endpoint, deadline = Date.now() + 1_000): Promise<boolean> {
  try {
    (await connect(ep, { deadline })).destroy();
    return true;
  } catch {
    return false;
  }
}

/** Wait until every endpoint accepts connections (polling every 50 ms) while `alive()`. */
export function waitForListening(eps: readonly Endpoint[], deadline: number, alive: () => boolean): Promise<boolean> {
  return pollUntil(
    async (tryDeadline) => {
      for (const ep of eps) if (!(await accepting(ep, tryDeadline))) return false;
      return true;
    },
    deadline,
    alive,
    { intervalMs: 50 },
  );
}

/**
 * Does an SMTP server at 127.0.0.1:port greet with `220` now (then QUIT)? With `greeting:
 * false`, an accepted connection is enough.
 */
export async function smtpGreets(port: number, deadline: number, greeting = true): Promise<boolean> {
  if (!greeting) return accepting({ host: '127.0.0.1', port }, deadline);
  try {
    const c = await connect({ host: '127.0.0.1', port }, { deadline });
    try {
      const line = (await c.readUntil('\n')).toString('latin1');
      await c.write(Buffer.from('QUIT\r\n', 'latin1')).catch(() => undefined);
      return line.startsWith('220');
    } finally {
      c.destroy();
    }
  } catch {
    return false;
  }
}

/**
 * Wait until an SMTP server at 127.0.0.1:port greets with `220` (then QUIT), polling every
 * 100 ms, while `alive()`; false at the deadline or when the process died. With
 * `greeting: false`, an accepted connection is enough (a server that greets only once its
 * own next hop answers, as clamsmtpd does).
 */
export function waitForSmtpGreeting(port: number, deadline: number, alive: () => boolean, greeting = true): Promise<boolean> {
  return pollUntil((tryDeadline) => smtpGreets(port, tryDeadline, greeting), deadline, alive);
}
