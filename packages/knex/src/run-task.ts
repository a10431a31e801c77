import { AdapterError, type ReservedHook } from '@pgclone/core';
import { inspect } from 'node:util';
import { parse as parsePgUrl } from 'pg-connection-string';
import { migrateConfig, seedConfig, type TaskReport } from './sources.js';
import type { KnexConfig, KnexFactory } from './types.js';

/** Reports what Knex logged (a string or an object), line by line. */
function reportLines(report: TaskReport, message: unknown): void {
  const text = typeof message === 'string' ? message : inspect(message, { depth: 5 });
  for (const line of text.split('\n')) if (line.trim() !== '') report.line(line);
}

/** The database a Knex task must run against: `N__temp` before a swap (the parts pgclone connected with). */
export interface TaskTarget {
  host?: string | undefined;
  port?: number | undefined;
  user?: string | undefined;
  password?: string | undefined;
  database: string;
}

/** A Knex task: `migrate` (`migrate.latest`) or `seed` (`seed.run`) with the project's config. */
export interface KnexTask {
  task: ReservedHook;
  /** The project's own `knex` function. */
  knex: KnexFactory;
  /** The knexfile environment (or the config of the Knex instance given to the API). */
  config: KnexConfig;
  /** The config's connection, already evaluated (functions called). */
  connection: string | Record<string, unknown> | undefined;
  target: TaskTarget;
  /** Directory relative migration and seed directories are resolved against. */
  baseDir: string;
  esm?: boolean | undefined;
  report: TaskReport & { info(text: string): void };
}

/**
 * Runs a Knex task against `target` and never anything else: the connection is the project's (same ssl and driver
 * options) with the target's server, credentials and database, and `current_database()` is checked before anything
 * runs. Resolves when Knex is done; a migration that throws rejects (and Knex rolls back its transaction).
 */
export async function runKnexTask(task: KnexTask): Promise<void> {
  const { pgclone: _pgclone, migrations, seeds, connection: _connection, ...rest } = task.config;
  const instance = task.knex({
    // Knex's own warnings ("migration failed with error: …") are the task's output, not the console's: run in the
    // API's process, they would be printed (the project's own `log` setting, if any, still decides).
    log: Object.fromEntries(['warn', 'error', 'deprecate', 'debug'].map((level) => [level, (message: unknown) => reportLines(task.report, message)])),
    ...rest,
    connection: targetConnection(task.connection, task.target),
  });
  try {
    const result = (await instance.raw('select current_database() as db')) as { rows?: Array<{ db?: unknown }> };
    const actual = result.rows?.[0]?.db;
    if (actual !== task.target.database) {
      throw new AdapterError(
        `Refusing to run Knex ${task.task === 'migrate' ? 'migrations' : 'seeds'}: connected to database ${JSON.stringify(actual)}, expected ${JSON.stringify(task.target.database)}`,
      );
    }
    const sourceOptions = { baseDir: task.baseDir, esm: task.esm };
    if (task.task === 'migrate') {
      let current: string | undefined;
      const report = { line: (text: string) => task.report.line(text), migrationStarted: (name: string) => (current = name) };
      const [batch, log] = await instance.migrate.latest(migrateConfig(migrations, sourceOptions, report)).catch((error: unknown) => {
        if (current === undefined || error instanceof AdapterError) throw error;
        throw new AdapterError(`Knex migration ${current} failed: ${String((error as Error)?.message ?? error)}`, { cause: error });
      });
      task.report.info(
        log.length === 0
          ? `Knex migrations on ${task.target.database}: already up to date`
          : `Knex batch ${batch} on ${task.target.database}: ran ${log.length} migration${log.length === 1 ? '' : 's'}`,
      );
    } else {
      const [log] = await instance.seed.run(seedConfig(seeds, sourceOptions));
      for (const file of log) task.report.line(`Ran seed ${file}`);
      task.report.info(`Knex seeds on ${task.target.database}: ran ${log.length} seed file${log.length === 1 ? '' : 's'}`);
    }
  } finally {
    await instance.destroy();
  }
}

/**
 * The project's connection pointed at the target: a URL or `connectionString` is first read into its parts as
 * node-postgres does (so their ssl settings survive), then host, port, user, password and database are the
 * target's.
 */
export function targetConnection(connection: string | Record<string, unknown> | undefined, target: TaskTarget): Record<string, unknown> {
  let base: Record<string, unknown>;
  if (typeof connection === 'string') base = { ...parsePgUrl(connection) };
  else if (connection) {
    // Knex hides the password of a connection object it was given (non-enumerable), so it is copied by name.
    base = { ...connection, password: connection.password };
    if (typeof base.connectionString === 'string' && base.connectionString) {
      const { connectionString, ...others } = base;
      base = { ...others, ...parsePgUrl(connectionString as string) };
    }
  } else base = {};
  const out: Record<string, unknown> = { ...base, database: target.database };
  if (target.host !== undefined) out.host = target.host;
  if (target.port !== undefined) out.port = target.port;
  if (target.user !== undefined) out.user = target.user;
  if (target.password !== undefined) out.password = target.password;
  return out;
}
