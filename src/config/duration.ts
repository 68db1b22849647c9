/**
 * Durations on the command line and in the config file: seconds by default, or with a
 * unit — `30`, `30s`, `1.5s`, `500ms`, `2m` (issue 12.6: one unit for every timeout).
 */
import { ConfigError } from './config.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parse a duration into milliseconds; throws ConfigError naming `what` when malformed. */
export function parseDuration(value: string | number, what: string): number {
  const text = String(value).trim();
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(text);
  if (m === null) throw new ConfigError(`${what}: expected seconds or a duration such as 30s, 500ms or 2m, got ${JSON.stringify(text)}`);
  const ms = Number(m[1]) * (UNIT_MS[(m[2] ?? 's').toLowerCase()] as number);
  if (!(ms > 0) || !Number.isFinite(ms)) throw new ConfigError(`${what} must be more than 0`);
  return Math.round(ms);
}
