/**
 * The parts of Knex's config and instance that pgclone reads. Declared here rather than imported from `knex` so that
 * `@pgclone/knex` (and `pgclone`) type-check in projects without Knex; a real `Knex.Config` or `Knex` instance fits.
 */

/**
 * `migrations` in a knexfile: the keys pgclone reads. Every other key Knex knows is passed on to `migrate.latest` as
 * it is (the types have no index signature so that Knex's own `Knex.Config` is assignable to them).
 */
export interface KnexMigrationsConfig {
  directory?: string | readonly string[];
  tableName?: string;
  schemaName?: string;
  loadExtensions?: readonly string[];
  sortDirsSeparately?: boolean;
  disableTransactions?: boolean;
  disableMigrationsListValidation?: boolean;
  migrationSource?: unknown;
  /** Knex ≥ 3 calls it before each migration (passed on as it is). */
  beforeEach?: unknown;
}

/** `seeds` in a knexfile. */
export interface KnexSeedsConfig {
  directory?: string | readonly string[];
  loadExtensions?: readonly string[];
  sortDirsSeparately?: boolean;
  recursive?: boolean;
  specific?: string;
  seedSource?: unknown;
}

/** One environment of a knexfile (or a flat knexfile), as given to `knex(config)`. */
export interface KnexConfig {
  client?: unknown;
  /** A URL, pg's connection object, or a function (possibly async) returning either. */
  connection?: unknown;
  migrations?: KnexMigrationsConfig;
  seeds?: KnexSeedsConfig;
  /** Knex's logger functions (`warn`, `error`, `deprecate`, `debug`); without them, pgclone reports Knex's messages as hook output. */
  log?: unknown;
  /** pgclone's own config for this environment (same keys as `pgclone.config.*`), below pgclone's own config. */
  pgclone?: unknown;
}

/** A Knex instance (`knex(config)`): pgclone reads the config it was made from. */
export interface KnexInstanceLike {
  client: { config: KnexConfig };
}

/** The `knex` function of a Knex installation. */
export type KnexFactory = (config: KnexConfig) => KnexHandle;

/** What pgclone uses of a Knex instance it creates. */
export interface KnexHandle {
  raw(sql: string): Promise<unknown>;
  migrate: { latest(config?: Record<string, unknown>): Promise<[number, string[]]> };
  seed: { run(config?: Record<string, unknown>): Promise<[string[]]> };
  destroy(): Promise<void>;
}
