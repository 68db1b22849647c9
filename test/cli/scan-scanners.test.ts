/**
 * `avbench scan` with the real ClamAV scanners (a lab clamd started here): clamd scanning
 * corpus files in place gives, message by message, the verdicts clamd gives the same bytes
 * streamed (INSTREAM), and clamscan/clamdscan fed in batches agree with it; an mbox (no file
 * per message) still goes through. Plus the ordered pool the command runs on.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { orderedPool } from '../../src/cli/pool.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { EICAR_NDB_NAME } from '../../src/lab/signatures.js';
import { captureOutput } from '../helpers/capture.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';
import { describeReal } from '../helpers/real.js';

const cli = (...argv: string[]) => captureOutput(() => runCli(argv));

interface Rec {
  file: string;
  scanner: string;
  ms: number;
  status: string;
  detections?: Array<{ name: string }>;
  error?: { code: string };
}

/** What must agree between scanners: status, detection names, error code (not timing, not the scanner's own name). */
function key(r: Rec): string {
  return JSON.stringify([r.status, (r.detections ?? []).map((d) => d.name), r.error?.code ?? '']);
}

await describeReal('avbench scan with clamd, clamscan and clamdscan', ['clamd', 'clamscan', 'clamdscan'], () => {
  let clamd: LabClamd;
  let dir: string;
  let corpus: string;
  let config: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-scan-'));
    clamd = await startClamd();
    corpus = join(dir, 'quick');
    const g = await cli('corpus', 'generate', '--out', corpus, '--profile', 'quick', '--seed', '5');
    expect(g.result).toBe(0);
    config = join(dir, 'avbench.config.json');
    await writeFile(
      config,
      JSON.stringify({
        scanners: {
          clamd: { type: 'clamd', configFile: clamd.configFile },
          'clamd-stream': { type: 'clamd', socket: clamd.socket, inPlace: 'never' },
          clamscan: { type: 'clamscan', database: clamd.dbDir },
          clamdscan: { type: 'clamdscan', configFile: clamd.configFile },
        },
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await clamd?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('clamd in place = clamd streamed = clamscan = clamdscan, message by message, in corpus order', async () => {
    const r = await cli('scan', '--json', '-c', config, '-s', 'clamd', '-s', 'clamd-stream', '-s', 'clamscan', '-s', 'clamdscan', corpus);
    const recs = JSON.parse(r.stdout) as Rec[];
    const manifest = JSON.parse(await readFile(join(corpus, 'manifest.json'), 'utf8')) as Array<{ file: string; expected: string; family?: string }>;
    expect(recs.length).toBe(manifest.length * 4);
    for (const [i, m] of manifest.entries()) {
      const four = recs.slice(i * 4, i * 4 + 4);
      expect(four.map((x) => x.file)).toEqual(Array(4).fill(join(corpus, m.file)));
      expect(four.map((x) => x.scanner)).toEqual(['clamd', 'clamd-stream', 'clamscan', 'clamdscan']);
      const [a, b, c, d] = four.map(key);
      expect([m.file, b, c, d]).toEqual([m.file, a, a, a]);
      if (m.expected === 'infected' && m.family === 'eicar') expect([m.file, four[0]?.status]).toEqual([m.file, 'infected']);
      if (m.expected === 'clean') expect([m.file, four[0]?.status]).toEqual([m.file, 'clean']);
    }
    const worst = recs.some((x) => x.status === 'error') ? 2 : recs.some((x) => x.status === 'infected') ? 1 : 0;
    expect(r.result).toBe(worst);
  }, 120_000);

  it('text output: -i lists only infected and error messages, then the table and the count', async () => {
    const all = await cli('scan', '-c', config, '-s', 'clamd', corpus);
    const only = await cli('scan', '-i', '-c', config, '-s', 'clamd', corpus);
    expect(only.result).toBe(all.result);
    const lines = (t: string): string[] => t.split('\n').filter((l) => l.startsWith(corpus));
    expect(lines(only.stdout)).toEqual(lines(all.stdout).filter((l) => !l.endsWith(': clean')));
    expect(lines(only.stdout).some((l) => l.endsWith(`: ${EICAR_NDB_NAME} FOUND`))).toBe(true);
    expect(all.stdout).toMatch(/│\s*clamd\s*│\s*ALL\s*│/);
    expect(all.stdout).toMatch(/\d+ messages, [\d.]+ MB in [\d.]+ s/);
  }, 60_000);

  it('an mbox (no file per message) is streamed, each message with its own verdict', async () => {
    const box = join(dir, 'box.mbox');
    const msg = (b: Buffer): string => `From sender@example.org Thu Jan  1 00:00:00 2026\n${b.toString('latin1').replace(/\r\n/g, '\n')}\n`;
    await writeFile(box, msg(mailWithAttachment('notes.txt', Buffer.from('hello\n'))) + msg(mailWithAttachment('eicar.com', EICAR)), 'latin1');
    const r = await cli('scan', '--json', '-c', config, '-s', 'clamd', '-s', 'clamscan', box);
    const recs = JSON.parse(r.stdout) as Rec[];
    expect(recs.map((x) => [x.file, x.scanner, x.status])).toEqual([
      [`${box}#1`, 'clamd', 'clean'],
      [`${box}#1`, 'clamscan', 'clean'],
      [`${box}#2`, 'clamd', 'infected'],
      [`${box}#2`, 'clamscan', 'infected'],
    ]);
    expect(r.result).toBe(1);
  }, 60_000);

  it('a file that is not there is an error (exit 2), never clean', async () => {
    const r = await cli('scan', '--json', '-c', config, '-s', 'clamd', join(dir, 'nope.eml'));
    expect(r.result).toBe(2);
  });
});

describe('orderedPool', () => {
  it('keeps input order, and keeps starting items while an earlier one is still running', async () => {
    let releaseHead: () => void = () => undefined;
    const head = new Promise<void>((resolve) => (releaseHead = resolve));
    const started: number[] = [];
    const out: number[] = [];
    const items = Array.from({ length: 20 }, (_, i) => i);
    const run = (async () => {
      for await (const x of orderedPool(items, 3, async (i) => {
        started.push(i);
        if (i === 0) await head;
        return i * 10;
      })) out.push(x);
    })();
    // item 0 blocks; items 1.. keep going through the other two slots, up to the window (4 × 3)
    for (let i = 0; i < 50 && started.length < 12; i++) await new Promise((r) => setImmediate(r));
    expect(started.length).toBe(12);
    expect(out).toEqual([]);
    releaseHead();
    await run;
    expect(out).toEqual(items.map((i) => i * 10));
  });

  it('rethrows a failed item at its place in the order', async () => {
    const out: number[] = [];
    await expect(
      (async () => {
        for await (const x of orderedPool([1, 2, 3, 4], 2, async (i) => {
          if (i === 3) throw new Error('three');
          return i;
        })) out.push(x);
      })(),
    ).rejects.toThrow('three');
    expect(out).toEqual([1, 2]);
  });
});
