/**
 * Benchmark, point C (local delivery agent): one whole process per message, as an MTA runs
 * `mailbox_command` or a `pipe` transport. For every message of the corpus, in each round,
 * the systems run one after the other (the order rotates per message, so drifting load on a
 * shared machine hits all of them alike), each with the message on stdin (LF line ends, as
 * Postfix hands it over):
 *
 *  - `node0`      `node -e 0` — the reference: Node's own start-up on this machine;
 *  - `embedded`   `node dist/src/cli/bin.cjs deliver -s embedded -c CFG -- cat`;
 *  - `clamd`      `node dist/src/cli/bin.cjs deliver -s clamd -c CFG -- cat` (the lab clamd);
 *  - `procmail`   `procmail -m RC`, the classic recipe piping the message through
 *                 `clamdscan -` to the same clamd, tagging with formail, into a Maildir
 *                 (src/lab/procmail.ts, the `--sut lda:` system of the bench);
 *  - `full-clamd` the `clamd` line through the full yargs CLI (`AVBENCH_LEAN=0`), the path
 *                 every `avbench deliver` took before the lean bundle — first
 *                 --full-messages messages of each round only.
 *
 * Prints each message's median ms per system (--per-message), then per system the median,
 * p90 and mean over all runs, the median of each round, and the ratios: ours ÷ `node -e 0`
 * (target ≤ 2x) and the throughput of ours ÷ procmail + clamdscan (procmail ms ÷ ours ms,
 * goal ≥ 0.5x), with host, versions and the load average before and after each round.
 *
 *   node dist/scripts/bench-deliver.js [--corpus DIR] [--messages 100] [--rounds 3]
 *        [--systems node0,embedded,clamd,procmail,full-clamd] [--full-messages 20] [--per-message]
 *        [--env mta|shell|as-is]
 *
 * Every system runs in the environment Postfix's local(8)/pipe(8) give a command (PATH HOME
 * LOGNAME USER SHELL and export_environment's TZ MAIL_CONFIG LANG; scripts/lib/env.ts), not
 * this shell's: this machine's shell sets NODE_EXTRA_CA_CERTS, which costs every Node start
 * ~40 ms and would hide most of our start-up behind the reference's. `--env shell` keeps the
 * shell's variables but that one, `--env as-is` all of them.
 *
 * `npm run bench:deliver` builds first (tsc + the lean bundle and its code cache); the bench
 * runs a private copy of dist/ so a rebuild by someone else meanwhile does not change it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { median, quantile } from '../src/bench/stats.js';
import { run } from '../src/core/exec.js';
import { generateCorpus } from '../src/corpus/generate.js';
import { openCorpus } from '../src/corpus/read.js';
import { startClamd } from '../src/lab/clamd.js';
import { createProcmailSut } from '../src/lab/procmail.js';
import { toLf } from '../src/modes/lda/driver.js';
import { opt, readOptions } from './lib/args.js';
import { useUsersEnvironment } from './lib/env.js';
import { hostLine, loadAverage } from './lib/host.js';
import { stopAll, wallTime, type Stops } from './lib/run.js';
import { privateDist, writeClamdConfig } from './lib/sut.js';

const SYSTEMS = ['node0', 'embedded', 'clamd', 'procmail', 'full-clamd'] as const;
type System = (typeof SYSTEMS)[number];

interface Args {
  corpus?: string;
  messages: number;
  rounds: number;
  systems: System[];
  fullMessages: number;
  perMessage: boolean;
  /** The processes' environment (scripts/lib/env.ts): the MTA's (default), this shell's without Node start-up taxes, or as is. */
  env: 'mta' | 'shell' | 'as-is';
}

