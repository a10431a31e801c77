import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AdapterError, LIBPQ_PARAMETERS, systemCaBundle, type ConnectionInput } from '@pgclone/core';
import { parse as parsePgUrl } from 'pg-connection-string';
import { firstLine } from './knexfile.js';

/** pg's connection object, as far as pgclone reads it. */
interface PgConnectionObject {
  connectionString?: unknown;
  host?: unknown;
  port?: unknown;
  user?: unknown;
  password?: unknown;
  database?: unknown;
  ssl?: unknown;
  application_name?: unknown;
  options?: unknown;
  connectionTimeoutMillis?: unknown;
}

/**
 * Evaluates a knexfile `connection`: a function (possibly async, as Knex allows for rotating credentials) is called;
 * the result is a URL string, pg's connection object, or `undefined` (pg then uses the `PG*` variables).
 */
export async function evaluateConnection(connection: unknown, where: string): Promise<string | Record<string, unknown> | undefined> {
  let value = connection;
  if (typeof value === 'function') {
    try {
      value = await (value as () => unknown)();
    } catch (error) {
      throw new AdapterError(`The connection function in ${where} failed: ${firstLine(error)}`, { cause: error });
    }
  }
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new AdapterError(`The connection in ${where} is ${typeof value}; expected a URL, an object or a function returning one`);
}

/**
 * The knexfile's connection as pgclone's {@link ConnectionInput}: a URL string is passed on as is (its libpq
 * parameters such as `sslmode` are kept); an object is read as node-postgres reads it (a `connectionString` replaces
 * host, port, user, password and database; missing parts come from `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
 * `PGDATABASE`, then pg's defaults), and its `ssl`
 * options become libpq parameters (see {@link sslParams}) for pg_dump, pg_restore and psql.
 */
export async function connectionInput(
  value: string | Record<string, unknown> | undefined,
  env: NodeJS.ProcessEnv,
  where: string,
): Promise<ConnectionInput | undefined> {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  const obj = value as PgConnectionObject;
  const params: Record<string, string> = {};
  // Knex hides the password of a connection object it was given (non-enumerable), so it is read by name.
  const parts: PgConnectionObject = { ...obj, password: obj.password };
  if (typeof obj.connectionString === 'string' && obj.connectionString) {
    let parsed: ReturnType<typeof parsePgUrl>;
    try {
      parsed = parsePgUrl(obj.connectionString);
    } catch {
      throw new AdapterError(`The connectionString in ${where} cannot be parsed`);
    }
    // As pg does: the URL's parts replace the object's, even when the URL lacks them (then PG* and defaults apply).
    for (const key of ['host', 'port', 'user', 'password', 'database'] as const) {
      parts[key] = (parsed as Record<string, unknown>)[key];
    }
    const query = queryParams(obj.connectionString);
    for (const name of LIBPQ_PARAMETERS) if (query.has(name)) params[name] = query.get(name)!;
  }
  let password = parts.password;
  if (typeof password === 'function') {
    try {
      password = await (password as () => unknown)();
    } catch (error) {
      throw new AdapterError(`The password function in ${where} failed: ${firstLine(error)}`, { cause: error });
    }
  }
  const user = str(parts.user) ?? env.PGUSER ?? (process.platform === 'win32' ? env.USERNAME : env.USER);
  if (params.sslmode === undefined) Object.assign(params, sslParams(obj.ssl));
  if (typeof obj.application_name === 'string') params.application_name ??= obj.application_name;
  if (typeof obj.options === 'string') params.options ??= obj.options;
  if (typeof obj.connectionTimeoutMillis === 'number' && obj.connectionTimeoutMillis > 0) {
    params.connect_timeout ??= String(Math.max(2, Math.ceil(obj.connectionTimeoutMillis / 1000)));
  }
  const port = str(parts.port) ?? env.PGPORT ?? '5432';
  const input: ConnectionInput = {
    host: str(parts.host) ?? env.PGHOST ?? 'localhost',
    port: Number(port),
    ...(user ? { user } : {}),
    ...(str(password) ?? env.PGPASSWORD ? { password: (str(password) ?? env.PGPASSWORD)! } : {}),
    database: str(parts.database) ?? env.PGDATABASE ?? user ?? '',
    params,
  };
  if (!Number.isInteger(input.port)) throw new AdapterError(`The connection in ${where} has port ${JSON.stringify(port)}, not a number`);
  return input;
}

function str(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function queryParams(url: string): URLSearchParams {
  try {
    return new URL(url.replace(/^[a-z][a-z0-9+.-]*:/i, 'http:')).searchParams;
  } catch {
    return new URLSearchParams();
  }
}

/**
 * node-postgres `ssl` options → libpq parameters with the same security:
 * - `false` → `sslmode=disable`; `true` or an object → `verify-full` (Node verifies the certificate and host name),
 *   with `rejectUnauthorized: false` → `require` (encrypted, unverified), with a `checkServerIdentity` function →
 *   `verify-ca` (custom host checks cannot be expressed to libpq);
 * - `ca`, `cert`, `key` given as contents → written to private temporary files (mode 0600, removed at exit) and
 *   passed as `sslrootcert`, `sslcert`, `sslkey`;
 * - verification without `ca` uses the system's CA bundle (Node's default trust), when one is found.
 * A libpq `sslmode` in a `connectionString` wins over all of this.
 */
export function sslParams(ssl: unknown): Record<string, string> {
  if (ssl === undefined || ssl === null) return {};
  if (ssl === false) return { sslmode: 'disable' };
  if (typeof ssl === 'string' && ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(ssl)) {
    return { sslmode: ssl };
  }
  const options = (typeof ssl === 'object' ? ssl : {}) as {
    rejectUnauthorized?: unknown;
    checkServerIdentity?: unknown;
    ca?: unknown;
    cert?: unknown;
    key?: unknown;
  };
  const params: Record<string, string> = {};
  const verify = options.rejectUnauthorized !== false;
  params.sslmode = !verify ? 'require' : typeof options.checkServerIdentity === 'function' ? 'verify-ca' : 'verify-full';
  if (verify) {
    const ca = pem(options.ca);
    if (ca) params.sslrootcert = privateFile('root.crt', ca);
    else {
      const bundle = systemCaBundle();
      if (bundle) params.sslrootcert = bundle;
    }
  }
  const cert = pem(options.cert);
  if (cert) params.sslcert = privateFile('client.crt', cert);
  const key = pem(options.key);
  if (key) params.sslkey = privateFile('client.key', key);
  return params;
}

/** PEM text from pg's `ca`/`cert`/`key`: a string, a Buffer, `{ pem }`, or an array of those. */
function pem(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (Array.isArray(value)) {
    const all = value.map(pem).filter((v): v is string => !!v);
    return all.length ? all.join('\n') : undefined;
  }
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'object' && 'pem' in value) return pem((value as { pem: unknown }).pem);
  return undefined;
}

let sslDir: string | undefined;
let fileCount = 0;

/** Writes `contents` to a file only this user can read, in a directory removed when the process exits. */
function privateFile(name: string, contents: string): string {
  if (!sslDir || !existsSync(sslDir)) {
    sslDir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-knex-ssl-'));
    chmodSync(sslDir, 0o700);
    const dir = sslDir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const file = path.join(sslDir, `${++fileCount}-${name}`);
  writeFileSync(file, contents.endsWith('\n') ? contents : `${contents}\n`, { mode: 0o600 });
  return file;
}
