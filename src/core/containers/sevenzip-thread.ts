/**
 * 7-Zip (the `7z-wasm` package: 7-Zip compiled to WebAssembly) run in a worker thread, so
 * that a run can be stopped at any point: when the message's time is up, when the caller
 * aborts, or when the output it streams back breaks a limit, the thread is terminated —
 * even inside a decoder that spins without output (a damaged OLE2 file was seen to keep
 * 7-Zip's Compound handler busy for 12 s before it gave up). On the event loop, 7-Zip
 * could only be stopped between output bytes, and held every other scan up meanwhile.
 *
 * One thread, one job at a time (its 7-Zip instance has one file system and one stdout).
 * The thread is made on first use (~30 ms: the WASM module is compiled once per process
 * and handed to each new thread) and unref'd between jobs, so it never keeps a process
 * alive. A terminated thread is replaced by the next job.
 *
 * Output streams back in chunks of up to 64 KB, each charged by the caller as it arrives;
 * the thread also stops by itself after `cap` bytes, so a bomb is never held whole, nor
 * queued whole between the threads, while the caller's charge catches up.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** What the thread posts back. */
type FromThread =
  | { type: 'chunk'; chunk: Uint8Array }
  | { type: 'done'; code: number; stderr: string; capped: boolean }
  | { type: 'error'; name: string; message: string };

/** One job for the thread. */
interface ToThread {
  data: Uint8Array;
  args: string[];
  /** Stop after this many stdout bytes (the run then ends `capped`). */
  cap: number;
}

/**
 * The thread's body, as source text (plain JavaScript): a function's toString() would not
 * do, since the lean bundles minify it with helpers it would then miss in the thread. Its
 * messages are FromThread and ToThread above; every test that opens a 7-Zip format runs it.
 */
const THREAD_SOURCE = String.raw`"use strict";
const { parentPort: port, workerData } = require('node:worker_threads');
const CHUNK = 64 * 1024;
const MAX_ERR = 4096;
const INPUT = '/in';
// Inputs bigger than this get a fresh instance after their run (the WASM heap never shrinks).
const BIG_INPUT = 8 * 1024 * 1024;
// Runs on one instance before it is replaced: 7-Zip's main() is not made to run thousands
// of times in one process; state left by earlier runs was seen to make a later one trap
// (expanding clam.ppt over and over trapped after ~360 runs on one instance).
const MAX_RUNS = 100;
const loaded = require(workerData.modulePath);
const factory = typeof loaded === 'function' ? loaded : loaded.default;
const compiled = workerData.compiled;
let out = () => undefined;
let err = [];
let inst;
async function fresh() {
  const mod = await factory({
    instantiateWasm(imports, ready) {
      WebAssembly.instantiate(compiled, imports).then((i) => ready(i, compiled), () => undefined);
      return {};
    },
    stdout: (c) => out(c),
    stderr: (c) => { if (err.length < MAX_ERR) err.push(c); },
    // 7-Zip must never read a password (or anything) from stdin.
    stdin: () => null,
    print: () => undefined,
    printErr: () => undefined,
  });
  return { mod, runs: 0 };
}
const STOP = { stop: true };
let queue = Promise.resolve();
port.on('message', (job) => {
  queue = queue.then(async () => {
    let current;
    try {
      current = inst ?? (inst = await fresh());
    } catch (e) {
      port.postMessage({ type: 'error', name: String(e && e.name || 'Error'), message: String(e && e.message || e) });
      return;
    }
    let buf = new Uint8Array(4096);
    let fill = 0;
    let total = 0;
    let stopped = false;
    const flush = () => {
      if (fill === 0) return;
      total += fill;
      // Small first (most outputs are small), doubling up to CHUNK; sized before the
      // transfer, which leaves buf detached.
      const next = Math.min(CHUNK, buf.length * 2);
      port.postMessage({ type: 'chunk', chunk: buf.subarray(0, fill) }, [buf.buffer]);
      buf = new Uint8Array(next);
      fill = 0;
    };
    // One call per output byte: the sink itself, no wrapper.
    out = (c) => {
      if (stopped) throw STOP;
      buf[fill++] = c;
      if (fill === buf.length) {
        flush();
        if (total >= job.cap) { stopped = true; throw STOP; }
      }
    };
    err = [];
    let code;
    let thrown;
    try {
      current.mod.FS.writeFile(INPUT, job.data);
      code = current.mod.callMain(job.args);
    } catch (e) {
      thrown = e;
    } finally {
      out = () => undefined;
      try { current.mod.FS.unlink(INPUT); } catch { /* gone, or the instance is dropped */ }
    }
    current.runs += 1;
    // Stopped out of the middle (its memory state is unknown), failed, big, or old: replaced.
    if (stopped || thrown !== undefined || job.data.length > BIG_INPUT || current.runs >= MAX_RUNS) inst = undefined;
    const stderr = new TextDecoder().decode(new Uint8Array(err)).trim();
    if (stopped) {
      port.postMessage({ type: 'done', code: 0, stderr, capped: true });
    } else if (thrown !== undefined) {
      const name = thrown && typeof thrown.name === 'string' ? thrown.name : 'Error';
      const message = thrown && typeof thrown.message === 'string' ? thrown.message : String(thrown);
      port.postMessage({ type: 'error', name, message });
    } else {
      flush();
      port.postMessage({ type: 'done', code: typeof code === 'number' ? code : 0, stderr, capped: false });
    }
  });
});
`;

