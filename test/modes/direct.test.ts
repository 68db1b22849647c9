import { describe, expect, it } from 'vitest';
import { createClamdAdapter, createEmbeddedAdapter } from '../../adapters/index.js';
import { createDirectDriver, outcomeOfVerdict } from '../../src/modes/direct.js';
import { EICAR, mailWithAttachment } from '../helpers/eicar.js';

describe('direct driver', () => {
  const embedded = createEmbeddedAdapter();

  it('scans in process: fate scanned, verdict and names from the core', async () => {
    const d = createDirectDriver({ scanners: [embedded] });
    expect(d.mode).toBe('direct');
    expect(d.sut).toBe('direct');
    await d.open();
    const clean = await d.send({ file: 'a.eml', raw: mailWithAttachment('a.txt', Buffer.from('hi\n')) });
    const bad = await d.send({ file: 'b.eml', raw: mailWithAttachment('eicar.com', EICAR) });
    await d.close();
    expect(clean).toMatchObject({ fate: 'scanned', verdict: 'clean', names: [] });
    expect(clean.errorCode).toBeUndefined();
    expect(bad).toMatchObject({ fate: 'scanned', verdict: 'infected', names: ['Eicar-Test-Signature'] });
    expect(bad.ms).toBeGreaterThanOrEqual(0);
  });

  it('a limit hit is an error with its code, never clean', async () => {
    const d = createDirectDriver({ scanners: [embedded], limits: { maxParts: 1 } });
    const o = await d.send({ file: 'a.eml', raw: mailWithAttachment('a.txt', Buffer.from('hi\n')) });
    expect(o).toMatchObject({ fate: 'scanned', verdict: 'error', names: [], errorCode: 'LIMIT_EXCEEDED' });
  });

  it('a scanner that cannot be reached is an error (real clamd adapter, no daemon)', async () => {
    const down = createClamdAdapter({ name: 'down', socket: '/nonexistent/avbench/clamd.sock', timeoutMs: 1000 });
    const d = createDirectDriver({ scanners: [down] });
    const o = await d.send({ file: 'a.eml', raw: mailWithAttachment('a.txt', Buffer.from('hi\n')) });
    await down.close();
    expect(o).toMatchObject({ verdict: 'error', errorCode: 'CONNECT_FAILED' });
  });

  it('names are unique per message; no scanners is a configuration error', () => {
    expect(outcomeOfVerdict({ status: 'infected', detections: [{ name: 'X', scanner: 'a' }, { name: 'X', scanner: 'b', part: '2' }] })).toEqual({ verdict: 'infected', names: ['X'] });
    expect(() => createDirectDriver({ scanners: [] })).toThrow(TypeError);
  });
});
