/**
 * Shared by the tests of third-party SMTP gateways (Haraka, Exim, Sendmail...): the quick corpus through
 * `bench --sut` next to clamd direct, the accounting every such test asserts (every message
 * counted, none lost), and the per-message differences from clamd direct, for each test to
 * explain as the gateway's own behaviour.
 */
import { expect } from 'vitest';
import { runBench } from '../../src/bench/runner.js';
import { connect } from '../../src/core/net.js';
import { readManifest, type ManifestEntry } from '../../src/corpus/manifest.js';
import type { LabClamd } from '../../src/lab/clamd.js';

type Run = Awaited<ReturnType<typeof runBench>>['runs'][number];

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
  const results = await runBench({
    corpus,
    scanners: ['clamd'],
    modes: ['direct'],
    config: { scanners: { clamd: { type: 'clamd', socket: clamd.socket } } },
    suts: [sut],
    concurrency: [c],
    repeat: 1,
    warmup: 0,
    baseline: false,
    timeoutMs: o.timeoutMs ?? 15_000,
    ...(o.cold === undefined ? {} : { cold: o.cold }),
  });
  // A run that could not start is listed in skipped[] with why: shown on failure.
  expect({ runs: results.runs.map((r) => r.id), skipped: results.skipped ?? [] }).toEqual({ runs: [`clamd/direct/c${c}`, `${name}/smtp/c${c}`], skipped: [] });
  const [direct, gw] = results.runs as [Run, Run];
  expect(gw.messages).toBe(manifest.length);
  expect(gw.results).toHaveLength(manifest.length);
  expect(gw.fates.lost).toBe(0);
  const fateSum = Object.values(gw.fates).reduce((a, b) => a + b, 0);
  expect(fateSum).toBe(manifest.length);
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
  let eicars = 0;
  for (const r of gw.results) {
    const e = labels.get(r.file)!;
    if ((e as { family?: string }).family !== 'eicar' || e.expected !== 'infected') continue;
    eicars++;
    expect(`${r.file} ${r.fate} ${r.smtpReply}`).toBe(`${r.file} rejected ${o.reply(r.names)}`);
  }
  expect(eicars).toBeGreaterThan(10);
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
