/**
 * Shared by the tests of third-party SMTP gateways (Haraka, Exim, Sendmail...): the quick corpus through
 * `bench --sut` next to clamd direct, the accounting every such test asserts (every message
 * counted, none lost), and the per-message differences from clamd direct, for each test to
 * explain as the gateway's own behaviour.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBench } from '../../src/bench/runner.js';
import { spawnDaemon, type Daemon } from '../../src/core/exec.js';
import { connect } from '../../src/core/net.js';
import { generateCorpus } from '../../src/corpus/generate.js';
import { readManifest, type ManifestEntry } from '../../src/corpus/manifest.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { logTail, waitForSmtpGreeting } from '../../src/lab/util.js';
import { REQUIRE_REAL } from '../helpers/real.js';

type BenchResults = Awaited<ReturnType<typeof runBench>>;
type Run = BenchResults['runs'][number];

/** The built CLI (npm test builds first): our front ends run as their own processes, as a user runs them. */
export const BIN = join(resolve(import.meta.dirname, '../..'), 'dist/src/cli/bin.js');

/**
 * A gateway program this file needs is not installed: under AVBENCH_REQUIRE_REAL=1 (CI) a suite
 * `suite` whose one test, "has PROGRAM installed", fails naming `why`; elsewhere a skip line on stderr.
 */
export function reportMissingProgram(suite: string, program: string, why: string): void {
  if (REQUIRE_REAL) {
    describe(suite, () => {
      it(`has ${program} installed (AVBENCH_REQUIRE_REAL=1)`, () => {
        throw new Error(`missing real program — ${why}`);
      });
    });
  } else process.stderr.write(`[avbench tests] skipping ${why}\n`);
}

/** The quick corpus generated in DIR/quick, then a lab clamd started in DIR (its private folder below it). */
export async function quickCorpusAndClamd(dir: string): Promise<{ corpus: string; clamd: LabClamd }> {
  const corpus = join(dir, 'quick');
  await generateCorpus({ out: corpus, profile: 'quick' });
  return { corpus, clamd: await startClamd({ dir }) };
}

/** Write DIR/avbench.config.json: scanner `clamd` = the lab clamd's unix socket. Resolves to its path. */
export async function writeClamdConfig(dir: string, clamd: LabClamd): Promise<string> {
  const cfg = join(dir, 'avbench.config.json');
  await writeFile(cfg, JSON.stringify({ scanners: { clamd: { type: 'clamd', socket: clamd.socket } } }));
  return cfg;
}

/**
 * Start `avbench serve milter|smtp` (the built CLI) listening on loopback `port` (`inet:PORT@127.0.0.1`
 * for the milter, `127.0.0.1:PORT` for smtp), `extra` options next, scanning with clamd from `cfg`; its
 * log in DIR/serve-WHAT.log. Resolves once it accepts connections (20 s at most, else stops it and throws with the log's tail).
 */
export async function startServe(what: 'milter' | 'smtp', port: number, cfg: string, dir: string, extra: readonly string[] = []): Promise<Daemon> {
  const listen = what === 'milter' ? `inet:${port}@127.0.0.1` : `127.0.0.1:${port}`;
  const log = join(dir, `serve-${what}.log`);
  const d = await spawnDaemon(process.execPath, [BIN, 'serve', what, '--listen', listen, ...extra, '--scanner', 'clamd', '--config', cfg], { logFile: log, cwd: dir });
  if (!(await waitForSmtpGreeting(port, Date.now() + 20_000, d.running, false))) {
    const tail = await logTail(log);
    await d.stop(5_000);
    throw new Error(`avbench serve ${what} did not listen: ${tail}`);
  }
  return d;
}

