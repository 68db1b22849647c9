/**
 * avbench as a library: the scanning core, the verdict contract, limits, and the
 * corpus tools. Adapters: `avbench/adapters`.
 *
 * @example
 * import { scanMessage } from 'avbench';
 * import { createEmbeddedAdapter } from 'avbench/adapters';
 * const v = await scanMessage(raw, { scanners: [createEmbeddedAdapter()] });
 * if (v.status === 'infected') console.log(v.detections);
 */
export { scanMessage, scanMessageDetailed, collectUnits } from './core/scan.js';
export type { MessageInput, ScanOptions, ScannerResult, MessageScan } from './core/scan.js';
export type { Adapter, Detection, ErrorCode, ProbeResult, ScanContext, ScanError, ScanUnit, Verdict, VerdictStatus } from './core/types.js';
export { CLEAN, infected, errorVerdict, mergeVerdicts, exitCodeFor } from './core/verdict.js';
export { DEFAULT_LIMITS, resolveLimits, Budget, LimitExceededError, AbortedError } from './core/limits.js';
export type { Limits, LimitName } from './core/limits.js';
export { walkMime } from './core/mime/walk.js';
export type { MimeLeaf } from './core/mime/walk.js';
export { expandUnit, detectContainer } from './core/containers/expand.js';
export { loadConfig, parseConfig, ConfigError } from './config/config.js';
export type { AvbenchConfig, ScannerConfig } from './config/config.js';
export { generateCorpus } from './corpus/generate.js';
export type { GenerateOptions, GenerateResult, Profile } from './corpus/generate.js';
export { openCorpus } from './corpus/read.js';
export type { CorpusEntry, CorpusInfo } from './corpus/read.js';