function parseArgs(argv: string[]): Args {
  const a = readOptions(
    'bench-deliver',
    argv,
    {
      corpus: opt.optionalString(),
      messages: opt.whole(100, 0),
      rounds: opt.whole(3, 0),
      systems: opt.list(SYSTEMS, SYSTEMS),
      'full-messages': opt.whole(20, 0),
      'per-message': opt.flag(),
      env: opt.oneOf('mta', ['mta', 'shell', 'as-is'] as const),
    },
    'see the comment at the top of scripts/bench-deliver.ts',
  );
  return { ...a, rounds: Math.max(1, a.rounds) };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const load = (): string => loadAverage(2);
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const envLine = useUsersEnvironment(args.env);
  const work = await mkdtemp(join(process.env['TMPDIR'] ?? '/tmp', 'avbench-bench-deliver-'));
  const stops: Stops = [];
  try {
    let corpusDir = args.corpus;
    if (corpusDir === undefined) {
      corpusDir = join(work, 'corpus');
      await generateCorpus({ out: corpusDir, profile: 'quick', seed: 1 });
    }
    const messages: Array<{ file: string; raw: Buffer }> = [];
    for await (const e of (await openCorpus(corpusDir)).entries) {
      if (messages.length >= args.messages) break;
      messages.push({ file: e.file.replace(/^.*\//, ''), raw: toLf(await e.read()) });
    }
    if (messages.length === 0) throw new Error(`no messages in ${corpusDir}`);

    const clamd = await startClamd();
    stops.push(() => clamd.stop());
    const cfg = await writeClamdConfig(join(work, 'avbench.config.json'), { socket: clamd.socket });
    const procmail = await createProcmailSut({ clamdConfig: clamd.configFile, dir: work });
    stops.push(() => procmail.remove());

    // A private copy of dist/: engineers sharing this tree rebuild dist/ while the bench runs.
    const BIN = join(await privateDist(work), 'dist/src/cli/bin.cjs');
    const node = process.execPath;
    const ours = (scanner: string): string[] => [node, BIN, 'deliver', '-s', scanner, '-c', cfg, '--', 'cat'];
    const commands: Record<System, { argv: string[]; env?: Record<string, string> }> = {
      node0: { argv: [node, '-e', '0'] },
      embedded: { argv: ours('embedded') },
      clamd: { argv: ours('clamd') },
      procmail: { argv: procmail.command },
      'full-clamd': { argv: ours('clamd'), env: { AVBENCH_LEAN: '0' } },
    };
    const once = async (s: System, input: Buffer, env?: Record<string, string>): Promise<{ ms: number; code: number | undefined; stderr: string }> => {
      const c = commands[s];
      const t0 = performance.now();
      const r = await run(c.argv[0]!, c.argv.slice(1), { input, deadline: Date.now() + 120_000, env: { ...c.env, ...env } });
      return { ms: performance.now() - t0, code: r.exitCode, stderr: r.stderr };
    };

    const clamdVersion = (await run('clamdscan', [`--config-file=${clamd.configFile}`, '--version'], { deadline: Date.now() + 10_000 })).stdout.trim();
    const bytes = messages.reduce((n, m) => n + m.raw.length, 0);
    console.log(`bench-deliver: ${messages.length} messages (${(bytes / 1e6).toFixed(2)} MB) from ${args.corpus ?? 'a generated quick corpus (seed 1)'}, ${args.rounds} rounds, one process per message, systems alternating per message`);
    console.log(`${hostLine(2)}; ${clamdVersion} (lab clamd, pid ${clamd.pid})`);
    console.log(envLine);
    for (const [s, c] of Object.entries(commands)) if (args.systems.includes(s as System)) console.log(`  ${s.padEnd(10)} ${c.env === undefined ? '' : Object.entries(c.env).map(([k, v]) => `${k}=${v} `).join('')}${c.argv.join(' ')}`);

    // Which path does `avbench deliver` take? (the lean bundle with its code cache, we hope)
    const paths = async (when: string): Promise<void> => {
      for (const s of ['embedded', 'full-clamd'] as const) {
        if (!args.systems.includes(s)) continue;
        const r = await once(s, messages[0]!.raw, { AVBENCH_LEAN_TRACE: '1' });
        const line = r.stderr.trim().split('\n').filter((l) => /lean path|full CLI/.test(l)).join(' ') || '(no trace line)';
        console.log(`  ${when} ${s}: ${line}`);
        if (s === 'embedded' && !line.includes('code cache accepted')) console.log('  WARNING: not the lean path with its code cache: these are not the figures of an installed avbench (run npm run build)');
      }
    };
    await paths('path taken:');
    // Warm-up (page cache, clamd's first scans): 3 messages per system, untimed.
    for (const m of messages.slice(0, 3)) for (const s of args.systems) await once(s, m.raw);

    const ms: Record<System, number[][]> = Object.fromEntries(SYSTEMS.map((s) => [s, messages.map(() => [] as number[])])) as Record<System, number[][]>;
    const roundMs: Record<System, number[][]> = Object.fromEntries(SYSTEMS.map((s) => [s, [] as number[][]])) as Record<System, number[][]>;
    const codes: Record<System, Map<string, number>> = Object.fromEntries(SYSTEMS.map((s) => [s, new Map<string, number>()])) as Record<System, Map<string, number>>;
    const loads: string[] = [];
    const started = performance.now();
    for (let round = 0; round < args.rounds; round++) {
      const before = load();
      for (const s of SYSTEMS) roundMs[s].push([]);
      for (const [i, m] of messages.entries()) {
        const order = args.systems.filter((s) => s !== 'full-clamd' || i < args.fullMessages);
        const k = (i + round) % order.length;
        for (const s of [...order.slice(k), ...order.slice(0, k)]) {
          const r = await once(s, m.raw);
          ms[s][i]!.push(r.ms);
          roundMs[s][round]!.push(r.ms);
          const key = String(r.code ?? 'none');
          codes[s].set(key, (codes[s].get(key) ?? 0) + 1);
        }
      }
      loads.push(`round ${round + 1}: load ${before} → ${load()}`);
    }

    await paths('path taken after the rounds:');
    if (args.perMessage) {
      console.log(`\nper message, median ms over ${args.rounds} rounds:`);
      console.log(['file'.padEnd(12), 'bytes'.padStart(8), ...args.systems.map((s) => s.padStart(11))].join(' '));
      for (const [i, m] of messages.entries()) {
        console.log([m.file.padEnd(12), String(m.raw.length).padStart(8), ...args.systems.map((s) => f1(median(ms[s][i]!)).padStart(11))].join(' '));
      }
    }

    const all = (s: System): number[] => ms[s].flat();
    console.log(`\nper message, all runs (ms):`);
    console.log(`${'system'.padEnd(11)} ${'runs'.padStart(5)} ${'median'.padStart(7)} ${'p90'.padStart(7)} ${'mean'.padStart(7)}  medians of each round   exit codes`);
    for (const s of args.systems) {
      const xs = all(s);
      const rounds = roundMs[s].filter((r) => r.length > 0).map((r) => f1(median(r))).join(' / ');
      const cs = [...codes[s]].map(([c, n]) => `${c}×${n}`).join(' ');
      console.log(`${s.padEnd(11)} ${String(xs.length).padStart(5)} ${f1(median(xs)).padStart(7)} ${f1(quantile(xs, 0.9)).padStart(7)} ${f1(mean(xs)).padStart(7)}  ${rounds.padEnd(22)} ${cs}`);
    }
    for (const l of loads) console.log(l);

    const med = (s: System): number => (args.systems.includes(s) ? median(all(s)) : Number.NaN);
    const ref = med('node0');
    console.log(`\nratios (medians of the same run):`);
    for (const s of ['embedded', 'clamd', 'full-clamd'] as const) {
      if (!args.systems.includes(s) || !Number.isFinite(ref)) continue;
      const r = med(s) / ref;
      console.log(`  avbench deliver ${s.padEnd(10)} ÷ node -e 0 = ${r.toFixed(2)}x  (target ≤ 2x: ${r <= 2 ? 'met' : 'NOT met'})`);
    }
    for (const s of ['clamd', 'embedded', 'full-clamd'] as const) {
      if (!args.systems.includes(s) || !args.systems.includes('procmail')) continue;
      // Same-message medians for full-clamd, which runs on the first messages only.
      const n = s === 'full-clamd' ? Math.min(args.fullMessages, messages.length) : messages.length;
      const theirs = median(ms.procmail.slice(0, n).flat());
      const r = theirs / median(ms[s].slice(0, n).flat());
      console.log(`  throughput ${s.padEnd(10)} ÷ procmail + clamdscan = ${r.toFixed(2)}x  (procmail ${f1(theirs)} ms ÷ ours ${f1(median(ms[s].slice(0, n).flat()))} ms; goal ≥ 0.5x: ${r >= 0.5 ? 'met' : 'NOT met'})`);
    }
    console.log(`\n${wallTime(started)}, load average now ${load()} (2 shared cores: other work counts in every figure)`);
  } finally {
    await stopAll(stops);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
// A pipe or socket handle of a finished child must not keep the bench alive.
process.exit(0);
