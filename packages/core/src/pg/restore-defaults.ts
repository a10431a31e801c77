/**
 * What pg_restore's sessions in the working database default to, given how many jobs restore it, the server's major
 * version and, for a server on this machine, how many cores it has.
 *
 * - `synchronous_commit = off`, always: pg_restore commits every schema item on its own, and each commit would wait
 *   for a WAL flush (a 4,000-item schema restored with -j2: 4.6–4.9 s, 3.6–4.2 s without the waits). Nothing becomes
 *   less durable: a database that fails before the swap is dropped, and the swap's own commit flushes the WAL up to
 *   it, all of the restore's commits included.
 * - `max_parallel_maintenance_workers = 0` when the jobs already cover every core the server has: each index build
 *   otherwise starts parallel workers (two by default) that only compete with the other jobs for those cores, and
 *   share the build's `maintenance_work_mem` between them, so a sort that fit in memory spills to disk. The bench
 *   dataset's `pg_restore -j2` on two cores: 5.5–5.7 s instead of 6.5–6.9 s. A server elsewhere keeps its default:
 *   its cores are unknown here, and where it has more than the jobs, the workers use them.
 */
export function restoreDefaults(r: { jobs: number; serverCores: number | undefined; serverMajor: number }): Record<string, string> {
  // The setting exists since PostgreSQL 11 (parallel index builds); setting an unknown one would fail the restore.
  const coresTaken = r.serverCores !== undefined && r.jobs >= r.serverCores && r.serverMajor >= 11;
  return { synchronous_commit: 'off', ...(coresTaken ? { max_parallel_maintenance_workers: '0' } : {}) };
}
