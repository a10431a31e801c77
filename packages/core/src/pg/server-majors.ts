import { cacheFile, readCache, writeCacheEntry } from '../cache-file.js';
import type { Connection } from '../connection.js';

/**
 * The major version each server had when pgclone last connected to it, by host and port. A dump uses it to start
 * the matching pg_dump while its own session still checks the server (~60 ms on loopback, which the dump would
 * otherwise wait for); that session's answer decides, and a server that has changed since is dumped again with the
 * right pg_dump. Nothing secret is kept: no user, password or database.
 */

/** Servers kept: a developer's machine talks to a few. */
const MAX_ENTRIES = 32;

/** Where `conn` leads, as libpq resolves it (the environment stands in for what the connection leaves out). */
export function serverIdentity(conn: Connection, env: NodeJS.ProcessEnv): string {
  const host = conn.host ?? env.PGHOST ?? 'localhost';
  const port = conn.port ?? (Number(env.PGPORT) || 5432);
  return `${host}:${port}`;
}

/** The major version recorded for `conn`'s server, if any. */
export async function recalledServerMajor(conn: Connection, env: NodeJS.ProcessEnv): Promise<number | undefined> {
  const major = (await readCache(cacheFile(env, 'server-majors.json')))[serverIdentity(conn, env)];
  return Number.isInteger(major) && (major as number) > 0 ? (major as number) : undefined;
}

/** Records `conn`'s server's major version (best effort). */
export async function rememberServerMajor(conn: Connection, env: NodeJS.ProcessEnv, major: number): Promise<void> {
  await writeCacheEntry(cacheFile(env, 'server-majors.json'), serverIdentity(conn, env), major, MAX_ENTRIES);
}
