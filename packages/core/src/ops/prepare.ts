import type { Adapter, AdapterFactory } from '../adapter.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { own, resolveOptions, type ResolvedOptions } from '../config/resolve.js';
import type { Hook } from '../config/schema.js';
import type { Connection, ConnectionInput } from '../connection.js';
import { ConfigError, PgcloneError } from '../errors.js';
import { Reporter, type Operation } from '../events.js';
import { runHooks } from '../hooks.js';
import type { AnyOptions } from '../options.js';
import type { Storage, StorageFactory } from '../storage.js';
import { Admin } from '../pg/admin.js';
import { assertDatabaseName, SYSTEM_DATABASES } from '../names.js';
import { checkOptionTypes } from '../options-schema.js';
import { applyService } from '../service-file.js';
import { workingDirectory } from '../work-dir.js';

/** What the operations need from outside core: storage backends and ORM adapters (wired by `pgclone`). */
export interface Runtime {
  openStorage: StorageFactory;
  adapters?: readonly AdapterFactory[];
  /** Replaces {@link loadProject}; the API passes a cached one so that repeated calls do not re-read the config. */
  loadProject?: (query: ProjectQuery) => Promise<ProjectContext>;
}

/** Where to look for the config file and the ORM project. */
export interface ProjectQuery {
  cwd: string;
  configFile?: string;
  /** The `-c` name (it may pick the adapter). */
  configName?: string;
  env: NodeJS.ProcessEnv;
  factories: readonly AdapterFactory[];
}

/** What {@link prepare} reads from disk: the config file and the ORM project with its connection. */
export interface ProjectContext {
  file?: LoadedConfig;
  adapter?: Adapter;
  /** The ORM's own connection (`Adapter.connection()`), read once; or why it has none (raised only when needed). */
  adapterConnection?: ConnectionInput | PgcloneError;
}

/** Loads the config file and detects the ORM project (the slow, file-reading part of {@link prepare}). */
export async function loadProject(query: ProjectQuery): Promise<ProjectContext> {
  const file = await loadConfig({ cwd: query.cwd, ...(query.configFile ? { configFile: query.configFile } : {}) });
  const adapter = await detectAdapter({ cwd: query.cwd, env: query.env, file, configName: query.configName, factories: query.factories });
  const adapterConnection = adapter ? await connectionOf(adapter) : undefined;
  return { ...(file ? { file } : {}), ...(adapter ? { adapter } : {}), ...(adapterConnection ? { adapterConnection } : {}) };
}

/** The adapter's connection; an error it throws is kept for when the connection is needed (`ls` does not need one). */
async function connectionOf(adapter: Adapter): Promise<ConnectionInput | PgcloneError | undefined> {
  try {
    return adapter.connection ? await adapter.connection() : undefined;
  } catch (error) {
    if (error instanceof PgcloneError) return error;
    throw error;
  }
}

/** Everything an operation starts from. */
export interface Prepared {
  options: ResolvedOptions;
  adapter?: Adapter;
  reporter: Reporter;
  env: NodeJS.ProcessEnv;
  runtime: Runtime;
}

/** Runs `hooks` of `phase` on `connection` as the project's hooks run: in its directory and environment, with its ORM. */
export function runProjectHooks(
  prepared: Prepared,
  phase: string,
  connection: Connection,
  hooks: readonly Hook[],
  signal: AbortSignal | undefined,
): Promise<void> {
  return runHooks(hooks, {
    phase,
    connection,
    cwd: prepared.options.projectDir,
    env: prepared.env,
    ...(prepared.adapter ? { adapter: prepared.adapter } : {}),
    reporter: prepared.reporter,
    ...(signal ? { signal } : {}),
  });
}

