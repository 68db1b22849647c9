/**
 * The quick corpus through our milter (embedded scanner) and our driver gives, message by
 * message, the same verdict and names as scanMessage direct with the embedded scanner;
 * every message is accounted for (lost = 0).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../../adapters/index.js';
import { scanMessage } from '../../../src/core/scan.js';
import { generateCorpus } from '../../../src/corpus/generate.js';
import { openCorpus } from '../../../src/corpus/read.js';
import { createMilterDriver } from '../../../src/modes/milter/driver.js';
import { createMilterServer, type MilterServer } from '../../../src/modes/milter/server.js';

describe('quick corpus: milter mode equals direct, message by message', () => {
  let dir = '';
  let server: MilterServer;
  const embedded = createEmbeddedAdapter();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-milter-corpus-'));
    await generateCorpus({ out: dir, profile: 'quick', seed: 1 });
    server = createMilterServer({ scanners: [embedded], listen: 'inet:0@127.0.0.1' });
    await server.listen();
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('same verdict and names for every message; none lost', async () => {
    const port = /^inet:(\d+)@/.exec(server.address)?.[1];
    const driver = createMilterDriver({ url: `milter://127.0.0.1:${port}`, concurrency: 4, timeoutMs: 60_000 });
    await driver.open();
    const corpus = await openCorpus(dir);
    const rows: { file: string; direct: string; milter: string; fate: string }[] = [];
    const jobs: Promise<void>[] = [];
    for await (const entry of corpus.entries) {
      const raw = await entry.read();
      jobs.push(
        (async () => {
          const [direct, viaMilter] = await Promise.all([scanMessage(raw, { scanners: [embedded] }), driver.send({ file: entry.file, raw })]);
          const names = direct.status === 'infected' ? [...new Set(direct.detections.map((d) => d.name))].sort() : [];
          rows.push({
            file: entry.file,
            direct: `${direct.status} ${names.join(',')}`,
            milter: `${viaMilter.verdict} ${[...viaMilter.names].sort().join(',')}`,
            fate: viaMilter.fate,
          });
        })(),
      );
    }
    await Promise.all(jobs);
    await driver.close();
    expect(rows.length).toBe(corpus.info.messages);
    expect(rows.length).toBeGreaterThan(50);
    const differ = rows.filter((r) => r.direct !== r.milter);
    expect(differ, JSON.stringify(differ.slice(0, 5), null, 1)).toEqual([]);
    expect(rows.filter((r) => r.fate === 'lost')).toEqual([]);
    // The corpus really exercises both answers.
    expect(rows.some((r) => r.fate === 'rejected')).toBe(true);
    expect(rows.some((r) => r.fate === 'delivered')).toBe(true);
  });
});
