import os from 'node:os';
import path from 'node:path';
import { assertConnectionEnv, parseConnection, type Connection, type ConnectionInput } from '../connection.js';
import { ConfigError, PgcloneError } from '../errors.js';
import { assertKeyName } from '../keys.js';
import type { AnyOptions } from '../options.js';
import type { LoadedConfig } from './load.js';
import type { ConfigBundle, Hook, PgcloneConfig } from './schema.js';

/** Defaults for every option that has one. */
export const DEFAULTS = {
  database: 'default',
  storageLocation: '.pgclone/',
  reversible: false,
  allowDump: true,
  allowRestore: true,
  allowCopy: true,
  validateDumpKeys: true,
  lockTimeout: 30_000,
} as const;

/** What an ORM adapter contributes to option resolution. */
export interface AdapterContribution {
  /** `knex` or `prisma`. */
  name: string;
  /** The project directory (where the knexfile or Prisma schema lives). */
  projectDir: string;
  /** The `pgclone` section of the ORM's own config, merged below pgclone's config. */
  config?: PgcloneConfig;
  /** The connection for alias `default` when no `databases.default` is configured, or why the project has none. */
  connection?: ConnectionInput | PgcloneError;
  /** Default pre-swap hooks of alias `default` when none are configured (`['migrate']`). */
  defaultPreSwapHooks?: Hook[];
}

/** Options after merging flags, named config, top level, adapter section and defaults. */
export interface ResolvedOptions {
  cwd: string;
  /** Where hooks run: the config file's directory (not the user's own config's), else the adapter's project, else `cwd`. */
  projectDir: string;
  /** The config file used, if any. */
  configFile?: string;
  /** The `-c` name, if any. */
  configName?: string;
  /** The key's config part: the `-c` name, or `none` without one or when exclude/hooks were given explicitly. */
  keyConfig: string;
  instance: string;
  /** Database alias (`default`). */
  databaseAlias: string;
  /** The target's connection, or an error explaining why there is none (ls does not need one). */
  connection: Connection | PgcloneError;
  /** Absolute directory, or an `s3://` URL. */
  storageLocation: string;
  exclude: string[];
  preDumpHooks: Hook[];
  preSwapHooks: Hook[];
  /** True when the pre-swap hooks came from a flag or API option rather than the config or the adapter default. */
  preSwapHooksGiven: boolean;
  postSwapHooks: Hook[];
  reversible: boolean;
  allowDump: boolean;
  allowRestore: boolean;
  allowCopy: boolean;
  statementTimeout?: number;
  lockTimeout: number;
  validateDumpKeys: boolean;
  restoreErrorAllowList: string[];
  adapter?: 'knex' | 'prisma';
  /** The merged bundle, for later features that read their own keys. */
  bundle: ConfigBundle;
}

interface Layer {
  bundle: ConfigBundle;
  /** Directory relative storage locations in this layer are resolved against. */
  baseDir: string;
}

/**
 * Merges the option layers: flag > named config (`-c`) > config file top level > adapter section (its named config,
 * then its top level) > defaults. Pure apart from reading `env` and the host name.
 */
