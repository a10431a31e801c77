import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import {
  AdapterError,
  connectClient,
  connectionUrl,
  mergeEnv,
  parseConnection,
  quoteIdent,
  type Adapter,
  type AdapterHookTarget,
  type Connection,
  type ConnectionInput,
  type ReservedHook,
} from '@pgclone/core';
import { display, type PrismaProject } from './project.js';
import { runPrisma } from './run-prisma.js';
import { TARGET_URL_VARIABLE, URL_VARIABLES_VARIABLE, writeTempConfig } from './temp-config.js';
import { translatePrismaUrl, withPrismaDatabase } from './url.js';

/** Where to go from a failed `prisma migrate deploy`: not `restore :N__temp`, which Prisma refuses (P3009). */
const MIGRATE_RESUME =
  'it is as the failed migration left it, which Prisma will not migrate again (P3009); fix the migration, then restore the dump again';

/** Where to go from a `prisma migrate deploy` that was stopped: Prisma records the migration it was applying as failed. */
const MIGRATE_STOPPED_RESUME =
  'a migration stopped midway is recorded as failed, which Prisma will not migrate again (P3009); restore the dump again';

/** Options of a {@link PrismaAdapter} beyond the project itself. */
export interface PrismaAdapterOptions {
  /** The `--schema` the user gave (passed on to Prisma as given). */
  schemaArg?: string;
}

/**
 * pgclone's view of a Prisma project: the connection for dump and restore (the datasource's `directUrl`, else its
 * `url`), and the `migrate` and `seed` hooks, which run the project's own Prisma CLI against the database pgclone
 * hands them (`N__temp` before the swap), never the live one.
 */
export class PrismaAdapter implements Adapter {
  readonly name = 'prisma';
  readonly project: PrismaProject;
  readonly #options: PrismaAdapterOptions;

  constructor(project: PrismaProject, options: PrismaAdapterOptions = {}) {
    this.project = project;
    this.#options = options;
  }

  /** The config file's folder, else the folder Prisma runs in. */
  get projectDir(): string {
    return this.project.configFile ? path.dirname(this.project.configFile) : this.project.cwd;
  }

  get source(): string {
    return display(this.project.configFile ?? this.project.schemaPath, this.project.cwd);
  }

  /** The connection pgclone dumps and restores: Prisma's URL translated for libpq. */
  async connection(): Promise<ConnectionInput | undefined> {
    const { migrateUrl, urlError } = this.project;
    if (urlError) throw urlError;
    if (!migrateUrl) return undefined;
    return translatePrismaUrl(migrateUrl.url, { where: migrateUrl.from, baseDir: path.dirname(this.project.datasource.file) }).connection;
  }

  /**
   * What a test template built with `migrate`/`seed` depends on, relative to {@link projectDir}: the migrations
   * folder, the schema (file or folder), and the files the seed command names (`tsx prisma/seed.ts`).
   */
  async templateInputs(): Promise<string[]> {
    const { migrationsDir, schemaPath, seed, cwd } = this.project;
    const seedFiles = (seed ?? '')
      .split(/\s+/)
      .map((word) => path.resolve(cwd, word))
      .filter((file) => existsSync(file) && statSync(file).isFile());
    const relative = (file: string) => path.relative(this.projectDir, file).split(path.sep).join('/') || '.';
    return [...new Set([migrationsDir, schemaPath, ...seedFiles].map(relative))];
  }

