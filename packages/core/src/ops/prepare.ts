import path from 'node:path';
import type { Adapter, AdapterFactory } from '../adapter.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { resolveOptions, type ResolvedOptions } from '../config/resolve.js';
import type { Connection } from '../connection.js';
import { ConfigError, PgcloneError } from '../errors.js';
import { Reporter, type Operation } from '../events.js';
import type { AnyOptions } from '../options.js';
import type { Storage, StorageFactory } from '../storage.js';
import { Admin } from '../pg/admin.js';
import { assertDatabaseName, SYSTEM_DATABASES } from '../names.js';

/** What the operations need from outside core: storage backends and ORM adapters (wired by `pgclone`). */
export interface Runtime {
  openStorage: StorageFactory;
  adapters?: readonly AdapterFactory[];
}

/** Everything an operation starts from. */
export interface Prepared {
  options: ResolvedOptions;
  adapter?: Adapter;
  reporter: Reporter;
  env: NodeJS.ProcessEnv;
  runtime: Runtime;
}

/** Loads the config, finds the ORM project and merges the options. Changes nothing. */
export async function prepare(operation: Operation, options: AnyOptions, runtime: Runtime): Promise<Prepared> {
  const env = options.env ?? process.env;
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const reporter = new Reporter(operation, options.onEvent);
  const file = await loadConfig({ cwd, ...(options.configFile ? { configFile: options.configFile } : {}) });
  const adapter = await detectAdapter({ cwd, env, file, configName: options.config, factories: runtime.adapters ?? [] });
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
            ...(await connectionOf(adapter)),
            defaultPreSwapHooks: ['migrate'],
          },
        }
      : {}),
  });
  return { options: resolved, ...(adapter ? { adapter } : {}), reporter, env, runtime };
}

async function connectionOf(adapter: Adapter) {
  const connection = adapter.connection ? await adapter.connection() : undefined;
  return connection ? { connection } : {};
}

async function detectAdapter(input: {
  cwd: string;
  env: NodeJS.ProcessEnv;
  file: LoadedConfig | undefined;
  configName: string | undefined;
  factories: readonly AdapterFactory[];
}): Promise<Adapter | undefined> {
  const config = input.file?.config;
  const chosen = (input.configName && config?.configs?.[input.configName]?.adapter) ?? config?.adapter;
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

/** Connects the admin session for the target's server with the configured timeouts. */
export async function connectAdmin(options: ResolvedOptions, conn: Connection, reporter?: Reporter): Promise<Admin> {
  const admin = await Admin.connect(conn, {
    lockTimeout: options.lockTimeout,
    ...(options.statementTimeout !== undefined ? { statementTimeout: options.statementTimeout } : {}),
  });
  if (reporter) admin.notify = (message) => reporter.warn(message);
  return admin;
}

/** Opens the storage of the resolved location. */
export async function openStorage(prepared: Prepared): Promise<Storage> {
  return prepared.runtime.openStorage(prepared.options.storageLocation, prepared.options.bundle as Record<string, unknown>);
}
