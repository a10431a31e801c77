import type pg from 'pg';
import type { Connection } from '../connection.js';
import { connectClient } from './connect.js';
import { pollQueries } from './poll.js';
import { largestShare } from './restore-jobs.js';

/** How often a running pg_dump's COPYs are read. */
const POLL_MS = 250;

/** What {@link watchDump} reports to the dump's progress bar. */
export interface DumpWatchHandlers {
  /**
   * About how many bytes the dump's rows are (the bar's total): first from the tables' sizes on disk, then again
   * whenever pg_dump's COPYs (PostgreSQL 14+) show what the rows take as text ({@link refineDumpTotal}).
   */
  onTotal(bytes: number): void;
  /**
   * If given, called every quarter second with the bytes pg_dump's COPYs have sent so far, for a pg_dump whose
   * uncompressed output pgclone does not see. Only for PostgreSQL 14+ (`pg_stat_progress_copy`).
   */
  onCopied?(bytes: number): void;
}

/** The server, and what the bar counts: the rows as COPY sends them, or an uncompressed archive of them. */
export interface DumpWatchOptions {
  /** The server's major version: COPYs can be followed from PostgreSQL 14. */
  serverMajor: number;
  /** Bytes the counted stream adds to each row: {@link ARCHIVE_ROW_OVERHEAD}, or 0 for COPY's own count. */
  rowOverhead: number;
  /** Where the connection's omitted parts come from (see `pgClientConfig`). Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * What an uncompressed custom-format archive adds to each row: pg_dump writes each row it receives as a data chunk
 * of its own, behind a 5-byte length (a sign byte and a 4-byte integer).
 */
export const ARCHIVE_ROW_OVERHEAD = 5;

/** A table whose rows the dump carries, as the estimate sees it. */
export interface DumpedTable {
  relid: string;
  diskBytes: number;
  /** `reltuples`, when the table was ever vacuumed or analyzed. */
  rows: number | undefined;
}

/** The last reading of a table's COPY (`pg_stat_progress_copy`). */
export interface CopyReading {
  bytes: number;
  tuples: number;
}

/**
 * The dump's size, refined by what its COPYs have shown so far. On disk a row carries a 24-byte header, alignment and
 * free space; as text it may be shorter (most tables: the bench dataset's dump is 0.72× its tables) or longer (wide
 * numbers, bytea). So a table whose COPY was seen counts as its bytes per row so far times its rows, and never less
 * than was read. A table not seen yet counts as its size on disk, or more if the seen tables' text outgrew their
 * disk size, by the same ratio: never less, as one table's narrow rows say little of another's, and a total that
 * shrinks as tables are seen only makes the bar catch up (on the dataset, a ratio taken down as well showed 35% at
 * 22% done). Large objects and COPYs of no known table (`relid` 0) count as they are. Pure.
 */
export function refineDumpTotal(tables: readonly DumpedTable[], readings: ReadonlyMap<string, CopyReading>, otherBytes: number, rowOverhead: number): number {
  let seenDisk = 0;
  let seenBytes = 0;
  const notSeen: { diskBytes: number; atLeast: number }[] = [];
  const known = new Set<string>();
  for (const table of tables) {
    known.add(table.relid);
    const reading = readings.get(table.relid);
    const read = reading ? reading.bytes + rowOverhead * reading.tuples : 0;
    if (reading && reading.tuples > 0 && table.rows !== undefined && table.rows > 0) {
      const perRow = reading.bytes / reading.tuples + rowOverhead;
      seenDisk += table.diskBytes;
      seenBytes += Math.max(read, perRow * table.rows);
    } else {
      notSeen.push({ diskBytes: table.diskBytes, atLeast: read });
    }
  }
  const ratio = seenDisk > 0 ? Math.max(1, seenBytes / seenDisk) : 1;
  let total = otherBytes + seenBytes;
  for (const table of notSeen) total += Math.max(table.atLeast, table.diskBytes * ratio);
  for (const [relid, reading] of readings) if (!known.has(relid)) total += reading.bytes + rowOverhead * reading.tuples;
  return Math.round(total);
}

/**
 * Watches a dump of `conn`'s database from a session of its own, so that pg_dump never waits for it: first the
 * estimate of the dump's size, then (PostgreSQL 14+) how far pg_dump's COPYs have got (`pg_stat_progress_copy` of the
 * sessions named `applicationName`), which refines the estimate and, with `onCopied`, is the count itself. Any
 * failure just means less progress shown. `stop()` ends the session.
 */
export function watchDump(
  conn: Connection,
  exclude: readonly string[],
  applicationName: string,
  handlers: DumpWatchHandlers,
  options: DumpWatchOptions,
): { stop(): void; largestShare(): number | undefined } {
  let client: pg.Client | undefined;
  let stopped = false;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    void client?.end().catch(() => {});
  };
  let stopPolling: (() => Promise<void>) | undefined;
  let share: number | undefined;
  const started = (async () => {
    const connected = await connectClient(conn, {}, options.env);
    client = connected;
    if (ended) return void connected.end().catch(() => {});
    const sizes = await dumpedTables(connected, exclude);
    if (sizes) share = largestShare([...sizes.tables.map((t) => t.diskBytes), sizes.largeObjectBytes]);
    // A COPY shows only while it runs: each table's last reading is kept, so finished tables stay counted.
    const readings = new Map<string, CopyReading>();
    let lastTotal = -1;
    const total = () => {
      if (!sizes || stopped) return;
      const bytes = refineDumpTotal(sizes.tables, readings, sizes.largeObjectBytes, options.rowOverhead);
      if (bytes !== lastTotal) handlers.onTotal((lastTotal = bytes));
    };
    total(); // before any reading: the tables' size on disk
    const onCopied = handlers.onCopied;
    if (options.serverMajor < 14 || (!sizes && !onCopied) || stopped) return end();
    const read = async () => {
      const copies = await connected.query<{ relid: string; bytes: string; tuples: string }>(
        `SELECT p.relid::text AS relid, p.bytes_processed::text AS bytes, p.tuples_processed::text AS tuples
           FROM pg_stat_progress_copy p JOIN pg_stat_activity a ON a.pid = p.pid
          WHERE p.datname = current_database() AND p.command = 'COPY TO' AND a.application_name = $1
            AND p.pid <> pg_backend_pid()`,
        [applicationName],
      );
      for (const { relid, bytes, tuples } of copies.rows) {
        const before = readings.get(relid);
        if (!before || Number(bytes) >= before.bytes) readings.set(relid, { bytes: Number(bytes), tuples: Number(tuples) });
      }
      if (stopped) return;
      onCopied?.([...readings.values()].reduce((sum, r) => sum + r.bytes, 0));
      total();
    };
    stopPolling = pollQueries(POLL_MS, read);
  })().catch(end);
  return {
    // Not awaited by the dump: the session ends once its query in flight, if any, has returned.
    stop() {
      stopped = true;
      void started.then(() => stopPolling?.()).then(end);
    },
    /** The largest table's (or the large objects') share of the dumped tables' size on disk, once known. */
    largestShare: () => share,
  };
}

