/**
 * `avbench bench --lab-dir DIR` (issue 15, the gateways table "with the same clamd"): the
 * bench uses the lab `avbench lab up` runs — its config, its clamd's PID, and that clamd
 * RELOADed before cold passes both for clamd alone and for a gateway whose `pid=` lists the
 * same clamd (clamsmtpd here) — and leaves the lab running. Real CLI, real daemons.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../../src/core/exec.js';
import { alive, type LabState } from '../../src/lab/up.js';
import type { Results } from '../../src/results/types.js';
import { describeReal } from '../helpers/real.js';

const BIN = resolve(import.meta.dirname, '../../dist/src/cli/bin.js');
const avbench = (...args: string[]) => run(process.execPath, [BIN, ...args], { deadline: Date.now() + 240_000 });

await describeReal('bench --lab-dir: one clamd for scanners alone and gateways', ['clamd', 'clamsmtpd', 'smtp-sink'], () => {
  let dir: string;
  let lab: string;
  let state: LabState;
  beforeAll(async () => {
    expect(existsSync(BIN), 'run `npm run build` first (npm test does)').toBe(true);
    dir = await mkdtemp(join(tmpdir(), 'avbench-labdir-'));
    lab = join(dir, 'lab');
    const up = await avbench('lab', 'up', '--detach', '--dir', lab, '--only', 'clamsmtpd');
    expect(up, JSON.stringify(up)).toMatchObject({ ok: true, exitCode: 0 });
    state = JSON.parse(await readFile(join(lab, 'state.json'), 'utf8')) as LabState;
  }, 120_000);
  afterAll(async () => {
    await avbench('lab', 'down', '--dir', lab);
    for (const d of state?.daemons ?? []) if (alive(d.pid)) process.kill(d.pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it("RELOADs the lab's clamd before the cold passes of clamd direct and of clamsmtpd; the lab stays up", async () => {
    const corpus = join(dir, 'corpus');
    expect(await avbench('corpus', 'generate', '--out', corpus, '--profile', 'quick', '--seed', '1')).toMatchObject({ exitCode: 0 });
    const clamd = state.daemons.find((d) => d.name === 'clamd');
    expect(clamd?.log).toBeDefined();
    const reloadsBefore = ((await readFile(clamd!.log!, 'utf8')).match(/Activating the newly loaded database/g) ?? []).length;
    const out = join(dir, 'out');
    const b = await avbench('bench', '--corpus', corpus, '--lab-dir', lab, '-s', 'clamd', '-m', 'direct', '--sut', state.suts['clamsmtpd'] as string, '--limit', '12', '--repeat', '1', '--warmup', '0', '--no-baseline', '--timeout', '30', '--out', out);
    expect(b.exitCode, b.stderr).toBe(0);
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as Results;
    const direct = results.runs.find((r) => r.mode === 'direct');
    const sut = results.runs.find((r) => r.sut !== 'direct');
    expect(direct?.cold?.reset).toBe('reload');
    expect(sut?.cold?.reset).toBe('reload');
    expect(direct?.resources?.scanner?.pids).toEqual([clamd!.pid]);
    const reloadsAfter = ((await readFile(clamd!.log!, 'utf8')).match(/Activating the newly loaded database/g) ?? []).length;
    expect(reloadsAfter - reloadsBefore).toBe(2); // one cold pass each
    for (const d of state.daemons) expect([d.name, alive(d.pid)]).toEqual([d.name, true]);
  }, 240_000);
});
