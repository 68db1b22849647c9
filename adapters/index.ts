/**
 * Every adapter behind one contract (src/core/types.ts `Adapter`), one file per scanner
 * family, chosen by name: a config entry, an adapter type with its default options, or a
 * vendor CLI preset.
 */
import { ConfigError, type AvbenchConfig, type ScannerConfig } from '../src/config/config.js';
import type { Adapter } from '../src/core/types.js';
import { createClamdAdapter } from './clamd.js';
import { createClamdscanAdapter } from './clamdscan.js';
import { createClamscanAdapter } from './clamscan.js';
import { CLI_PRESETS } from './cli/presets.js';
import { createCliAdapter, parseCliEntry } from './cli.js';
import { createEmbeddedAdapter } from './embedded.js';
import { createIcapAdapter } from './icap.js';
import { createNoopAdapter } from './noop.js';
import { createYaraAdapter } from './yara.js';

export { createClamdAdapter, createClamdscanAdapter, createClamscanAdapter, createCliAdapter, createEmbeddedAdapter, createIcapAdapter, createYaraAdapter, CLI_PRESETS };

/** Adapter types, each usable under its own name with default options. */
export const ADAPTER_TYPES = ['embedded', 'clamd', 'clamscan', 'clamdscan', 'yara', 'icap', 'cli', 'noop'] as const;
export type AdapterType = (typeof ADAPTER_TYPES)[number];

type Options = Record<string, unknown>;

const FACTORIES: Record<AdapterType, (name: string, options: Options) => Adapter> = {
  embedded: (name, o) => createEmbeddedAdapter({ ...o, name } as never),
  clamd: (name, o) => createClamdAdapter({ ...o, name } as never),
  clamscan: (name, o) => createClamscanAdapter({ ...o, name } as never),
  clamdscan: (name, o) => createClamdscanAdapter({ ...o, name } as never),
  yara: (name, o) => createYaraAdapter({ ...o, name } as never),
  icap: (name, o) => createIcapAdapter({ ...o, name } as never),
  noop: (name, o) => createNoopAdapter({ ...o, name } as never),
  cli: (name, o) => {
    const preset = o['preset'];
    let base: Options = {};
    if (preset !== undefined) {
      if (typeof preset !== 'string' || !(preset in CLI_PRESETS)) {
        throw new ConfigError(`scanner ${name}: unknown cli preset ${JSON.stringify(preset)} (known: ${Object.keys(CLI_PRESETS).join(', ')})`);
      }
      base = { ...(CLI_PRESETS[preset] as unknown as Options) };
    }
    const { preset: _p, ...rest } = o;
    return createCliAdapter(parseCliEntry({ ...base, ...rest, name }, `scanner ${name}`));
  },
};

function isAdapterType(t: string): t is AdapterType {
  return (ADAPTER_TYPES as readonly string[]).includes(t);
}

/** Where a scanner name comes from, for `avbench scanners`. */
export interface ScannerEntry {
  name: string;
  type: AdapterType;
  source: 'config' | 'builtin' | 'preset';
  options: Options;
}

/**
 * Resolve a scanner name: a config entry first, then an adapter type with default
 * options, then a vendor CLI preset. Throws ConfigError for an unknown name.
 */
export function resolveScanner(name: string, config: AvbenchConfig = { scanners: {} }): ScannerEntry {
  const entry: ScannerConfig | undefined = config.scanners[name];
  if (entry !== undefined) {
    const { type, ...options } = entry;
    if (!isAdapterType(type)) throw new ConfigError(`scanner ${name}: unknown type "${type}" (known: ${ADAPTER_TYPES.join(', ')})`);
    return { name, type, source: 'config', options };
  }
  if (isAdapterType(name) && name !== 'cli') return { name, type: name, source: 'builtin', options: {} };
  if (name in CLI_PRESETS) return { name, type: 'cli', source: 'preset', options: { preset: name } };
  throw new ConfigError(`unknown scanner "${name}": run \`avbench scanners\` to list them, or define it in avbench.config.json`);
}

/** Every scanner name avbench knows: config entries, adapter types, CLI presets. */
export function listScanners(config: AvbenchConfig = { scanners: {} }): ScannerEntry[] {
  const names = new Set<string>([...Object.keys(config.scanners), ...ADAPTER_TYPES.filter((t) => t !== 'cli'), ...Object.keys(CLI_PRESETS)]);
  return [...names].map((n) => resolveScanner(n, config));
}

/** Build the adapter for a resolved entry (bad options throw ConfigError/TypeError). */
export function createAdapter(entry: ScannerEntry): Adapter {
  try {
    return FACTORIES[entry.type](entry.name, entry.options);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`scanner ${entry.name}: ${(err as Error).message}`);
  }
}

/** Resolve and build in one step. */
export function adapterByName(name: string, config?: AvbenchConfig): Adapter {
  return createAdapter(resolveScanner(name, config));
}
