import { afterAll, beforeAll, expect, it } from 'vitest';
import { countSent, startPostfix, type LabPostfix } from '../../src/lab/postfix.js';
import { describeReal } from '../helpers/real.js';
import { recordingSink, swaks } from './postfix-helpers.js';

await describeReal('private Postfix instance', ['postfix', 'swaks'], () => {
  let sink: Awaited<ReturnType<typeof recordingSink>>;
  let pf: LabPostfix;
  beforeAll(async () => {
    sink = await recordingSink();
    pf = await startPostfix({ relayPort: sink.port });
  }, 60_000);
  afterAll(async () => {
    await pf?.stop();
    await sink?.close();
  }, 60_000);

  it('relays a message to the sink; the maillog says status=sent', async () => {
    const r = await swaks(pf.port, { body: 'hello through postfix', headers: { 'X-Avbench-Id': 'pf-1' } });
    expect(r.exitCode, r.out).toBe(0);
    expect(r.out).toMatch(/<-  250 2\.0\.0 Ok: queued as \w+/);
    expect(await pf.waitForSent(1, Date.now() + 30_000)).toBe(true);
    expect(sink.messages).toHaveLength(1);
    const text = sink.messages[0]!.toString('latin1');
    expect(text).toContain('X-Avbench-Id: pf-1');
    expect(text).toContain('hello through postfix');
    expect(text).toMatch(/Received: from client\.localhost/);
    expect(countSent(await pf.log())).toBe(1);
  }, 60_000);
});
