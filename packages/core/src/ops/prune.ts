import { parseDuration } from '../duration.js';
import { UsageError } from '../errors.js';
import { interruptible } from '../interrupt.js';
import { assertSafeKey, compareNewestFirst, isSidecarKey, keyMatchesPrefix, parseDumpKey } from '../keys.js';
import { manifestKeyOf } from '../manifest.js';
import type { PruneOptions } from '../options.js';
import { pinnedKeys } from '../pins.js';
import type { StoredObject } from '../storage.js';
import { openStorage, prepare, type Runtime } from './prepare.js';

/** One dump as `prune` judged it. */
export interface PruneEntry {
  key: string;
  size: number;
  /** `instance/database/config`. */
  group: string;
  /** Why it is kept (`newest`, `pinned`, `within --keep 3`, `younger than 30d`) or deleted. */
  reason: string;
}

/** What `prune` did (or, without `yes`, would do). */
export interface PruneResult {
  dryRun: boolean;
  deleted: PruneEntry[];
  kept: PruneEntry[];
  /** Bytes freed (or that would be). */
  bytes: number;
}

/** A keep/delete decision for the dumps of one group, newest first. Pure. */
export function decidePrune(
  dumps: readonly StoredObject[],
  rules: { keep?: number; olderThanMs?: number; now: number; pinned: ReadonlySet<string> },
): { kept: PruneEntry[]; deleted: PruneEntry[] } {
  const kept: PruneEntry[] = [];
  const deleted: PruneEntry[] = [];
  const sorted = [...dumps].sort(compareNewestFirst);
  sorted.forEach((dump, index) => {
    const parts = parseDumpKey(dump.key)!;
    const entry = (reason: string): PruneEntry => ({
      key: dump.key,
      size: dump.size,
      group: `${parts.instance}/${parts.database}/${parts.config}`,
      reason,
    });
    const age = rules.now - keyTime(parts.timestamp);
    if (index === 0) kept.push(entry('newest of its group'));
    else if (rules.pinned.has(dump.key)) kept.push(entry('pinned'));
    else if (rules.keep !== undefined && index < rules.keep) kept.push(entry(`within --keep ${rules.keep}`));
    else if (rules.olderThanMs !== undefined && age <= rules.olderThanMs) kept.push(entry('not older than --older-than'));
    else {
      const why = [rules.keep !== undefined ? `beyond --keep ${rules.keep}` : '', rules.olderThanMs !== undefined ? 'older than --older-than' : ''];
      deleted.push(entry(why.filter(Boolean).join(' and ')));
    }
  });
  return { kept, deleted };
}

/**
 * Deletes old dumps per instance/database/config group: those beyond the newest `keep`, and/or older than
 * `olderThan` (a dump is deleted only when every given rule lets it go). The newest dump of a group and pinned dumps
 * are never deleted; keys that do not follow the key format are never touched. Without `yes` nothing is deleted.
 *
 * @example
 * await prune('prod', { keep: 7, olderThan: '30d', yes: true }, runtime);
 */
export async function prune(prefix: string | undefined, options: PruneOptions, runtime: Runtime): Promise<PruneResult> {
  return interruptible(options.signal, 'Prune', () => pruneNow(prefix, options, runtime));
}

async function pruneNow(prefix: string | undefined, options: PruneOptions, runtime: Runtime): Promise<PruneResult> {
  if (options.keep === undefined && options.olderThan === undefined) {
    throw new UsageError('Say what to keep: --keep N and/or --older-than DURATION (e.g. --keep 7 --older-than 30d)');
  }
  if (options.keep !== undefined && (!Number.isInteger(options.keep) || options.keep < 1)) {
    throw new UsageError(`--keep must be a whole number of at least 1 (got ${String(options.keep)}); the newest dump of each group is always kept`);
  }
  const olderThanMs = options.olderThan !== undefined ? parseDuration(options.olderThan) : undefined;
  if (prefix) assertSafeKey(prefix, 'prefix');
  const prepared = await prepare('prune', options, runtime);
  const { reporter } = prepared;
  const storage = await openStorage(prepared);
  const objects = await storage.list(prefix ?? '');
  const pinned = pinnedKeys(objects);
  const groups = new Map<string, StoredObject[]>();
  for (const object of objects) {
    if (isSidecarKey(object.key) || !keyMatchesPrefix(object.key, prefix ?? '')) continue;
    const parts = parseDumpKey(object.key);
    if (!parts) continue; // not ours to judge
    const group = `${parts.instance}/${parts.database}/${parts.config}`;
    groups.set(group, [...(groups.get(group) ?? []), object]);
  }
  const result: PruneResult = { dryRun: !options.yes, deleted: [], kept: [], bytes: 0 };
  const now = Date.now();
  for (const group of [...groups.keys()].sort()) {
    const decided = decidePrune(groups.get(group)!, {
      ...(options.keep !== undefined ? { keep: options.keep } : {}),
      ...(olderThanMs !== undefined ? { olderThanMs } : {}),
      now,
      pinned,
    });
    result.kept.push(...decided.kept);
    result.deleted.push(...decided.deleted);
  }
  for (const entry of result.deleted) {
    result.bytes += entry.size;
    if (!options.yes) continue;
    options.signal?.throwIfAborted();
    // The dump first: a run cut off here leaves an orphan manifest (harmless, `doctor` removes it), never a dump
    // whose manifest is gone.
    await storage.delete(entry.key);
    await storage.delete(manifestKeyOf(entry.key));
    reporter.info(`Deleted ${entry.key}`);
  }
  return result;
}

function keyTime(timestamp: string): number {
  const [y, mo, d, h, mi, s] = timestamp.split('-').map(Number);
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
}
