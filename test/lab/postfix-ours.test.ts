/**
 * Issue 15 point 7, our own front ends as lab gateways: `avbench lab up --only
 * postfix+avbench-milter,postfix+avbench-proxy` (the real CLI, detached) starts the lab clamd,
 * `avbench serve milter` behind a private Postfix's smtpd_milters and `avbench serve smtp` as
 * the before-queue smtpd_proxy_filter of another, each the built CLI as its own process, and
 * writes their `--sut` URLs into state.json. The quick corpus goes through each with runBench
 * next to clamd direct, message by message (a plain Postfix, started here, names what Postfix
 * itself changes in transit); the report's gateways table puts them at points B and A;
 * `lab down` leaves no process.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { freePort } from '../../src/core/net.js';
import { generateCorpus } from '../../src/corpus/generate.js';
import type { LabClamd } from '../../src/lab/clamd.js';
import { startPostfixFront, type LabPostfixFront } from '../../src/lab/postfix-front.js';
import { alive, readLabState, type LabState } from '../../src/lab/up.js';
import { childrenOf } from '../../src/lab/util.js';
import { gatewayRows } from '../../src/report/gateways.js';
import { validateResults } from '../../src/results/schema.js';
import { benchGatewayAgainstDirect, expectPostfixGatewayLikeDirect, type GatewayRun } from './gateway-helpers.js';
import { describeReal } from '../helpers/real.js';

const BIN = resolve(import.meta.dirname, '../../dist/src/cli/bin.js');
const avbench = (...args: string[]) => run(process.execPath, [BIN, ...args], { deadline: Date.now() + 120_000 });
const NAMES = ['postfix+avbench-milter', 'postfix+avbench-proxy'] as const;

/** PIDs of processes whose command line mentions `text` (our serve processes name the lab's config). */
async function processesMentioning(text: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, 'latin1').catch(() => '');
    if (cmd.includes(text)) out.push(Number(e));
  }
  return out;
}

/** A process's start time (field 22 of /proc/PID/stat), to tell it from a later one with the same PID; undefined when gone. */
async function startTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'latin1').catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

