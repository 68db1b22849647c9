/**
 * The config file (DESIGN.md "Config"): `--config FILE`, else `avbench.config.json` in the
 * working folder if present. Bad config throws a ConfigError that says what to fix.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_LIMITS, type Limits } from '../core/limits.js';

/** One named scanner: `type` picks the adapter, the other keys are its options. */
export interface ScannerConfig {
  type: string;
  [option: string]: unknown;
}

/**
 * The front ends' policy in the config file (`"policy": { "onInfected": "reject",
 * "onFail": "tempfail" }`): the same words as `--on-infected` / `--on-fail` of `serve smtp`,
 * `serve milter` and `deliver` (src/modes/policy.ts checks them; old spellings are accepted
 * with a warning). A command-line option wins over the file.
 */
export interface PolicyConfig {
  onInfected?: string;
  onFail?: string;
}

/** The whole config file. */
export interface AvbenchConfig {
  scanners: Record<string, ScannerConfig>;
  limits?: Partial<Limits>;
  policy?: PolicyConfig;
}

/** Thrown for an unusable config: the message names the file and the key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const DEFAULT_CONFIG_FILE = 'avbench.config.json';

/**
 * Load and validate a config. With no `file`, reads `avbench.config.json` from `cwd` when it
 * exists and returns an empty config otherwise.
 */
export async function loadConfig(file?: string, cwd = process.cwd()): Promise<{ config: AvbenchConfig; path?: string }> {
  const explicit = file !== undefined;
  const path = resolve(cwd, file ?? DEFAULT_CONFIG_FILE);
  let text: string;
  try {
    // A plain read: the config is a small local file, and an fs/promises read costs a
    // per-message `avbench deliver` ~1 ms (the thread pool's start and four round trips).
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return { config: { scanners: {} } };
    throw new ConfigError(`cannot read config ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return { config: parseConfig(data, path), path };
}

/** Validate an already-parsed config object. */
export function parseConfig(data: unknown, where = 'config'): AvbenchConfig {
  if (!isObject(data)) throw new ConfigError(`${where}: expected a JSON object with a "scanners" key`);
  const known = new Set(['scanners', 'limits', 'policy', '$schema', 'comment']);
  for (const k of Object.keys(data)) {
    if (!known.has(k)) throw new ConfigError(`${where}: unknown top-level key "${k}" (known: scanners, limits, policy)`);
  }
  const scanners: Record<string, ScannerConfig> = {};
  const rawScanners = data['scanners'] ?? {};
  if (!isObject(rawScanners)) throw new ConfigError(`${where}: "scanners" must be an object of name → { "type": ... }`);
  for (const [name, entry] of Object.entries(rawScanners)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      throw new ConfigError(`${where}: scanner name "${name}" may hold only letters, digits, ".", "_" and "-"`);
    }
    if (!isObject(entry) || typeof entry['type'] !== 'string') {
      throw new ConfigError(`${where}: scanners.${name} needs a "type" (embedded, clamd, clamscan, clamdscan, yara, icap, cli)`);
    }
    scanners[name] = entry as ScannerConfig;
  }
  const config: AvbenchConfig = { scanners };
  const rawLimits = data['limits'];
  if (rawLimits !== undefined) {
    if (!isObject(rawLimits)) throw new ConfigError(`${where}: "limits" must be an object`);
    const limits: Partial<Limits> = {};
    for (const [k, v] of Object.entries(rawLimits)) {
      if (!(k in DEFAULT_LIMITS)) {
        throw new ConfigError(`${where}: unknown limit "${k}" (known: ${Object.keys(DEFAULT_LIMITS).join(', ')})`);
      }
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
        throw new ConfigError(`${where}: limits.${k} must be a positive number`);
      }
      limits[k as keyof Limits] = v;
    }
    config.limits = limits;
  }
  const rawPolicy = data['policy'];
  if (rawPolicy !== undefined) {
    if (!isObject(rawPolicy)) throw new ConfigError(`${where}: "policy" must be an object such as { "onInfected": "reject", "onFail": "tempfail" }`);
    const policy: PolicyConfig = {};
    for (const [k, v] of Object.entries(rawPolicy)) {
      if (k !== 'onInfected' && k !== 'onFail') throw new ConfigError(`${where}: unknown policy key "${k}" (known: onInfected, onFail)`);
      if (typeof v !== 'string') throw new ConfigError(`${where}: policy.${k} must be a string`);
      policy[k] = v;
    }
    config.policy = policy;
  }
  return config;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
