import type { Connection, ConnectionInput } from './connection.js';
import type { PgcloneConfig } from './config/schema.js';
import type { Reporter } from './events.js';

/** The hook names reserved for ORM adapters. */
export const RESERVED_HOOKS = ['migrate', 'seed'] as const;

/** `migrate` or `seed`. */
export type ReservedHook = (typeof RESERVED_HOOKS)[number];

/** What an adapter hook is given: the database to work on (never the live one for pre-swap hooks). */
export interface AdapterHookTarget {
  connection: Connection;
  /** Full URL with password: pass it through environments only. */
  databaseUrl: string;
  database: string;
  /** Environment to run child processes with (the user's plus the target's libpq variables). */
  env: NodeJS.ProcessEnv;
  reporter: Reporter;
  signal?: AbortSignal;
}

/** An ORM project found by an {@link AdapterFactory}. */
export interface Adapter {
  /** `knex` or `prisma`. */
  readonly name: string;
  /** Where the project lives (knexfile or schema directory). */
  readonly projectDir: string;
  /** For messages: which file the project was found by. */
  readonly source: string;
  /** The `pgclone` section of the ORM's config, merged below pgclone's own config. */
  readonly config?: PgcloneConfig;
  /** The connection the ORM uses, used for alias `default` when no `databases.default` is configured. */
  connection?(): Promise<ConnectionInput | undefined>;
  /**
   * Globs (absolute, or relative to {@link projectDir}) of the files that decide what `migrate` and `seed` produce:
   * migrations, seeds, the schema. Test templates are keyed by a hash of these files. Optional: without it pgclone
   * uses the ORM's conventional folders.
   */
  templateInputs?(): Promise<string[]>;
  /** Runs `migrate` or `seed` against the target. */
  runHook(name: ReservedHook, target: AdapterHookTarget): Promise<void>;
}

/** Detects an ORM project from a directory. */
export interface AdapterFactory {
  readonly name: string;
  /** Returns the adapter when the project uses this ORM, else `undefined`. */
  detect(input: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Adapter | undefined>;
}
