/**
 * `avbench serve smtp` as a yargs command module: it listens, proxies with a log line per
 * message on stderr, and stops on SIGTERM (its own listener is called; no real signal is
 * sent to the test process).
 */
import { describe, expect, it } from 'vitest';
import yargs from 'yargs';
import { ConfigError } from '../../../src/config/config.js';
import { freePort } from '../../../src/core/net.js';
import { parseHostPort, parseSize, proxyEventFields, serveSmtpCommand } from '../../../src/cli/commands/serve-smtp.js';
import { formatFields } from '../../../src/daemon/log.js';
import { createSmtpDriver, createSmtpSink } from '../../../src/modes/smtp/index.js';
import { EICAR, mailWithAttachment } from '../../helpers/eicar.js';

describe('serve smtp command', () => {
  it('parses HOST:PORT and sizes, refusing nonsense', () => {
    expect(parseHostPort('127.0.0.1:10025', 'x')).toEqual({ host: '127.0.0.1', port: 10025 });
    expect(parseHostPort('[::1]:25', 'x')).toEqual({ host: '::1', port: 25 });
    expect(() => parseHostPort('127.0.0.1', 'x')).toThrow(ConfigError);
    expect(() => parseHostPort('h:70000', 'x')).toThrow(ConfigError);
    expect(parseSize('25M')).toBe(25 * 1024 * 1024);
    expect(parseSize('512k')).toBe(512 * 1024);
    expect(parseSize('1000')).toBe(1000);
    expect(() => parseSize('lots')).toThrow(ConfigError);
  });

  it('formats one key=value log line per message, whatever a scanner put into a name', () => {
    const line = formatFields(proxyEventFields({ session: 's1', from: 'a@x', to: ['b@y'], bytes: 10, verdict: 'infected', names: ['Eicar-Test-Signature', 'Evil\r\nX-Injected: 1'], action: 'rejected', reply: '550 5.7.1 Virus found: Eicar-Test-Signature', scanMs: 1, ms: 2 }));
    expect(line).toBe('session=s1 from=<a@x> to=<b@y> bytes=10 verdict=infected names="Eicar-Test-Signature, Evil\\r\\nX-Injected: 1" action=rejected reply="550 5.7.1 Virus found: Eicar-Test-Signature" scan_ms=1 ms=2');
  });

  it('serves until SIGTERM: clean delivered, EICAR rejected, one stderr line each', async () => {
    const sink = await createSmtpSink();
    const port = await freePort();
    const state = { exitCode: -1 };
    const lines: string[] = [];
    const origWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    const before = new Set(process.listeners('SIGTERM'));
    try {
      const running = yargs(['smtp', '--listen', `127.0.0.1:${port}`, '--forward', `127.0.0.1:${sink.port}`, '--scanner', 'embedded'])
        .command(serveSmtpCommand(state))
        .exitProcess(false)
        .parseAsync();
      const driver = createSmtpDriver({ url: `smtp://127.0.0.1:${port}`, sink, graceMs: 500 });
      for (let i = 0; i < 100 && !lines.some((l) => l.includes('event=started')); i++) await new Promise((r) => setTimeout(r, 20));
      await driver.open();
      const ok = await driver.send({ file: 'a', raw: Buffer.from('Subject: hi\r\n\r\nhello\r\n') });
      const bad = await driver.send({ file: 'b', raw: mailWithAttachment('e.com', EICAR) });
      await driver.close();
      expect(ok.fate).toBe('delivered');
      expect(bad).toMatchObject({ fate: 'rejected', names: ['Eicar-Test-Signature'] });
      const ours = process.listeners('SIGTERM').filter((l) => !before.has(l));
      expect(ours).toHaveLength(1);
      (ours[0] as () => void)();
      await running;
      expect(state.exitCode).toBe(0);
      // The log gathers lines written together (daemon/log.ts): one write may hold several.
      const logged = lines.join('').split('\n');
      const perMessage = logged.filter((l) => l.includes(' event=message '));
      expect(perMessage).toHaveLength(2);
      expect(perMessage[0]).toMatch(/^ts=\S+ level=info daemon=smtp event=message session=\S+ .*verdict=clean action=forwarded/);
      expect(perMessage[1]).toContain('verdict=infected names=Eicar-Test-Signature action=rejected');
      expect(logged.some((l) => /event=stopped signal=SIGTERM cut=0/.test(l))).toBe(true);
    } finally {
      process.stderr.write = origWrite;
      await sink.close();
    }
  }, 30_000);
});
