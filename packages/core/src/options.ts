import type { Hook } from './config/schema.js';
import type { PgcloneEvent } from './events.js';

/**
 * Options of the operations, named like the CLI's flags in camelCase, plus `cwd`. Anything left out comes from the
 * named config (`config`), then the config file's top level, then the ORM adapter's section, then the defaults.
 */
export interface CommonOptions {
  /** Directory to search the config (and the ORM project) from. Default: `process.cwd()`. */
  cwd?: string;
  /** Named config (`configs.<name>`), the CLI's `-c`. */
  config?: string;
  /** Explicit config file instead of searching, the CLI's `--config-file`. */
  configFile?: string;
  /** Database alias (`databases.<alias>`), the CLI's `-d`. Default: `default`. */
  database?: string;
  /** Where dumps live: a directory or `s3://bucket/prefix/`, the CLI's `-s`. */
  storageLocation?: string;
  /** Instance part of new keys, the CLI's `-i`. */
  instance?: string;
  /** Programmatic only: the connection URL of the target database, overriding config and `DATABASE_URL`. */
  databaseUrl?: string;
  /**
   * Environment to read `DATABASE_URL`, `PGCLONE_*`, `{ env }` connections, and what a URL leaves out (`PGHOST`,
   * `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGSSLMODE`, …) from, for pgclone's own session and the tools it starts alike.
   * Default: `process.env`.
   */
  env?: NodeJS.ProcessEnv;
  /** Receives every step, message and progress event. The API prints nothing unless you print these. */
  onEvent?: (event: PgcloneEvent) => void;
  /** Cancels the operation; whatever has changed is rolled back as on any failure. */
  signal?: AbortSignal;
}

/** Options of `dump`. */
export interface DumpOptions extends CommonOptions {
  /** Tables whose rows are left out (the table itself is kept), the CLI's `-e`. */
  exclude?: string[];
  /** Commands (or functions) run against the live database before dumping, the CLI's `--pre-dump-hook`. */
  preDumpHooks?: Hook[];
  /** Alias of `preDumpHooks` (the CLI's flag name). */
  preDumpHook?: Hook[];
  /** `auto` (default), `none`, `gzip[:1-9]`, `zstd[:1-19]` or `lz4[:1-12]`, the CLI's `--compression`. */
  compression?: string;
}

/** Options of `restore`. */
export interface RestoreOptions extends CommonOptions {
  /** Keep the live database as `:pre` and the restored dump as `:post`. Default: config, else false. */
  reversible?: boolean;
  /** Run against `N__temp` before the swap; `[]` disables the defaults (such as `migrate`). */
  preSwapHooks?: Hook[];
  /** Alias of `preSwapHooks`. */
  preSwapHook?: Hook[];
  /** Run against the new live database after the swap. */
  postSwapHooks?: Hook[];
  /** Alias of `postSwapHooks`. */
  postSwapHook?: Hook[];
  /** Resolve everything and return the plan without changing anything. */
  dryRun?: boolean;
  /** pg_restore jobs, the CLI's `-j`. Default: config, else the number of cores. */
  jobs?: number;
  /** Directory for the temporary archive a parallel restore of a remote or wrapped dump needs. Default: OS temp. */
  spoolDir?: string;
  /** How template copies (snapshots, `:name` restores) are made, the CLI's `--copy-strategy`. Default: `auto`. */
  copyStrategy?: 'auto' | 'wal_log' | 'file_copy' | 'clone';
}

/** Options of `copy`. */
export interface CopyOptions extends CommonOptions {
  /** `auto` (by size), `wal_log`, `file_copy` or `clone` (PostgreSQL 18+), the CLI's `--copy-strategy`. */
  copyStrategy?: 'auto' | 'wal_log' | 'file_copy' | 'clone';
}

/** Options of `ls`. At most one of the listing modes may be set. */
export interface LsOptions extends CommonOptions {
  /** Sorted unique instance parts. */
  instances?: boolean;
  /** Sorted unique database alias parts. */
  databases?: boolean;
  /** Sorted unique config parts. */
  configs?: boolean;
  /** Local databases usable as `:name` keys. */
  local?: boolean;
}

/** Options of `lsLong`: the listing modes of `ls` that have a long form. */
export interface LsLongOptions extends CommonOptions {
  /** Local databases (`:name` keys) with their sizes instead of dumps. */
  local?: boolean;
}

/** Options of `prune`. At least one of `keep` and `olderThan` is required. */
export interface PruneOptions extends CommonOptions {
  /** Keep the newest N dumps of each instance/database/config group. */
  keep?: number;
  /** Delete only dumps older than this (`30d`, `12h`, `2w`, `1d12h`). */
  olderThan?: string;
  /** Delete for real; without it prune only reports what it would delete. */
  yes?: boolean;
}

/** Options of `rm`. */
export interface RmOptions extends CommonOptions {
  /** Drop a local database even though it has open sessions. */
  force?: boolean;
}

/** Options of `doctor`. */
export interface DoctorOptions extends CommonOptions {
  /** Repair what can be repaired (otherwise only report). */
  fix?: boolean;
  /** Also read every dump that has a manifest and check its sha256 (reads all the data). */
  verify?: boolean;
  /**
   * Check every database on the server (any `__temp`/`__swap`/`__stage`, any blocked database, every pgclone lock),
   * not just the target database and its working names.
   */
  all?: boolean;
}

/** The union of every operation's options, as the resolver sees them. */
export type AnyOptions = DumpOptions & RestoreOptions & LsOptions;
