import type { Admin } from './admin.js';

/** One index build in progress: the statement that runs it, and how far it has got (0 to 1). */
export interface IndexBuildReading {
  /** The backend's statement: `CREATE INDEX name ON …` or `ALTER TABLE ONLY … ADD CONSTRAINT name PRIMARY KEY …`. */
  query: string;
  fraction: number;
}

/** A row of `pg_stat_progress_create_index`. */
export interface IndexBuildRow {
  phase: string;
  blocksTotal: number;
  blocksDone: number;
  tuplesTotal: number;
  tuplesDone: number;
}

/**
 * How far an index build has got, from its phase. A B-tree build reads the table (the first half, by blocks), sorts,
 * then loads the sorted tuples (the second half, by tuples). Other access methods (GIN, GiST, hash) report one
 * `building index` phase, by the blocks read. Pure.
 */
export function buildFraction(row: IndexBuildRow): number {
  const part = (done: number, total: number) => (total > 0 ? Math.min(1, Math.max(0, done / total)) : 0);
  if (row.phase.startsWith('building index: scanning table')) return 0.5 * part(row.blocksDone, row.blocksTotal);
  if (row.phase.startsWith('building index: sorting')) return 0.5;
  if (row.phase.startsWith('building index: loading tuples')) return 0.5 + 0.5 * part(row.tuplesDone, row.tuplesTotal);
  // What remains once the blocks are read (a GIN build merges its entries) is not reported: never quite done.
  if (row.phase === 'building index') return 0.95 * part(row.blocksDone, row.blocksTotal);
  return 0; // initializing, waiting for locks, or the phases of concurrent builds (never run by pg_restore)
}

/**
 * The index builds running in `database` (`pg_stat_progress_create_index`, PostgreSQL 12+) with their backends'
 * statements, which name the index or constraint (the admin session is in another database, so the relations' own
 * names cannot be looked up).
 */
export async function readIndexBuilds(admin: Admin, database: string): Promise<IndexBuildReading[]> {
  const rows = await admin.query<{ query: string; phase: string; bt: string; bd: string; tt: string; td: string }>(
    `SELECT a.query, p.phase, p.blocks_total::text AS bt, p.blocks_done::text AS bd, p.tuples_total::text AS tt,
            p.tuples_done::text AS td
       FROM pg_stat_progress_create_index p JOIN pg_stat_activity a ON a.pid = p.pid
      WHERE p.datname = $1`,
    [database],
  );
  return rows.map((r) => ({
    query: r.query,
    fraction: buildFraction({ phase: r.phase, blocksTotal: Number(r.bt), blocksDone: Number(r.bd), tuplesTotal: Number(r.tt), tuplesDone: Number(r.td) }),
  }));
}
