import pg from 'pg';
import { pgClientConfig, type Connection } from '../connection.js';
import { pollQueries } from './copy-progress.js';

/** How often a running pg_dump's COPYs are read. */
const POLL_MS = 250;

/** What {@link watchDump} reports to the dump's progress bar. */
export interface DumpWatchHandlers {
  /** About how many bytes the dump's rows are (the bar's total), once known. */
  onTotal(bytes: number): void;
  /**
   * If given, called every quarter second with the bytes pg_dump's COPYs have sent so far, for a pg_dump whose
   * uncompressed output pgclone does not see. Only for PostgreSQL 14+ (`pg_stat_progress_copy`).
   */
  onCopied?(bytes: number): void;
}

/**
 * Watches a dump of `conn`'s database from a session of its own, so that pg_dump never waits for it: first the
 * estimate of the dump's size, then, with `onCopied`, how far pg_dump has got (`pg_stat_progress_copy` of the
 * sessions named `applicationName`). Any failure just means less progress shown. `stop()` ends the session.
 */
export function watchDump(conn: Connection, exclude: readonly string[], applicationName: string, handlers: DumpWatchHandlers): { stop(): void } {
  const client = new pg.Client(pgClientConfig(conn));
  client.on('error', () => {});
  let stopped = false;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    void client.end().catch(() => {});
  };
  let stopPolling: (() => Promise<void>) | undefined;
  const started = (async () => {
    await client.connect();
    const total = await estimateDumpBytes(client, exclude);
    if (total !== undefined && !stopped) handlers.onTotal(total);
    const onCopied = handlers.onCopied;
    if (!onCopied || stopped) return end();
    // A COPY shows only while it runs: each table's last reading is kept, so finished tables stay counted.
    const byTable = new Map<string, number>();
    const read = async () => {
      const copies = await client.query<{ relid: string; bytes: string }>(
        `SELECT p.relid::text AS relid, p.bytes_processed::text AS bytes
           FROM pg_stat_progress_copy p JOIN pg_stat_activity a ON a.pid = p.pid
          WHERE p.datname = current_database() AND p.command = 'COPY TO' AND a.application_name = $1
            AND p.pid <> pg_backend_pid()`,
        [applicationName],
      );
      for (const { relid, bytes } of copies.rows) byTable.set(relid, Math.max(byTable.get(relid) ?? 0, Number(bytes)));
      if (!stopped) onCopied([...byTable.values()].reduce((a, b) => a + b, 0));
    };
    stopPolling = pollQueries(POLL_MS, read);
  })().catch(end);
  return {
    // Not awaited by the dump: the session ends once its query in flight, if any, has returned.
    stop() {
      stopped = true;
      void started.then(() => stopPolling?.()).then(end);
    },
  };
}

/**
 * About how many bytes an uncompressed dump will have, for the progress bar's total: the on-disk size of the tables
 * whose rows are dumped (with TOAST) and of the large objects. Indexes and materialized view contents are not
 * dumped, so the database size would overshoot by far. `undefined` when it cannot be read.
 */
async function estimateDumpBytes(client: pg.Client, exclude: readonly string[]): Promise<number | undefined> {
  try {
    // Sizing takes a lock on each table: never wait behind a lock (pg_dump would wait on it too, and a dump killed
    // then must not leave this query hanging), never run long. No estimate just means no total on the bar.
    await client.query("SET lock_timeout = '500ms'; SET statement_timeout = '10s'");
    const { rows } = await client.query<{ bytes: string }>(
      `SELECT (coalesce(sum(pg_table_size(c.oid)), 0) + pg_relation_size('pg_catalog.pg_largeobject'))::text AS bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r'
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
          AND NOT (c.relname = ANY($1) OR n.nspname || '.' || c.relname = ANY($1))`,
      [exclude],
    );
    return Number(rows[0]?.bytes ?? 0);
  } catch {
    return undefined;
  }
}
