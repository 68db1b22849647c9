/**
 * The quick corpus through our proxy (embedded scanner) with our driver and sink gives,
 * message by message, the verdict scanMessage gives directly with the same scanner.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../../adapters/index.js';
import { scanMessage } from '../../../src/core/scan.js';
import { generateCorpus } from '../../../src/corpus/generate.js';
import { openCorpus } from '../../../src/corpus/read.js';
import { createSmtpDriver, createSmtpProxy, createSmtpSink } from '../../../src/modes/smtp/index.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'avbench-smtp-corpus-'));
  await generateCorpus({ out: join(tmp, 'corpus'), profile: 'quick' });
}, 60_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('quick corpus: smtp proxy verdicts equal direct verdicts', () => {
  it('message by message, same status and names; every message accounted for', async () => {
    const scanner = createEmbeddedAdapter();
    const sink = await createSmtpSink();
    const proxy = createSmtpProxy({ forward: { host: sink.host, port: sink.port }, scanners: [scanner] });
    const { port } = await proxy.listen();
    const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink, sessions: 4, graceMs: 1_000 });
    await driver.open();
    try {
      const corpus = await openCorpus(join(tmp, 'corpus'));
      const rows: Array<{ file: string; direct: string; smtp: string; fate: string }> = [];
      const jobs: Array<Promise<void>> = [];
      for await (const e of corpus.entries) {
        const raw = await e.read();
        jobs.push(
          (async () => {
            const [direct, out] = await Promise.all([scanMessage(raw, { scanners: [scanner] }), driver.send({ file: e.file, raw })]);
            const dNames = direct.status === 'infected' ? [...new Set(direct.detections.map((d) => d.name))].sort() : [];
            const dCode = direct.status === 'error' ? `:${direct.error.code}` : '';
            const sCode = out.verdict === 'error' ? `:${/\(([A-Z_]+)\)/.exec(out.smtpReply ?? '')?.[1] ?? out.errorCode ?? ''}` : '';
            rows.push({
              file: e.file,
              direct: `${direct.status}${dCode} ${dNames.join(',')}`,
              smtp: `${out.verdict}${sCode} ${[...out.names].sort().join(',')}`,
              fate: out.fate,
            });
          })(),
        );
      }
      await Promise.all(jobs);
      expect(rows.length).toBe(corpus.info.messages);
      const differing = rows.filter((r) => r.direct !== r.smtp);
      expect(differing).toEqual([]);
      expect(rows.filter((r) => r.fate === 'lost')).toEqual([]);
      // The corpus has both kinds, so the comparison means something.
      expect(rows.some((r) => r.direct.startsWith('infected'))).toBe(true);
      expect(rows.some((r) => r.direct.startsWith('clean'))).toBe(true);
      await driver.close();
      expect(driver.stats().extras).toBe(0);
    } finally {
      await driver.close();
      await proxy.close();
      await sink.close();
    }
  }, 120_000);
});