  async runHook(name: ReservedHook, target: AdapterHookTarget): Promise<void> {
    const project = this.project;
    const cli = project.cli;
    if (!cli) {
      throw new AdapterError(
        `The "${name}" hook runs the project's Prisma CLI, but the prisma package is not installed in ${project.cwd} (npm install --save-dev prisma)`,
      );
    }
    if (project.driverAdapter) {
      throw new AdapterError(
        `The Prisma config ${this.source} connects through a driver adapter (engine "js"), which pgclone cannot point at ${target.database}; ` +
          'use datasource.url, or replace the "migrate" hook with your own command in preSwapHooks',
      );
    }
    if (name === 'seed' && !project.seed) {
      throw new AdapterError(
        `The "seed" hook runs the project's Prisma seed, but none is configured (migrations.seed in prisma.config.ts${cli.major < 7 ? ', or prisma.seed in package.json' : ''})`,
      );
    }

    // Prisma 7 reads its URL only from prisma.config.ts, and a Prisma 6 config may set one too: run Prisma with a
    // generated config whose datasource is the target's. A Prisma 6 schema reads it through env("…"): set those.
    // Any project config goes through a generated one, which undoes what the project's config does to process.env
    // (dotenv with override) when Prisma loads it.
    const configDatasource = project.config?.datasource;
    const setsDatasource = cli.major >= 7 || (!!configDatasource && typeof configDatasource === 'object');
    if (!setsDatasource) this.assertEnvUrls();

    const url = this.targetUrl(target.connection);
    await assertCurrentDatabase(url, target, path.dirname(project.datasource.file));
    const temp =
      setsDatasource || project.configFile
        ? await writeTempConfig({
            ...(project.configFile ? { projectConfig: project.configFile } : {}),
            schemaPath: project.schemaPath,
            datasource: setsDatasource,
            directUrl: !!(configDatasource && typeof configDatasource === 'object' && configDatasource.directUrl),
          })
        : undefined;
    try {
      const configArgs = temp ? ['--config', temp.file] : [];
      const schemaArgs = !temp && this.#options.schemaArg ? ['--schema', this.#options.schemaArg] : [];
      const args = name === 'migrate' ? ['migrate', 'deploy', ...configArgs, ...schemaArgs] : ['db', 'seed', ...configArgs, ...schemaArgs];
      target.reporter.info(`Running prisma ${args.slice(0, 2).join(' ')} (Prisma ${cli.version}) on ${target.database}`);
      await runPrisma(cli, args, {
        cwd: project.cwd,
        env: this.childEnv(target, url),
        reporter: target.reporter,
        expectDatabase: target.database,
        ...(target.signal ? { signal: target.signal } : {}),
      }).catch(async (error: unknown) => {
        // Prisma records a failed migration in _prisma_migrations and refuses to migrate that database again (P3009);
        // a stopped one (Ctrl-C) too. When none is recorded (Prisma never started one: it could not start, or was
        // stopped before), the copy resumes as any other, and the default advice stands. The abort stays an abort.
        if (name !== 'migrate' || !(await recordsFailedMigration(target))) throw error;
        if (error instanceof AdapterError) throw new AdapterError(error.message, { cause: error, resume: MIGRATE_RESUME });
        if (error instanceof Error && error.name === 'AbortError') Object.assign(error, { resume: MIGRATE_STOPPED_RESUME });
        throw error;
      });
    } finally {
      await temp?.dispose();
    }
  }

  /**
   * Prisma's URL for the target: the project's own URL with the database name replaced (so `schema=`, ssl and
   * pool settings stay as the project has them) when pgclone's connection is that URL's server and user; otherwise
   * (a connection configured in pgclone) the target's URL, with the project's `schema=`.
   */
  targetUrl(target: Connection): string {
    const { migrateUrl } = this.project;
    const baseDir = path.dirname(this.project.datasource.file);
    if (migrateUrl) {
      const own = translatePrismaUrl(migrateUrl.url, { where: migrateUrl.from, baseDir });
      const same = (own.connection.host ?? '') === (target.host ?? '') && (own.connection.port ?? 5432) === (target.port ?? 5432) && (own.connection.user ?? '') === (target.user ?? '');
      if (same) return withPrismaDatabase(migrateUrl.url, target.database);
      const url = new URL(connectionUrl({ ...target, params: withoutSearchPath(target.params, own.schema) }));
      if (own.schema) url.searchParams.set('schema', own.schema);
      return url.toString();
    }
    return connectionUrl(target);
  }

  /** A Prisma 6 schema without a config must read every URL Prisma Migrate uses through env("…"). */
  assertEnvUrls(): void {
    const { datasource } = this.project;
    for (const attribute of ['url', 'directUrl'] as const) {
      const value = datasource[attribute];
      if (value && 'value' in value) {
        throw new AdapterError(
          `The Prisma schema ${display(datasource.file, this.project.cwd)} writes its ${attribute} as a literal, so pgclone cannot point Prisma at another database; ` +
            `use ${attribute} = env("DATABASE_URL") (or any variable)`,
        );
      }
    }
  }

