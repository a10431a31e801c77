import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { ClusterInfo } from './cluster.js';

/** The run's cluster. */
export function cluster(): ClusterInfo {
  return inject('pg');
}

/** A connection URL for `database` as the superuser (or another role). */
export function dbUrl(database: string, role?: { user: string; password: string }): string {
  const c = cluster();
  const user = encodeURIComponent(role?.user ?? c.user);
  const password = encodeURIComponent(role?.password ?? c.password);
  return `postgresql://${user}:${password}@${c.host}:${c.port}/${encodeURIComponent(database)}`;
}

/** A unique database name for one test (lowercase, safe). */
export function uniqueName(prefix = 'db'): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** Runs SQL on `database` and returns the rows. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(database: string, text: string, params: unknown[] = []): Promise<R[]> {
  // Explicit fields: pg's URL parser leaves %3B, %24 and friends encoded in database names.
  const c = cluster();
  const client = new pg.Client({ host: c.host, port: c.port, user: c.user, password: c.password, database });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** Quotes an identifier for test SQL. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Creates an empty database (dropping an old one of that name). From template0: test files share one cluster, and a
 * session another file has open on template1 (pgclone's fallback maintenance database) would fail a copy of it.
 */
export async function createDatabase(name: string): Promise<void> {
  await sql('postgres', `DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
  await sql('postgres', `CREATE DATABASE ${ident(name)} TEMPLATE template0`);
}

/** Names of all databases in the cluster. */
export async function databases(): Promise<string[]> {
  return (await sql<{ datname: string }>('postgres', 'SELECT datname FROM pg_database ORDER BY 1')).map((r) => r.datname);
}

/** Drops databases whose names start with `prefix` (test cleanup). */
export async function dropDatabases(prefix: string): Promise<void> {
  for (const name of await databases()) {
    if (name.startsWith(prefix)) await sql('postgres', `DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
  }
}
