/**
 * `@pgclone/knex`: pgclone inside a Knex project. It finds the knexfile as the Knex CLI does, gives its connection
 * (alias `default`) and its `pgclone` section to pgclone, and runs the project's Knex migrations (`migrate`) and seeds
 * (`seed`) against the restored copy before it is swapped in, with the project's own installed knex.
 *
 * `pgclone` uses {@link adapterFactory} automatically; the `knex-pgclone` bin uses {@link knexAdapterFactory} with the
 * Knex CLI's flags; programs use {@link fromKnexfile}, or pass a Knex instance as `restore(key, { knex })`.
 *
 * @packageDocumentation
 */
export { adapterFactory, knexAdapterFactory, KnexfileAdapter, type KnexOptions } from './adapter.js';
export { fromKnexfile, type KnexfileRunOptions } from './from-knexfile.js';
export { knexInstanceAdapterFactory, isKnexInstance } from './instance.js';
export { findKnexfile, loadKnexfile, KNEXFILE_NAMES, type KnexfileEnvironment } from './knexfile.js';
export { assertPostgresClient, POSTGRES_CLIENTS } from './client.js';
export { connectionInput, evaluateConnection, sslParams } from './connection.js';
export type { KnexConfig, KnexInstanceLike, KnexMigrationsConfig, KnexSeedsConfig } from './types.js';
