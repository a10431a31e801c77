import pg from 'pg';
import { displayUrl, withDatabase, type Connection } from '../connection.js';
import { PgcloneError, PostgresError } from '../errors.js';
import { whenAborted } from '../interrupt.js';
import { SYSTEM_DATABASES } from '../names.js';
import { ownerState, ownerTag, parseOwnerTag } from '../owner.js';
import { redact } from '../redact.js';
import { connectClient } from './connect.js';
import { createDatabaseOptions, PROPERTIES_QUERY, propertiesFromRow, type CreateOptions, type DatabaseProperties, type PropertiesRow } from './database-properties.js';
import { quoteIdent, quoteLiteral } from './ident.js';
import { settingClause } from './settings.js';

/** A database as `ls --local` and the planners see it. */
export interface DatabaseInfo {
  name: string;
  allowConnections: boolean;
  isTemplate: boolean;
}

/** A session that pgclone could not end. */
export interface RemainingSession {
  pid: number;
  user: string | null;
  applicationName: string;
  backendType: string;
  /** Whether pgclone's role may end it (same role, a role it is a member of, pg_signal_backend, or superuser). */
  terminable: boolean;
}

/** A session holding one of pgclone's advisory locks. */
export interface LockHolder {
  pid: number;
  applicationName: string;
  user: string | null;
  /** The pgclone process behind it, from its application name. */
  owner?: { pid: number; host: string };
  /** `dead`: a pgclone process on this host that no longer runs, whose session PostgreSQL has not ended yet. */
  ownerState: 'alive' | 'dead' | 'unknown';
}

/** Timeouts applied to pgclone's own statements (never to pg_dump, pg_restore or template copies). */
export interface AdminTimeouts {
  /** ms; also how long to wait for the advisory lock and for sessions to end. */
  lockTimeout: number;
  statementTimeout?: number;
}

const ADVISORY_NAMESPACE = 'pgclone';
const POLL_MS = 50;

/**
 * One `pg` session on the maintenance database (`postgres`, or `template1` when the target is `postgres`): creates,
 * drops, renames, blocks and unblocks databases, ends sessions and holds the advisory locks. Every name is quoted by
 * {@link quoteIdent}; every value is a bind parameter.
 */
/** Tries at allowing connections again after exclusive access, each waiting up to lock_timeout. */
const ALLOW_AGAIN_ATTEMPTS = 3;

export class Admin {
  readonly #client: pg.Client;
  readonly #timeouts: AdminTimeouts;
  readonly #locks: string[] = [];
  /** Receives what the admin session noticed or repaired on its own (waiting for sessions, a stale lock). */
  notify: (message: string) => void = () => {};
  /** `server_version_num`, e.g. 150018. */
  readonly serverVersion: number;
  /** The user pgclone connects as. */
  readonly user: string;
  /** True when that user is a superuser. */
  readonly superuser: boolean;

