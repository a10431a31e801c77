import type { Admin } from './admin.js';

/**
 * How many bytes the COPYs into `database` have read so far (`pg_stat_progress_copy`, PostgreSQL 14+), summed.
 */
export async function readCopyBytes(admin: Admin, database: string): Promise<number> {
  const rows = await admin.query<{ bytes: string }>(
    'SELECT coalesce(sum(bytes_processed), 0)::text AS bytes FROM pg_stat_progress_copy WHERE datname = $1',
    [database],
  );
  return Number(rows[0]?.bytes ?? 0);
}
