import { existsSync } from 'node:fs';
import path from 'node:path';
import { parse as parseConnectionString } from 'pg-connection-string';
import type { ClientConfig } from 'pg';
import { PgcloneError } from './errors.js';
import { homeDir } from './home-dir.js';
import { passfilePath, passwordFromFile } from './passfile.js';
import { hideUserInfo, redact, rememberSecret } from './redact.js';

/**
 * A PostgreSQL connection as pgclone uses it: the parts that locate and authenticate a server, the database name
 * (which pgclone swaps for `N__temp` and friends), and the libpq parameters (ssl and friends) that child processes
 * receive through the environment, never through their arguments.
 */
export interface Connection {
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database: string;
  /** libpq parameters by their connection-string name (`sslmode`, `sslrootcert`, `application_name`, …). */
  params: Record<string, string>;
}

/** A connection given by a user: a URL, or the parts. */
export type ConnectionInput = string | (Partial<Omit<Connection, 'params'>> & { params?: Record<string, string> });

// libpq parameters and the environment variables that carry them to pg_dump, pg_restore, psql and hooks.
const LIBPQ_ENV: Record<string, string> = {
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  sslcrl: 'PGSSLCRL',
  sslcrldir: 'PGSSLCRLDIR',
  sslsni: 'PGSSLSNI',
  sslcompression: 'PGSSLCOMPRESSION',
  ssl_min_protocol_version: 'PGSSLMINPROTOCOLVERSION',
  ssl_max_protocol_version: 'PGSSLMAXPROTOCOLVERSION',
  sslnegotiation: 'PGSSLNEGOTIATION',
  gssencmode: 'PGGSSENCMODE',
  channel_binding: 'PGCHANNELBINDING',
  requirepeer: 'PGREQUIREPEER',
  require_auth: 'PGREQUIREAUTH',
  krbsrvname: 'PGKRBSRVNAME',
  application_name: 'PGAPPNAME',
  options: 'PGOPTIONS',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  target_session_attrs: 'PGTARGETSESSIONATTRS',
  service: 'PGSERVICE',
  passfile: 'PGPASSFILE',
};

/** The libpq parameters pgclone understands in connection URLs. */
export const LIBPQ_PARAMETERS: readonly string[] = Object.keys(LIBPQ_ENV);

/** Parses a connection URL (`postgres://user:PASSWORD@host:port/db?sslmode=require`) or normalises connection parts. */
export function parseConnection(input: ConnectionInput, what = 'database URL'): Connection {
  if (typeof input !== 'string') {
    const conn: Connection = {
      ...(input.host ? { host: input.host } : {}),
      ...(input.port ? { port: Number(input.port) } : {}),
      ...(input.user ? { user: input.user } : {}),
      ...(input.password ? { password: input.password } : {}),
      database: input.database ?? '',
      params: { ...(input.params ?? {}) },
    };
    rememberSecret(conn.password);
    if (!conn.database) throw new PgcloneError('CONNECTION_MISSING', `The ${what} names no database`);
    assertConnectTimeout(conn.params.connect_timeout, what);
    return conn;
  }
  if (!/^postgres(ql)?:\/\//i.test(input.trim())) {
    throw new PgcloneError(
      'CONNECTION_MISSING',
      `The ${what} ${JSON.stringify(shownInput(input))} is not a postgres:// or postgresql:// URL`,
    );
  }
  let parsed: ReturnType<typeof parseConnectionString>;
  try {
    // libpq semantics (as pgClientConfig uses them); the default mode prints a warning for sslmode=require.
    parsed = parseConnectionString(input.trim(), { useLibpqCompat: true });
  } catch (error) {
    throw new PgcloneError('CONNECTION_MISSING', `The ${what} ${shownInput(input)} cannot be parsed: ${firstSentence(error)}`, { cause: error });
  }
  rememberSecret(parsed.password);
  const params: Record<string, string> = {};
  // The query is read here: an http-style URL parser rejects an empty host (`user:pw@/db?host=/socket`).
  for (const [name, value] of new URLSearchParams(URL_QUERY.exec(input.trim())?.[1] ?? '')) {
    if (name in LIBPQ_ENV) params[name] = value;
    // Left out, it would send pgclone to the host while libpq (pg_dump, hooks) went to the address.
    if (name === 'hostaddr') throw new PgcloneError('CONNECTION_MISSING', `The ${what} sets hostaddr, which pgclone cannot follow; give the address as the URL's host`);
  }
  assertSslmode(params.sslmode, what);
  assertConnectTimeout(params.connect_timeout, what);
  // node-pg reads a port that is no number as its default (5432): the error would name another server.
  if (parsed.port && !(/^\d+$/.test(parsed.port) && Number(parsed.port) >= 1 && Number(parsed.port) <= 65535)) {
    throw new PgcloneError('CONNECTION_MISSING', `The ${what} has port=${JSON.stringify(redact(String(parsed.port)))}: expected a port number (1-65535)`);
  }
  const database = rawDatabaseOf(input.trim()) ?? parsed.database ?? '';
  if (!database) throw new PgcloneError('CONNECTION_MISSING', `The ${what} ${shownInput(input)} names no database`);
  return {
    ...(parsed.host ? { host: parsed.host } : {}),
    ...(parsed.port ? { port: Number(parsed.port) } : {}),
    ...(parsed.user ? { user: parsed.user } : {}),
    ...(parsed.password ? { password: parsed.password } : {}),
    database,
    params,
  };
}

