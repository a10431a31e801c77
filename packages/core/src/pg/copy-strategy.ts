/**
 * How `CREATE DATABASE … TEMPLATE` copies (PostgreSQL 15+): `WAL_LOG` copies block by block through shared buffers
 * and WAL; `FILE_COPY` copies the files and forces two checkpoints. The general choice (big databases) belongs to
 * the performance work; this file holds the choice for the small databases that test resets copy, measured by
 * `bench/test-reset` (see its README for the numbers behind it).
 */

/** A `CREATE DATABASE` strategy. */
export type CopyStrategy = 'WAL_LOG' | 'FILE_COPY';

/** Databases up to this size count as small (test fixtures, migrated and seeded schemas). */
export const SMALL_DATABASE_BYTES = 64 * 1024 * 1024;

/**
 * The strategy to copy a small database with, or `undefined` when the server (before 15) has no choice.
 * WAL_LOG: its cost follows the database's size (~8 MB for a fresh one), while FILE_COPY's two checkpoints cost
 * whatever the whole cluster has dirty. On a cluster with fsync=on (any developer's) FILE_COPY of a 7.8 MiB fixture
 * took 1.6 s against 0.18 s for WAL_LOG; with fsync=off the two were within noise of each other (bench/test-reset).
 * For big databases FILE_COPY wins (a 329 MiB database: 2.0 s against 6.2 s); that choice is the general one.
 */
export function copyStrategyForSmallDatabase(serverMajor: number): CopyStrategy | undefined {
  if (serverMajor < 15) return undefined;
  return 'WAL_LOG';
}
