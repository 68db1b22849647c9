/**
 * In-place scanning (`zSCAN <path>` on a pipelined IDSESSION) against a real lab clamd.
 *
 * Several tests hand the adapter a unit whose `data` deliberately differs from the file at
 * `path` (clean bytes, infected file or the other way round): the verdict then shows which
 * of the two clamd actually scanned, in place or streamed.
 */
import { mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClamdAdapter } from '../../adapters/clamd.js';
import { scanMessageDetailed } from '../../src/core/scan.js';
import type { Adapter, ScanContext, ScanUnit, Verdict } from '../../src/core/types.js';
import { CLEAN } from '../../src/core/verdict.js';
import { startClamd, type LabClamd } from '../../src/lab/clamd.js';
import { EICAR_NDB_NAME, eicar } from '../../src/lab/signatures.js';
import { describeReal } from '../helpers/real.js';

function ctx(ms = 10_000): ScanContext {
  return { signal: new AbortController().signal, deadline: Date.now() + ms };
}
function eml(body: string, attachment?: Buffer): Buffer {
  const head = 'From: a@example.org\r\nTo: b@example.org\r\nSubject: test\r\nMIME-Version: 1.0\r\n';
  if (attachment === undefined) return Buffer.from(`${head}Content-Type: text/plain\r\n\r\n${body}\r\n`);
  const b64 = attachment.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    `${head}Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n${body}\r\n` +
      `--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n` +
      `Content-Disposition: attachment; filename="eicar.com"\r\n\r\n${b64}\r\n--b1--\r\n`,
  );
}
function unit(data: Buffer, path?: string): ScanUnit {
  return { kind: 'message', data, location: 'message', ...(path === undefined ? {} : { path }) };
}
function names(v: Verdict): string[] {
  return v.status === 'infected' ? v.detections.map((d) => d.name) : [];
}

