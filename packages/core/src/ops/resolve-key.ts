import { KeyError } from '../errors.js';
import { assertSafeKey, isSidecarKey, selectDumpKeys } from '../keys.js';
import { assertDatabaseName, restoreNames } from '../names.js';
import type { Storage } from '../storage.js';

/** A `:name` local key resolved to a database name (`:pre` → `N__pre`). Pure. */
export function localDatabaseOf(key: string, target: string): string {
  const name = key.slice(1);
  if (name === '') throw new KeyError('KEY_INVALID', 'Invalid local key ":": give a database name after the colon');
  if (name === 'pre') return restoreNames(target).pre;
  if (name === 'post') return restoreNames(target).post;
  assertDatabaseName(name, 'local database name');
  return name;
}

/**
 * Resolves a key or prefix to one stored dump: the exact key when it exists, else the newest key under the prefix
 * (by the key's timestamp). Throws naming the prefix when nothing matches.
 */
export async function resolveDumpKey(
  storage: Storage,
  keyOrPrefix: string,
  options: { validateDumpKeys: boolean },
): Promise<{ key: string; size: number }> {
  assertSafeKey(keyOrPrefix, 'dump key');
  if (isSidecarKey(keyOrPrefix)) {
    throw new KeyError('KEY_INVALID', `${JSON.stringify(keyOrPrefix)} is a ${/\.pin\.json$/.test(keyOrPrefix) ? 'pin' : /\.manifest\.json$/.test(keyOrPrefix) ? 'manifest' : 'hidden file'}, not a dump; restore the dump it belongs to`);
  }
  if (!keyOrPrefix.endsWith('/') && !isSidecarKey(keyOrPrefix)) {
    const exact = await storage.stat(keyOrPrefix);
    if (exact) return { key: exact.key, size: exact.size };
  }
  const matches = selectDumpKeys(await storage.list(keyOrPrefix), { prefix: keyOrPrefix, ...options });
  const newest = matches[0];
  if (!newest) {
    throw new KeyError('KEY_NOT_FOUND', `No dump matches ${JSON.stringify(keyOrPrefix)} in ${storage.display} ("pgclone ls" lists the keys)`);
  }
  return { key: newest.key, size: (newest as { size?: number }).size ?? 0 };
}
