import type { Knex } from 'knex';
import type { PgcloneConfig } from 'pgclone';

/** The app's database. pgclone reads it from here too: no pgclone config is needed. */
export const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@localhost:5432/knex_app_dev';

const config: Record<string, Knex.Config & { pgclone?: PgcloneConfig }> = {
  development: {
    client: 'pg',
    connection: databaseUrl,
    migrations: { directory: './migrations', tableName: 'knex_migrations' },
    seeds: { directory: './seeds' },
    // Optional pgclone settings for this environment (the keys of pgclone.config.*): keep session rows out of dumps.
    pgclone: { exclude: ['sessions'] },
  },
};

export default config;
