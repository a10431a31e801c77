import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { AdapterError, PgcloneError } from '@pgclone/core';
import { findPrismaConfig, loadPrismaConfig, usesDriverAdapter, type PrismaConfigObject } from './config-file.js';
import { assertPostgres, singleDatasource, type DatasourceValue, type SchemaDatasource } from './datasource.js';
import { loadPrismaDotenv } from './dotenv.js';
import { findPrismaCli, type PrismaCli } from './prisma-cli.js';

/** Where to look for the Prisma project: the Prisma CLI's own flags. */
export interface PrismaProjectOptions {
  /** Directory Prisma would run in. Default: `process.cwd()`. */
  cwd?: string;
  /** `--schema`: a schema file, or a folder of `.prisma` files (relative to `cwd`). */
  schema?: string;
  /** `--config`: the Prisma config file (relative to `cwd`). */
  config?: string;
  /** Environment Prisma would see. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** A URL as Prisma reads it, and where from (for messages and for pointing Prisma elsewhere). */
export interface PrismaUrlSource {
  /** The URL itself (password included). */
  url: string;
  /** `prisma.config.ts datasource.url`, `env("DATABASE_URL") in prisma/schema.prisma`, … */
  from: string;
  /** The environment variable it was read from, when it came from one. */
  env?: string;
}

/** Everything pgclone found out about a Prisma project. */
export interface PrismaProject {
  cwd: string;
  /** The Prisma config file, if any. */
  configFile?: string;
  config?: PrismaConfigObject;
  /** Absolute schema path: a file, or a folder of `.prisma` files. */
  schemaPath: string;
  /** How the schema was found: `--schema`, the config, `package.json`, or a default location. */
  schemaFrom: string;
  /** Absolute migrations directory. */
  migrationsDir: string;
  datasource: SchemaDatasource;
  /** The environment Prisma sees (after `.env` loading, or after running the config). */
  env: NodeJS.ProcessEnv;
  /** `.env` files Prisma loads itself (none when there is a config file). */
  envFiles: string[];
  /** The URL Prisma Migrate uses: `directUrl` when there is one, else `url`. */
  migrateUrl?: PrismaUrlSource;
  /** The pooled `url`, when there is also a `directUrl`. */
  pooledUrl?: PrismaUrlSource;
  /** Why there is no URL, when the project names one that cannot be read (an unset variable). */
  urlError?: PgcloneError;
  /** The seed command (`migrations.seed`, or Prisma 6's `package.json` `prisma.seed`). */
  seed?: string;
  /** The project's Prisma CLI, when installed. */
  cli?: PrismaCli;
  /** True when Prisma Migrate connects through a driver adapter function (Prisma 6 `engine: 'js'`). */
  driverAdapter: boolean;
}

/** For messages: a path relative to `cwd` when it is inside it. */
export function display(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

interface PackagePrisma {
  schema?: string;
  seed?: string;
  file: string;
}

/** `package.json` `"prisma"` of the nearest package.json from `cwd` up (deprecated in Prisma 6, ignored by 7). */
function packageJsonPrisma(cwd: string): PackagePrisma | undefined {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const prisma = (JSON.parse(readFileSync(file, 'utf8')) as { prisma?: { schema?: unknown; seed?: unknown } }).prisma;
        if (!prisma || typeof prisma !== 'object') return undefined;
        return {
          file,
          ...(typeof prisma.schema === 'string' ? { schema: prisma.schema } : {}),
          ...(typeof prisma.seed === 'string' ? { seed: prisma.seed } : {}),
        };
      } catch {
        return undefined;
      }
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The `.prisma` files of a schema path: the file itself, or every `.prisma` file under the folder. */
function readSchemaFiles(schemaPath: string): Array<[string, string]> {
  if (statSync(schemaPath).isFile()) return [[schemaPath, readFileSync(schemaPath, 'utf8')]];
  const files: Array<[string, string]> = [];
  const walk = (dir: string) => {
    const entries = readOrSkip(dir, 'folder', () => readdirSync(dir, { withFileTypes: true }));
    for (const entry of (entries ?? []).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith('.prisma')) {
        const text = readOrSkip(full, 'file', () => readFileSync(full, 'utf8'));
        if (text !== undefined) files.push([full, text]);
      }
    }
  };
  walk(schemaPath);
  return files;
}

/**
 * `read()`, or `undefined` when `file` is gone since its folder was listed (deleted meanwhile, or a name that is no
 * UTF-8, which Node lists as another name): not part of the schema, as for Prisma. Any other failure (EACCES) is an
 * error naming the path, not a bare `ENOENT: … scandir`.
 */
function readOrSkip<T>(file: string, what: 'file' | 'folder', read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new AdapterError(`Cannot read the Prisma schema ${what} ${file}: ${code ?? (error as Error).message}`, { cause: error });
  }
}

