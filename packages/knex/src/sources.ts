import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { AdapterError } from '@pgclone/core';
import { loadProjectModule } from './load-module.js';
import type { KnexMigrationsConfig, KnexSeedsConfig } from './types.js';

/** Knex's default `loadExtensions` (migrations and seeds). */
export const DEFAULT_LOAD_EXTENSIONS: readonly string[] = ['.co', '.coffee', '.eg', '.iced', '.js', '.cjs', '.litcoffee', '.ls', '.ts'];

/** Receives what a Knex task has to say. */
export interface TaskReport {
  /** A line of progress (`Running migration 003_add_nickname.ts`). */
  line(text: string): void;
  /** Called as each migration starts, with its name. */
  migrationStarted?(name: string): void;
}

interface SourceOptions {
  /** Directory relative `directory` settings are resolved against (the knexfile's). */
  baseDir: string;
  esm?: boolean | undefined;
}

// Knex replaces a configured migrationSource/seedSource by its file-system one as soon as one of these is set.
const usesFiles = (c: { directory?: unknown; sortDirsSeparately?: unknown; loadExtensions?: unknown }) =>
  !!c.directory || c.sortDirsSeparately !== undefined || !!c.loadExtensions;

function directories(value: string | readonly string[] | undefined, fallback: string, baseDir: string): string[] {
  const list = value === undefined ? [fallback] : typeof value === 'string' ? [value] : [...value];
  return list.map((dir) => path.resolve(baseDir, dir));
}

/**
 * The config given to `migrate.latest`: the knexfile's `migrations` (tableName, schemaName, disableTransactions, …)
 * with the files listed and ordered exactly as Knex's own file source does (`directory`, `sortDirsSeparately`,
 * `loadExtensions`), relative directories resolved against the knexfile's directory, TypeScript migrations loaded
 * with jiti, and a line reported as each migration starts. A custom `migrationSource` is used as configured.
 */
export function migrateConfig(migrations: KnexMigrationsConfig | undefined, options: SourceOptions, report: TaskReport): Record<string, unknown> {
  const given: KnexMigrationsConfig = { ...(migrations ?? {}) };
  let config: Record<string, unknown>;
  if (!given.migrationSource || usesFiles(given)) {
    const { directory, sortDirsSeparately, loadExtensions, migrationSource: _ignored, ...rest } = given;
    config = {
      ...rest,
      migrationSource: new FileMigrationSource(
        directories(directory, './migrations', options.baseDir),
        !!sortDirsSeparately,
        loadExtensions ?? DEFAULT_LOAD_EXTENSIONS,
        options.esm,
      ),
    };
  } else {
    config = { ...given };
  }
  config.migrationSource = announcing(config.migrationSource as MigrationSource, report);
  return config;
}

/** Knex's migration source interface. */
interface MigrationSource {
  getMigrations(loadExtensions?: readonly string[]): Promise<unknown[]>;
  getMigrationName(migration: unknown): string;
  getMigration(migration: unknown): Promise<unknown>;
}

/**
 * `source` with each migration's `up`/`down` reporting the migration as it starts. Knex ≥ 3's `beforeEach` would
 * do, but the Knex 2 this package supports has none, and a failure would then name no migration.
 */
function announcing(source: MigrationSource, report: TaskReport): MigrationSource {
  return {
    getMigrations: (loadExtensions) => source.getMigrations(loadExtensions),
    getMigrationName: (migration) => source.getMigrationName(migration),
    async getMigration(migration) {
      const name = source.getMigrationName(migration);
      const loaded = (await source.getMigration(migration)) as Record<string, unknown>;
      const announced = (run: unknown) =>
        typeof run !== 'function'
          ? run
          : function (this: unknown, ...args: unknown[]) {
              report.migrationStarted?.(name);
              report.line(`Running migration ${name}`);
              return (run as (...a: unknown[]) => unknown).apply(this, args);
            };
      return { ...loaded, up: announced(loaded.up), down: announced(loaded.down) };
    },
  };
}

