import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cluster, createDatabase, dbUrl, dropDatabases, ident, sql, uniqueName } from '../../../test/support/pg.js';
import { cjsMigration, esmMigration, knexEnv, knexPgclone, makeProject, removeProject, tsMigration, writeFiles } from './support/project.js';

async function tables(db: string, schema = 'public'): Promise<string[]> {
  const rows = await sql<{ table_name: string }>(
    db,
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
    [schema],
  );
  return rows.map((r) => r.table_name);
}

/** Restores the local database `${db}_src` into `db`: the pending migrations run on the copy. */
// Restores the empty source copy with the migrate hook asked for explicitly (a local restore runs no configured hooks).
async function restoreEmpty(cwd: string, db: string, args: string[] = [], restoreArgs = ['--pre-swap-hook', 'migrate']): Promise<string> {
  const restored = await knexPgclone(['restore', `:${db}_src`, ...args, ...restoreArgs], { cwd });
  expect(restored.code, restored.stderr).toBe(0);
  return restored.stderr;
}

describe('knexfiles in every format Knex loads', () => {
  const prefix = uniqueName('knexfmt');
  const projects: string[] = [];
  afterAll(async () => {
    await dropDatabases(prefix);
    projects.forEach(removeProject);
  });

  const variants: Array<{ name: string; files: (url: string) => Record<string, string>; migration: string; args?: string[]; restoreArgs?: string[]; table?: [string, string]; setup?: string }> = [
    {
      name: 'knexfile.js (CommonJS package)',
      files: (url) => ({
        'package.json': JSON.stringify({ name: 'app', private: true }),
        'knexfile.js': `module.exports = { development: ${knexEnv(url)} };\n`,
        'migrations/001_t.js': cjsMigration('CREATE TABLE added (id int)'),
      }),
      migration: '001_t.js',
    },
    {
      name: 'knexfile.cjs with a custom migrations table',
      files: (url) => ({
        'package.json': JSON.stringify({ name: 'app', private: true, type: 'module' }),
        'knexfile.cjs': `module.exports = { development: ${knexEnv(url)}, };\nmodule.exports.development.migrations.tableName = 'schema_history';\n`,
        'migrations/001_t.cjs': cjsMigration('CREATE TABLE added (id int)'),
      }),
      migration: '001_t.cjs',
      table: ['public', 'schema_history'],
    },
    {
      name: 'knexfile.mjs with loadExtensions and a migrations schema',
      files: (url) => ({
        'package.json': JSON.stringify({ name: 'app', private: true }),
        'knexfile.mjs': `export default { development: { client: 'postgresql', connection: ${JSON.stringify(url)}, migrations: { directory: ['./db/a', './db/b'], sortDirsSeparately: true, loadExtensions: ['.mjs'], schemaName: 'meta' } } };\n`,
        'db/a/002_first.mjs': esmMigration('CREATE TABLE added (id int)'),
        'db/b/001_second.mjs': esmMigration('CREATE TABLE added_after (id int)'),
        'db/b/000_ignored.js': esmMigration('CREATE TABLE must_not_exist (id int)'),
      }),
      migration: '002_first.mjs',
      table: ['meta', 'knex_migrations'],
      setup: 'CREATE SCHEMA meta',
    },
    {
      name: 'knexfile.ts with TypeScript migrations and seeds (ESM package, async function export)',
      files: (url) => ({
        'package.json': JSON.stringify({ name: 'app', private: true, type: 'module' }),
        'knexfile.ts': `import type { Knex } from 'knex';\nconst url: string = ${JSON.stringify(url)};\nexport default async (): Promise<Record<string, Knex.Config>> => ({ development: { client: 'pg', connection: async () => url, migrations: { directory: './migrations' }, seeds: { directory: './seeds' } } });\n`,
        'migrations/001_t.ts': tsMigration('CREATE TABLE added (id int)'),
        'seeds/01_rows.ts': "import type { Knex } from 'knex';\nexport async function seed(knex: Knex): Promise<void> { await knex('added').insert({ id: 42 as number }); }\n",
      }),
      migration: '001_t.ts',
      restoreArgs: ['--pre-swap-hook', 'migrate', '--pre-swap-hook', 'seed'],
    },
    {
      name: 'knexfile.ts in a CommonJS package',
      files: (url) => ({
        'package.json': JSON.stringify({ name: 'app', private: true }),
        'knexfile.ts': `import type { Knex } from 'knex';\nconst config: Knex.Config = { client: 'pg', connection: ${JSON.stringify(url)} };\nmodule.exports = config;\n`,
        'migrations/001_t.ts': tsMigration('CREATE TABLE added (id int)'),
      }),
      migration: '001_t.ts',
    },
    {
      name: '--esm: ESM syntax in .js files of a CommonJS package',
      files: (url) => ({
        'package.json': JSON.stringify({ name: 'app', private: true }),
        'knexfile.js': `export default { development: ${knexEnv(url)} };\n`,
        'migrations/001_t.js': esmMigration('CREATE TABLE added (id int)'),
      }),
      migration: '001_t.js',
      args: ['--esm'],
    },
  ];

  for (const [i, variant] of variants.entries()) {
    it(variant.name, async () => {
      const db = `${prefix}_${i}`;
      await createDatabase(db);
      await createDatabase(`${db}_src`);
      if (variant.setup) await sql(`${db}_src`, variant.setup);
      const project = makeProject(variant.files(dbUrl(db)));
      projects.push(project);
      const [schema, table] = variant.table ?? ['public', 'knex_migrations'];
      const stderr = await restoreEmpty(project, db, variant.args, variant.restoreArgs);
      expect(stderr).toContain(`Running migration ${variant.migration}`);
      expect(await tables(db)).toContain('added');
      const names = (await sql<{ name: string }>(db, `SELECT name FROM ${ident(schema)}.${ident(table)} ORDER BY id`)).map((r) => r.name);
      expect(names).toContain(variant.migration);
      if (variant.name.startsWith('knexfile.mjs')) {
        // sortDirsSeparately keeps directory order; loadExtensions leaves the .js file out.
        expect(names).toEqual(['002_first.mjs', '001_second.mjs']);
        expect(await tables(db)).not.toContain('must_not_exist');
      }
      if (variant.restoreArgs?.includes('seed')) expect(await sql(db, 'SELECT id FROM added')).toEqual([{ id: 42 }]);
    });
  }
});