let compiling: Promise<object> | undefined;

/** 7-Zip's WASM binary, compiled once per process (a compiled module can be sent to threads). */
function compiledWasm(): Promise<object> {
  compiling ??= readFile(createRequire(import.meta.url).resolve('7z-wasm/7zz.wasm')).then((bytes) =>
    (globalThis as unknown as { WebAssembly: { compile(b: Uint8Array): Promise<object> } }).WebAssembly.compile(bytes),
  );
  const p = compiling;
  p.catch(() => {
    if (compiling === p) compiling = undefined;
  });
  return p;
}

let thread: Worker | undefined;

async function theThread(): Promise<Worker> {
  if (thread !== undefined) return thread;
  const compiled = await compiledWasm();
  if (thread !== undefined) return thread;
  const modulePath = createRequire(import.meta.url).resolve('7z-wasm');
  const w = new Worker(THREAD_SOURCE, { eval: true, workerData: { modulePath, compiled } });
  w.unref();
  w.on('exit', () => {
    if (thread === w) thread = undefined;
  });
  // An error event with no job listening (the thread failed between jobs): it is dropped.
  w.on('error', () => {
    if (thread === w) thread = undefined;
  });
  thread = w;
  return w;
}

function kill(w: Worker): void {
  if (thread === w) thread = undefined;
  void w.terminate();
}

/** Jobs must not interleave on the one thread. */
let queue: Promise<unknown> = Promise.resolve();

/** How one run ended. */
export interface ThreadRun {
  /** 7-Zip's exit code: 0 ok, 1 warning, 2 fatal. */
  code: number;
  stderr: string;
  /** The run was stopped after `cap` output bytes. */
  capped: boolean;
}

/** A run that ended inside 7-Zip with an exception (a WASM trap is named RuntimeError). */
export class SevenZipFailure extends Error {
  constructor(
    readonly thrownName: string,
    message: string,
  ) {
    super(message);
    this.name = 'SevenZipFailure';
  }
}

/** When and why to stop a run from outside. */
export interface StopWhen {
  /** Date.now() value after which the run is stopped; `onDeadline()` gives the error thrown. */
  deadline: number;
  onDeadline: () => Error;
  signal?: AbortSignal;
  onAbort?: () => Error;
}

/**
 * Run 7-Zip once in the thread with `data` as /in. Each stdout chunk goes to `onChunk` as
 * it arrives; if onChunk throws, or `stop` says so, the thread is terminated at once and
 * that error thrown. The run stops itself after `cap` output bytes (`capped`).
 */
export function runSevenZip(data: Buffer, args: string[], cap: number, onChunk: (chunk: Buffer) => void, stop: StopWhen): Promise<ThreadRun> {
  const run = queue.then(() => runNow(data, args, cap, onChunk, stop));
  queue = run.catch(() => undefined);
  return run;
}

async function runNow(data: Buffer, args: string[], cap: number, onChunk: (chunk: Buffer) => void, stop: StopWhen): Promise<ThreadRun> {
  if (stop.signal?.aborted) throw (stop.onAbort ?? stop.onDeadline)();
  if (Date.now() > stop.deadline) throw stop.onDeadline();
  const w = await theThread();
  return new Promise<ThreadRun>((resolve, reject) => {
    let settled = false;
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop.signal?.removeEventListener('abort', aborted);
      w.off('message', message);
      w.off('error', failed);
      w.off('exit', exited);
      if (thread === w) w.unref();
      f();
    };
    const abandon = (e: unknown): void =>
      finish(() => {
        kill(w);
        reject(e);
      });
    const timer = setTimeout(() => abandon(stop.onDeadline()), Math.max(0, stop.deadline - Date.now() + 1));
    const aborted = (): void => abandon((stop.onAbort ?? stop.onDeadline)());
    const message = (m: FromThread): void => {
      if (settled) return;
      if (m.type === 'chunk') {
        try {
          onChunk(Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength));
        } catch (e) {
          abandon(e);
        }
      } else if (m.type === 'done') {
        finish(() => resolve({ code: m.code, stderr: m.stderr, capped: m.capped }));
      } else {
        finish(() => reject(new SevenZipFailure(m.name, m.message)));
      }
    };
    const failed = (e: Error): void => abandon(new SevenZipFailure(e.name, `7-Zip thread failed: ${e.message}`));
    const exited = (code: number): void => abandon(new SevenZipFailure('Exit', `7-Zip thread exited (${code})`));
    stop.signal?.addEventListener('abort', aborted, { once: true });
    w.on('message', message);
    w.on('error', failed);
    w.on('exit', exited);
    w.ref();
    // A copy in its own memory, moved (not copied again) to the thread.
    const copy = new Uint8Array(data);
    w.postMessage({ data: copy, args, cap } satisfies ToThread, [copy.buffer]);
  });
}