/** One bench run over `corpus`: clamd direct (the lab clamd's socket) beside each of `suts`, at one concurrency, one pass, no warm-up, no baseline. */
export async function benchBesideDirect(corpus: string, clamd: LabClamd, suts: string[], o: { concurrency: number; timeoutMs: number; cold?: boolean }): Promise<BenchResults> {
  return runBench({
    corpus,
    scanners: ['clamd'],
    modes: ['direct'],
    config: { scanners: { clamd: { type: 'clamd', socket: clamd.socket } } },
    suts,
    concurrency: [o.concurrency],
    repeat: 1,
    warmup: 0,
    baseline: false,
    timeoutMs: o.timeoutMs,
    ...(o.cold === undefined ? {} : { cold: o.cold }),
  });
}

/** The bench made exactly the runs `ids`, in that order, and skipped none (a run that could not start is listed in skipped[] with why: shown on failure). */
export function expectRunIds(results: BenchResults, ids: string[]): void {
  expect({ runs: results.runs.map((r) => r.id), skipped: results.skipped ?? [] }).toEqual({ runs: ids, skipped: [] });
}

/** The results of the messages the corpus labels EICAR-family and infected (but those `skip` names), in order: what every gateway must refuse. */
export function labelledEicars<R extends { file: string }>(manifest: readonly ManifestEntry[], results: readonly R[], skip: (file: string) => boolean = () => false): R[] {
  const labels = new Map(manifest.map((e) => [e.file, e]));
  return results.filter((r) => {
    const e = labels.get(r.file)!;
    return (e as { family?: string }).family === 'eicar' && e.expected === 'infected' && !skip(r.file);
  });
}

/** Every one of the corpus's `messages` was sent through `run` and has a fate; none lost. */
export function expectAllAccountedFor(run: Run, messages: number): void {
  expect(run.messages).toBe(messages);
  expect(run.fates.lost).toBe(0);
  expect(Object.values(run.fates).reduce((a, b) => a + b, 0)).toBe(messages);
}

/** What a gateway did to the corpus, beside clamd direct. */
export interface GatewayRun {
  manifest: ManifestEntry[];
  results: Awaited<ReturnType<typeof runBench>>;
  /** clamd direct's result of each file. */
  byFile: Map<string, Run['results'][number]>;
  direct: Run;
  gw: Run;
  /** One line per message whose verdict or names differ from clamd direct's. */
  differences: string[];
}

/**
 * Bench `sut` (an smtp:// URL with sink=, name=NAME, pid=) and clamd direct over `corpus`
 * at concurrency 2 (or `o.concurrency`; `o.cold: false` skips the cold pass), assert the accounting, and list the differences
 * from clamd direct.
 */
export async function benchGatewayAgainstDirect(corpus: string, clamd: LabClamd, sut: string, name: string, o: { concurrency?: number; timeoutMs?: number; cold?: boolean } = {}): Promise<GatewayRun> {
  const c = o.concurrency ?? 2;
  const manifest = await readManifest(corpus);
  const results = await benchBesideDirect(corpus, clamd, [sut], { concurrency: c, timeoutMs: o.timeoutMs ?? 15_000, ...(o.cold === undefined ? {} : { cold: o.cold }) });
  expectRunIds(results, [`clamd/direct/c${c}`, `${name}/smtp/c${c}`]);
  const [direct, gw] = results.runs as [Run, Run];
  expectAllAccountedFor(gw, manifest.length);
  expect(gw.results).toHaveLength(manifest.length);
  const byFile = new Map(direct.results.map((r) => [r.file, r]));
  const differences: string[] = [];
  for (const r of gw.results) {
    const d = byFile.get(r.file)!;
    if (r.verdict !== d.verdict || r.names.join(',') !== d.names.join(',')) differences.push(`${r.file}: direct ${d.verdict} ${d.names.join(',')} · ${name} ${r.fate} ${r.verdict} ${r.errorCode ?? ''} ${r.smtpReply ?? ''}`);
  }
  return { manifest, results, byFile, direct, gw, differences };
}

