import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { homeDir } from '../home-dir.js';

/**
 * What a `--version` probe of a PostgreSQL tool found, kept between runs. The probe starts two programs (the
 * launcher, then the tool) and took ~45 ms before every dump's pg_dump and every restore's check of the archive. An
 * answer is reused only for the very same files: the tool's and the launcher's path, size, and change and
 * modification times (a package upgrade replaces them). The cache is a small JSON file under the user's cache
 * directory; when it cannot be read or written, the probe simply runs every time.
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
  const home = homeDir(env);
  const base = env.XDG_CACHE_HOME || (home ? path.join(home, '.cache') : undefined);
  return base ? path.join(base, 'pgclone', 'tool-versions.json') : undefined;
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

async function readAll(file: string): Promise<Record<string, ProbedVersion>> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, ProbedVersion>) : {};
  } catch {
    return {};
  }
}

/** The answer recorded for `identity`, if any. */
export async function recalledVersion(file: string | undefined, identity: string | undefined): Promise<ProbedVersion | undefined> {
  if (!file || !identity) return undefined;
  const entry = (await readAll(file))[identity];
  const valid = entry && typeof entry.version === 'string' && Number.isInteger(entry.major) && typeof entry.launched === 'boolean';
  return valid ? { version: entry.version, major: entry.major, launched: entry.launched } : undefined;
}

/** Records an answer (best effort: a failure to write is ignored; concurrent writers each leave a whole file). */
export async function rememberVersion(file: string | undefined, identity: string | undefined, probed: ProbedVersion): Promise<void> {
  if (!file || !identity) return;
  try {
    const entries = Object.entries(await readAll(file)).filter(([key]) => key !== identity);
    const kept = Object.fromEntries([...entries.slice(-(MAX_ENTRIES - 1)), [identity, probed]]);
    await mkdir(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(kept));
    await rename(temp, file);
  } catch {
    // a read-only home: probe again next time
  }
}