export function resolveOptions(input: {
  options: AnyOptions;
  file?: LoadedConfig;
  adapter?: AdapterContribution;
  env?: NodeJS.ProcessEnv;
  hostname?: string;
}): ResolvedOptions {
  const { options, file, adapter } = input;
  const env = input.env ?? options.env ?? process.env;
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const fileDir = file ? path.dirname(file.filepath) : undefined;
  // The user's own config is shared by every project: the project is where pgclone runs, not that folder.
  const projectFileDir = file?.user ? undefined : fileDir;
  const configName = options.config;
  if (configName !== undefined) assertKeyName(configName, 'config name');

  const layers: Layer[] = [];
  if (configName !== undefined) {
    const named = own(file?.config.configs, configName);
    const adapterNamed = own(adapter?.config?.configs, configName);
    if (!named && !adapterNamed) {
      const known = [...Object.keys(file?.config.configs ?? {}), ...Object.keys(adapter?.config?.configs ?? {})];
      throw new ConfigError(
        'CONFIG_UNKNOWN_NAME',
        `${JSON.stringify(configName)} is not a config name${known.length ? ` (known: ${known.join(', ')})` : ' (no configs are defined)'}`,
      );
    }
    if (named) layers.push({ bundle: named, baseDir: fileDir ?? cwd });
    if (file) layers.push({ bundle: stripConfigs(file.config), baseDir: fileDir ?? cwd });
    if (adapterNamed) layers.push({ bundle: adapterNamed, baseDir: adapter!.projectDir });
  } else if (file) {
    layers.push({ bundle: stripConfigs(file.config), baseDir: fileDir ?? cwd });
  }
  if (adapter?.config) layers.push({ bundle: stripConfigs(adapter.config), baseDir: adapter.projectDir });

  const pick = <K extends keyof ConfigBundle>(key: K): { value: ConfigBundle[K]; layer?: Layer } => {
    for (const layer of layers) if (layer.bundle[key] !== undefined) return { value: layer.bundle[key], layer };
    return { value: undefined };
  };

  const flagHooks = (a?: Hook[], b?: Hook[]) => {
    const given = a ?? b;
    return given === undefined ? undefined : given.filter((h) => h !== '');
  };
  const preDumpFlag = flagHooks(options.preDumpHooks, options.preDumpHook);
  const preSwapFlag = flagHooks(options.preSwapHooks, options.preSwapHook);
  const postSwapFlag = flagHooks(options.postSwapHooks, options.postSwapHook);
  const explicit =
    options.exclude !== undefined || preDumpFlag !== undefined || preSwapFlag !== undefined || postSwapFlag !== undefined;

  const databaseAlias = options.database ?? pick('database').value ?? DEFAULTS.database;
  assertKeyName(databaseAlias, 'database alias');
  // An empty variable (`PGCLONE_INSTANCE=$UNSET_VAR` in CI) is unset, as in a shell: not an instance named `_`.
  const instance = options.instance ?? pick('instance').value ?? (env.PGCLONE_INSTANCE || undefined) ?? input.hostname ?? os.hostname();
  assertKeyName(instance, 'instance');
  const databases: Record<string, string | { env: string }> = {};
  for (const layer of [...layers].reverse()) Object.assign(databases, layer.bundle.databases ?? {});

  let storageLocation: string;
  if (options.storageLocation !== undefined) storageLocation = absoluteLocation(options.storageLocation, cwd);
  else {
    const picked = pick('storageLocation');
    storageLocation = picked.value
      ? absoluteLocation(picked.value, picked.layer!.baseDir)
      : absoluteLocation(DEFAULTS.storageLocation, projectFileDir ?? adapter?.projectDir ?? cwd);
  }

  const adapterName = pick('adapter').value;
  // The ORM's migrations belong to its own database, alias `default`: never run on another alias by default.
  const adapterHooks = databaseAlias === 'default' ? adapter?.defaultPreSwapHooks : undefined;
  const preSwapHooks = preSwapFlag ?? pick('preSwapHooks').value ?? adapterHooks ?? [];
  const bundle: ConfigBundle = {};
  for (const layer of [...layers].reverse()) Object.assign(bundle, layer.bundle);

  const statementTimeout = pick('statementTimeout').value;
  return {
    cwd,
    projectDir: projectFileDir ?? adapter?.projectDir ?? cwd,
    ...(file ? { configFile: file.filepath } : {}),
    ...(configName !== undefined ? { configName } : {}),
    keyConfig: configName !== undefined && !explicit ? configName : 'none',
    instance,
    databaseAlias,
    connection: checkedEnv(resolveConnection({ alias: databaseAlias, databases, adapter, env, url: options.databaseUrl }), env),
    storageLocation,
    // `-e ''` turns the configured exclusions off, as an empty hook flag does the hooks; '' is no table pattern.
    exclude: options.exclude?.filter((table) => table !== '') ?? pick('exclude').value ?? [],
    preDumpHooks: preDumpFlag ?? pick('preDumpHooks').value ?? [],
    preSwapHooks,
    preSwapHooksGiven: preSwapFlag !== undefined,
    postSwapHooks: postSwapFlag ?? pick('postSwapHooks').value ?? [],
    reversible: options.reversible ?? pick('reversible').value ?? DEFAULTS.reversible,
    allowDump: pick('allowDump').value ?? DEFAULTS.allowDump,
    allowRestore: pick('allowRestore').value ?? DEFAULTS.allowRestore,
    allowCopy: pick('allowCopy').value ?? DEFAULTS.allowCopy,
    ...(statementTimeout !== undefined ? { statementTimeout } : {}),
    lockTimeout: pick('lockTimeout').value ?? DEFAULTS.lockTimeout,
    validateDumpKeys: pick('validateDumpKeys').value ?? DEFAULTS.validateDumpKeys,
    restoreErrorAllowList: pick('restoreErrorAllowList').value ?? [],
    ...(adapterName ? { adapter: adapterName } : {}),
    bundle,
  };
}

