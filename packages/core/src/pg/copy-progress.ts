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
  return pollQueries(POLL_MS, async (stopped) => {
    const rows = await admin.query<{ bytes: string }>(
      'SELECT coalesce(sum(bytes_processed), 0)::text AS bytes FROM pg_stat_progress_copy WHERE datname = $1',
      [database],
    );
    if (!stopped() && rows[0]) onBytes(Number(rows[0].bytes));
  });
}

/**
 * Runs `read` every `ms` on a session that takes one query at a time: a reading still in flight skips the tick, a
 * failed one is ignored (progress is never worth an error). The returned stop function waits for the reading in
 * flight; `stopped()` tells that reading, once its query returns, that its result is no longer wanted.
 */
export function pollQueries(ms: number, read: (stopped: () => boolean) => Promise<void>): () => Promise<void> {
  let stopped = false;
  let pending: Promise<void> | undefined;
  const timer = setInterval(() => {
    pending ??= read(() => stopped)
      .catch(() => {})
      .finally(() => (pending = undefined));
  }, ms);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await pending;
  };
}