/** The config given to `seed.run`, built like {@link migrateConfig} (default directory `./seeds`). */
export function seedConfig(seeds: KnexSeedsConfig | undefined, options: SourceOptions): Record<string, unknown> {
  const given: KnexSeedsConfig = { ...(seeds ?? {}) };
  if (given.seedSource && !usesFiles(given)) return { ...given };
  const { directory, sortDirsSeparately, loadExtensions, seedSource: _ignored, ...rest } = given;
  return {
    ...rest,
    seedSource: new FileSeedSource(
      directories(directory, './seeds', options.baseDir),
      !!sortDirsSeparately,
      loadExtensions ?? DEFAULT_LOAD_EXTENSIONS,
      options.esm,
    ),
  };
}

/**
 * The folders `migrate` and `seed` read, as globs relative to `baseDir` (where relative `directory` settings are
 * resolved): `migrations.directory` (default `./migrations`) and `seeds.directory` (default `./seeds`). A custom
 * `migrationSource`/`seedSource` without file settings names no folder: its default one is listed instead.
 */
export function knexTemplateInputs(config: { migrations?: KnexMigrationsConfig | undefined; seeds?: KnexSeedsConfig | undefined }, baseDir: string): string[] {
  const folders = [
    ...directories(config.migrations?.directory, './migrations', baseDir),
    ...directories(config.seeds?.directory, './seeds', baseDir),
  ];
  return [...new Set(folders.map((dir) => path.relative(baseDir, dir).split(path.sep).join('/') || '.'))];
}

interface MigrationFile {
  file: string;
  directory: string;
}

/** Knex's `FsMigrations`, with pgclone's loader. Migration names are file names, as Knex records them. */
export class FileMigrationSource {
  constructor(
    private readonly dirs: string[],
    private readonly sortDirsSeparately: boolean,
    private readonly loadExtensions: readonly string[],
    private readonly esm: boolean | undefined,
  ) {}

  // Knex passes its merged loadExtensions, which is its default unless set in this config; ours is the knexfile's.
  async getMigrations(): Promise<MigrationFile[]> {
    const all: MigrationFile[] = [];
    for (const directory of this.dirs) {
      const files = await readdir(directory);
      if (this.sortDirsSeparately) files.sort();
      for (const file of files) all.push({ file, directory });
    }
    const ordered = this.sortDirsSeparately ? all : [...all].sort((a, b) => compare(a.file, b.file));
    return ordered.filter((m) => this.loadExtensions.includes(path.extname(m.file)));
  }

  getMigrationName(migration: MigrationFile): string {
    return migration.file;
  }

  // Knex loads every pending migration before the first one runs, so a load error would otherwise name no file.
  async getMigration(migration: MigrationFile): Promise<unknown> {
    try {
      return await loadProjectModule(path.join(migration.directory, migration.file), { esm: this.esm });
    } catch (error) {
      const reason = String((error as Error)?.message ?? error).split('\n')[0];
      throw new AdapterError(`Cannot load Knex migration ${migration.file}: ${reason}`, { cause: error });
    }
  }
}

/** Knex's `FsSeeds`, with pgclone's loader. */
export class FileSeedSource {
  constructor(
    private readonly dirs: string[],
    private readonly sortDirsSeparately: boolean,
    private readonly loadExtensions: readonly string[],
    private readonly esm: boolean | undefined,
  ) {}

  _getConfigDirectories(): string[] {
    return this.dirs;
  }

  async getSeeds(config: { recursive?: boolean; specific?: string | null }): Promise<string[]> {
    const found: string[] = [];
    for (const dir of this.dirs) found.push(...(await filesIn(dir, !!config.recursive)));
    let files = found.filter((f) => this.loadExtensions.includes(path.extname(f)));
    if (!this.sortDirsSeparately) files.sort();
    if (config.specific) {
      files = files.filter((f) => path.basename(f) === config.specific);
      if (files.length === 0) throw new Error(`Invalid argument provided: the specific seed "${config.specific}" does not exist.`);
    }
    return files;
  }

  getSeed(file: string): Promise<unknown> {
    return loadProjectModule(file, { esm: this.esm });
  }
}

async function filesIn(dir: string, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const file = path.resolve(dir, name);
    if ((await stat(file)).isDirectory()) {
      if (recursive) out.push(...(await filesIn(file, true)));
    } else {
      out.push(file);
    }
  }
  return out;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
