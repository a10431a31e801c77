import type { Admin } from './admin.js';
import { readCopyBytes } from './copy-progress.js';
import { pollQueries } from './poll.js';
import { readIndexBuilds, type IndexBuildReading } from './index-progress.js';

/** How often the server is asked while pg_restore runs. */
const POLL_MS = 500;

/** What a restore's progress wants read from the server; each where the server reports it. */
export interface RestorePollHandlers {
  /** The bytes the COPYs into the database have read so far (PostgreSQL 14+). */
  onCopyBytes?: (bytes: number) => void;
  /** The index builds running in the database (PostgreSQL 12+). */
  onBuilds?: (builds: IndexBuildReading[]) => void;
}

/**
 * Reads, every half second until stopped, what `handlers` want of the restore into `database`, one query after the
 * other on the admin session (otherwise idle while pg_restore runs; a session takes one query at a time, so the
 * readings take turns rather than run on timers of their own). A failed reading is skipped. Returns the stop function.
 */
export function pollRestoreProgress(admin: Admin, database: string, handlers: RestorePollHandlers): () => Promise<void> {
  const { onCopyBytes, onBuilds } = handlers;
  const bytes = onCopyBytes && admin.serverMajor >= 14 ? onCopyBytes : undefined;
  const builds = onBuilds && admin.serverMajor >= 12 ? onBuilds : undefined;
  if (!bytes && !builds) return async () => {};
  return pollQueries(POLL_MS, async (stopped) => {
    if (bytes) {
      const read = await readCopyBytes(admin, database).catch(() => undefined);
      if (stopped()) return;
      if (read !== undefined) bytes(read);
    }
    if (builds) {
      const read = await readIndexBuilds(admin, database);
      if (!stopped()) builds(read);
    }
  });
}
