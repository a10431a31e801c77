import { KeyError } from './errors.js';

/**
 * Names of the databases pgclone creates beside a target database `N`. Any name ending in `__<suffix>` for a
 * suffix below is pgclone's own: users cannot copy into it, and `ls --local` shows it as what it is.
 */
export const RESERVED_SUFFIXES = ['temp', 'swap', 'pre', 'post', 'stage', 'spare'] as const;

/** One of {@link RESERVED_SUFFIXES}. */
export type ReservedSuffix = (typeof RESERVED_SUFFIXES)[number];

/** PostgreSQL truncates identifiers to 63 bytes; pgclone refuses names that would be truncated. */
export const MAX_IDENTIFIER_BYTES = 63;

/** System databases: never restored into, copied over, listed as local keys or dropped. */
export const SYSTEM_DATABASES: readonly string[] = ['postgres', 'template0', 'template1'];

/**
 * Checks a database name (from a URL, a `:name` key or `copy`) before it reaches SQL or a child process:
 * non-empty, no control characters, at most 63 bytes. Other characters are allowed and always quoted.
 */
export function assertDatabaseName(name: string, what = 'database name'): void {
  const show = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
  if (name.length === 0) throw new KeyError('NAME_INVALID', `Invalid ${what}: it is empty`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    throw new KeyError('NAME_INVALID', `Invalid ${what} ${show}: it contains a control character`);
  }
  if (hasLoneSurrogate(name)) {
    throw new KeyError('NAME_INVALID', `Invalid ${what} ${show}: it is not valid Unicode (a lone surrogate)`);
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new KeyError(
      'NAME_TOO_LONG',
      `Invalid ${what} ${show}: longer than ${MAX_IDENTIFIER_BYTES} bytes (PostgreSQL would truncate it)`,
    );
  }
}

/** `N__suffix`, refusing names PostgreSQL would truncate. */
export function derivedName(database: string, suffix: ReservedSuffix | (string & {})): string {
  const name = `${database}__${suffix}`;
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new KeyError(
      'NAME_TOO_LONG',
      `Database name ${JSON.stringify(database)} is too long for pgclone: ${JSON.stringify(name)} would exceed ` +
        `${MAX_IDENTIFIER_BYTES} bytes`,
    );
  }
  return name;
}

/**
 * True when every working name of `database` fits in 63 bytes. A database with a longer name (it may have up to 63
 * bytes itself) can be copied or restored from, but never restored into, so none of pgclone's working databases
 * can be around it.
 */
export function fitsWorkingNames(database: string): boolean {
  return RESERVED_SUFFIXES.every((suffix) => Buffer.byteLength(`${database}__${suffix}`, 'utf8') <= MAX_IDENTIFIER_BYTES);
}

/** The working names of a restore into `N`. */
export interface RestoreNames {
  live: string;
  temp: string;
  swap: string;
  pre: string;
  post: string;
  /** Where the `:post` snapshot waits until the swap succeeded. */
  stage: string;
}

/** All working names for target `database`; throws when any would exceed 63 bytes. */
export function restoreNames(database: string): RestoreNames {
  return {
    live: database,
    temp: derivedName(database, 'temp'),
    swap: derivedName(database, 'swap'),
    pre: derivedName(database, 'pre'),
    post: derivedName(database, 'post'),
    stage: derivedName(database, 'stage'),
  };
}

/** `N__spare`: a ready copy of a snapshot that the next fast reset of N renames into place (`ops/reset.ts`). */
export function spareName(database: string): string {
  return derivedName(database, 'spare');
}

/** The reserved suffix of `name` (`app__pre` → `pre`), if any. */
export function reservedSuffixOf(name: string): ReservedSuffix | undefined {
  const m = /__([a-z]+)$/.exec(name);
  const suffix = m?.[1] as ReservedSuffix | undefined;
  return suffix && (RESERVED_SUFFIXES as readonly string[]).includes(suffix) ? suffix : undefined;
}

/** The database `name` belongs to, when it is one of pgclone's working names (`app__temp` → `app`). */
export function ownerOfDerivedName(name: string): string | undefined {
  const suffix = reservedSuffixOf(name);
  return suffix ? name.slice(0, -(suffix.length + 2)) : undefined;
}

/** True when `text` has a UTF-16 surrogate without its pair (it cannot be encoded as UTF-8 without changing it). */
export function hasLoneSurrogate(text: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}
