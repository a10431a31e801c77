import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { homeDir } from './home-dir.js';

/**
 * pgclone's small caches: JSON objects of answers that cost a process start or a connection to find out again, each
 * kept under the user's cache directory. Every entry is a hint that its user checks before trusting; a cache that
 * cannot be read or written is simply empty.
 */

/** `$XDG_CACHE_HOME/pgclone/<name>`, else under `~/.cache`; none without a home directory. */
export function cacheFile(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const home = homeDir(env);
  const base = env.XDG_CACHE_HOME || (home ? path.join(home, '.cache') : undefined);
  return base ? path.join(base, 'pgclone', name) : undefined;
}

/** The cache's entries; none when it is missing or unreadable. */
export async function readCache(file: string | undefined): Promise<Record<string, unknown>> {
  if (!file) return {};
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * Records `value` under `key`, keeping the `maxEntries` newest (best effort: a failure to write is ignored, and
 * concurrent writers each leave a whole file).
 */
export async function writeCacheEntry(file: string | undefined, key: string, value: unknown, maxEntries: number): Promise<void> {
  if (!file) return;
  try {
    const entries = Object.entries(await readCache(file)).filter(([k]) => k !== key);
    const kept = Object.fromEntries([...entries.slice(-(maxEntries - 1)), [key, value]]);
    await mkdir(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(kept));
    await rename(temp, file);
  } catch {
    // a read-only home: found out again next time
  }
}
