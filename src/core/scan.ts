/**
 * The scanning core's entry: one message in, one verdict out.
 *
 * raw message ──► whole-message adapters (clamd, clamscan: they parse mail themselves)
 *            └──► MIME walk ──► container expansion ──► per-part adapters (embedded, yara, cli)
 */
import { getEventListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { monotonicMs } from './clock.js';
import { AbortedError, Budget, LimitExceededError, resolveLimits, type Limits } from './limits.js';
import type { Adapter, ScanContext, ScanUnit, Verdict } from './types.js';
import { CLEAN, errorVerdict, mergeVerdicts, partVerdict } from './verdict.js';

/** The abort reason of a finished scan's context. */
const SCAN_FINISHED = Object.freeze(new Error('scan finished'));

/**
 * Controllers of finished scans that were never aborted and that nothing listens to any
 * more (every adapter answered by itself and took its listeners off): the next scans take
 * them instead of making new ones. Making an AbortController and aborting it cost ~20 µs per
 * message in the SMTP proxy's profile; a scan that leaves a listener behind, was given
 * up on (a guard's deadline) or was aborted still gets its controller aborted as before.
 */
const spareControllers: AbortController[] = [];
const MAX_SPARE_CONTROLLERS = 256;

/** Contexts whose scan {@link guard} stopped waiting for: their adapter still runs, so their controller is aborted, never reused. */
const givenUp = new WeakSet<ScanContext>();

/** Limits without the caller's changes, resolved once (resolveLimits checks every value). */
let defaultLimits: Limits | undefined;

/**
 * A message: its bytes, or `{ path }` of a file holding it (with `data`, its bytes when the
 * caller has already read them: then they are used, and the path still lets a local
 * scanner scan the file in place).
 */
export type MessageInput = Buffer | Uint8Array | { path: string; data?: Buffer };

/** Options of {@link scanMessage}. */
export interface ScanOptions {
  /** Adapters to ask; each sees the raw message or the decoded parts, per its granularity. */
  scanners: readonly Adapter[];
  /** Limits for this message (defaults: DEFAULT_LIMITS). */
  limits?: Partial<Limits>;
  /** Abort the scan (the verdict is then an ABORTED error). */
  signal?: AbortSignal;
}

/** One scanner's answer for one message. */
export interface ScannerResult {
  scanner: string;
  verdict: Verdict;
  ms: number;
}

/** Everything {@link scanMessageDetailed} learned about one message. */
export interface MessageScan {
  /** All scanners together: any detection, else any error, else clean. */
  verdict: Verdict;
  /** Each scanner's own verdict, in the order given. */
  results: ScannerResult[];
  /** Parts and archive members handed to per-part scanners. */
  units: number;
  /** Decoded and expanded bytes. */
  expandedBytes: number;
  ms: number;
}

/**
 * Scan one message with every given scanner and return one verdict (DESIGN.md "Verdict").
 * Detections name the part they came from. Never throws for scanner trouble or bad input:
 * those are `error` verdicts (LIMIT_EXCEEDED names the limit; an error is never clean).
 *
 * @example
 * const verdict = await scanMessage(await readFile('m.eml'), { scanners: [createEmbeddedAdapter()] });
 */
export async function scanMessage(input: MessageInput, opts: ScanOptions): Promise<Verdict> {
  return (await scanMessageDetailed(input, opts)).verdict;
}

/** Like {@link scanMessage}, with each scanner's own verdict and timing. */
export async function scanMessageDetailed(input: MessageInput, opts: ScanOptions): Promise<MessageScan> {
  const started = monotonicMs();
  const limits = opts.limits === undefined ? (defaultLimits ??= resolveLimits(undefined)) : resolveLimits(opts.limits);
  if (opts.scanners.length === 0) throw new TypeError('scanMessage: no scanners given');

  const wholeMessage = opts.scanners.filter((s) => s.granularity === 'message');
  const perPart = opts.scanners.filter((s) => s.granularity !== 'message');

  // A file handed only to whole-message scanners is read when one of them asks for its
  // bytes: a local scanner that scans the file in place (clamd's SCAN) never does.
  const lazyPath = perPart.length === 0 && !(Buffer.isBuffer(input) || input instanceof Uint8Array) && input.data === undefined ? resolvePath(input.path) : undefined;
  let raw: Buffer | undefined;
  if (lazyPath === undefined) {
    try {
      raw = await toBuffer(input);
    } catch (err) {
      const v = readErrorVerdict(err);
      return { verdict: v, results: opts.scanners.map((s) => ({ scanner: s.name, verdict: v, ms: 0 })), units: 0, expandedBytes: 0, ms: 0 };
    }
  }

  const budget = new Budget(limits, opts.signal);
  const controller = spareControllers.pop() ?? new AbortController();
  const onAbort = (): void => controller.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const ctx: ScanContext = { signal: controller.signal, deadline: budget.deadline };
  let answered = false;

  try {
    // Whole-message scanners start at once; the walk runs meanwhile.
    const messageUnit: ScanUnit = raw === undefined ? fileMessageUnit(lazyPath as string) : { kind: 'message', data: raw, location: 'message', ...filePath(input) };
    const wholePromises = wholeMessage.map((s) => timed(s.name, () => guard(startScan(s, messageUnit, ctx), s.name, ctx)));

    let units: ScanUnit[] = [];
    let walkError: Verdict | undefined;
    if (perPart.length > 0 && raw !== undefined) {
      const walked = await collectUnits(raw, budget);
      units = walked.units;
      walkError = walked.error;
    }
    const partPromises = perPart.map((s) =>
      timed(s.name, async () => {
        // Infected outranks a limit (still reported); a clean one names its unchecked parts.
        return partVerdict(await scanUnits(s, units, ctx), walkError, budget);
      }),
    );

    const byName = new Map<string, ScannerResult>();
    for (const r of await Promise.all([...wholePromises, ...partPromises])) byName.set(r.scanner, r);
    const results = opts.scanners.map((s) => byName.get(s.name) ?? { scanner: s.name, verdict: errorVerdict('INTERNAL', 'no result'), ms: 0 });
    answered = !givenUp.has(ctx);
    return {
      verdict: mergeVerdicts(results.map((r) => r.verdict)),
      results,
      units: units.length,
      expandedBytes: budget.expandedBytes,
      ms: monotonicMs() - started,
    };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    const signal = controller.signal;
    if (answered && !signal.aborted && spareControllers.length < MAX_SPARE_CONTROLLERS && getEventListeners(signal, 'abort').length === 0) {
      spareControllers.push(controller);
    } else {
      // Tell adapters still holding the context that this message is done; a shared reason
      // saves building a DOMException per message (measured: ~4% of the proxy's CPU).
      controller.abort(SCAN_FINISHED);
    }
  }
}

/**
 * Walk the MIME tree and expand containers into scan units. On a limit hit, the units
 * found so far are kept and the limit is returned as an error verdict.
 */
export async function collectUnits(raw: Buffer, budget: Budget): Promise<{ units: ScanUnit[]; error?: Verdict }> {
  const units: ScanUnit[] = [];
  try {
    const { walkMime, expandUnit } = await partModules();
    for (const leaf of walkMime(raw, budget)) {
      const unit: ScanUnit = {
        kind: 'part',
        data: leaf.data,
        location: leaf.location,
        contentType: leaf.contentType,
        encoding: leaf.encoding,
        ...(leaf.filename === undefined ? {} : { filename: leaf.filename }),
      };
      for await (const u of expandUnit(unit, leaf.depth, budget)) units.push(u);
    }
    return { units };
  } catch (err) {
    return { units, error: walkErrorVerdict(err) };
  }
}

/** `adapter.scan()`, with a synchronous throw (e.g. from a lazily read unit's bytes) turned into a rejection for {@link guard}. */
function startScan(adapter: Adapter, unit: ScanUnit, ctx: ScanContext): Promise<Verdict> {
  try {
    return adapter.scan(unit, ctx);
  } catch (err) {
    return Promise.reject(err);
  }
}

let partModulesLoading: Promise<{ walkMime: typeof import('./mime/walk.js').walkMime; expandUnit: typeof import('./containers/expand.js').expandUnit }> | undefined;

/**
 * The MIME walk and the container expansion, loaded on first use: a process that only
 * hands whole messages to a daemon (`avbench scan -s clamd`) never pays for loading them
 * (measured: ~90 ms of module loading, libmime and the archive readers).
 */
function partModules(): NonNullable<typeof partModulesLoading> {
  partModulesLoading ??= Promise.all([import('./mime/walk.js'), import('./containers/expand.js')]).then(([w, c]) => ({ walkMime: w.walkMime, expandUnit: c.expandUnit }));
  return partModulesLoading;
}

/** Thrown by a lazily read message's bytes when the file cannot be read; {@link guard} makes it an IO verdict. */
class MessageReadError extends Error {}

/**
 * The whole-message unit of a file not read yet (`path` absolute): `data` reads it
 * (synchronously, once) on first access, and throws when it cannot. An adapter that scans
 * `path` in place never touches `data`.
 */
export function fileMessageUnit(path: string): ScanUnit {
  let data: Buffer | undefined;
  return {
    kind: 'message',
    location: 'message',
    path,
    get data(): Buffer {
      if (data === undefined) {
        try {
          data = readFileSync(path);
        } catch (err) {
          throw new MessageReadError((err as Error).message);
        }
      }
      return data;
    },
  };
}

function readErrorVerdict(err: unknown): Verdict {
  return errorVerdict('IO', `cannot read message: ${(err as Error).message}`);
}

function walkErrorVerdict(err: unknown): Verdict {
  if (err instanceof LimitExceededError) return errorVerdict('LIMIT_EXCEEDED', err.message);
  if (err instanceof AbortedError) return errorVerdict('ABORTED', err.message);
  if (err instanceof RangeError) return errorVerdict('UNPARSEABLE', `message could not be walked: ${err.message}`);
  return errorVerdict('INTERNAL', `scanning core failed: ${err instanceof Error ? err.message : String(err)}`);
}

/** Ask one per-part adapter about every unit (in one batch when it can). */
async function scanUnits(adapter: Adapter, units: ScanUnit[], ctx: ScanContext): Promise<Verdict> {
  if (units.length === 0) return CLEAN;
  let verdicts: Verdict[];
  if (adapter.scanBatch !== undefined && units.length > 1) {
    verdicts = await guard(adapter.scanBatch(units, ctx), adapter.name, ctx).then((v) =>
      Array.isArray(v) ? v : units.map(() => v),
    );
  } else {
    verdicts = [];
    for (const u of units) {
      const v = await guard(adapter.scan(u, ctx), adapter.name, ctx);
      verdicts.push(withPart(v, u));
    }
    return mergeVerdicts(verdicts);
  }
  return mergeVerdicts(verdicts.map((v, i) => withPart(v, units[i])));
}

function withPart(v: Verdict, unit: ScanUnit | undefined): Verdict {
  if (v.status !== 'infected' || unit === undefined) return v;
  return {
    status: 'infected',
    detections: v.detections.map((d) => (d.part === undefined ? { ...d, part: unit.location } : d)),
  };
}

/**
 * Hold an adapter to the absolute deadline even if it ignores it, and turn a thrown
 * exception (an adapter bug) into an error verdict instead of a crash.
 */
async function guard<T extends Verdict | Verdict[]>(p: Promise<T>, scanner: string, ctx: ScanContext): Promise<T | Verdict> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Verdict>((resolve) => {
    const wait = Math.max(0, ctx.deadline - Date.now()) + 1_000;
    timer = setTimeout(() => {
      givenUp.add(ctx);
      resolve(errorVerdict('TIMEOUT', `${scanner} did not answer within the message deadline`));
    }, wait);
    timer.unref?.();
  });
  try {
    return await Promise.race([
      p.catch((err: unknown) => (err instanceof MessageReadError ? readErrorVerdict(err) : errorVerdict('INTERNAL', `${scanner} threw: ${err instanceof Error ? err.message : String(err)}`))),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function timed(scanner: string, f: () => Promise<Verdict | Verdict[]>): Promise<ScannerResult> {
  const t0 = monotonicMs();
  const v = await f();
  const verdict = Array.isArray(v) ? mergeVerdicts(v) : v;
  return { scanner, verdict, ms: monotonicMs() - t0 };
}

/** `{ path }` (absolute) when the message was read from a file, so local scanners may scan it in place. */
function filePath(input: MessageInput): { path?: string } {
  return Buffer.isBuffer(input) || input instanceof Uint8Array ? {} : { path: resolvePath(input.path) };
}

async function toBuffer(input: MessageInput): Promise<Buffer> {
  if (Buffer.isBuffer(input)) return input;
  if (input instanceof Uint8Array) return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  return input.data ?? readFile(input.path);
}
