import { PgcloneError } from '../errors.js';
import type { Admin } from './admin.js';

// One query per round: signal every session on the database, plus those signalled before, and return the ones
// PostgreSQL still has in its process array. `pg_terminate_backend` looks a pid up in that array, the same one that
// RENAME/DROP DATABASE check (and wait on, in steps of 100 ms), so an empty answer means they will not wait; a pid
// that is gone just yields a warning and `false`. Sending the signal again is harmless.
const ROUND_SQL = `
  SELECT pid, autovacuum FROM (
    SELECT pid, bool_or(autovacuum) AS autovacuum FROM (
      SELECT unnest($2::int[]) AS pid, false AS autovacuum
      UNION ALL
      SELECT pid, backend_type = 'autovacuum worker' FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()
    ) u GROUP BY pid
  ) s
  WHERE CASE
    -- a pid seen before that now belongs to a session on another database (reused): not ours to end
    WHEN EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = s.pid AND a.datname IS DISTINCT FROM $1) THEN false
    ELSE pg_terminate_backend(pid)
  END`;

interface Session {
  pid: number;
  autovacuum: boolean;
}

/**
 * Ends every other session on `database` and waits until PostgreSQL has let them go, polling after 1, 2, 4 … ms
 * (at most 50 ms apart) instead of a fixed interval: a terminated backend is usually gone within a few
 * milliseconds, and a reset should not wait longer than that. Throws `DATABASE_BUSY` naming the sessions still
 * there after `timeoutMs` (sessions of other roles that this role may not end stay, and are named the same way).
 * Returns how many sessions it ended, not counting autovacuum workers (ended too, as PostgreSQL would end them for
 * the rename, but not anyone's session: they visit every database now and then).
 */
export async function endSessionsQuickly(admin: Admin, database: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const ended = new Set<number>();
  const sessions = new Set<number>();
  let delay = 1;
  for (;;) {
    let found: Session[];
    try {
      found = await admin.query<Session>(ROUND_SQL, [database, [...ended]]);
    } catch {
      // One of them is not ours to end (another role's session): signal one by one, skipping those.
      found = await oneByOne(admin, database);
    }
    if (found.length === 0) return sessions.size;
    // A pid is first seen in pg_stat_activity, where its kind is known; later rounds may only know the pid.
    for (const { pid, autovacuum } of found) {
      if (!ended.has(pid) && !autovacuum) sessions.add(pid);
      ended.add(pid);
    }
    const remaining = found.map((s) => s.pid);
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

async function oneByOne(admin: Admin, database: string): Promise<Session[]> {
  const sessions = await admin.query<Session>(
    `SELECT pid, backend_type = 'autovacuum worker' AS autovacuum FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
    [database],
  );
  for (const { pid } of sessions) await admin.query('SELECT pg_terminate_backend($1)', [pid]).catch(() => {});
  return sessions;
}