await describeReal('clamd adapter: in-place scanning against a real clamd', ['clamd'], () => {
  let clamd: LabClamd;
  let excluding: LabClamd;
  let dir: string;
  let infectedFile: string;
  let cleanFile: string;
  const infectedEml = eml('see attachment', eicar());
  const cleanEml = eml('hello, nothing to see here');
  const adapters: Adapter[] = [];
  const make = (...args: Parameters<typeof createClamdAdapter>): Adapter => {
    const a = createClamdAdapter(...args);
    adapters.push(a);
    return a;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-inplace-'));
    infectedFile = join(dir, 'infected.eml');
    cleanFile = join(dir, 'clean.eml');
    await writeFile(infectedFile, infectedEml, { mode: 0o600 });
    await writeFile(cleanFile, cleanEml, { mode: 0o600 });
    clamd = await startClamd();
    // clamd answers `<path>: Excluded` for these: it does not scan them in place.
    excluding = await startClamd({ extraConfig: [`ExcludePath ^${dir}/skip-`] });
  });
  afterAll(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await Promise.all([clamd?.stop(), excluding?.stop()]);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('finds EICAR in an .eml on disk and passes a clean one, with the same names as INSTREAM', async () => {
    const inPlace = make({ socket: clamd.socket });
    const stream = make({ socket: clamd.socket, inPlace: 'never' });
    const a = await inPlace.scan(unit(infectedEml, infectedFile), ctx());
    const b = await stream.scan(unit(infectedEml, infectedFile), ctx());
    expect(a.status).toBe('infected');
    expect(names(a)).toEqual([EICAR_NDB_NAME]);
    expect(names(a)).toEqual(names(b));
    expect(await inPlace.scan(unit(cleanEml, cleanFile), ctx())).toEqual(CLEAN);
    expect(await stream.scan(unit(cleanEml, cleanFile), ctx())).toEqual(CLEAN);
  });

  it('really lets clamd read the file (auto on a unix socket), and streams with inPlace never', async () => {
    // data and file disagree on purpose: the verdict tells which one was scanned.
    expect(names(await make({ socket: clamd.socket }).scan(unit(cleanEml, infectedFile), ctx()))).toEqual([EICAR_NDB_NAME]);
    expect(await make({ socket: clamd.socket, inPlace: 'never' }).scan(unit(cleanEml, infectedFile), ctx())).toEqual(CLEAN);
  });

  it('pipelines many in-place scans on one session, each with its own verdict', async () => {
    const a = make({ socket: clamd.socket });
    const files = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? infectedFile : cleanFile));
    const verdicts = await Promise.all(files.map((f) => a.scan(unit(Buffer.alloc(0), f), ctx())));
    expect(verdicts.map((v) => v.status)).toEqual(files.map((f) => (f === infectedFile ? 'infected' : 'clean')));
  });

  it('falls back to INSTREAM when the file is gone after it was read (and stays right)', async () => {
    const a = make({ socket: clamd.socket });
    const gone = join(dir, 'gone.eml');
    await writeFile(gone, infectedEml, { mode: 0o600 });
    await unlink(gone);
    expect(names(await a.scan(unit(infectedEml, gone), ctx()))).toEqual([EICAR_NDB_NAME]);
    expect(await a.scan(unit(cleanEml, join(dir, 'never-existed.eml')), ctx())).toEqual(CLEAN);
  });

  it('falls back to INSTREAM once when clamd answers the SCAN without scanning (ExcludePath)', async () => {
    const a = make({ socket: excluding.socket });
    const skipped = join(dir, 'skip-infected.eml');
    await writeFile(skipped, cleanEml, { mode: 0o600 });
    // clamd says `Excluded` for the file: the adapter streams data (infected) instead of trusting it.
    expect(names(await a.scan(unit(infectedEml, skipped), ctx()))).toEqual([EICAR_NDB_NAME]);
    expect(await a.scan(unit(cleanEml, skipped), ctx())).toEqual(CLEAN);
    // the session survives for the next in-place scan
    expect(names(await a.scan(unit(cleanEml, infectedFile), ctx()))).toEqual([EICAR_NDB_NAME]);
  });

  it('never scans in place on a TCP server unless told to (always)', async () => {
    const auto = make({ host: clamd.host, port: clamd.port });
    expect(await auto.scan(unit(cleanEml, infectedFile), ctx())).toEqual(CLEAN);
    const always = make({ host: clamd.host, port: clamd.port, inPlace: 'always' });
    expect(names(await always.scan(unit(cleanEml, infectedFile), ctx()))).toEqual([EICAR_NDB_NAME]);
  });

  it('streams a path with a newline in it instead of sending it', async () => {
    const odd = join(dir, 'odd\nname.eml');
    await writeFile(odd, infectedEml, { mode: 0o600 });
    const a = make({ socket: clamd.socket });
    expect(await a.scan(unit(cleanEml, odd), ctx())).toEqual(CLEAN);
    expect(names(await a.scan(unit(infectedEml, odd), ctx()))).toEqual([EICAR_NDB_NAME]);
  });

  it('resolves a symlink first (clamd would answer OK for a link without scanning it)', async () => {
    const link = join(dir, 'link.eml');
    await symlink(infectedFile, link);
    expect(names(await make({ socket: clamd.socket }).scan(unit(Buffer.alloc(0), link), ctx()))).toEqual([EICAR_NDB_NAME]);
  });

  it('scans in place per connection too (poolSize 0), and after close()', async () => {
    const a = createClamdAdapter({ socket: clamd.socket, poolSize: 0 });
    expect(names(await a.scan(unit(cleanEml, infectedFile), ctx()))).toEqual([EICAR_NDB_NAME]);
    expect(await a.scan(unit(cleanEml, cleanFile), ctx())).toEqual(CLEAN);
    await a.close();
    const b = createClamdAdapter({ socket: clamd.socket });
    expect(names(await b.scan(unit(cleanEml, infectedFile), ctx()))).toEqual([EICAR_NDB_NAME]);
    await b.close();
    expect(names(await b.scan(unit(cleanEml, infectedFile), ctx()))).toEqual([EICAR_NDB_NAME]);
    await b.close();
  });

  it('scanMessageDetailed({ path }) hands whole-message scanners the absolute path, never the parts', async () => {
    const seen: ScanUnit[] = [];
    const recorder = (granularity: 'message' | 'part'): Adapter => ({
      name: `record-${granularity}`,
      type: 'record',
      granularity,
      probe: async () => ({ available: true }),
      scan: async (u) => {
        seen.push(u);
        return CLEAN;
      },
      close: async () => undefined,
    });
    const clamdInPlace = make({ socket: clamd.socket });
    const r = await scanMessageDetailed({ path: relative(process.cwd(), infectedFile) }, { scanners: [clamdInPlace, recorder('message'), recorder('part')] });
    expect(r.verdict.status).toBe('infected');
    const whole = seen.filter((u) => u.kind === 'message');
    expect(whole.map((u) => u.path)).toEqual([infectedFile]);
    expect(seen.filter((u) => u.kind === 'part').length).toBeGreaterThan(0);
    expect(seen.filter((u) => u.kind === 'part').every((u) => u.path === undefined)).toBe(true);
    // bytes given directly: no path
    seen.length = 0;
    await scanMessageDetailed(infectedEml, { scanners: [recorder('message')] });
    expect(seen[0]?.path).toBeUndefined();
  });

  it('scanBatch: in-place units pipelined, each with the verdict scan() gives it, fallbacks included', async () => {
    const a = make({ socket: clamd.socket });
    const gone = join(dir, 'batch-gone.eml');
    const odd = join(dir, 'batch-odd\nname.eml');
    await writeFile(odd, cleanEml, { mode: 0o600 });
    const units = [
      ...Array.from({ length: 70 }, (_, i) => unit(Buffer.alloc(0), i % 2 === 0 ? infectedFile : cleanFile)),
      unit(infectedEml, gone), // no such file: streamed
      unit(infectedEml, odd), // a path clamd cannot be sent: streamed
      unit(infectedEml), // no path at all: streamed
      unit(cleanEml, infectedFile), // in place: the file, not the bytes
    ];
    const batch = await a.scanBatch!(units, ctx());
    const one = await Promise.all(units.map((u) => a.scan(u, ctx())));
    expect(batch).toEqual(one);
    expect(batch.slice(0, 70).map((v) => v.status)).toEqual(units.slice(0, 70).map((u) => (u.path === infectedFile ? 'infected' : 'clean')));
    expect(batch.slice(70).map(names)).toEqual([[EICAR_NDB_NAME], [EICAR_NDB_NAME], [EICAR_NDB_NAME], [EICAR_NDB_NAME]]);
  });

  it('scanBatch: clamd refusing an in-place SCAN (ExcludePath) means the bytes are streamed, as scan() does', async () => {
    const a = make({ socket: excluding.socket });
    const skipped = join(dir, 'skip-batch.eml');
    await writeFile(skipped, cleanEml, { mode: 0o600 });
    const v = await a.scanBatch!([unit(infectedEml, skipped), unit(cleanEml, infectedFile), unit(cleanEml, skipped)], ctx());
    expect(v.map(names)).toEqual([[EICAR_NDB_NAME], [EICAR_NDB_NAME], []]);
    expect(v[2]).toEqual(CLEAN);
  });

  it('scanBatch: an aborted batch is ABORTED for every in-place unit, never clean', async () => {
    const a = make({ socket: clamd.socket });
    const c = new AbortController();
    c.abort();
    const v = await a.scanBatch!([unit(Buffer.alloc(0), infectedFile), unit(Buffer.alloc(0), cleanFile)], { signal: c.signal, deadline: Date.now() + 10_000 });
    expect(v.map((x) => (x.status === 'error' ? x.error.code : x.status))).toEqual(['ABORTED', 'ABORTED']);
  });

  it('scanMessageDetailed({ path }) with only whole-message scanners never reads a file clamd scans in place', async () => {
    const a = make({ socket: clamd.socket });
    let touched = 0;
    const r = await scanMessageDetailed({ path: infectedFile }, {
      scanners: [
        {
          ...a,
          name: a.name,
          type: a.type,
          granularity: 'message',
          scan: (u, c) => {
            // the core hands a unit whose bytes are read on first use; count every use
            expect(Object.getOwnPropertyDescriptor(u, 'data')?.get).toBeTypeOf('function');
            const counting = new Proxy(u, {
              get: (t, k) => {
                if (k === 'data') touched++;
                return Reflect.get(t, k) as unknown;
              },
            });
            return a.scan(counting, c);
          },
        },
      ],
    });
    expect(names(r.verdict)).toEqual([EICAR_NDB_NAME]);
    expect(touched).toBe(0);
    // a file that cannot be read, and that clamd cannot scan in place either: IO, never clean
    const missing = await scanMessageDetailed({ path: join(dir, 'no-such.eml') }, { scanners: [a] });
    expect(missing.verdict.status).toBe('error');
    expect(missing.verdict.status === 'error' ? missing.verdict.error.code : '').toBe('IO');
  });

  it('rejects a bad inPlace option as configuration', () => {
    expect(() => createClamdAdapter({ socket: clamd.socket, inPlace: 'sometimes' as 'auto' })).toThrow(TypeError);
  });
});
