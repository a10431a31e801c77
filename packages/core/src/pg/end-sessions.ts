import { PgcloneError } from '../errors.js';
import type { Admin } from './admin.js';

// One query per round: signal every session on the database, plus those signalled before, and return the ones
// PostgreSQL still has in its process array. `pg_terminate_backend` looks a pid up in that array, the same one that
// RENAME/DROP DATABASE check (and wait on, in steps of 100 ms), so an empty answer means they will not wait; a pid
// that is gone just yields a warning and `false`. Sending the signal again is harmless.
const ROUND_SQL = `
  SELECT pid FROM (
    SELECT unnest($2::int[]) AS pid
    UNION SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()
  ) s
  WHERE CASE
    -- a pid seen before that now belongs to a session on another database (reused): not ours to end
    WHEN EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = s.pid AND a.datname IS DISTINCT FROM $1) THEN false
    ELSE pg_terminate_backend(pid)
  END`;

/**
 * Ends every other session on `database` and waits until PostgreSQL has let them go, polling after 1, 2, 4 … ms
 * (at most 50 ms apart) instead of a fixed interval: a terminated backend is usually gone within a few
 * milliseconds, and a reset should not wait longer than that. Throws `DATABASE_BUSY` naming the sessions still
 * there after `timeoutMs` (sessions of other roles that this role may not end stay, and are named the same way).
 * Returns how many sessions it ended.
 */
export async function endSessionsQuickly(admin: Admin, database: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const ended = new Set<number>();
  let delay = 1;
  for (;;) {
    let remaining: number[];
    try {
      remaining = (await admin.query<{ pid: number }>(ROUND_SQL, [database, [...ended]])).map((r) => r.pid);
    } catch {
      // One of them is not ours to end (another role's session): signal one by one, skipping those.
      remaining = await oneByOne(admin, database);
    }
    if (remaining.length === 0) return ended.size;
    for (const pid of remaining) ended.add(pid);
    if (Date.now() >= deadline) {
      throw new PgcloneError(
        'DATABASE_BUSY',
        `Database ${JSON.stringify(database)} still has ${remaining.length} session(s) pgclone may not end after ${timeoutMs} ms (pids ${remaining.join(', ')})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 50);
  }
}

async function oneByOne(admin: Admin, database: string): Promise<number[]> {
  const sessions = await admin.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [database],
  );
  for (const { pid } of sessions) await admin.query('SELECT pg_terminate_backend($1)', [pid]).catch(() => {});
  return sessions.map((s) => s.pid);
}
