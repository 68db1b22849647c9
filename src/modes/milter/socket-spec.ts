/**
 * Milter socket specifications, as Sendmail, Postfix and clamav-milter write them:
 * `inet:PORT@HOST`, `inet:PORT` (loopback), `inet6:PORT@HOST`, `unix:PATH`, `local:PATH`;
 * and the driver's URLs `milter://HOST:PORT` and `milter+unix:///PATH`.
 */
import type { Endpoint } from '../../core/net.js';

/** Where a milter listens or is reached. */
export type MilterSocketSpec = { kind: 'inet'; host: string; port: number } | { kind: 'unix'; path: string };

/** Thrown for a malformed socket specification (a configuration error). */
export class MilterSocketError extends TypeError {
  override readonly name = 'MilterSocketError';
}

function port(text: string, whole: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new MilterSocketError(`bad port in milter socket ${JSON.stringify(whole)}`);
  const n = Number(text);
  if (n > 65535) throw new MilterSocketError(`port out of range in milter socket ${JSON.stringify(whole)}`);
  return n;
}

/**
 * Parse `inet:PORT@HOST` / `inet:PORT` (host 127.0.0.1) / `inet6:PORT@HOST` /
 * `unix:PATH` / `local:PATH`. Port 0 means "any free port" when listening.
 */
export function parseMilterSocket(spec: string): MilterSocketSpec {
  const m = /^(inet6?|unix|local):(.+)$/.exec(spec);
  if (m === null) throw new MilterSocketError(`milter socket must be inet:PORT@HOST or unix:PATH, got ${JSON.stringify(spec)}`);
  const kind = m[1] as string;
  const rest = m[2] as string;
  if (kind === 'unix' || kind === 'local') {
    if (!rest.startsWith('/')) throw new MilterSocketError(`unix milter socket needs an absolute path, got ${JSON.stringify(spec)}`);
    return { kind: 'unix', path: rest };
  }
  const at = rest.indexOf('@');
  if (at < 0) return { kind: 'inet', host: kind === 'inet6' ? '::1' : '127.0.0.1', port: port(rest, spec) };
  const host = rest.slice(at + 1).replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new MilterSocketError(`empty host in milter socket ${JSON.stringify(spec)}`);
  return { kind: 'inet', host, port: port(rest.slice(0, at), spec) };
}

/** The `inet:PORT@HOST` / `unix:PATH` form of a socket spec. */
export function formatMilterSocket(s: MilterSocketSpec): string {
  return s.kind === 'unix' ? `unix:${s.path}` : `inet:${s.port}@${s.host}`;
}

/** Parse a driver URL: `milter://HOST:PORT`, `milter://[::1]:PORT`, `milter+unix:///PATH`, or an `inet:`/`unix:` spec. */
export function parseMilterUrl(url: string): MilterSocketSpec {
  if (/^(inet6?|unix|local):/.test(url)) return parseMilterSocket(url);
  const unix = /^milter\+unix:\/\/(\/.+)$/.exec(url);
  if (unix !== null) return { kind: 'unix', path: unix[1] as string };
  const inet = /^milter:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(url);
  if (inet === null) throw new MilterSocketError(`milter URL must be milter://HOST:PORT or milter+unix:///PATH, got ${JSON.stringify(url)}`);
  return { kind: 'inet', host: (inet[1] as string).replace(/^\[(.*)\]$/, '$1'), port: port(inet[2] as string, url) };
}

/** The driver URL of a socket spec. */
export function milterUrl(s: MilterSocketSpec): string {
  return s.kind === 'unix' ? `milter+unix://${s.path}` : `milter://${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;
}

/** The src/core/net endpoint of a socket spec. */
export function milterEndpoint(s: MilterSocketSpec): Endpoint {
  return s.kind === 'unix' ? { path: s.path } : { host: s.host, port: s.port };
}
