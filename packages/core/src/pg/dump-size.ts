import pg from 'pg';
import { pgClientConfig, type Connection } from '../connection.js';

/**
 * About how many bytes an uncompressed dump of `conn`'s database will have, for the progress bar's total: the
 * on-disk size of the tables whose rows are dumped (with TOAST) and of the large objects. Indexes and materialized
 * view contents are not dumped, so the database size would overshoot by far. `undefined` when it cannot be read.
 */
export async function estimateDumpBytes(conn: Connection, exclude: readonly string[]): Promise<number | undefined> {
  const client = new pg.Client(pgClientConfig(conn));
  client.on('error', () => {});
  try {
    await client.connect();
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
  } finally {
    await client.end().catch(() => {});
  }
}
