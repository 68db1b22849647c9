import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import yargs from 'yargs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportCommand } from '../../src/cli/commands/report.js';
import type { CliState } from '../../src/cli/main.js';
import { writeComparison, writeReport } from '../../src/report/index.js';
import { captureOutput } from '../helpers/capture.js';
import { hostileResults, sampleResults } from './fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avbench-report-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Pixels that are not white (the PNGs are painted white first). */
async function inkedPixels(png: Buffer): Promise<{ width: number; height: number; inked: number }> {
  const img = await loadImage(png);
  const c = createCanvas(img.width, img.height);
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data;
  let inked = 0;
  for (let i = 0; i < d.length; i += 4) if ((d[i] ?? 255) < 240 || (d[i + 1] ?? 255) < 240 || (d[i + 2] ?? 255) < 240) inked++;
  return { width: img.width, height: img.height, inked };
}

/** Run `avbench report ...` through its command module (main.ts wires it for the real CLI). */
async function report(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const state: CliState = { exitCode: 0 };
  const r = await captureOutput(async () => {
    await yargs(argv).command(reportCommand(state)).strict().exitProcess(false).fail((msg, err) => {
      throw err ?? new Error(msg);
    }).parseAsync();
    return state.exitCode;
  });
  return { code: r.result, stdout: r.stdout, stderr: r.stderr };
}

describe('writeReport', () => {
  it('writes report.html, summary.md and three non-blank PNG charts, byte-identical on a re-render', async () => {
    const out1 = join(dir, 'one');
    const out2 = join(dir, 'two');
    const w1 = await writeReport(sampleResults(), out1);
    const w2 = await writeReport(JSON.parse(JSON.stringify(sampleResults())), out2);
    expect(w1.pngs.map((p) => p.slice(out1.length + 1))).toEqual(['throughput.png', 'latency.png', 'overhead.png']);
    for (const name of ['report.html', 'summary.md', 'throughput.png', 'latency.png', 'overhead.png']) {
      expect((await readFile(join(out1, name))).equals(await readFile(join(out2, name))), name).toBe(true);
    }
    expect(w2.html).toBe(join(out2, 'report.html'));
    for (const p of w1.pngs) {
      const buf = await readFile(p);
      expect(buf.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
      const px = await inkedPixels(buf);
      expect(px).toMatchObject({ width: 960, height: 420 });
      expect(px.inked, p).toBeGreaterThan(5000);
    }
  });

  it('draws hostile labels as pixels (no crash, same charts)', async () => {
    const w = await writeReport(hostileResults(), join(dir, 'hostile'));
    expect(w.pngs).toHaveLength(3);
  });

  it('writes a comparison of two results files', async () => {
    const after = sampleResults();
    after.startedAt = '2026-11-25T10:00:00.000Z';
    const w = await writeComparison(sampleResults(), after, join(dir, 'cmp'));
    expect(w.pngs.map((p) => p.slice(join(dir, 'cmp').length + 1))).toEqual(['throughput.png', 'latency.png']);
    expect(w.comparison.changes).toEqual([]);
    expect(await readFile(w.markdown, 'utf8')).toContain('## avbench: before → after');
  });
});

describe('avbench report', () => {
  it('re-renders from results.json alone, the same bytes as writeReport', async () => {
    const src = join(dir, 'bench');
    const first = await writeReport(sampleResults(), src);
    await writeFile(join(src, 'results.json'), `${JSON.stringify(sampleResults(), null, 2)}\n`);
    const out = join(dir, 'rerender');
    const r = await report('report', '--results', join(src, 'results.json'), '--out', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`wrote ${join(out, 'report.html')}`);
    for (const name of ['report.html', 'summary.md', 'throughput.png', 'latency.png', 'overhead.png']) {
      expect((await readFile(join(out, name))).equals(await readFile(join(src, name))), name).toBe(true);
    }
    expect(first.html).toBe(join(src, 'report.html'));
    // Default output folder: next to the results file.
    const again = await report('report', '--results', join(src, 'results.json'), '--no-png');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`wrote ${join(src, 'report.html')}`);
  });

  it('exits 2 with a clear message on a broken file', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"schemaVersion": 1, "runs": "nope"}');
    const r = await report('report', '--results', bad, '--out', join(dir, 'never'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`avbench report: ${bad}: not a valid results.json`);
    const notJson = join(dir, 'notjson.json');
    await writeFile(notJson, '{ "schemaVersion": 1,');
    const r2 = await report('report', '--results', notJson);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('not JSON');
    const r3 = await report('report', '--results', join(dir, 'missing.json'));
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain('cannot read');
  });

  it('compares two files side by side', async () => {
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    const after = sampleResults();
    const run = after.runs.find((x) => x.id === 'embedded/direct/c1');
    if (run === undefined) throw new Error('fixture');
    run.results = run.results.map((m) => (m.file === 'm01.eml' ? { ...m, verdict: 'clean' as const, names: [] } : m));
    run.detection.tp -= 1;
    run.detection.fn += 1;
    await writeFile(a, JSON.stringify(sampleResults()));
    await writeFile(b, JSON.stringify(after));
    const out = join(dir, 'diff');
    const r = await report('report', '--results', a, '--results', b, '--out', out, '--no-png');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1 message verdict(s) changed, 1 for the worse');
    expect(await readFile(join(out, 'report.html'), 'utf8')).toMatch(/newly-missed<\/td><td class="d">m01\.eml/);
  });
});
