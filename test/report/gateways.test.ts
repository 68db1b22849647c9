/**
 * src/report/gateways.ts: the gateways table of the report (issue 15) — each gateway,
 * third-party (`--sut`) and avbench's own, beside its scanner alone, in the HTML page and
 * in summary.md; absent when a run has no third-party system under test.
 */
import { describe, expect, it } from 'vitest';
import { gatewayRows } from '../../src/report/gateways.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import type { MessageResult } from '../../src/results/types.js';
import { makeResults, makeRun, msg, sampleResults } from './fixtures.js';

const corpus = (fate: MessageResult['fate'], lose?: string): MessageResult[] => [
  msg('m01.eml', 'infected', 'plain', 'infected', { fate: fate === 'scanned' ? 'scanned' : 'rejected' }),
  msg('m02.eml', 'infected', 'zip', 'infected', { fate: fate === 'scanned' ? 'scanned' : 'rejected' }),
  msg('m03.eml', 'clean', 'clean', 'clean', { fate: lose === 'm03.eml' ? 'lost' : fate }),
  msg('m04.eml', 'clean', 'clean', 'clean', { fate }),
];

function gatewayResults() {
  const clamsmtpd = makeRun({ scanner: 'clamsmtpd', mode: 'smtp', msgsPerSec: 150, p95: 40, sut: 'smtp://127.0.0.1:10025?sink=10026&name=clamsmtpd&pid=1,2', results: corpus('delivered', 'm03.eml') });
  clamsmtpd.resources = { avbench: { cpuSeconds: 0.5, peakRssBytes: 90e6 }, scanner: { cpuSeconds: 1.25, peakRssBytes: 300e6, pids: [1, 2] } };
  clamsmtpd.cold = { repeats: [], msgsPerSec: 60, mbPerSec: 0.6, latencyMs: { p50: 10, p95: 50, p99: 60, max: 70 }, reset: 'reload' };
  return makeResults([
    makeRun({ scanner: 'embedded', mode: 'direct', msgsPerSec: 9000, p95: 0.3, results: corpus('scanned') }),
    makeRun({ scanner: 'clamd', mode: 'direct', msgsPerSec: 400, p95: 8, cpu: 5, rss: 900e6, results: corpus('scanned') }),
    makeRun({ scanner: 'clamd', mode: 'smtp', msgsPerSec: 300, p95: 11, cpu: 6, rss: 100e6, results: corpus('delivered') }),
    makeRun({ scanner: 'noop', mode: 'smtp', baseline: true, msgsPerSec: 800, p95: 2, results: corpus('delivered') }),
    clamsmtpd,
  ]);
}

describe('gateways table', () => {
  it('lists the scanner alone first, then each gateway with its point, counts, cold/warm, CPU, memory and lost', () => {
    const rows = gatewayRows(gatewayResults());
    // embedded is not clamd's family (the lab's gateways scan with clamd); the baseline is not a gateway.
    expect(rows.map((r) => [r.gateway, r.point, r.kind])).toEqual([
      ['clamd alone', '–', 'reference'],
      ['clamsmtpd', 'MTA', 'third-party'], // measured whole at its SMTP port
      ['avbench serve smtp + clamd', 'A', 'avbench'],
    ]);
    const third = rows[1];
    expect(third?.detectionRate).toBe(1);
    expect(third?.falsePositives).toBe(0);
    expect(third?.lost).toBe(1);
    expect(third?.warmMsgsPerSec).toBeGreaterThan(0);
    expect(third?.coldMsgsPerSec).toBe(60);
    expect(third?.cpuSeconds).toBe(1.25); // the SUT's own processes, not the driver's
    expect(third?.peakMemoryBytes).toBe(300e6);
    expect(rows[2]?.coldMsgsPerSec).toBeNull();
    expect(rows[2]?.cpuSeconds).toBe(6);
  });

  it('is rendered in report.html and summary.md', () => {
    const r = gatewayResults();
    const page = renderHtml(r);
    expect(page).toContain('<section id="gateways">');
    expect(page).toMatch(/data-gateway-run="clamsmtpd\/smtp\/c1" data-kind="third-party"/);
    const md = renderMarkdown(r);
    expect(md).toContain('### Gateways');
    expect(md).toMatch(/\| clamsmtpd \| MTA \| 1 \| 100(\.0)? ?% \| 0 \| 0 \| 60(\.0)? \| 150 \|/);
    expect(md).toMatch(/\| clamd alone \(reference\) \| – \|/);
  });

  it('is left out when no third-party system under test was run', () => {
    const r = sampleResults();
    expect(gatewayRows(r)).toEqual([]);
    expect(renderHtml(r)).not.toContain('id="gateways"');
    expect(renderMarkdown(r)).not.toContain('### Gateways');
  });
});