describe('knexfile environments', () => {
  const dev = uniqueName('knexenv');
  const staging = `${dev}_staging`;
  let project: string;
  beforeAll(async () => {
    await createDatabase(dev);
    await createDatabase(staging);
    project = makeProject({
      'knexfile.cjs': `module.exports = { development: ${knexEnv(dbUrl(dev))}, staging: ${knexEnv(dbUrl(staging))} };\n`,
    });
  });
  afterAll(async () => {
    await dropDatabases(dev);
    removeProject(project);
  });

  /** The database pgclone works on: `ls --local` lists every other one. */
  async function target(args: string[], env: Record<string, string | undefined> = {}): Promise<string> {
    const result = await knexPgclone(['ls', '--local', ...args], { cwd: project, env });
    expect(result.code, result.stderr).toBe(0);
    const listed = new Set(result.lines);
    const candidates = [dev, staging].filter((db) => !listed.has(`:${db}`));
    expect(candidates).toHaveLength(1);
    return candidates[0]!;
  }

  it('uses development by default, NODE_ENV when set, and --env over both', async () => {
    expect(await target([])).toBe(dev);
    expect(await target([], { NODE_ENV: 'staging' })).toBe(staging);
    expect(await target(['--env', 'staging'])).toBe(staging);
    expect(await target(['--env', 'development'], { NODE_ENV: 'staging' })).toBe(dev);
  });

  it('names the environments when the one asked for does not exist', async () => {
    const result = await knexPgclone(['ls', '--env', 'production'], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('has no "production" environment (it has "development", "staging")');
  });

  it('finds the knexfile from a subdirectory, and takes --cwd and --knexfile as the Knex CLI does', async () => {
    writeFiles(project, { 'nested/dir/.keep': '' });
    const other = makeProject({ 'conf/other.cjs': `module.exports = ${knexEnv(dbUrl(staging))};\n`, 'empty/.keep': '' });
    try {
      const fromBelow = await knexPgclone(['ls', '--local'], { cwd: `${project}/nested/dir` });
      expect(fromBelow.code, fromBelow.stderr).toBe(0);
      expect(fromBelow.lines).toContain(`:${staging}`);
      expect(fromBelow.lines).not.toContain(`:${dev}`);
      const withCwd = await knexPgclone(['ls', '--local', '--cwd', `${project}/nested/dir`], { cwd: other });
      expect(withCwd.code, withCwd.stderr).toBe(0);
      expect(withCwd.lines).not.toContain(`:${dev}`);
      // --knexfile is relative to --cwd; a flat knexfile serves every environment.
      const explicit = await knexPgclone(['ls', '--local', '--cwd', other, '--knexfile', 'conf/other.cjs', '--env', 'anything'], { cwd: project });
      expect(explicit.code, explicit.stderr).toBe(0);
      expect(explicit.lines).toContain(`:${dev}`);
      expect(explicit.lines).not.toContain(`:${staging}`);
      const missing = await knexPgclone(['ls', '--knexfile', 'nope.js'], { cwd: project });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('Knexfile "nope.js" does not exist');
      const none = await knexPgclone(['ls'], { cwd: `${other}/empty` });
      expect(none.code).toBe(1);
      expect(none.stderr).toContain('No knexfile found');
    } finally {
      removeProject(other);
    }
  });

  it('loads the knexfile from --cwd, or from the folder of --knexfile, as the Knex CLI does (dotenv, relative files)', async () => {
    // A knexfile that reads a file relative to the working directory, as `dotenv.config()` reads `.env`: the Knex CLI
    // changes to --cwd, and to the folder of a --knexfile, before loading it.
    const db = `${dev}_wd`;
    await createDatabase(db);
    await createDatabase(`${db}_src`);
    const app = makeProject({
      'app/knexfile.cjs':
        "const url = require('node:fs').readFileSync('./database-url.txt', 'utf8').trim();\n" +
        "module.exports = { client: 'pg', connection: url, migrations: { directory: './migrations' } };\n",
      'app/database-url.txt': `${dbUrl(db)}\n`,
      'app/migrations/001_t.js': cjsMigration('CREATE TABLE added (id int)'),
    });
    try {
      const withCwd = await knexPgclone(['ls', '--local', '--cwd', 'app'], { cwd: app });
      expect(withCwd.code, withCwd.stderr).toBe(0);
      expect(withCwd.lines).toContain(`:${db}_src`);
      expect(withCwd.lines).not.toContain(`:${db}`);
      // The migrate hook's child process loads the knexfile again, from the same folder.
      const restored = await knexPgclone(['restore', `:${db}_src`, '--knexfile', 'app/knexfile.cjs', '--pre-swap-hook', 'migrate'], { cwd: app });
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.stderr).toContain('Running migration 001_t.js');
      expect(await tables(db)).toContain('added');
    } finally {
      removeProject(app);
      await dropDatabases(db);
    }
  });
});