/** `record[name]` when `record` itself has it: `toString` or `__proto__` typed as a name are no config's or alias's. */
export function own<T>(record: Record<string, T> | undefined, name: string): T | undefined {
  return record && Object.hasOwn(record, name) ? record[name] : undefined;
}

function stripConfigs(config: PgcloneConfig): ConfigBundle {
  const { configs: _configs, ...rest } = config;
  return rest;
}

function absoluteLocation(location: string, baseDir: string): string {
  // `s3:` a slash short is still meant for S3 (openStorage refuses it), never a directory named `s3:dumps`.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) || /^s3:/i.test(location)) return location;
  const resolved = path.resolve(baseDir, location);
  return resolved.endsWith(path.sep) ? resolved : resolved + path.sep;
}

/** The connection, or the error for a bad PG* variable it would read: refused before anything starts, as a bad URL is. */
function checkedEnv(conn: Connection | PgcloneError, env: NodeJS.ProcessEnv): Connection | PgcloneError {
  if (conn instanceof PgcloneError) return conn;
  try {
    assertConnectionEnv(conn, env);
    return conn;
  } catch (error) {
    if (error instanceof PgcloneError) return error;
    throw error;
  }
}

function resolveConnection(input: {
  alias: string;
  databases: Record<string, string | { env: string }>;
  adapter?: AdapterContribution;
  env: NodeJS.ProcessEnv;
  url?: string;
}): Connection | PgcloneError {
  const { alias, databases, adapter, env } = input;
  try {
    if (input.url) return parseConnection(input.url, 'databaseUrl option');
    const configured = own(databases, alias);
    if (typeof configured === 'string') return parseConnection(configured, `URL of database alias "${alias}"`);
    if (configured) {
      const value = env[configured.env];
      if (!value) {
        return new PgcloneError(
          'CONNECTION_MISSING',
          `Database alias "${alias}" reads its URL from $${configured.env}, which is not set`,
        );
      }
      return parseConnection(value, `$${configured.env} (database alias "${alias}")`);
    }
    if (alias === 'default') {
      if (adapter?.connection instanceof PgcloneError) return adapter.connection;
      if (adapter?.connection) return parseConnection(adapter.connection, `connection from the ${adapter.name} project`);
      if (env.DATABASE_URL) return parseConnection(env.DATABASE_URL, '$DATABASE_URL');
      return new PgcloneError(
        'CONNECTION_MISSING',
        'No database to work on: set DATABASE_URL, or databases.default in the pgclone config',
      );
    }
    return new ConfigError(
      'CONFIG_UNKNOWN_NAME',
      `Database alias ${JSON.stringify(alias)} is not configured (add it under "databases" in the pgclone config)`,
    );
  } catch (error) {
    if (error instanceof PgcloneError) return error;
    throw error;
  }
}
