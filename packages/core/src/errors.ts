/**
 * Every failure pgclone reports is a {@link PgcloneError} with a stable `code`, so callers (and tests) can branch on
 * the code instead of parsing messages. Messages are one line, name the bad value and never contain a secret.
 */

/** Stable error codes. Adding a code is fine; renaming one is a breaking change. */
export type ErrorCode =
  | 'USAGE'
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_INVALID'
  | 'CONFIG_UNKNOWN_NAME'
  | 'CONNECTION_MISSING'
  | 'KEY_INVALID'
  | 'KEY_MISSING'
  | 'KEY_NOT_FOUND'
  | 'NAME_INVALID'
  | 'NAME_RESERVED'
  | 'NAME_TOO_LONG'
  | 'GUARD_REFUSED'
  | 'DUMP_INVALID'
  | 'DUMP_FAILED'
  | 'DUMP_CORRUPT'
  | 'KEY_PINNED'
  | 'RESTORE_FAILED'
  | 'DATABASE_NOT_FOUND'
  | 'DATABASE_BUSY'
  | 'LOCKED'
  | 'POSTGRES'
  | 'TOOL_MISSING'
  | 'TOOL_VERSION'
  | 'HOOK_FAILED'
  | 'ADAPTER'
  | 'STORAGE'
  | 'STORAGE_DENIED'
  | 'INTERRUPTED';

const BRAND = Symbol.for('pgclone.error');

/**
 * The base class of every error pgclone throws on purpose. `instanceof PgcloneError` also holds for errors of another
 * copy of this module in the same process: the CLI runs from one bundled file, and a config file or hook that imports
 * `pgclone` loads the package's own copy beside it.
 */
export class PgcloneError extends Error {
  /** A stable, machine-readable code. */
  readonly code: ErrorCode;
  /** The process exit status the CLI uses for this error (1, or 2 for usage errors). */
  readonly exitCode: number;

  static override [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses keep the ordinary check: only the base class is recognised across copies.
    if (this !== PgcloneError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }

  /** @internal */
  get [BRAND](): true {
    return true;
  }

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Bad command-line usage or contradictory options (exit 2). */
export class UsageError extends PgcloneError {
  constructor(message: string) {
    super('USAGE', message, { exitCode: 2 });
  }
}

/** A config file that cannot be read, has an unknown key or a bad value, or names a config that does not exist. */
export class ConfigError extends PgcloneError {}

/** A dump key, prefix or local name that is malformed, reserved or not found. */
export class KeyError extends PgcloneError {}

/** An `allow*` guard or another safety rule refused the operation before anything changed. */
export class GuardError extends PgcloneError {
  constructor(message: string) {
    super('GUARD_REFUSED', message);
  }
}

/** A dump that is missing, empty, truncated or unreadable by the local pg_restore. */
export class DumpError extends PgcloneError {}

/** PostgreSQL (server or client tools) failed. */
export class PostgresError extends PgcloneError {}

/** A hook exited non-zero or threw. */
export class HookError extends PgcloneError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('HOOK_FAILED', message, options);
  }
}

/** The storage backend failed (missing bucket, permission, I/O). */
export class StorageError extends PgcloneError {
  constructor(message: string, options: { cause?: unknown } = {}, code: 'STORAGE' | 'STORAGE_DENIED' = 'STORAGE') {
    super(code, message, options);
  }
}

/**
 * The storage refused an operation the credentials are not allowed (a missing IAM permission), as opposed to a
 * missing bucket, rejected credentials or an unreachable service: what an optional look (for unfinished uploads)
 * may shrug off with a warning.
 */
export class StorageDeniedError extends StorageError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options, 'STORAGE_DENIED');
  }
}

/** An ORM adapter (Knex, Prisma) could not load the project or run its migrations. */
export class AdapterError extends PgcloneError {
  /**
   * What to do instead of `restore :N__temp` when the failure of a pre-swap hook leaves `N__temp` in a state the ORM
   * refuses to go on from (Prisma records a failed migration). Printed when the restore keeps `N__temp`.
   */
  readonly resume?: string;

  constructor(message: string, options: { cause?: unknown; resume?: string } = {}) {
    super('ADAPTER', message, options);
    if (options.resume) this.resume = options.resume;
  }
}

/** True for errors thrown by pgclone on purpose (as opposed to bugs). */
export function isPgcloneError(error: unknown): error is PgcloneError {
  return error instanceof PgcloneError;
}