const URL_QUERY = /^[^?#]*\?([^#]*)/;

/**
 * A URL pgclone refuses, for its error message. The URL patterns of redact() miss the password of a mangled URL (no
 * `scheme://`, an unencoded `@` or space in it), and nothing has remembered it yet: whatever precedes the last `@` is
 * masked. The query is left out: it may hold other credentials (a Prisma Accelerate URL's `api_key=`).
 */
function shownInput(input: string): string {
  const text = hideUserInfo(input.trim().replace(/[?#].*$/s, ''));
  return redact(text.length > 80 ? `${text.slice(0, 79)}…` : text);
}

/** libpq's `sslmode` values, and node-pg's `no-verify` (libpq's `require`). */
const SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'];

/** A misspelt `sslmode` would otherwise surface as whatever the TLS handshake made of it. */
function assertSslmode(sslmode: string | undefined, what: string): void {
  if (sslmode !== undefined && !SSLMODES.includes(sslmode)) {
    throw new PgcloneError('CONNECTION_MISSING', `The ${what} has sslmode=${JSON.stringify(sslmode)}: expected one of ${SSLMODES.join(', ')}`);
  }
}

/**
 * libpq's `connect_timeout` is a whole number of seconds (zero or less: no limit). Anything else was first read by
 * pg_dump, which failed once the dump had started, while pgclone's own session read it as no limit.
 */
function isConnectTimeout(value: string): boolean {
  return /^-?\d+$/.test(value) && Math.abs(Number(value)) <= 2 ** 31 - 1;
}

function assertConnectTimeout(value: string | undefined, what: string): void {
  if (value !== undefined && !isConnectTimeout(value)) {
    throw new PgcloneError('CONNECTION_MISSING', `The ${what} has connect_timeout=${JSON.stringify(redact(value))}: expected a whole number of seconds`);
  }
}

/** The first sentence of a parser's error (pg-connection-string's security warnings run on for a paragraph). */
function firstSentence(error: unknown): string {
  return redact(String((error as Error)?.message ?? error).replace(/^SECURITY WARNING: /, '').split(/\.\s/)[0]!.replace(/\.$/, ''));
}

/**
 * The database name of a URL, percent-decoded the way libpq does it (pg-connection-string uses `decodeURI`, which
 * leaves `%3B`, `%24`, `%2F`, `%3F`, `%23` and friends encoded).
 */
function rawDatabaseOf(url: string): string | undefined {
  const m = /^postgres(?:ql)?:\/\/[^/?#]*\/([^?#]*)/i.exec(url);
  if (!m || !m[1]) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
}

/** The same server and credentials, another database. */
export function withDatabase(conn: Connection, database: string): Connection {
  return { ...conn, database };
}

/**
 * Environment variables that make libpq clients (pg_dump, pg_restore, psql, hooks) connect to `conn` without any
 * argument carrying a secret. What the connection leaves out (a URL without a password, port, user or host) stays as
 * the `parent` environment's `PGPASSWORD`, `PGPORT`, `PGUSER`, `PGHOST` have it, and with no host anywhere it is
 * `localhost`: that is what pgclone's own sessions (node-pg) do, so the tools reach the same server with the same
 * credentials (libpq alone would take its Unix socket). `PGHOSTADDR`, which node-pg ignores, is cleared, and so is
 * `PGSERVICE`: a service is already read into `conn` ({@link applyService} in `service-file.ts`). TLS as
 * {@link pgClientConfig} has it: node-pg's `no-verify` is libpq's `require`, and a verifying mode without a root
 * certificate trusts the system's CAs, as Node does (libpq would look for `~/.postgresql/root.crt` only).
 */
export function libpqEnv(conn: Connection, parent: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const host = conn.host ?? (parent.PGHOST ? undefined : 'localhost');
  rememberSecret(conn.password ?? parent.PGPASSWORD); // what a hook prints of it is masked, as a URL's password is
  const env: Record<string, string | undefined> = {
    ...(host !== undefined ? { PGHOST: host } : {}),
    PGHOSTADDR: undefined,
    // A service is read by pgclone (`applyService`), which passes its settings explicitly: left to libpq, it would
    // outrank PGHOST/PGPORT/PGUSER, and the tools could reach another server than pgclone's own session.
    PGSERVICE: undefined,
    ...(conn.port !== undefined ? { PGPORT: String(conn.port) } : {}),
    ...(conn.user !== undefined ? { PGUSER: conn.user } : {}),
    ...(conn.password !== undefined ? { PGPASSWORD: conn.password } : {}),
    PGDATABASE: conn.database,
  };
  for (const [param, variable] of Object.entries(LIBPQ_ENV)) {
    if (param !== 'service' && conn.params[param] !== undefined) env[variable] = conn.params[param];
  }
  const tls = tlsSettings(conn, parent);
  if (tls.sslmode) env.PGSSLMODE = tls.sslmode;
  if (!tls.sslrootcert && (tls.sslmode === 'verify-ca' || tls.sslmode === 'verify-full')) {
    const bundle = existsSync(path.join(homeDir(parent), '.postgresql', 'root.crt')) ? undefined : systemCaBundle();
    if (bundle) env.PGSSLROOTCERT = bundle;
  }
  return env;
}

/** Where operating systems keep the root certificates Node trusts by default (libpq needs a file). */
const SYSTEM_CA_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/ssl/cert.pem',
  '/opt/homebrew/etc/openssl@3/cert.pem',
  '/usr/local/etc/openssl@3/cert.pem',
];

/** The system's CA bundle, for libpq to verify a server as Node does; `undefined` when none is found. */
export function systemCaBundle(): string | undefined {
  return SYSTEM_CA_BUNDLES.find((f) => existsSync(f));
}

const TLS_PARAMETERS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey'] as const;

/** The `sslmode` in force for `conn` (its own, else `PGSSLMODE`), in libpq's words; `undefined` for libpq's default. */
export function sslmodeOf(conn: Connection, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return tlsSettings(conn, env).sslmode;
}

/**
 * The TLS parameters in force for `conn`: its own, else the environment's (`PGSSLMODE`, `PGSSLROOTCERT`, …), as libpq
 * reads them. `sslmode=no-verify` (node-pg's name for an encrypted, unverified connection) is libpq's `require`: libpq
 * refuses the name, and node-pg given libpq's meanings would verify the certificate.
 */
function tlsSettings(conn: Connection, env: NodeJS.ProcessEnv): Partial<Record<(typeof TLS_PARAMETERS)[number], string>> {
  const settings: Partial<Record<(typeof TLS_PARAMETERS)[number], string>> = {};
  // The environment's certificate files only with a mode: node-pg would otherwise read one alone as "verify" where
  // libpq's default ("prefer") also connects to a server without TLS.
  const moded = Boolean(conn.params.sslmode ?? env.PGSSLMODE);
  for (const param of TLS_PARAMETERS) {
    const value = conn.params[param] ?? (moded ? env[LIBPQ_ENV[param]!] : undefined);
    if (value) settings[param] = param === 'sslmode' && value === 'no-verify' ? 'require' : value;
  }
  return settings;
}

/** Merges `overrides` into `base`, deleting keys whose override is `undefined`. */
export function mergeEnv(
  base: NodeJS.ProcessEnv,
  overrides: Record<string, string | undefined>,
): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** A full URL, password included: only ever handed to hooks through their environment. */
export function connectionUrl(conn: Connection): string {
  const auth = conn.user
    ? `${encodeURIComponent(conn.user)}${conn.password ? `:${encodeURIComponent(conn.password)}` : ''}@`
    : '';
  const socket = conn.host?.startsWith('/');
  const host = conn.host && !socket ? (conn.host.includes(':') ? `[${conn.host}]` : conn.host) : '';
  const port = conn.port && !socket ? `:${conn.port}` : '';
  const query = new URLSearchParams();
  if (socket && conn.host) query.set('host', conn.host);
  if (socket && conn.port) query.set('port', String(conn.port));
  for (const [k, v] of Object.entries(conn.params)) query.set(k, v);
  const qs = query.toString();
  return `postgresql://${auth}${host}${port}/${encodeURIComponent(conn.database)}${qs ? `?${qs}` : ''}`;
}

/** The URL with its password masked, for messages. */
export function displayUrl(conn: Connection): string {
  return redact(connectionUrl({ ...conn, ...(conn.password ? { password: '***' } : {}) }));
}

/**
 * Options for a `pg` client, with libpq's meaning of `sslmode` (node-pg's own reads `require` as `verify-full`), from the
 * connection or, as libpq takes them, from `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY` in `env`: pgclone's
 * sessions and the tools it starts connect alike.
 */
export function pgClientConfig(
  conn: Connection,
  env: NodeJS.ProcessEnv = process.env,
  passfileIgnored: (reason: string) => void = () => {},
): ClientConfig {
  // What the connection leaves out comes from `env`, as node-pg would take it from process.env (an API caller's
  // `env` option reaches the tools through libpqEnv, and must reach this session too); then node-pg's defaults, and
  // libpq's password file.
  assertConnectionEnv(conn, env);
  const host = conn.host ?? env.PGHOST;
  const port = conn.port ?? (env.PGPORT ? envPort(env.PGPORT) : undefined);
  const user = conn.user ?? env.PGUSER;
  const password = conn.password ?? env.PGPASSWORD;
  rememberSecret(password); // masked in every message, as a URL's password is
  const config: ClientConfig = {
    database: conn.database,
    ...(host ? { host } : {}),
    ...(port ? { port } : {}),
    ...(user ? { user } : {}),
    // Without one, the password file libpq would read (src/passfile.ts), asked only if the server wants a password.
    password: password ?? ((() => passwordFromFile(passfilePath(conn, env), { host, port, database: conn.database, user }, passfileIgnored)) as () => Promise<string>),
    application_name: conn.params.application_name ?? 'pgclone',
  };
  // libpq's allow and prefer differ only in which kind of connection is tried first (see pg/connect.ts): TLS, when
  // tried, is unverified in both.
  const tls = Object.entries(tlsSettings(conn, env)).map(([k, v]) => [k, k === 'sslmode' && v === 'allow' ? 'prefer' : v] as const);
  if (tls.length > 0) {
    const query = tls.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    let parsed: ReturnType<typeof parseConnectionString>;
    try {
      parsed = parseConnectionString(`postgres://h/db?${query}`, { useLibpqCompat: true });
    } catch (error) {
      // verify-ca without a root certificate, or one that cannot be read.
      throw new PgcloneError('CONNECTION_MISSING', `Cannot use the TLS settings ${redact(tls.map(([k, v]) => `${k}=${v}`).join(' '))}: ${firstSentence(error)}`, { cause: error });
    }
    if (parsed.ssl !== undefined) config.ssl = parsed.ssl as ClientConfig['ssl'];
  }
  if (conn.params.connect_timeout) config.connectionTimeoutMillis = Number(conn.params.connect_timeout) * 1000;
  return config;
}

/**
 * Refuses the `PGPORT`, `PGSSLMODE` and `PGCONNECT_TIMEOUT` that `conn` would take from `env` when they are no port,
 * sslmode or whole number of seconds. Called when the connection is resolved, as a bad URL parameter is refused by
 * {@link parseConnection}: read only as the session connected, they failed after the first step had been printed.
 */
export function assertConnectionEnv(conn: Connection, env: NodeJS.ProcessEnv): void {
  if (conn.port === undefined && env.PGPORT) envPort(env.PGPORT);
  if (conn.params.sslmode === undefined && env.PGSSLMODE && !SSLMODES.includes(env.PGSSLMODE)) {
    throw new PgcloneError('CONNECTION_MISSING', `PGSSLMODE ${JSON.stringify(env.PGSSLMODE)} is not an sslmode: expected one of ${SSLMODES.join(', ')}`);
  }
  if (conn.params.connect_timeout === undefined && env.PGCONNECT_TIMEOUT !== undefined && !isConnectTimeout(env.PGCONNECT_TIMEOUT)) {
    throw new PgcloneError('CONNECTION_MISSING', `PGCONNECT_TIMEOUT ${JSON.stringify(redact(env.PGCONNECT_TIMEOUT))} is not a whole number of seconds`);
  }
}

/**
 * `PGPORT` as a port number. node-pg given NaN or an out-of-range port never settles its connect: the CLI ran out of
 * work and exited 0 without a word.
 */
function envPort(text: string): number {
  const port = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new PgcloneError('CONNECTION_MISSING', `PGPORT ${JSON.stringify(redact(text))} is not a port number (1-65535)`);
  return port;
}

/**
 * Whether `conn` reaches a server on this machine: a Unix socket, `localhost`, or a loopback address (a container
 * publishing its port on localhost counts: it shares, or is given fewer of, this machine's cores, though its files
 * may not be where they are for the server). `PGHOST` stands in for a connection that names no host, as it does for
 * libpq.
 */
export function serverOnThisMachine(conn: Pick<Connection, 'host'>, env: NodeJS.ProcessEnv = process.env): boolean {
  const hosts = (conn.host ?? env.PGHOST ?? 'localhost').split(',');
  return hosts.every((host) => {
    const h = host.trim().toLowerCase();
    return h === '' || h.startsWith('/') || h.startsWith('@') || h === 'localhost' || h === '::1' || h === '[::1]' || /^127(\.\d{1,3}){3}$/.test(h);
  });
}