describe('connections', () => {
  const db = uniqueName('knexpw');
  const role = `${db}_role`;
  const password = 'p@ss:w/rd?#%41%zz';
  let project: string;
  beforeAll(async () => {
    await sql('postgres', `CREATE ROLE ${ident(role)} LOGIN CREATEDB PASSWORD '${password.replace(/'/g, "''")}'`);
    await sql('postgres', `CREATE DATABASE ${ident(db)} OWNER ${ident(role)} TEMPLATE template0`);
    const c = cluster();
    const connection = { host: c.host, port: c.port, user: role, password, database: db, ssl: false };
    project = makeProject({
      'knexfile.js': `module.exports = { client: 'pg', connection: ${JSON.stringify(connection)}, pgclone: { exclude: ['big'] } };\n`,
      'migrations/001_t.js': cjsMigration('CREATE TABLE added (id int)'),
    });
    await sql(db, `CREATE TABLE big (id int); INSERT INTO big VALUES (1); ALTER TABLE big OWNER TO ${ident(role)}`);
  });
  afterAll(async () => {
    await dropDatabases(db);
    await sql('postgres', `DROP ROLE IF EXISTS ${ident(role)}`);
    removeProject(project);
  });

  it('dumps and restores with an object connection whose password has @:/?#%, and never prints it', async () => {
    const dumped = await knexPgclone(['dump'], { cwd: project });
    expect(dumped.code, dumped.stderr).toBe(0);
    const restored = await knexPgclone(['restore', dumped.lines.at(-1)!], { cwd: project });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toContain('Running migration 001_t.js');
    expect(await tables(db)).toEqual(['added', 'big', 'knex_migrations', 'knex_migrations_lock']);
    // The knexfile's pgclone section applied: the rows of "big" were left out of the dump.
    expect(await sql(db, 'SELECT count(*)::int AS n FROM big')).toEqual([{ n: 0 }]);
    expect(await sql<{ owner: string }>('postgres', 'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [db])).toEqual([{ owner: role }]);
    for (const out of [dumped.stdout, dumped.stderr, restored.stdout, restored.stderr]) {
      expect(out).not.toContain(password);
      expect(out).not.toContain(encodeURIComponent(password));
    }
  });

  it('refuses a knexfile whose client is not PostgreSQL, naming the client', async () => {
    const mysql = makeProject({ 'knexfile.js': "module.exports = { development: { client: 'mysql2', connection: { host: 'localhost', database: 'app' } } };\n" });
    try {
      const result = await knexPgclone(['ls'], { cwd: mysql });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('Knex client "mysql2" in knexfile.js (development) is not PostgreSQL');
    } finally {
      removeProject(mysql);
    }
  });
});