  /**
   * The environment for Prisma and the seed it runs: the target's, with every variable Prisma reads its URL from
   * set to the target's URL — the schema's env("…") names, `DATABASE_URL`, and any variable holding the project's
   * URL (listed for the generated config, which sets them again after the project's config ran) — so neither
   * Prisma nor a seed script finds the live database anywhere; and `node_modules/.bin` on `PATH`
   * as under `npx`, since seed commands name local tools (`tsx prisma/seed.ts`).
   */
  childEnv(target: AdapterHookTarget, url: string): NodeJS.ProcessEnv {
    const { datasource, migrateUrl, pooledUrl, env } = this.project;
    const overrides: Record<string, string> = { DATABASE_URL: url, [TARGET_URL_VARIABLE]: url };
    for (const value of [datasource.url, datasource.directUrl]) if (value && 'env' in value) overrides[value.env] = url;
    const liveUrls = [migrateUrl?.url, pooledUrl?.url].filter((u): u is string => !!u);
    for (const [name, value] of Object.entries({ ...env, ...target.env })) {
      if (value && liveUrls.includes(value)) overrides[name] = url;
    }
    overrides[URL_VARIABLES_VARIABLE] = Object.keys(overrides).filter((name) => name !== TARGET_URL_VARIABLE).join(',');
    const bins: string[] = [];
    for (let dir = this.project.cwd; ; dir = path.dirname(dir)) {
      bins.push(path.join(dir, 'node_modules', '.bin'));
      if (path.dirname(dir) === dir) break;
    }
    const pathKey = Object.keys(target.env).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH';
    overrides[pathKey] = [...bins, target.env[pathKey] ?? ''].filter(Boolean).join(path.delimiter);
    return mergeEnv(target.env, overrides);
  }
}

/** `params` without the `options` pgclone derived from `schema=` (Prisma gets `schema=` itself). */
function withoutSearchPath(params: Record<string, string>, schema: string | undefined): Record<string, string> {
  if (!schema || !params.options?.includes('search_path')) return params;
  const { options: _options, ...rest } = params;
  return rest;
}

/**
 * Connects with the URL Prisma is about to get and checks `current_database()`: the target, and nothing else.
 */
async function assertCurrentDatabase(url: string, target: AdapterHookTarget, baseDir: string): Promise<void> {
  const translated = translatePrismaUrl(url, { where: 'the URL pgclone gives Prisma', baseDir });
  const conn = parseConnection(translated.connection);
  if (conn.database !== target.database) {
    throw new AdapterError(`The URL for Prisma names database "${conn.database}", not "${target.database}"; pgclone did not run Prisma`);
  }
  let client: pg.Client | undefined;
  let current: string | undefined;
  try {
    client = await connectClient(conn, {}, target.env);
    current = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db;
  } catch (error) {
    throw new AdapterError(`Cannot connect to ${target.database} with the URL for Prisma: ${(error as Error).message}`, { cause: error });
  } finally {
    await client?.end().catch(() => {});
  }
  if (current !== target.database) {
    throw new AdapterError(`The URL for Prisma connects to database "${current}", not "${target.database}"; pgclone did not run Prisma`);
  }
}

/**
 * Whether `target` holds a migration Prisma recorded as failed (started, neither finished nor rolled back), in any
 * schema's `_prisma_migrations`. Unknown (the database unreachable) counts as yes: the advice to restore the dump
 * again is right either way, while resuming a copy with a failed migration is refused by Prisma (P3009).
 */
async function recordsFailedMigration(target: AdapterHookTarget): Promise<boolean> {
  let client: pg.Client | undefined;
  try {
    client = await connectClient(target.connection, {}, target.env);
    const tables = await client.query<{ schema: string }>(
      `SELECT n.nspname AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = '_prisma_migrations' AND c.relkind IN ('r', 'p')`,
    );
    for (const { schema } of tables.rows) {
      const failed = await client.query(
        `SELECT 1 FROM ${quoteIdent(schema)}._prisma_migrations WHERE finished_at IS NULL AND rolled_back_at IS NULL LIMIT 1`,
      );
      if (failed.rowCount) return true;
    }
    return false;
  } catch {
    return true;
  } finally {
    await client?.end().catch(() => {});
  }
}
