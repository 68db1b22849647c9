/**
 * avbench's own front ends as lab gateways (issue 15 point 7): the built CLI's `serve milter`
 * or `serve smtp` as its own process (`node dist/src/cli/bin.js serve …`, as a user runs it),
 * behind a private Postfix as an administrator deploys it — `smtpd_milters` = our milter
 * (point B), or a before-queue `smtpd_proxy_filter` = our SMTP proxy forwarding to Postfix's
 * re-injection smtpd (point A) — relaying to the bench driver's sink: one `smtp://` `--sut`
 * beside `postfix+clamav-milter` and `postfix+rspamd` (`avbench lab up`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../core/net.js';
import { builtCliPath } from '../core/package-root.js';
import { startLabDaemon, whenListening, type LabProcess } from './daemon.js';
import { reinjectPortFor, startPostfixFront, type LabPostfixFront } from './postfix-front.js';

/** Which front end: `serve milter` (behind smtpd_milters) or `serve smtp` (behind smtpd_proxy_filter). */
export type AvbenchServeKind = 'milter' | 'smtp';

/** The `--sut` names `avbench lab up` gives our front ends behind Postfix. */
export const POSTFIX_AVBENCH_SUT: Record<AvbenchServeKind, 'postfix+avbench-milter' | 'postfix+avbench-proxy'> = { milter: 'postfix+avbench-milter', smtp: 'postfix+avbench-proxy' };

/** The built CLI (`<root>/dist/src/cli/bin.cjs`), or undefined when it is not built. */
export function builtCli(): string | undefined {
  const bin = builtCliPath();
  return existsSync(bin) ? bin : undefined;
}

/** Options of {@link startAvbenchServe}. */
export interface StartAvbenchServeOptions {
  kind: AvbenchServeKind;
  /** The config file naming `scanner` (the lab's `avbench.config.json`). */
  configFile: string;
  /** `--scanner` (default `clamd`). */
  scanner?: string;
  /** With `smtp`: the next hop on 127.0.0.1 (`--forward`), e.g. Postfix's re-injection smtpd. */
  forwardPort?: number;
  /** Listen port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Parent of the private folder (default: the OS temp folder). */
  dir?: string;
  /** How long to wait until it listens (ms, default 30 000: Node's start plus the scanner's). */
  readyTimeoutMs?: number;
}

/** A running `avbench serve milter|smtp` process. */
export interface LabAvbenchServe extends LabProcess {
  kind: AvbenchServeKind;
  port: number;
  /** `inet:PORT@127.0.0.1` (milter) or `127.0.0.1:PORT` (smtp): what Postfix is given. */
  address: string;
  /** The command line it runs (node first). */
  argv: string[];
}

/**
 * Start `node dist/src/cli/bin.js serve milter|smtp --scanner NAME --config FILE` on a free
 * loopback port (its per-message log lines go to `serve.log` in its private folder). Throws
 * when the CLI is not built, or with the log's tail when it does not listen in time. stop():
 * SIGTERM (the messages under way finish), SIGKILL after 10 s.
 */
export async function startAvbenchServe(opts: StartAvbenchServeOptions): Promise<LabAvbenchServe> {
  const bin = builtCli();
  if (bin === undefined) throw new Error(`avbench serve ${opts.kind} needs the built CLI (${builtCliPath()}): npm run build`);
  if (opts.kind === 'smtp' && opts.forwardPort === undefined) throw new TypeError('startAvbenchServe: serve smtp needs forwardPort');
  const { launch, ...proc } = await startLabDaemon({
    name: `avbench serve ${opts.kind}`,
    slug: `serve-${opts.kind}`,
    dir: opts.dir,
    stopGraceMs: 10_000,
    async setup(folder) {
      const port = opts.port ?? (await freePort());
      const address = opts.kind === 'milter' ? `inet:${port}@127.0.0.1` : `127.0.0.1:${port}`;
      const args = [bin, 'serve', opts.kind, '--listen', address, ...(opts.kind === 'smtp' ? ['--forward', `127.0.0.1:${opts.forwardPort}`] : []), '--scanner', opts.scanner ?? 'clamd', '--config', opts.configFile];
      return { bin: process.execPath, args, outFile: join(folder, 'serve.log'), ...whenListening([{ host: '127.0.0.1', port }], opts.readyTimeoutMs ?? 30_000), port, address };
    },
  });
  return { ...proc, kind: opts.kind, port: launch.port, address: launch.address, argv: [launch.bin, ...launch.args] };
}

/** Options of {@link startPostfixAvbench}. */
export interface StartPostfixAvbenchOptions extends Omit<StartAvbenchServeOptions, 'forwardPort' | 'port'> {
  /** The bench driver's sink (Postfix's relayhost, `sink=` of the URL). */
  sinkPort: number;
  /** Processes of the scanner behind (the lab clamd), listed after master and ours in `pid=`. */
  scannerPids?: readonly number[];
  /** The `--sut` name (default {@link POSTFIX_AVBENCH_SUT}). */
  name?: string;
}

/** Our front end behind a private Postfix: both processes, one `--sut`. */
export interface LabPostfixAvbench {
  serve: LabAvbenchServe;
  postfix: LabPostfixFront;
  /** `smtp://127.0.0.1:PORT?sink=SINK&name=postfix%2Bavbench-…&pid=MASTER,OURS,SCANNER…` */
  sut: string;
  /** Postfix first (it stops sending), then our process; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Start our `serve milter` (then a Postfix with `smtpd_milters` = it) or our `serve smtp`
 * forwarding to a re-injection port (then a Postfix with `smtpd_proxy_filter` = it and that
 * re-injection smtpd), relaying to `sinkPort`. Needs root (a private Postfix); whatever
 * started is stopped again when the other fails.
 */
export async function startPostfixAvbench(opts: StartPostfixAvbenchOptions): Promise<LabPostfixAvbench> {
  const { sinkPort, scannerPids, name, ...serveOpts } = opts;
  const reinjectPort = opts.kind === 'smtp' ? await reinjectPortFor() : undefined;
  const serve = await startAvbenchServe({ ...serveOpts, ...(reinjectPort === undefined ? {} : { forwardPort: reinjectPort }) });
  let postfix: LabPostfixFront;
  try {
    postfix = await startPostfixFront({
      sinkPort,
      name: name ?? POSTFIX_AVBENCH_SUT[opts.kind],
      pids: [serve.pid, ...(scannerPids ?? [])],
      ...(opts.dir === undefined ? {} : { dir: opts.dir }),
      ...(reinjectPort === undefined ? { milter: serve.address } : { proxyFilter: serve.address, reinjectPort }),
    });
  } catch (e) {
    await serve.stop();
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    serve,
    postfix,
    sut: postfix.sut,
    stop: () =>
      (stopped ??= (async () => {
        await postfix.stop().catch(() => undefined);
        await serve.stop();
      })()),
  };
}