/**
 * A gateway made of a Postfix in front of a filter, beside clamd direct (`run`): every
 * difference must be Postfix's own change in transit (`alteredByPostfix(file)`: the plain
 * Postfix run, no filter, delivered that file clean and ALTERED) and the message labelled
 * `any`; detection and false positives equal to clamd direct's; nothing tempfailed or lost;
 * every EICAR message labelled infected rejected with `reply(names)`; the load sampler
 * counted `pids`. One summary line (and each difference) on stderr, tagged `[tag]`.
 */
export function expectPostfixGatewayLikeDirect(tag: string, name: string, run: GatewayRun, o: { alteredByPostfix: (file: string) => boolean; reply: (names: string[]) => string; pids: number[]; note?: string }): void {
  const { manifest, gw, direct, differences, byFile } = run;
  const labels = new Map(manifest.map((e) => [e.file, e]));
  const explained = differences.filter((l) => {
    const file = l.split(':')[0]!;
    const r = gw.results.find((x) => x.file === file)!;
    return byFile.get(file)!.verdict === 'clean' && r.fate === 'delivered' && r.errorCode === 'ALTERED' && o.alteredByPostfix(file);
  });
  const agree = gw.results.filter((r) => r.verdict === byFile.get(r.file)!.verdict && r.names.join(',') === byFile.get(r.file)!.names.join(',')).length;
  process.stderr.write(
    `[${tag}] ${name}: ${gw.messages} messages, same verdict and names as clamd direct ${agree}/${gw.messages}, detection ${gw.detection.tp}/${gw.detection.tp + gw.detection.fn} (clamd direct ${direct.detection.tp}/${direct.detection.tp + direct.detection.fn}), fp ${gw.detection.fp}, ` +
      `fates ${JSON.stringify(gw.fates)}${o.note === undefined ? '' : `, ${o.note}`}, differences ${differences.length}, explained by Postfix ${explained.length}\n`,
  );
  for (const l of differences) process.stderr.write(`[${tag}]   ${l}\n`);
  expect(differences.filter((l) => !explained.includes(l))).toEqual([]);
  for (const l of explained) expect(`${l} ${labels.get(l.split(':')[0]!)!.expected}`).toBe(`${l} any`);
  expect(gw.detection.tp).toBe(direct.detection.tp);
  expect(gw.detection.fn).toBe(direct.detection.fn);
  expect(gw.detection.fp).toBe(direct.detection.fp);
  expect(gw.fates.lost).toBe(0);
  expect(gw.fates.tempfailed).toBe(0);
  const eicars = labelledEicars(manifest, gw.results);
  for (const r of eicars) expect(`${r.file} ${r.fate} ${r.smtpReply}`).toBe(`${r.file} rejected ${o.reply(r.names)}`);
  expect(eicars.length).toBeGreaterThan(10);
  expect(gw.resources?.scanner?.pids).toEqual(expect.arrayContaining(o.pids));
}

/**
 * One SMTP transaction by hand to a gateway on loopback — greeting, EHLO, MAIL, RCPT, DATA,
 * then `data` written exactly as given (the test adds its own end-of-data dot, or a raw one
 * the gateway must refuse) — resolving to the gateway's final reply line. A write the gateway
 * cuts short (it refused and closed) still resolves to what it answered.
 */
export async function sendRawTransaction(port: number, data: string, timeoutMs = 10_000): Promise<string> {
  const c = await connect({ host: '127.0.0.1', port }, { deadline: Date.now() + timeoutMs });
  try {
    const reply = async (): Promise<string> => {
      let line = '';
      do line = (await c.readUntil('\n')).toString('latin1');
      while (!/^\d{3} /.test(line));
      return line.trimEnd();
    };
    await reply();
    for (const cmd of ['EHLO client.localhost', 'MAIL FROM:<a@sender.localhost>', 'RCPT TO:<sink@recipient.localhost>', 'DATA']) {
      await c.write(Buffer.from(`${cmd}\r\n`, 'latin1'));
      await reply();
    }
    await c.write(Buffer.from(data, 'latin1')).catch(() => undefined);
    return await reply();
  } finally {
    c.destroy();
  }
}
