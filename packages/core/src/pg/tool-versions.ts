import { stat } from 'node:fs/promises';
import { cacheFile, readCache, writeCacheEntry } from '../cache-file.js';

/**
 * What a `--version` probe of a PostgreSQL tool found, kept between runs. The probe starts two programs (the
 * launcher, then the tool) and took ~45 ms before every dump's pg_dump and every restore's check of the archive. An
 * answer is reused only for the very same files: the tool's and the launcher's path, size, and change and
 * modification times (a package upgrade replaces them). The cache is a small JSON file under the user's cache
 * directory (`cache-file.ts`); when it cannot be read or written, the probe simply runs every time.
 */
export interface ProbedVersion {
  version: string;
  major: number;
  /** Whether the tool ran through the launcher. */
  launched: boolean;
}

/** Entries kept: a machine has a few PostgreSQL versions, tests and upgrades add a few more. */
const MAX_ENTRIES = 64;

/** `$XDG_CACHE_HOME/pgclone/tool-versions.json`, else under `~/.cache`; none without a home directory. */
export function toolVersionsFile(env: NodeJS.ProcessEnv): string | undefined {
  return cacheFile(env, 'tool-versions.json');
}

/** The identity of the files a probe ran: changes whenever one of them is replaced. */
export async function probeIdentity(files: readonly string[]): Promise<string | undefined> {
  try {
    const parts = await Promise.all(
      files.map(async (file) => {
        const s = await stat(file);
        return `${file}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
      }),
    );
    return parts.join('|');
  } catch {
    return undefined;
  }
}

/** The answer recorded for `identity`, if any. */
export async function recalledVersion(file: string | undefined, identity: string | undefined): Promise<ProbedVersion | undefined> {
  if (!file || !identity) return undefined;
  const entry = (await readCache(file))[identity] as Partial<ProbedVersion> | undefined;
  const valid = entry && typeof entry.version === 'string' && Number.isInteger(entry.major) && typeof entry.launched === 'boolean';
  return valid ? { version: entry.version!, major: entry.major!, launched: entry.launched! } : undefined;
}

/** Records an answer (best effort: see {@link writeCacheEntry}). */
export async function rememberVersion(file: string | undefined, identity: string | undefined, probed: ProbedVersion): Promise<void> {
  if (identity) await writeCacheEntry(file, identity, probed, MAX_ENTRIES);
}
