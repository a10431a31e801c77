import type { Admin } from './admin.js';

/** How often the COPYs' progress is read while pg_restore runs. */
const POLL_MS = 500;

/**
 * Reads, every half second until stopped, how many bytes the COPYs into `database` have read so far
 * (`pg_stat_progress_copy`, PostgreSQL 14+), and hands the sum to `onBytes`. One query at a time on the admin
 * session, which is otherwise idle while pg_restore runs; a failed reading is skipped. Returns the stop function.
 */
export function pollCopyBytes(admin: Admin, database: string, onBytes: (bytes: number) => void): () => Promise<void> {
  if (admin.serverMajor < 14) return async () => {};
  let stopped = false;
  let pending: Promise<void> | undefined;
  const read = async () => {
    const rows = await admin
      .query<{ bytes: string }>('SELECT coalesce(sum(bytes_processed), 0)::text AS bytes FROM pg_stat_progress_copy WHERE datname = $1', [database])
      .catch(() => []);
    if (!stopped && rows[0]) onBytes(Number(rows[0].bytes));
  };
  const timer = setInterval(() => {
    pending ??= read().finally(() => (pending = undefined));
  }, POLL_MS);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await pending;
  };
}