/**
 * The tables whose rows are dumped, with their on-disk size (with TOAST) and `reltuples`, and the size of the large
 * objects: the first estimate of an uncompressed dump. Indexes and materialized view contents are not dumped, so the
 * database size would overshoot by far. `undefined` when it cannot be read.
 */
async function dumpedTables(client: pg.Client, exclude: readonly string[]): Promise<{ tables: DumpedTable[]; largeObjectBytes: number } | undefined> {
  try {
    // Sizing takes a lock on each table: never wait behind a lock (pg_dump would wait on it too, and a dump killed
    // then must not leave this query hanging), never run long. No estimate just means no total on the bar.
    await client.query("SET lock_timeout = '500ms'; SET statement_timeout = '10s'");
    const { rows } = await client.query<{ relid: string; bytes: string; rows: string }>(
      `SELECT c.oid::text AS relid, pg_table_size(c.oid)::text AS bytes, c.reltuples::text AS rows
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r'
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
          AND NOT (c.relname = ANY($1) OR n.nspname || '.' || c.relname = ANY($1))`,
      [exclude],
    );
    const lo = await client.query<{ bytes: string }>("SELECT pg_relation_size('pg_catalog.pg_largeobject')::text AS bytes");
    return {
      // reltuples is -1 for a table never vacuumed or analyzed (PostgreSQL 14+), 0 before.
      tables: rows.map((r) => ({ relid: r.relid, diskBytes: Number(r.bytes), rows: Number(r.rows) > 0 ? Number(r.rows) : undefined })),
      largeObjectBytes: Number(lo.rows[0]?.bytes ?? 0),
    };
  } catch {
    return undefined;
  }
}
