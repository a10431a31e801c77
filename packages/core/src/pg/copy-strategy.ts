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
 * FILE_COPY wins for small databases on PostgreSQL 15: its two checkpoints have little to flush when the cluster
 * is a test cluster, while WAL_LOG writes every block of the ~8 MB a fresh database already holds to WAL.
 */
export function copyStrategyForSmallDatabase(serverMajor: number): CopyStrategy | undefined {
  if (serverMajor < 15) return undefined;
  return 'FILE_COPY';
}