await describeReal('lab up: our serve milter and serve smtp behind Postfix (postfix+avbench-milter, postfix+avbench-proxy) through bench --sut', ['postfix', 'clamd'], () => {
  let dir: string;
  let lab: string;
  let corpus: string;
  let state: LabState | undefined;
  /** The lab clamd, for clamd direct (only its socket is used). */
  let clamd: LabClamd;
  let plainPf: LabPostfixFront | undefined;
  let plainRun: GatewayRun | undefined;
  /** Every Postfix process of the lab (masters and their children) seen while it ran, with its start time. */
  const postfixProcesses = new Map<number, string>();
  const notePostfix = async (master: number): Promise<void> => {
    for (const p of [master, ...(await childrenOf(master))]) {
      const t = await startTime(p);
      if (t !== undefined) postfixProcesses.set(p, t);
    }
  };

  beforeAll(async () => {
    expect(existsSync(BIN), 'run `npm run build` first (npm test does)').toBe(true);
    dir = await mkdtemp(join(tmpdir(), 'avbench-pf-ours-test-'));
    await chmod(dir, 0o711); // the plain Postfix's master opens its lock file below it as user postfix
    corpus = join(dir, 'quick');
    await generateCorpus({ out: corpus, profile: 'quick' });
    lab = join(dir, 'lab');
    const up = await avbench('lab', 'up', '--detach', '--dir', lab, '--only', NAMES.join(','));
    expect(up, JSON.stringify(up)).toMatchObject({ ok: true, exitCode: 0 });
    state = await readLabState(lab);
    const socket = state?.daemons.find((d) => d.name === 'clamd')?.endpoint;
    if (socket === undefined) throw new Error(`no clamd in ${lab}/state.json`);
    clamd = { socket } as LabClamd;
  }, 240_000);

  afterAll(async () => {
    await plainPf?.stop();
    if (lab !== undefined) await avbench('lab', 'down', '--dir', lab);
    for (const d of state?.daemons ?? []) if (alive(d.pid)) process.kill(d.pid, 'SIGKILL');
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('state.json: clamd, each front end and its Postfix, both --sut URLs with pid= master, ours, clamd', () => {
    const s = state!;
    const pid = (name: string): number => s.daemons.find((d) => d.name === name)!.pid;
    expect(s.daemons.map((d) => d.name)).toEqual(['clamd', 'avbench serve milter (postfix+avbench-milter)', 'postfix (postfix+avbench-milter)', 'avbench serve smtp (postfix+avbench-proxy)', 'postfix (postfix+avbench-proxy)']);
    for (const d of s.daemons) expect([d.name, alive(d.pid)]).toEqual([d.name, true]);
    expect(Object.keys(s.suts)).toEqual([...NAMES]);
    expect(s.suts['postfix+avbench-milter']).toMatch(new RegExp(`^smtp://127\\.0\\.0\\.1:\\d+\\?sink=\\d+&name=postfix%2Bavbench-milter&pid=${pid('postfix (postfix+avbench-milter)')},${pid('avbench serve milter (postfix+avbench-milter)')},${pid('clamd')}$`));
    expect(s.suts['postfix+avbench-proxy']).toMatch(new RegExp(`^smtp://127\\.0\\.0\\.1:\\d+\\?sink=\\d+&name=postfix%2Bavbench-proxy&pid=${pid('postfix (postfix+avbench-proxy)')},${pid('avbench serve smtp (postfix+avbench-proxy)')},${pid('clamd')}$`));
  });

  /** What plain Postfix (no filter) does to each file (ALTERED: Postfix's own change in transit). */
  async function plain(): Promise<GatewayRun> {
    plainPf ??= await startPostfixFront({ sinkPort: await freePort(), name: 'postfix', dir });
    plainRun ??= await benchGatewayAgainstDirect(corpus, clamd, plainPf.sut, 'postfix', { concurrency: 8 });
    return plainRun;
  }

  /** Bench one of the lab's SUTs next to clamd direct: same verdicts message by message, none lost, EICAR rejected; its gateways-table row. */
  async function benchOurs(name: (typeof NAMES)[number], point: 'A' | 'B', frontEnd: string): Promise<void> {
    const s = state!;
    const sut = s.suts[name]!;
    const master = s.daemons.find((d) => d.name === `postfix (${name})`)!.pid;
    const ours = s.daemons.find((d) => d.name.startsWith('avbench serve') && d.name.endsWith(`(${name})`))!.pid;
    await notePostfix(master);
    const run = await benchGatewayAgainstDirect(corpus, clamd, sut, name, { concurrency: 8, timeoutMs: 30_000 });
    const { results, gw, differences } = run;
    // A difference is Postfix's own change in transit only when plain Postfix shows it on the same file: clean, delivered, ALTERED.
    const plainAltered = new Set(differences.length === 0 ? [] : (await plain()).gw.results.filter((r) => r.errorCode === 'ALTERED').map((r) => r.file));
    // The load sampler counted Postfix's master, our process and the lab clamd.
    expectPostfixGatewayLikeDirect('postfix-ours', name, run, {
      alteredByPostfix: (file) => plainAltered.has(file),
      reply: (names) => `550 5.7.1 Virus found: ${names.join(', ')}`,
      pids: [master, ours, s.daemons.find((d) => d.name === 'clamd')!.pid],
    });
    expect(validateResults(JSON.parse(JSON.stringify(results)))).toEqual([]);
    // The report's gateways table: avbench's front end, at its own point, behind Postfix.
    const row = gatewayRows(results).find((r) => r.run.id === gw.id);
    expect([row?.gateway, row?.point, row?.kind]).toEqual([`${frontEnd} behind Postfix`, point, 'avbench']);
    await notePostfix(master);
  }

  it('postfix+avbench-milter (our serve milter in smtpd_milters): same verdicts as clamd direct, message by message; EICAR rejected 550 5.7.1 at end of DATA; none lost; point B', async () => {
    await benchOurs('postfix+avbench-milter', 'B', 'avbench serve milter');
  }, 600_000);

  it('postfix+avbench-proxy (our serve smtp as before-queue smtpd_proxy_filter): same verdicts as clamd direct, message by message; EICAR rejected 550 5.7.1 after DATA; none lost; point A', async () => {
    await benchOurs('postfix+avbench-proxy', 'A', 'avbench serve smtp');
  }, 600_000);

  it('lab down stops every process of the lab: clamd, our front ends, each Postfix master and its children', async () => {
    const s = state!;
    for (const d of s.daemons.filter((x) => x.name.startsWith('postfix ('))) await notePostfix(d.pid);
    expect(postfixProcesses.size).toBeGreaterThanOrEqual(2);
    expect(await processesMentioning(lab)).not.toEqual([]); // our serve processes name the lab's config
    const down = await avbench('lab', 'down', '--dir', lab);
    expect(down).toMatchObject({ ok: true, exitCode: 0 });
    expect(down.stdout).toContain('stopped');
    expect(down.stdout).not.toContain('had to kill');
    for (const d of s.daemons) expect([d.name, alive(d.pid)]).toEqual([d.name, false]);
    expect(alive(s.pid)).toBe(false);
    const left: number[] = [];
    for (const [p, t] of postfixProcesses) if ((await startTime(p)) === t) left.push(p);
    expect(left).toEqual([]);
    expect(await processesMentioning(lab)).toEqual([]);
    expect(existsSync(join(lab, 'state.json'))).toBe(false);
  }, 120_000);
});