  private constructor(client: pg.Client, timeouts: AdminTimeouts, info: { version: number; user: string; superuser: boolean }) {
    this.#client = client;
    this.#timeouts = timeouts;
    this.serverVersion = info.version;
    this.user = info.user;
    this.superuser = info.superuser;
    client.once('end', () => (this.#ended = true));
  }

  #ended = false;

  /** False once the connection has ended: closed, or ended by the server (terminated, restarted, idle_session_timeout). */
  get connected(): boolean {
    return !this.#ended;
  }

  /** Major version of the server (15 for 15.18). */
  get serverMajor(): number {
    return Math.floor(this.serverVersion / 10000);
  }

  /** Connects to the maintenance database of `target`'s server. */
  static async connect(target: Connection, timeouts: AdminTimeouts, env: NodeJS.ProcessEnv = process.env): Promise<Admin> {
    const candidates = target.database === 'postgres' ? ['template1'] : ['postgres', 'template1'];
    let lastError: unknown;
    for (const database of candidates) {
      const conn = withDatabase(target, database);
      let client: pg.Client;
      try {
        // Tagged so that `doctor` and a later run can tell whose lock this session holds.
        client = await connectClient(conn, { application_name: ADMIN_APPLICATION_PREFIX + ownerTag() }, env);
      } catch (error) {
        lastError = error;
        // 3D000: database does not exist; try the next maintenance database.
        if ((error as { code?: string }).code === '3D000') continue;
        throw new PostgresError('POSTGRES', `Cannot connect to ${displayUrl(conn)}: ${pgMessage(error)}`, { cause: error });
      }
      const admin = await Admin.#init(client, timeouts);
      return admin;
    }
    throw new PostgresError('POSTGRES', `Cannot connect to ${displayUrl(target)}: ${pgMessage(lastError)}`, {
      cause: lastError,
    });
  }

  static async #init(client: pg.Client, timeouts: AdminTimeouts): Promise<Admin> {
    // One round trip (several statements in one simple query): each costs one, and a server across a network answers
    // each in milliseconds. A killed pgclone must not keep its locks (or finish a long CREATE DATABASE) until the
    // statement ends: client_connection_check_interval, from PostgreSQL 14 on, where the server's platform has it.
    // Others refuse any value but 0, and then the query is sent again without it. (Not a DO block with an exception
    // handler: loading PL/pgSQL into the new session cost ~6 ms of every command.)
    const settings = `SET lock_timeout = ${Math.trunc(timeouts.lockTimeout)}; SET statement_timeout = ${Math.trunc(timeouts.statementTimeout ?? 0)};`;
    const checkConnection = `SELECT set_config('client_connection_check_interval', '1000', false)
      WHERE current_setting('server_version_num')::int >= 140000;`;
    const who = `SELECT current_setting('server_version_num') AS version, current_user AS user,
              (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`;
    type Who = pg.QueryResult<{ version: string; user: string; superuser: boolean }>;
    const results = (await client
      .query(settings + checkConnection + who)
      .catch(() => client.query(settings + who))) as unknown as Who[];
    const row = results[results.length - 1]!.rows[0]!;
    return new Admin(client, timeouts, { version: Number(row.version), user: row.user, superuser: row.superuser });
  }

  /** Runs a statement, turning PostgreSQL errors into one-line {@link PostgresError}s. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      const result = await this.#send<R>(sql, params);
      return result.rows;
    } catch (error) {
      throw new PostgresError('POSTGRES', `PostgreSQL: ${pgMessage(error)}`, { cause: error });
    }
  }

  /** All databases but the system ones. */
  async listDatabases(): Promise<DatabaseInfo[]> {
    const rows = await this.query<{ datname: string; datallowconn: boolean; datistemplate: boolean }>(
      `SELECT datname, datallowconn, datistemplate FROM pg_database WHERE NOT (datname = ANY($1)) ORDER BY datname`,
      [SYSTEM_DATABASES],
    );
    return rows.map((r) => ({ name: r.datname, allowConnections: r.datallowconn, isTemplate: r.datistemplate }));
  }

  /** The database, or `undefined` when it does not exist. */
  async database(name: string): Promise<DatabaseInfo | undefined> {
    return (await this.databases([name])).get(name);
  }

  /** Those of `names` that exist, in one round trip. */
  async databases(names: readonly string[]): Promise<Map<string, DatabaseInfo>> {
    const rows = await this.query<{ datname: string; datallowconn: boolean; datistemplate: boolean }>(
      `SELECT datname, datallowconn, datistemplate FROM pg_database WHERE datname = ANY($1)`,
      [[...names]],
    );
    return new Map(rows.map((r) => [r.datname, { name: r.datname, allowConnections: r.datallowconn, isTemplate: r.datistemplate }]));
  }

  async exists(name: string): Promise<boolean> {
    return (await this.database(name)) !== undefined;
  }

  /** Size of a database in bytes. */
  async databaseSize(name: string): Promise<number> {
    const rows = await this.query<{ size: string }>(`SELECT pg_database_size($1)::text AS size`, [name]);
    return Number(rows[0]?.size ?? 0);
  }

  /**
   * Creates an empty database from `template0` (nothing a user added to template1 gets in the way of pg_restore),
   * with the encoding, collation and tablespace of `like` (else the server's defaults).
   */
  async createEmpty(name: string, like?: CreateOptions): Promise<void> {
    const options = like ? createDatabaseOptions(like, this.serverMajor) : '';
    await this.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0${options ? ` ${options}` : ''}`);
  }

  /** The properties of database `name` that a restore carries over (see {@link DatabaseProperties}). */
  async properties(name: string): Promise<DatabaseProperties> {
    const rows = await this.query<PropertiesRow>(PROPERTIES_QUERY, [name]);
    if (!rows[0]) throw new PgcloneError('DATABASE_NOT_FOUND', `Database ${JSON.stringify(name)} does not exist`);
    return propertiesFromRow(rows[0], settingClause);
  }

  /**
   * `CREATE DATABASE name TEMPLATE source`, without statement_timeout (a template copy of a big database is not an
   * admin statement). The source must have no sessions: see {@link withExclusiveAccess}.
   */
  async createFromTemplate(name: string, template: string, strategy?: 'FILE_COPY' | 'WAL_LOG'): Promise<void> {
    if (strategy !== undefined && strategy !== 'FILE_COPY' && strategy !== 'WAL_LOG') throw new PgcloneError('USAGE', `Invalid copy strategy ${JSON.stringify(strategy)}: expected FILE_COPY or WAL_LOG`);
    const strategyClause = strategy && this.serverMajor >= 15 ? ` STRATEGY ${strategy}` : '';
    await this.#withoutStatementTimeout(() =>
      this.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}${strategyClause}`),
    );
  }

  /** Drops a database if it exists, ending its sessions first (retrying briefly while autovacuum finishes). */
  async drop(name: string): Promise<boolean> {
    if (!(await this.exists(name))) return false;
    await this.terminate(name);
    const force = this.serverMajor >= 13 ? ' WITH (FORCE)' : '';
    await this.#retryBusy(() => this.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}${force}`));
    return true;
  }

  async rename(from: string, to: string): Promise<void> {
    await this.#retryBusy(() => this.query(`ALTER DATABASE ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`));
  }

  /**
   * Renames databases and allows connections in one transaction sent as one simple query: one round trip keeps the
   * moment short in which a client connecting to a renamed name fails ("does not exist … just been dropped or
   * renamed", PostgreSQL's own startup recheck), and a statement that fails rolls back the whole set, so retrying
   * while a session is still leaving is safe. `template` names a template database: the flag leaves the database
   * renamed away from that name (PostgreSQL refuses to drop a template, so it could never be cleaned up) and goes to
   * the one renamed to it.
   */
  async swap(
    renames: readonly (readonly [from: string, to: string])[],
    allowConnections: readonly string[],
    comments: readonly (readonly [name: string, comment: string | null])[] = [],
    template?: string,
  ): Promise<void> {
    const isTemplate = (flag: boolean) => (template === undefined ? [] : [`ALTER DATABASE ${quoteIdent(template)} IS_TEMPLATE ${flag}`]);
    const statements = [
      ...isTemplate(false),
      ...renames.map(([from, to]) => `ALTER DATABASE ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`),
      ...allowConnections.map((name) => `ALTER DATABASE ${quoteIdent(name)} WITH ALLOW_CONNECTIONS true`),
      ...comments.map(([name, text]) => `COMMENT ON DATABASE ${quoteIdent(name)} IS ${text === null ? 'NULL' : quoteLiteral(text)}`),
      ...isTemplate(true),
    ];
    await this.#retryBusy(() => this.query(statements.join(';\n')));
  }

  /**
   * Runs `work` while this role's new sessions on `name` default to `settings`, then resets them. For filling a
   * working database nobody else uses (see `restoreDefaults`). They are set for the role in that database
   * (`ALTER ROLE … IN DATABASE`), not for the database: a run killed before the reset leaves them where no copy of the
   * database takes them along (`CREATE DATABASE … TEMPLATE` and pgclone's settings copy take the database's own), and
   * dropping the database drops them. `work` may replace the settings for the sessions it starts after that
   * (`change`); every setting either set is reset at the end.
   */
  async withRoleDefaults<T>(
    name: string,
    settings: Readonly<Record<string, string>>,
    work: (change: (settings: Readonly<Record<string, string>>) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    const role = `ALTER ROLE CURRENT_USER IN DATABASE ${quoteIdent(name)}`;
    const set = (values: Readonly<Record<string, string>>) =>
      Object.entries(values).map(([setting, value]) => `${role} SET ${settingName(setting)} = ${quoteLiteral(value)}`);
    const reset = (names: Iterable<string>) => [...names].map((setting) => `${role} RESET ${settingName(setting)}`);
    const touched = new Set(Object.keys(settings));
    let current = settings;
    const change = async (next: Readonly<Record<string, string>>) => {
      const dropped = Object.keys(current).filter((setting) => !(setting in next));
      const statements = [...set(next), ...reset(dropped)];
      current = next;
      for (const setting of Object.keys(next)) touched.add(setting);
      if (statements.length > 0) await this.query(statements.join(';\n'));
    };
    await this.query(set(settings).join(';\n'));
    let result: T;
    try {
      result = await work(change);
    } catch (error) {
      await this.query(reset(touched).join(';\n')).catch(() => {});
      throw error;
    }
    await this.query(reset(touched).join(';\n'));
    return result;
  }

  /** The comment on database `name` (`COMMENT ON DATABASE`), or null. */
  async comment(name: string): Promise<string | null> {
    const rows = await this.query<{ comment: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
      [name],
    );
    return rows[0]?.comment ?? null;
  }

  /** `COMMENT ON DATABASE name IS text`. */
  async setComment(name: string, text: string): Promise<void> {
    await this.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS ${quoteLiteral(text)}`);
  }

  /** `ALTER DATABASE … ALLOW_CONNECTIONS`: blocks or allows new sessions (committed at once). */
  async setAllowConnections(name: string, allow: boolean): Promise<void> {
    await this.query(`ALTER DATABASE ${quoteIdent(name)} WITH ALLOW_CONNECTIONS ${allow ? 'true' : 'false'}`);
  }

  /**
   * Ends every other session on `name` (those this role may end) and waits until they are gone, up to lockTimeout.
   * Returns the sessions that remain (none on success).
   */
  async terminate(name: string, waitMs = this.#timeouts.lockTimeout): Promise<RemainingSession[]> {
    const deadline = Date.now() + waitMs;
    let reported = '';
    for (;;) {
      const sessions = await this.sessions(name);
      if (sessions.length === 0) return [];
      for (const session of sessions.filter((s) => s.terminable)) {
        try {
          await this.#send('SELECT pg_terminate_backend($1)', [session.pid]);
        } catch {
          // Raced with the session's own exit, or a permission the catalog did not show: reported below if it stays.
        }
      }
      const others = sessions.filter((s) => !s.terminable);
      const who = describeSessions(others);
      if (others.length > 0 && who !== reported) {
        reported = who;
        this.notify(`Waiting up to ${this.#timeouts.lockTimeout} ms for sessions on ${name} that ${this.user} may not end: ${who}`);
      }
      if (Date.now() >= deadline) return this.sessions(name);
      await sleep(POLL_MS);
    }
  }

  /** Other sessions connected to `name`. */
  async sessions(name: string): Promise<RemainingSession[]> {
    // The rules of pg_terminate_backend: superusers end anything; others end sessions of roles they have the
    // privileges of, or any non-superuser session with pg_signal_backend; background workers need a superuser.
    const rows = await this.query<{ pid: number; usename: string | null; application_name: string | null; backend_type: string | null; terminable: boolean }>(
      `SELECT a.pid, a.usename, a.application_name, a.backend_type,
              COALESCE(me.rolsuper OR (a.usesysid IS NOT NULL AND NOT COALESCE(them.rolsuper, false) AND
                (pg_has_role(current_user, a.usesysid, 'USAGE') OR pg_has_role(current_user, 'pg_signal_backend', 'USAGE'))), false) AS terminable
         FROM pg_stat_activity a
         LEFT JOIN pg_roles them ON them.oid = a.usesysid
         JOIN pg_roles me ON me.rolname = current_user
        WHERE a.datname = $1 AND a.pid <> pg_backend_pid()`,
      [name],
    );
    return rows.map((r) => ({
      pid: r.pid,
      user: r.usename,
      applicationName: r.application_name ?? '',
      backendType: r.backend_type ?? '',
      terminable: r.terminable,
    }));
  }

  /**
   * Blocks new sessions on `name`, ends the existing ones and runs `fn` while nobody can connect; connections are
   * allowed again afterwards whatever happens (unless `keepBlocked` says the caller takes over).
   */
  async withExclusiveAccess<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const info = await this.database(name);
    if (!info) throw new PgcloneError('DATABASE_NOT_FOUND', `Database ${JSON.stringify(name)} does not exist`);
    const wasAllowed = info.allowConnections;
    if (wasAllowed) await this.setAllowConnections(name, false);
    let result: T;
    try {
      await this.requireNoSessions(name);
      result = await fn();
    } catch (error) {
      if (wasAllowed) {
        const stillBlocked = await this.#allowConnectionsAgain(name);
        if (stillBlocked) this.notify(stillBlocked.message); // the first failure is the one to report
      }
      throw error;
    }
    if (wasAllowed) {
      // An operation that succeeded must not say so while its database still refuses connections.
      const stillBlocked = await this.#allowConnectionsAgain(name);
      if (stillBlocked) throw stillBlocked;
    }
    return result;
  }

  /**
   * Allows connections to `name` again, retrying while another session's lock on it (a concurrent `ALTER DATABASE`)
   * makes the statement wait past lock_timeout. Returns the error that says so if it still fails.
   */
  async #allowConnectionsAgain(name: string): Promise<PgcloneError | undefined> {
    let last: unknown;
    for (let attempt = 1; attempt <= ALLOW_AGAIN_ATTEMPTS; attempt++) {
      try {
        await this.setAllowConnections(name, true);
        return undefined;
      } catch (error) {
        last = error;
        if (attempt < ALLOW_AGAIN_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return new PgcloneError(
      'DATABASE_BUSY',
      `Database ${JSON.stringify(name)} still refuses new connections: pgclone could not allow them again (${(last as Error)?.message ?? last}); "pgclone doctor --fix" does`,
    );
  }

  /**
   * Throws `DATABASE_BUSY` when one of `names` holds what PostgreSQL refuses to rename, drop or copy a database with, and
   * what no waiting or ending of sessions removes: a prepared transaction (outlives its session until COMMIT or
   * ROLLBACK PREPARED), or, with `dropped`, a logical replication subscription (which a rename would only carry along
   * to a database that can then never be dropped).
   */
  async requireReplaceable(names: readonly string[], options: { dropped: boolean }): Promise<void> {
    const rows = await this.query<{ datname: string; kind: 'prepared' | 'subscription'; name: string; owner: string | null }>(
      `SELECT database AS datname, 'prepared' AS kind, gid AS name, owner FROM pg_prepared_xacts WHERE database = ANY($1)
       UNION ALL
       SELECT d.datname, 'subscription', s.subname, NULL FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid
        WHERE $2 AND d.datname = ANY($1)
       ORDER BY 1, 2, 3`,
      [[...names], options.dropped],
    );
    const first = rows[0];
    if (!first) return;
    const same = rows.filter((r) => r.datname === first.datname && r.kind === first.kind);
    const list = same.map((r) => JSON.stringify(r.name)).join(', ');
    const one = same.length === 1;
    if (first.kind === 'prepared') {
      throw new PgcloneError(
        'DATABASE_BUSY',
        `Database ${JSON.stringify(first.datname)} has ${one ? 'a prepared transaction' : `${same.length} prepared transactions`} (${list}${one ? `, owner ${first.owner}` : ''}), which PostgreSQL does not let a database be renamed, dropped or copied with: COMMIT PREPARED or ROLLBACK PREPARED ${one ? 'it' : 'them'} first`,
      );
    }
    throw new PgcloneError(
      'DATABASE_BUSY',
      `Database ${JSON.stringify(first.datname)} has ${one ? 'a logical replication subscription' : `${same.length} logical replication subscriptions`} (${list}), which PostgreSQL does not let a database be dropped with, and a restore drops the database it replaces: drop ${one ? 'it' : 'them'} first (ALTER SUBSCRIPTION … DISABLE, ALTER SUBSCRIPTION … SET (slot_name = NONE), DROP SUBSCRIPTION …)`,
    );
  }

  /**
   * Throws `GUARD_REFUSED` when this role may not rename, drop or copy one of `names` (those that exist): PostgreSQL
   * lets only a superuser, the owner or a role with the owner's privileges do it (and block its connections). Found
   * at the swap instead, it would fail the restore after all its work.
   */
  async requireOwnership(names: readonly string[]): Promise<void> {
    if (this.superuser) return;
    const [row] = await this.query<{ datname: string; owner: string }>(
      `SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database
        WHERE datname = ANY($1) AND NOT pg_has_role(current_user, datdba, 'USAGE') ORDER BY datname LIMIT 1`,
      [[...names]],
    );
    if (row) {
      throw new PgcloneError(
        'GUARD_REFUSED',
        `${this.user} may not rename, drop or copy database ${JSON.stringify(row.datname)}: it is owned by ${row.owner}, whose privileges ${this.user} does not have (run pgclone as the owner, or grant it the owner's role)`,
      );
    }
  }

  /** Ends sessions on `name`; throws naming the ones that stay. */
  async requireNoSessions(name: string): Promise<void> {
    await this.requireReplaceable([name], { dropped: false });
    const remaining = await this.terminate(name);
    if (remaining.length > 0) {
      const who = describeSessions(remaining);
      throw new PgcloneError(
        'DATABASE_BUSY',
        `Database ${JSON.stringify(name)} still has sessions pgclone may not end after ${this.#timeouts.lockTimeout} ms: ${who}`,
      );
    }
  }

  /** Runs `fn` in one transaction. */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    await this.query('BEGIN');
    try {
      const result = await fn();
      await this.query('COMMIT');
      return result;
    } catch (error) {
      await this.#send('ROLLBACK').catch(() => {});
      throw error;
    }
  }

  /**
   * Takes pgclone's advisory lock for each database name (sorted, so two runs never deadlock), waiting up to
   * lockTimeout (0: no limit, as PostgreSQL's lock_timeout). Held until {@link close}; a killed process releases it
   * with its connection. An abort of `signal` while waiting stops the wait at once (`INTERRUPTED`).
   */
  async lock(names: readonly string[], signal?: AbortSignal): Promise<void> {
    const sorted = [...new Set(names)].sort();
    // The usual case, no other run on any of them: all taken in one round trip. Otherwise those taken are let go, and
    // each is taken (or waited for) in turn, in order.
    const tried = await this.query<{ ok: boolean }>(
      'SELECT pg_try_advisory_lock(hashtext($1), hashtext(n)) AS ok FROM unnest($2::text[]) WITH ORDINALITY AS u(n, i) ORDER BY i',
      [ADVISORY_NAMESPACE, sorted],
    );
    if (tried.length === sorted.length && tried.every((r) => r.ok)) {
      this.#locks.push(...sorted);
      return;
    }
    const taken = sorted.filter((_, i) => tried[i]?.ok);
    if (taken.length > 0) {
      await this.query('SELECT pg_advisory_unlock(hashtext($1), hashtext(n)) FROM unnest($2::text[]) AS n', [ADVISORY_NAMESPACE, taken]);
    }
    for (const name of sorted) {
      if (await this.tryLock(name)) continue;
      for (const holder of await this.lockHolders(name)) {
        if (holder.ownerState === 'dead') {
          // Its process is gone but PostgreSQL has not noticed yet (e.g. it was in a long statement): end it.
          const rows = await this.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [holder.pid]).catch(() => []);
          if (rows[0]?.ok) {
            this.notify(`Ended session ${holder.pid} of pgclone process ${holder.owner!.pid}, which no longer runs but still held the lock on ${name}`);
          }
        } else {
          this.notify(`Waiting up to ${this.#timeouts.lockTimeout} ms for another pgclone run (${describeHolder(holder)}) working on ${name}`);
        }
      }
      await this.#waitForLock(name, signal);
    }
  }

  /**
   * Polls for the lock rather than blocking in `pg_advisory_lock`: a statement waiting in the server cannot be
   * given up from this session, and an interrupted run (Ctrl-C, an aborted signal) must not wait out lockTimeout.
   */
  async #waitForLock(name: string, signal: AbortSignal | undefined): Promise<void> {
    const limit = this.#timeouts.lockTimeout;
    const deadline = limit > 0 ? performance.now() + limit : Infinity;
    for (;;) {
      if (signal?.aborted) {
        throw new PgcloneError('INTERRUPTED', `Interrupted while waiting for another pgclone run working on database ${JSON.stringify(name)}`);
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        const holders = await this.lockHolders(name).catch(() => []);
        throw new PgcloneError(
          'LOCKED',
          `Another pgclone run is working on database ${JSON.stringify(name)}${holders.length ? ` (${holders.map(describeHolder).join(', ')})` : ''}; waited ${limit} ms (lockTimeout)`,
        );
      }
      await sleep(Math.min(POLL_MS, left), signal);
      if (!signal?.aborted && (await this.tryLock(name))) return;
    }
  }

  /** Takes pgclone's advisory lock on `name` if it is free; never waits. */
  async tryLock(name: string): Promise<boolean> {
    const rows = await this.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok', [ADVISORY_NAMESPACE, name]);
    if (rows[0]?.ok) this.#locks.push(name);
    return rows[0]?.ok === true;
  }

  /** Releases a lock taken by {@link tryLock} or {@link lock} before {@link close}. */
  async unlock(name: string): Promise<void> {
    const i = this.#locks.indexOf(name);
    if (i < 0) return;
    this.#locks.splice(i, 1);
    await this.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [ADVISORY_NAMESPACE, name]);
  }

  /**
   * Whether this session keeps the Node process alive while idle. Sessions kept between API calls turn it off, so
   * that a test process that forgets to close them still exits. While a statement (or the closing) is under way the
   * session always keeps the process alive: a plain script awaiting it would otherwise end with nothing left to wait
   * on (Node's exit code 13, "unsettled top-level await").
   */
  keepProcessAlive(keep: boolean): void {
    this.#holdsProcessWhenIdle = keep;
    this.#applyRef();
  }

  #holdsProcessWhenIdle = true;
  #busy = 0;

  #applyRef(): void {
    const stream = (this.#client as unknown as { connection?: { stream?: { destroyed?: boolean; ref?: () => void; unref?: () => void } } })
      .connection?.stream;
    // A closed socket has nothing to keep alive, and Node defers ref/unref on it to a 'connect' listener that never
    // fires: one more per call, until Node prints a MaxListenersExceededWarning.
    if (!stream || stream.destroyed) return;
    if (this.#holdsProcessWhenIdle || this.#busy > 0) stream.ref?.();
    else stream.unref?.();
  }

  /** While `work` runs, the session keeps the process alive. */
  async #whileBusy<T>(work: () => Promise<T>): Promise<T> {
    this.#busy += 1;
    this.#applyRef();
    try {
      return await work();
    } finally {
      this.#busy -= 1;
      this.#applyRef();
    }
  }

  /** The statement last sent: the next one waits for it. */
  #last: Promise<unknown> = Promise.resolve();

  /**
   * Every statement goes through here (see {@link keepProcessAlive}), one at a time: callers that share the session
   * (the test helpers' workers in one process, the restore's progress readings) queue here, not in node-pg, which
   * deprecates its own queue.
   */
  #send<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    const sent = this.#last.then(() => this.#whileBusy(() => this.#client.query<R>(sql, params)));
    this.#last = sent.catch(() => {});
    return sent;
  }

  /** Other sessions holding pgclone's lock on `name` (pgclone runs, or sessions left by killed ones). */
  async lockHolders(name: string): Promise<LockHolder[]> {
    const rows = await this.query<{ pid: number; application_name: string | null; usename: string | null }>(
      `SELECT l.pid, a.application_name, a.usename
         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.pid <> pg_backend_pid()
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = (hashtext($1)::bigint & 4294967295)::oid AND l.objid = (hashtext($2)::bigint & 4294967295)::oid`,
      [ADVISORY_NAMESPACE, name],
    );
    return rows.map((r) => {
      const app = r.application_name ?? '';
      const owner = app.startsWith(ADMIN_APPLICATION_PREFIX) ? parseOwnerTag(app) : undefined;
      return {
        pid: r.pid,
        applicationName: app,
        user: r.usename,
        ...(owner ? { owner } : {}),
        ownerState: owner ? ownerState(owner) : 'unknown',
      };
    });
  }

  /** Ends a session (e.g. a stale lock holder); false when it was gone or not this role's to end. */
  async terminateBackend(pid: number): Promise<boolean> {
    const rows = await this.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]).catch(() => []);
    return rows[0]?.ok === true;
  }

  /** Database-level settings (`ALTER DATABASE … SET`) of `name`, as `name=value` strings. */
  async databaseSettings(name: string): Promise<string[]> {
    const rows = await this.query<{ setconfig: string[] | null }>(
      `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
        WHERE d.datname = $1 AND s.setrole = 0`,
      [name],
    );
    return rows[0]?.setconfig ?? [];
  }

  /** Ends the session (and with it every advisory lock). */
  async close(): Promise<void> {
    await this.#whileBusy(() => this.#client.end()).catch(() => {});
  }

  async #withoutStatementTimeout<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.#timeouts.statementTimeout) return fn();
    await this.query('SET statement_timeout = 0');
    try {
      return await fn();
    } finally {
      await this.query(`SET statement_timeout = ${Math.trunc(this.#timeouts.statementTimeout)}`).catch(() => {});
    }
  }

  // DROP/RENAME fail with 55006 while a session (often autovacuum) is still on the database: end it and retry.
  async #retryBusy<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + Math.max(this.#timeouts.lockTimeout, 1000);
    for (;;) {
      try {
        return await fn();
      } catch (error) {
        const code = ((error as { cause?: { code?: string } }).cause ?? (error as { code?: string })).code;
        if (code !== '55006' || Date.now() >= deadline) throw error;
        await sleep(POLL_MS * 2);
      }
    }
  }
}