/** Loads the config, finds the ORM project and merges the options. Changes nothing. */
export async function prepare(operation: Operation, options: AnyOptions, runtime: Runtime): Promise<Prepared> {
  checkOptionTypes(options);
  const env = options.env ?? process.env;
  const cwd = options.cwd === undefined ? process.cwd() : workingDirectory(options.cwd, process.cwd(), 'cwd');
  const reporter = new Reporter(operation, options.onEvent);
  const { file, adapter, adapterConnection } = await (runtime.loadProject ?? loadProject)({
    cwd,
    env,
    ...(options.configFile ? { configFile: options.configFile } : {}),
    ...(options.config !== undefined ? { configName: options.config } : {}),
    factories: runtime.adapters ?? [],
  });
  const resolved = resolveOptions({
    options: { ...options, cwd },
    ...(file ? { file } : {}),
    env,
    ...(adapter
      ? {
          adapter: {
            name: adapter.name,
            projectDir: adapter.projectDir,
            ...(adapter.config ? { config: adapter.config } : {}),
            ...(adapterConnection ? { connection: adapterConnection } : {}),
            defaultPreSwapHooks: ['migrate'],
          },
        }
      : {}),
  });
  // An alias that is not configured is a typo, also for the operations that never connect (ls, prune, pin, rm KEY).
  if (resolved.connection instanceof ConfigError && resolved.connection.code === 'CONFIG_UNKNOWN_NAME') throw resolved.connection;
  if (!(resolved.connection instanceof PgcloneError)) {
    // A connection service (`service=`, `$PGSERVICE`) is read here, once, for pgclone's sessions and its tools alike.
    resolved.connection = await applyService(resolved.connection, env).catch((error: unknown) => {
      if (error instanceof PgcloneError) return error;
      throw error;
    });
  }
  return { options: resolved, ...(adapter ? { adapter } : {}), reporter, env, runtime };
}

async function detectAdapter(input: {
  cwd: string;
  env: NodeJS.ProcessEnv;
  file: LoadedConfig | undefined;
  configName: string | undefined;
  factories: readonly AdapterFactory[];
}): Promise<Adapter | undefined> {
  const config = input.file?.config;
  const chosen = (input.configName && own(config?.configs, input.configName)?.adapter) ?? config?.adapter;
  const candidates = chosen ? input.factories.filter((f) => f.name === chosen) : input.factories;
  const found: Adapter[] = [];
  for (const factory of candidates) {
    const adapter = await factory.detect({ cwd: input.cwd, env: input.env });
    if (adapter) found.push(adapter);
  }
  if (found.length > 1) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `Both ${found.map((a) => `${a.name} (${a.source})`).join(' and ')} were found; set "adapter" to "knex" or "prisma" in the pgclone config`,
    );
  }
  return found[0];
}

/** The target connection, or the error that says why there is none. */
export function requireConnection(options: ResolvedOptions): Connection {
  if (options.connection instanceof PgcloneError) throw options.connection;
  return options.connection;
}

/** The target database's name after checking it is one pgclone may replace. */
export function targetDatabase(conn: Connection): string {
  assertDatabaseName(conn.database, 'target database name');
  if (SYSTEM_DATABASES.includes(conn.database)) {
    throw new PgcloneError('NAME_RESERVED', `pgclone does not work on the system database ${JSON.stringify(conn.database)}; point DATABASE_URL at your app's database`);
  }
  return conn.database;
}

/**
 * Connects the admin session for the target's server with the configured timeouts; `env` (the operation's, see
 * {@link Prepared}) supplies what the connection leaves out.
 */
export async function connectAdmin(options: ResolvedOptions, conn: Connection, env: NodeJS.ProcessEnv, reporter?: Reporter): Promise<Admin> {
  const timeouts = { lockTimeout: options.lockTimeout, ...(options.statementTimeout !== undefined ? { statementTimeout: options.statementTimeout } : {}) };
  const admin = await Admin.connect(conn, timeouts, env);
  if (reporter) admin.notify = (message) => reporter.warn(message);
  return admin;
}

/** Opens the storage of the resolved location. */
export async function openStorage(prepared: Prepared): Promise<Storage> {
  return prepared.runtime.openStorage(prepared.options.storageLocation, prepared.options.bundle as Record<string, unknown>, {
    warn: (message) => prepared.reporter.warn(message),
  });
}
