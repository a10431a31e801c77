import { AdapterError } from '@pgclone/core';

/** Knex `client` names that are PostgreSQL through node-postgres. */
export const POSTGRES_CLIENTS: readonly string[] = ['pg', 'postgres', 'postgresql'];

/**
 * Refuses a config whose `client` is not PostgreSQL, naming what it is. A client given as a dialect class (a
 * subclass of Knex's PostgreSQL client) is accepted when its dialect is `postgresql` (CockroachDB and Redshift,
 * which extend it, are not: pg_dump archives do not restore there).
 */
export function assertPostgresClient(client: unknown, where: string): void {
  if (typeof client === 'string' && POSTGRES_CLIENTS.includes(client)) return;
  if (typeof client === 'function') {
    const dialect = (client as { prototype?: { dialect?: unknown } }).prototype?.dialect;
    if (dialect === 'postgresql') return;
    throw new AdapterError(
      `Knex client class ${(client as { name?: string }).name || 'anonymous'} in ${where} is for ${String(dialect ?? 'an unknown dialect')}, not PostgreSQL; pgclone works only with PostgreSQL`,
    );
  }
  if (client === undefined) {
    throw new AdapterError(`The Knex config in ${where} has no "client"; pgclone needs client "pg" (PostgreSQL)`);
  }
  throw new AdapterError(
    `Knex client ${JSON.stringify(client)} in ${where} is not PostgreSQL; pgclone works with client ${POSTGRES_CLIENTS.map((c) => `"${c}"`).join(', ')}`,
  );
}
