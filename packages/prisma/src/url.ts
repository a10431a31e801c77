import path from 'node:path';
import { AdapterError, hideUserInfo, LIBPQ_PARAMETERS, redact, rememberSecret, type Connection } from '@pgclone/core';

/** A connection for libpq tools: `@pgclone/core`'s parts (not a URL, so nothing is re-encoded). */
export type LibpqConnection = Connection;

/** What a Prisma connection URL means to pg_dump, pg_restore and psql. */
export interface TranslatedUrl {
  connection: LibpqConnection;
  /** The PostgreSQL schema Prisma works in (`schema=`), if the URL names one. */
  schema?: string;
  /** Prisma-only parameters that were dropped (pool sizes, timeouts, `pgbouncer`), for messages. */
  dropped: string[];
}

/**
 * Prisma parameters with no libpq meaning: connection pool and driver settings. They are dropped, since libpq tools
 * refuse unknown URL parameters (`psql: invalid URI query parameter`).
 */
export const PRISMA_ONLY_PARAMETERS: readonly string[] = [
  'connection_limit',
  'pool_timeout',
  'socket_timeout',
  'pgbouncer',
  'statement_cache_size',
  'max_connection_lifetime',
  'max_idle_connection_lifetime',
  'sslaccept',
];

// Certificate paths in Prisma URLs are relative to the schema file that holds the datasource.
const PATH_PARAMETERS = ['sslcert', 'sslkey', 'sslrootcert', 'sslcrl'];

/** The URL's scheme when it is not a plain PostgreSQL URL (`prisma://`, `prisma+postgres://`, `mysql://`, …). */
function foreignScheme(url: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url.trim())?.[1]?.toLowerCase();
  return scheme === 'postgresql' || scheme === 'postgres' ? undefined : (scheme ?? '(none)');
}

/**
 * `-c search_path=…` for libpq's `options`: the schema is double-quoted for PostgreSQL (Prisma's `schema=` is an
 * exact, case-sensitive name) and spaces and backslashes are escaped for libpq's option splitting.
 */
export function searchPathOption(schema: string): string {
  const quoted = `"${schema.replace(/"/g, '""')}"`;
  return `-c search_path=${quoted.replace(/[\\\s]/g, (c) => `\\${c}`)}`;
}

/**
 * Translates a Prisma connection URL for libpq tools.
 *
 * - libpq parameters (`sslmode`, `sslrootcert`, `application_name`, `options`, …) are kept; certificate paths are made
 *   absolute against `baseDir` (Prisma resolves them from the schema's directory).
 * - `schema=NAME` becomes `options=-c search_path="NAME"`, so psql and shell hooks see Prisma's tables unqualified.
 *   pg_dump and pg_restore always work on the whole database (every schema): the database is what pgclone swaps.
 * - `sslaccept=strict` with `sslmode=require` becomes `sslmode=verify-full` (Prisma then checks the certificate).
 * - Pool and driver settings (`connection_limit`, `pgbouncer`, `pool_timeout`, …) are dropped.
 * - `sslidentity`/`sslpassword` (a PKCS#12 client certificate) have no libpq equivalent: an error says what to do.
 */
export function translatePrismaUrl(url: string, options: { where: string; baseDir: string }): TranslatedUrl {
  const scheme = foreignScheme(url);
  if (scheme) {
    const hint = scheme.startsWith('prisma')
      ? ' (a Prisma Accelerate/Prisma Postgres URL: give pgclone the direct postgresql:// URL, e.g. with directUrl or databases.default in the pgclone config)'
      : '';
    throw new AdapterError(`The database URL from ${options.where} is a ${scheme}:// URL, not postgresql://${hint}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    // No cause: the URL parser's TypeError carries the whole URL, password included, as its `input`.
    // hideUserInfo: redact()'s URL pattern stops at the first `@`, and a password with an unencoded one goes on after it.
    throw new AdapterError(`The database URL from ${options.where} cannot be parsed: ${redact(hideUserInfo(url))}`);
  }
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const password = parsed.password ? decode(parsed.password) : undefined;
  rememberSecret(password);
  const query = parsed.searchParams;
  const params: Record<string, string> = {};
  const dropped: string[] = [];
  let schema: string | undefined;
  let socketDir: string | undefined;
  for (const [name, value] of query) {
    if (name === 'sslpassword') rememberSecret(value);
    if (name === 'schema') schema = value;
    else if (name === 'host') socketDir = value;
    else if (name === 'sslidentity' || name === 'sslpassword') {
      throw new AdapterError(
        `The database URL from ${options.where} uses ${name} (a PKCS#12 client certificate), which pg_dump and psql cannot read: ` +
          'configure databases.default in the pgclone config with sslcert and sslkey (PEM files) instead',
      );
    } else if (LIBPQ_PARAMETERS.includes(name)) {
      params[name] = PATH_PARAMETERS.includes(name) && value ? path.resolve(options.baseDir, value) : value;
    } else dropped.push(name);
  }
  if (query.get('sslaccept') === 'strict' && params.sslmode === 'require') params.sslmode = 'verify-full';
  if (schema) {
    const option = searchPathOption(schema);
    params.options = params.options && !/search_path/.test(params.options) ? `${params.options} ${option}` : (params.options ?? option);
  }
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const host = socketDir ?? (hostname || undefined);
  return {
    connection: {
      ...(host ? { host } : {}),
      ...(parsed.port ? { port: Number(parsed.port) } : {}),
      ...(parsed.username ? { user: decode(parsed.username) } : {}),
      ...(password !== undefined ? { password } : {}),
      database: decode(parsed.pathname.replace(/^\//, '')),
      params,
    },
    ...(schema !== undefined ? { schema } : {}),
    dropped,
  };
}

/**
 * The same Prisma URL with another database name, everything else (credentials, `schema=`, ssl and pool settings)
 * left exactly as the project wrote it, so Prisma connects to `database` the way it connects to the live one.
 */
export function withPrismaDatabase(url: string, database: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)(?:\/[^?#]*)?(.*)$/is.exec(url.trim());
  if (!match) throw new AdapterError(`Cannot parse the database URL ${redact(hideUserInfo(url))}`);
  return `${match[1]}/${encodeURIComponent(database)}${match[2]}`;
}
