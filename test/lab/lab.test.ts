import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, spawnDaemon, which, type Daemon } from '../../src/core/exec.js';
import { TEMP_OWNER_FILE, sweepStaleTempDirs } from '../../src/lab/clamd.js';
import { cicapConfig, startCicap, startClamd, writeSignatureDb, eicar, eicarNdbLine } from '../../src/lab/index.js';
import { alive } from '../../src/daemon/pidfile.js';
import { describeReal } from '../helpers/real.js';
import { until } from '../helpers/wait.js';

describe('sweepStaleTempDirs', () => {
  it('removes the temp folders whose starter and clamd are both gone; keeps those of a live starter and those that name none', async () => {
    const root = await mkdtemp(join(tmpdir(), 'avbench-sweeptest-'));
    try {
      const pidMax = Number.parseInt(await readFile('/proc/sys/kernel/pid_max', 'utf8'), 10);
      const make = async (name: string, owner?: string): Promise<string> => {
        const d = join(root, name);
        await mkdir(d);
        await writeFile(join(d, 'clamav-tmpfile'), 'x');
        if (owner !== undefined) await writeFile(join(d, TEMP_OWNER_FILE), owner);
        return d;
      };
      const unused = join(root, 'nobody-runs-this', 'clamd.conf');
      const gone = await make('avbench-clamd-tmp-gone', `${pidMax + 1}\n${unused}\n`);
      const live = await make('avbench-clamd-tmp-live', `${process.pid}\n${unused}\n`);
      const starting = await make('avbench-clamd-tmp-starting');
      const garbled = await make('avbench-clamd-tmp-garbled', 'not a pid');
      const noConfig = await make('avbench-clamd-tmp-noconfig', `${pidMax + 1}\n`);
      const other = await make('someone-elses', `${pidMax + 1}\n${unused}\n`);
      expect(await sweepStaleTempDirs(root)).toEqual([gone]);
      expect([gone, live, starting, garbled, noConfig, other].map((d) => existsSync(d))).toEqual([false, true, true, true, true, true]);
      expect(await sweepStaleTempDirs(join(root, 'missing'))).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('lab signature database', () => {
  it('writes the EICAR .ndb and the clam.exe .hdb, private', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'avbench-labtest-'));
    try {
      const files = await writeSignatureDb(dir);
      expect(files.map((f) => f.replace(dir, ''))).toEqual(['/avbench.ndb', '/avbench.hdb']);
      const ndb = await readFile(join(dir, 'avbench.ndb'), 'utf8');
      expect(ndb).toBe(`Eicar-Test-NDB:0:*:${eicar().toString('hex')}\n`);
      expect(eicarNdbLine()).toMatch(/^Eicar-Test-NDB:0:\*:[0-9a-f]{136}$/);
      expect(await readFile(join(dir, 'avbench.hdb'), 'utf8')).toBe('aa15bcf478d165efd2065190eb473bcb:544:ClamAV-Test-File\n');
      expect(eicar().length).toBe(68);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('builds the c-icap config from the stock one, replacing what it must', () => {
    const stock = 'PidFile /var/run/c-icap/c-icap.pid\nPort 1344\nUser c-icap\nGroup c-icap\n# Port 99\nTimeout 300\nServerLog /var/log/x\n';
    const conf = cicapConfig(stock, { port: 40000, folder: '/tmp/f', clamdSocket: '/tmp/c.sock', maxObjectSize: '5M' });
    expect(conf).toMatch(/^Timeout 300$/m);
    expect(conf).toMatch(/^# Port 99$/m);
    expect(conf).not.toMatch(/^User /m);
    expect(conf).not.toMatch(/^Port 1344$/m);
    expect(conf).toMatch(/^Port 127\.0\.0\.1:40000$/m);
    expect(conf).toMatch(/^PidFile \/tmp\/f\/c-icap\.pid$/m);
    expect(conf).toMatch(/^clamd_mod\.ClamdSocket \/tmp\/c\.sock$/m);
    expect(conf).toMatch(/^ServiceAlias avscan virus_scan\?allow204=on&sizelimit=off&mode=simple$/m);
  });
});

await describeReal('lab daemons', ['clamd', 'c-icap', 'clamdscan'], () => {
  it('starts clamd with a pidfile and a config clamdscan can use, and stop() leaves nothing behind', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'avbench-labtest-'));
    const clamd = await startClamd({ dir: parent });
    try {
      expect(alive(clamd.pid)).toBe(true);
      expect((await readFile(join(clamd.folder, 'clamd.pid'), 'utf8')).trim()).toBe(String(clamd.pid));
      // Its memory temp folder names it, for sweepStaleTempDirs (on /dev/shm when usable).
      if (clamd.tempDir.startsWith('/dev/shm/')) expect(await readFile(join(clamd.tempDir, TEMP_OWNER_FILE), 'utf8')).toBe(`${process.pid}\n${clamd.configFile}\n`);
      const conf = await readFile(clamd.configFile, 'utf8');
      expect(conf).toMatch(new RegExp(`^TCPSocket ${clamd.port}$`, 'm'));
      expect(conf).toMatch(/^TCPAddr 127\.0\.0\.1$/m);
      expect(conf).not.toMatch(/^User /m);
      const r = await run('clamdscan', [`--config-file=${clamd.configFile}`, '--stream', '--no-summary', '-'], { input: eicar(), deadline: Date.now() + 20_000 });
      expect(r).toMatchObject({ ok: true, exitCode: 1 });
      expect(r.stdout).toMatch(/Eicar-Test-NDB\.UNOFFICIAL FOUND/);
    } finally {
      await clamd.stop();
    }
    expect(alive(clamd.pid)).toBe(false);
    expect(existsSync(clamd.folder)).toBe(false);
    expect(existsSync(clamd.tempDir)).toBe(false);
    expect(await readdir(parent)).toEqual([]);
    await rm(parent, { recursive: true, force: true });
  });

  it('a /dev/shm temp folder outlives a killed run until both its starter and its clamd are gone; a clamd restarted on the same config keeps it', async () => {
    const first = await startClamd({ tempStorage: 'memory' });
    let again: Daemon | undefined;
    try {
      if (!first.tempDir.startsWith('/dev/shm/')) return; // no usable /dev/shm: temp files in the lab folder, removed with it
      await writeFile(join(first.tempDir, 'left-over'), 'x');
      // As a run killed before stop() leaves it: its starter gone (a PID above pid_max), its clamd killed.
      const pidMax = Number.parseInt(await readFile('/proc/sys/kernel/pid_max', 'utf8'), 10);
      await writeFile(join(first.tempDir, TEMP_OWNER_FILE), `${pidMax + 1}\n${first.configFile}\n`);
      process.kill(first.pid, 'SIGKILL');
      expect(await until(() => !alive(first.pid), 10_000)).toBe(true);
      // A supervisor restarts clamd on the same config (as the fault suite does): the folder is in use again.
      again = await spawnDaemon((await which('clamd'))!, [`--config-file=${first.configFile}`], { cwd: first.folder, logFile: join(first.folder, 'again.out') });
      expect(await until(() => existsSync(first.socket) && again!.running(), 20_000)).toBe(true);
      expect(await sweepStaleTempDirs()).not.toContain(first.tempDir);
      expect(existsSync(first.tempDir)).toBe(true);
      await again.stop(5_000);
      again = undefined;
      // Both gone: the next lab clamd removes it before making its own, and keeps its own.
      const second = await startClamd({ tempStorage: 'memory' });
      try {
        expect(existsSync(first.tempDir)).toBe(false);
        expect(existsSync(second.tempDir)).toBe(true);
        expect(await sweepStaleTempDirs()).not.toContain(second.tempDir);
        expect(existsSync(second.tempDir)).toBe(true);
      } finally {
        await second.stop();
      }
    } finally {
      await again?.stop(5_000);
      await first.stop();
    }
  }, 60_000);

  it('starts c-icap against a clamd, answering OPTIONS, and stops it', async () => {
    const clamd = await startClamd();
    try {
      const icap = await startCicap({ clamdSocket: clamd.socket });
      try {
        expect(icap.url).toBe(`icap://127.0.0.1:${icap.port}/avscan`);
        expect(alive(icap.pid)).toBe(true);
      } finally {
        await icap.stop();
      }
      expect(alive(icap.pid)).toBe(false);
      expect(existsSync(icap.folder)).toBe(false);
    } finally {
      await clamd.stop();
    }
  });

  it('fails loudly, leaving nothing running, when clamd cannot start', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'avbench-labtest-'));
    try {
      await expect(startClamd({ dir: parent, extraConfig: ['NoSuchOption yes'], readyTimeoutMs: 5_000 })).rejects.toThrow(/clamd/);
      expect(await readdir(parent)).toEqual([]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});