function existing(file: string): boolean {
  return existsSync(file);
}

/**
 * Finds and reads a Prisma project the way the Prisma CLI does from `cwd`, or returns `undefined` when there is
 * none. Schema: `--schema`, else the config's `schema`, else (Prisma 6) `package.json` `prisma.schema`, else
 * `schema.prisma`, else `prisma/schema.prisma`. A datasource with another provider than PostgreSQL is an error.
 */
export async function loadPrismaProject(options: PrismaProjectOptions = {}): Promise<PrismaProject | undefined> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const baseEnv = options.env ?? process.env;
  const cli = findPrismaCli(cwd);
  const prisma7 = (cli?.major ?? 0) >= 7;

  let configFile: string | undefined;
  if (options.config) {
    configFile = path.resolve(cwd, options.config);
    if (!existing(configFile)) throw new AdapterError(`The Prisma config file ${options.config} does not exist (in ${cwd})`);
  } else {
    configFile = findPrismaConfig(cwd);
  }
  const loadedConfig = configFile ? await loadPrismaConfig(configFile, baseEnv, display(configFile, cwd), cwd) : undefined;
  const config = loadedConfig?.config;
  const configDir = configFile ? path.dirname(configFile) : cwd;

  const pkg = prisma7 ? undefined : packageJsonPrisma(cwd);
  let schemaPath: string | undefined;
  let schemaFrom: string;
  if (options.schema) {
    schemaPath = path.resolve(cwd, options.schema);
    schemaFrom = '--schema';
    if (!existing(schemaPath)) throw new AdapterError(`The Prisma schema ${options.schema} does not exist (in ${cwd})`);
  } else if (typeof config?.schema === 'string') {
    schemaPath = path.resolve(configDir, config.schema);
    schemaFrom = display(configFile!, cwd);
    if (!existing(schemaPath)) {
      throw new AdapterError(`The Prisma schema ${config.schema} set in ${display(configFile!, cwd)} does not exist`);
    }
  } else if (pkg?.schema) {
    schemaPath = path.resolve(path.dirname(pkg.file), pkg.schema);
    schemaFrom = display(pkg.file, cwd);
    if (!existing(schemaPath)) throw new AdapterError(`The Prisma schema ${pkg.schema} set in ${schemaFrom} does not exist`);
  } else {
    schemaPath = [path.join(cwd, 'schema.prisma'), path.join(cwd, 'prisma', 'schema.prisma')].find(existing);
    schemaFrom = 'the default location';
  }
  if (!schemaPath) {
    if (!configFile) return undefined;
    throw new AdapterError(
      `Found the Prisma config ${display(configFile, cwd)} but no schema: set "schema" in it, or add schema.prisma or prisma/schema.prisma`,
    );
  }

  const schemaDisplay = display(schemaPath, cwd);
  const files = readSchemaFiles(schemaPath);
  if (files.length === 0) throw new AdapterError(`The Prisma schema folder ${schemaDisplay} has no .prisma files`);
  const datasource = singleDatasource(files, schemaDisplay);

  // Prisma loads .env files itself only when there is no config file (a config loads them itself, or not at all).
  const dotenv = configFile ? { env: loadedConfig!.env, files: [] } : loadPrismaDotenv({ cwd, env: baseEnv, ...(options.schema ? { schemaArg: options.schema } : {}) });
  const env = dotenv.env;
  assertPostgres(datasource, env, display(datasource.file, cwd));

  const schemaRoot = statSync(schemaPath).isFile() ? path.dirname(schemaPath) : schemaPath;
  const migrationsDir =
    typeof config?.migrations?.path === 'string' ? path.resolve(configDir, config.migrations.path) : path.join(schemaRoot, 'migrations');

  const urls = resolveUrls({ config, configFile, datasource, env, cwd });
  const seed = typeof config?.migrations?.seed === 'string' ? config.migrations.seed : pkg?.seed;
  return {
    cwd,
    ...(configFile ? { configFile } : {}),
    ...(config ? { config } : {}),
    schemaPath,
    schemaFrom,
    migrationsDir,
    datasource,
    env,
    envFiles: dotenv.files,
    ...urls,
    ...(seed ? { seed } : {}),
    ...(cli ? { cli } : {}),
    driverAdapter: config ? usesDriverAdapter(config) : false,
  };
}

