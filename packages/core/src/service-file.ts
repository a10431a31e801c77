import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LIBPQ_PARAMETERS, type Connection } from './connection.js';
import { PgcloneError } from './errors.js';
import { homeDir } from './home-dir.js';
import { rememberSecret } from './redact.js';

/**
 * libpq's connection services (`pg_service.conf`): `service=NAME` in a URL, or `PGSERVICE`, names a `[NAME]` section of
 * `key=value` settings. node-pg does not read these files, and libpq ranks a service above the environment variables
 * pgclone passes its tools (`PGHOST`, `PGPORT`, …): left to libpq, `PGSERVICE` in a shell sent pg_dump to the
 * service's server while pgclone's own session went to the URL's. So pgclone reads the service itself, with libpq's
 * order (the URL, then the service, then the environment), and gives its session and its tools the same explicit
 * settings; the tools never see `PGSERVICE` (`libpqEnv` clears it).
 */

/** The sections of a service file: name → settings. Lines are `[name]`, `key=value`, blank, or `#` comments. */
export function parseServiceFile(text: string, file: string): Map<string, Record<string, string>> {
  const services = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = {};
      // libpq reads the first section of a name.
      if (!services.has(section[1]!)) services.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || !current) {
      throw new PgcloneError('CONNECTION_MISSING', `Syntax error in service file ${file}, line ${index + 1}: ${JSON.stringify(line.slice(0, 60))}`);
    }
    current[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return services;
}

/**
 * The files searched for a service, in libpq's order: `$PGSERVICEFILE` (else `~/.pg_service.conf`), then
 * `pg_service.conf` in `$PGSYSCONFDIR` (else Debian's `/etc/postgresql-common`, where its libpq looks).
 */
function serviceFiles(env: NodeJS.ProcessEnv): string[] {
  const files = [env.PGSERVICEFILE || path.join(homeDir(env), '.pg_service.conf'), path.join(env.PGSYSCONFDIR || '/etc/postgresql-common', 'pg_service.conf')];
  return [...new Set(files)];
}

/**
 * `conn` with what its service sets filled in where the connection itself says nothing (libpq's order), and no
 * `service` left in it. Unchanged when it names no service. Throws `CONNECTION_MISSING` for a service that is in no
 * file, and for settings pgclone's own session could not follow (`hostaddr`, several hosts).
 */
export async function applyService(conn: Connection, env: NodeJS.ProcessEnv): Promise<Connection> {
  // The connection's own `service=`, else `$PGSERVICE`.
  const name = conn.params.service || env.PGSERVICE;
  if (!name) return conn;
  const origin = conn.params.service ? `service=${name}` : `PGSERVICE=${name}`;
  const files = serviceFiles(env);
  let settings: Record<string, string> | undefined;
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new PgcloneError('CONNECTION_MISSING', `Cannot read the service file ${file} (for ${origin}): ${(error as Error).message}`);
    }
    settings = parseServiceFile(text, file).get(name);
    if (settings) break;
  }
  if (!settings) {
    throw new PgcloneError('CONNECTION_MISSING', `Connection service ${JSON.stringify(name)} (${origin}) is not defined in ${files.join(' or ')}`);
  }
  for (const key of ['hostaddr', 'service']) {
    if (settings[key] !== undefined) {
      throw new PgcloneError('CONNECTION_MISSING', `Connection service ${JSON.stringify(name)} sets ${key}, which pgclone cannot follow; use host= instead`);
    }
  }
  const host = conn.host ?? settings.host;
  if (host?.includes(',')) {
    throw new PgcloneError('CONNECTION_MISSING', `Connection service ${JSON.stringify(name)} names several hosts (${host}); pgclone connects to one`);
  }
  const port = conn.port ?? (settings.port ? Number(settings.port) : undefined);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new PgcloneError('CONNECTION_MISSING', `Connection service ${JSON.stringify(name)} has an invalid port ${JSON.stringify(settings.port)}`);
  }
  const user = conn.user ?? settings.user;
  const password = conn.password ?? settings.password;
  rememberSecret(password);
  const params: Record<string, string> = {};
  for (const key of LIBPQ_PARAMETERS) {
    if (key === 'service') continue;
    const value = conn.params[key] ?? settings[key];
    if (value !== undefined) params[key] = value;
  }
  return {
    ...(host ? { host } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(user ? { user } : {}),
    ...(password ? { password } : {}),
    database: conn.database,
    params,
  };
}
