import { PgcloneError } from '../errors.js';
import type { Admin } from './admin.js';

/**
 * Ends every other session on `database` and waits until PostgreSQL has let them go, polling after 1, 2, 4 … ms
 * (at most 50 ms apart) instead of a fixed interval: a terminated backend is usually gone within a millisecond or
 * two, and a reset should not wait longer than that. Throws `DATABASE_BUSY` naming the sessions still there after
 * `timeoutMs`; returns how many sessions it ended. Sessions of other roles that this role may not end are reported the same way.
 */
export async function endSessionsQuickly(admin: Admin, database: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  const ended = new Set<number>();
  for (;;) {
    const sessions = await admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
    if (sessions.length === 0) return ended.size;
    for (const { pid } of sessions) {
      try {
        // true while the backend is still in PostgreSQL's process array (what RENAME/DROP wait on); sending the
        // signal again is harmless.
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        ended.add(pid);
      } catch {
        // Another role's session: reported below if it stays.
      }
    }
    if (Date.now() >= deadline) {
      throw new PgcloneError(
        'DATABASE_BUSY',
        `Database ${JSON.stringify(database)} still has ${sessions.length} session(s) pgclone may not end after ${timeoutMs} ms (pids ${sessions.map((s) => s.pid).join(', ')})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 50);
  }
}