/**
 * The URLs Prisma Migrate would use: the config's `datasource` (Prisma 7, or Prisma 6 `engine: 'classic'`) overrides
 * the schema's `url`/`directUrl`; `directUrl` wins over `url` (a pooler such as PgBouncer cannot CREATE DATABASE).
 */
function resolveUrls(input: {
  config: PrismaConfigObject | undefined;
  configFile: string | undefined;
  datasource: SchemaDatasource;
  env: NodeJS.ProcessEnv;
  cwd: string;
}): Pick<PrismaProject, 'migrateUrl' | 'pooledUrl' | 'urlError'> {
  const { config, configFile, datasource, env, cwd } = input;
  const configDatasource = config?.datasource;
  if (configDatasource && typeof configDatasource === 'object' && (configDatasource.url || configDatasource.directUrl)) {
    const where = display(configFile!, cwd);
    const url = typeof configDatasource.url === 'string' && configDatasource.url ? { url: configDatasource.url, from: `${where} datasource.url` } : undefined;
    const direct =
      typeof configDatasource.directUrl === 'string' && configDatasource.directUrl
        ? { url: configDatasource.directUrl, from: `${where} datasource.directUrl` }
        : undefined;
    return pick(direct, url);
  }
  const where = display(datasource.file, cwd);
  const read = (attribute: string, value: DatasourceValue | undefined): PrismaUrlSource | PgcloneError | undefined => {
    if (!value) return undefined;
    if ('value' in value) return { url: value.value, from: `${attribute} in ${where}` };
    const url = env[value.env];
    if (!url) {
      return new AdapterError(
        `The Prisma schema ${where} reads its ${attribute} from env("${value.env}"), which is not set (in the environment or a .env file Prisma loads)`,
      );
    }
    return { url, from: `env("${value.env}") in ${where}`, env: value.env };
  };
  const url = read('url', datasource.url);
  const direct = read('directUrl', datasource.directUrl);
  if (direct instanceof PgcloneError) return { urlError: direct };
  if (url instanceof PgcloneError) return direct ? pick(direct, undefined) : { urlError: url };
  return pick(direct, url);
}

function pick(direct: PrismaUrlSource | undefined, url: PrismaUrlSource | undefined): Pick<PrismaProject, 'migrateUrl' | 'pooledUrl'> {
  if (direct) return { migrateUrl: direct, ...(url ? { pooledUrl: url } : {}) };
  return url ? { migrateUrl: url } : {};
}