/** Application name prefix of pgclone's admin sessions (`pgclone-admin:<pid>@<host>`). */
export const ADMIN_APPLICATION_PREFIX = 'pgclone-admin:';

function describeSessions(sessions: readonly RemainingSession[]): string {
  return sessions
    .map((s) => `${s.applicationName ? JSON.stringify(s.applicationName) : s.backendType || 'unknown'}${s.user ? ` (${s.user})` : ''} pid ${s.pid}`)
    .join(', ');
}

function describeHolder(holder: LockHolder): string {
  const who = holder.owner ? `pgclone process ${holder.owner.pid}${holder.ownerState === 'unknown' ? ' on another host' : ''}` : JSON.stringify(holder.applicationName || 'unknown');
  return `${who}, session ${holder.pid}`;
}

/** The first line of a `pg` error, secrets removed. */
export function pgMessage(error: unknown): string {
  const message = String((error as Error)?.message ?? error).split('\n')[0] ?? '';
  return redact(message || String((error as { code?: string })?.code ?? 'unknown error'));
}

/** Waits `ms`, or less when `signal` aborts meanwhile. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let stop = () => {};
    const done = () => {
      clearTimeout(timer);
      stop();
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop = whenAborted(signal, done);
  });
}

function settingName(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`Unexpected setting name ${JSON.stringify(name)}`);
  return name;
}
