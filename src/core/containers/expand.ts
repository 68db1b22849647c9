import { crc32 } from 'node:zlib';
import type { ScanUnit } from '../types.js';
import type { Budget } from '../limits.js';
import { detectContainer, type ContainerKind } from './detect.js';
import { baseName, type Member } from './member.js';
import { zipMembers } from './zip.js';
import { gzipMembers } from './gzip.js';
import { tarMembers } from './tar.js';

export { detectContainer, type ContainerKind } from './detect.js';

/**
 * How many times byte-identical containers are expanded in one message. Past that, the
 * container unit is still yielded (its raw bytes get scanned) but its members are not
 * read again: they were already yielded, twice, under the earlier copies' locations.
 * This is what keeps a 42.zip-style archive (16 identical copies per level) cheap.
 */
const MAX_IDENTICAL_EXPANSIONS = 2;

/** Containers already expanded in each message (a Budget is one message). */
const seenByBudget = new WeakMap<Budget, Map<string, { data: Buffer; count: number }[]>>();

/**
 * Count one more expansion of `data` and say whether it is still allowed. Keyed by
 * length + CRC-32 (cheap), confirmed by comparing bytes, so a forged CRC cannot make a
 * different archive skip its expansion.
 */
function allowExpansion(data: Buffer, budget: Budget): boolean {
  let seen = seenByBudget.get(budget);
  if (seen === undefined) {
    seen = new Map();
    seenByBudget.set(budget, seen);
  }
  const key = `${data.length}:${crc32(data)}`;
  const bucket = seen.get(key);
  if (bucket === undefined) {
    seen.set(key, [{ data, count: 1 }]);
    return true;
  }
  const same = bucket.find((s) => s.data === data || s.data.equals(data));
  if (same === undefined) {
    bucket.push({ data, count: 1 });
    return true;
  }
  same.count += 1;
  return same.count <= MAX_IDENTICAL_EXPANSIONS;
}

function membersOf(kind: ContainerKind, unit: ScanUnit, budget: Budget): AsyncGenerator<Member> {
  switch (kind) {
    case 'zip':
      return zipMembers(unit, budget);
    case 'gzip':
      return gzipMembers(unit, budget);
    case 'tar':
      return tarMembers(unit, budget);
  }
}

function memberUnit(parent: ScanUnit, member: Member): ScanUnit {
  const unit: ScanUnit = {
    kind: 'part',
    data: member.data,
    location: `${parent.location} > ${member.path}`,
    filename: baseName(member.path),
  };
  if (parent.contentType !== undefined) unit.contentType = parent.contentType;
  if (parent.encoding !== undefined) unit.encoding = parent.encoding;
  return unit;
}

/**
 * Yield `unit` itself first, then — if its magic bytes say zip, gzip or tar — every
 * member, recursively (a zip in a tar.gz in a zip...). Members are `kind: 'part'` units
 * located at `${parent.location} > ${memberPath}`, named by the member's base name, with
 * the parent's contentType/encoding. `depth` is the unit's own nesting depth; its members
 * sit at depth + 1 (checked against maxDepth).
 *
 * Every limit is charged to the shared `budget` while data streams (parts, expanded
 * bytes, compression ratio, archive entries, depth, time) and a hit throws
 * LimitExceededError (AbortedError when the caller aborted) — let it propagate: the units
 * already yielded can still be scanned. Corrupt or truncated containers never throw:
 * they are noted on the budget as UNPARSEABLE and whatever could be read is yielded.
 */
export async function* expandUnit(unit: ScanUnit, depth: number, budget: Budget): AsyncGenerator<ScanUnit> {
  yield unit;
  const kind = detectContainer(unit.data);
  if (kind === undefined) return;
  budget.checkTime(unit.location);
  budget.checkDepth(depth + 1, unit.location);
  if (!allowExpansion(unit.data, budget)) return;
  for await (const member of membersOf(kind, unit, budget)) {
    yield* expandUnit(memberUnit(unit, member), depth + 1, budget);
  }
}
