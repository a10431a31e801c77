import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { close, copy, ensureTemplate, restore } from 'pgclone';
import { fromKnexfile } from '@pgclone/knex';
import { createDatabase, databases, dbUrl, dropDatabases, ident, sql, uniqueName } from '../../../test/support/pg.js';
import { cjsMigration, esmMigration, knexEnv, knexPgclone, makeProject, removeProject, REPO_ROOT, writeFiles } from './support/project.js';

const KNEX_CLI = path.join(REPO_ROOT, 'node_modules/knex/bin/cli.js');

/** The real Knex CLI, as the user runs it. */
function knexCli(args: string[], cwd: string): void {
  const result = spawnSync(process.execPath, [KNEX_CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'development' } });
  expect(result.status, result.stderr + result.stdout).toBe(0);
}

async function migrationNames(db: string): Promise<string[]> {
  return (await sql<{ name: string }>(db, 'SELECT name FROM knex_migrations ORDER BY id')).map((r) => r.name);
}

async function columns(db: string, table: string): Promise<string[]> {
  const rows = await sql<{ column_name: string }>(
    db,
    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
    [table],
  );
  return rows.map((r) => r.column_name);
}

describe('knex-pgclone restore runs the project migrations on the restored copy', () => {
  const db = uniqueName('knexmig');
  let project: string;
  let key: string;

  beforeAll(async () => {
    await createDatabase(db);
    project = makeProject({
      'package.json': JSON.stringify({ name: 'app', private: true, type: 'module' }),
      'knexfile.js': `export default { development: ${knexEnv(dbUrl(db), "seeds: { directory: './seeds' }")} };\n`,
      'migrations/001_users.js': esmMigration('CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)', 'DROP TABLE users'),
      'migrations/002_posts.js': esmMigration('CREATE TABLE posts (id serial PRIMARY KEY, user_id int REFERENCES users, body text)', 'DROP TABLE posts'),
      'seeds/01_users.js': "export async function seed(knex) { await knex('users').insert({ name: 'seeded' }); }\n",
    });
    knexCli(['migrate:latest'], project);
    await sql(db, "INSERT INTO users (name) VALUES ('ada')");
  });
  afterAll(async () => {
    await dropDatabases(db);
    removeProject(project);
  });

  it('restores a dump taken at migration 2 and migrates it to migration 3 before the swap', async () => {
    const dumped = await knexPgclone(['dump'], { cwd: project });
    expect(dumped.code, dumped.stderr).toBe(0);
    key = dumped.lines.at(-1)!;
    expect(key).toMatch(/^dev\/default\/none\/.*\.dump$/);

    await sql(db, "INSERT INTO users (name) VALUES ('live-only')");
    writeFiles(project, {
      'migrations/003_nickname.js': `export async function up(knex) {
  await knex.schema.alterTable('users', (t) => { t.string('nickname'); });
  await knex('users').update({ nickname: knex.raw('lower(name)') });
  await knex.raw('CREATE TABLE migrated_in (db name NOT NULL)');
  await knex.raw('INSERT INTO migrated_in SELECT current_database()');
  console.log('nickname added');
}
export async function down(knex) { await knex.schema.alterTable('users', (t) => { t.dropColumn('nickname'); }); }
`,
    });

    // Every Node process of the run writes down its main script: the CLI's, and the migration child's.
    const scripts = path.join(project, 'scripts.txt');
    const hook = `data:text/javascript,${encodeURIComponent(`import { appendFileSync } from 'node:fs'; appendFileSync(process.env.PGCLONE_TEST_SCRIPTS, process.argv[1] + '\\n');`)}`;
    const restored = await knexPgclone(['restore', 'dev', '--reversible'], {
      cwd: project,
      env: { NODE_OPTIONS: `--import=${hook}`, PGCLONE_TEST_SCRIPTS: scripts },
    });
    expect(restored.code, restored.stderr).toBe(0);
    // The CLI forks the bundled child beside its bundle (one file to load, not the ~250 modules of the unbundled one).
    const mains = readFileSync(scripts, 'utf8').trim().split('\n');
    expect(mains.filter((m) => m.endsWith(path.join('pgclone', 'dist', 'bundle', 'knex-child.cjs')))).toHaveLength(1);
    expect(mains.filter((m) => m.endsWith(path.join('knex', 'dist', 'child.js')))).toEqual([]);
    expect(restored.lines.at(-1)).toBe(key);
    expect(restored.stderr).toContain('Running migration 003_nickname.js');
    expect(restored.stderr).toContain('nickname added');
    expect(restored.stderr.indexOf('Running migration 003_nickname.js')).toBeLessThan(restored.stderr.indexOf('Swapping'));

    // The live database is the dump plus migration 3, applied while it was still N__temp.
    expect(await migrationNames(db)).toEqual(['001_users.js', '002_posts.js', '003_nickname.js']);
    const batches = await sql<{ name: string; batch: number }>(db, 'SELECT name, batch FROM knex_migrations ORDER BY id');
    expect(batches.map((b) => b.batch)).toEqual([1, 1, 2]);
    expect(await columns(db, 'users')).toEqual(['id', 'name', 'nickname']);
    expect(await sql(db, 'SELECT name, nickname FROM users ORDER BY id')).toEqual([{ name: 'ada', nickname: 'ada' }]);
    expect(await sql(db, 'SELECT db FROM migrated_in')).toEqual([{ db: `${db}__temp` }]);

    // The database that was live was never migrated: it is :pre, at migration 2, with its own rows.
    expect(await migrationNames(`${db}__pre`)).toEqual(['001_users.js', '002_posts.js']);
    expect(await columns(`${db}__pre`, 'users')).toEqual(['id', 'name']);
    expect(await sql(`${db}__pre`, 'SELECT name FROM users ORDER BY id')).toEqual([{ name: 'ada' }, { name: 'live-only' }]);
    // :post is the database that went live: the dump as restored plus the migrations.
    expect(await migrationNames(`${db}__post`)).toEqual(['001_users.js', '002_posts.js', '003_nickname.js']);
  });

  it('fails the restore on a migration that throws, leaving the live database unchanged and N__temp kept', async () => {
    await sql(db, "INSERT INTO users (name, nickname) VALUES ('carol', 'c')");
    writeFiles(project, {
      'migrations/004_broken.js': `export async function up(knex) {
  await knex('users').insert({ name: 'from-broken-migration' });
  throw new Error('column "nick" does not exist (simulated)');
}
export async function down() {}
`,
    });
    const before = await sql(db, 'SELECT * FROM users ORDER BY id');
    const restored = await knexPgclone(['restore', key], { cwd: project });
    expect(restored.code).toBe(1);
    expect(restored.stderr).toContain('Knex migration 004_broken.js failed: column "nick" does not exist (simulated)');
    // The hint to resume names this bin, whose flags find the same knexfile again.
    expect(restored.stderr).toContain(`run "knex-pgclone restore :${db}__temp" to resume`);
    expect(restored.lines).toEqual([]);

    expect(await sql(db, 'SELECT * FROM users ORDER BY id')).toEqual(before);
    expect(await migrationNames(db)).toEqual(['001_users.js', '002_posts.js', '003_nickname.js']);
    expect(await databases()).toContain(`${db}__temp`);
    // Knex ran the batch (003 and 004) in one transaction: the kept copy is the dump as restored.
    expect(await migrationNames(`${db}__temp`)).toEqual(['001_users.js', '002_posts.js']);
    expect(await columns(`${db}__temp`, 'users')).toEqual(['id', 'name']);
    expect(await sql(`${db}__temp`, "SELECT count(*)::int AS n FROM users WHERE name = 'from-broken-migration'")).toEqual([{ n: 0 }]);
    rmSync(path.join(project, 'migrations/004_broken.js'));
    await sql('postgres', `DROP DATABASE ${db}__temp`);
  });

  it('names a migration file that cannot be loaded', async () => {
    writeFiles(project, { 'migrations/004_syntax.js': 'export async function up(knex) { this is not javascript }\nexport async function down() {}\n' });
    const restored = await knexPgclone(['restore', key], { cwd: project });
    rmSync(path.join(project, 'migrations/004_syntax.js'));
    await sql('postgres', `DROP DATABASE IF EXISTS ${db}__temp`);
    expect(restored.code).toBe(1);
    expect(restored.stderr).toMatch(/error: Pre-swap hook migrate failed: Cannot load Knex migration 004_syntax\.js: .*Unexpected identifier/);
  });

  it('ends the sessions of a migration stopped by Ctrl-C, so that N__temp can be resumed at once', async () => {
    writeFiles(project, { 'migrations/004_slow.js': esmMigration('SELECT pg_sleep(120)') });
    const temp = `${db}__temp`;
    const sleeping = async () =>
      (await sql<{ n: number }>('postgres', "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep%'", [temp]))[0]!.n;
    let cli: ChildProcess | undefined;
    const running = knexPgclone(['restore', key], { cwd: project, onSpawn: (child) => (cli = child) });
    for (let i = 0; (await sleeping()) === 0; i++) {
      expect(i, 'the migration never started').toBeLessThan(600);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    cli!.kill('SIGINT');
    const stopped = await running;
    rmSync(path.join(project, 'migrations/004_slow.js'));
    expect(stopped.code).not.toBe(0);
    expect(await databases()).toContain(temp);
    expect(await sql('postgres', 'SELECT pid FROM pg_stat_activity WHERE datname = $1', [temp])).toEqual([]);
    await sql('postgres', `DROP DATABASE IF EXISTS ${temp} WITH (FORCE)`);
  }, 120_000);

  it("takes the last of a repeated flag of Knex's, and refuses one without its value", async () => {
    // A repeated --cwd reached path.resolve() as an array: a TypeError and its stack trace.
    const listed = await knexPgclone(['ls', '--cwd', os.tmpdir(), '--cwd', project, '--env', 'nope', '--env', 'development'], { cwd: os.tmpdir() });
    expect(listed.stderr).toBe('');
    expect(listed.lines).toEqual([key]);
    // An --env without its value fell back to the development environment.
    const bare = await knexPgclone(['ls', '--env'], { cwd: project });
    expect([bare.code, bare.stderr]).toEqual([2, 'knex-pgclone: error: Not enough arguments following: env (see "knex-pgclone --help")\n']);
  });

  it('runs seeds as the seed hook', async () => {
    const restored = await knexPgclone(['restore', key, '--pre-swap-hook', 'migrate', '--pre-swap-hook', 'seed'], { cwd: project });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toMatch(/Ran seed .*01_users\.js/);
    expect(await sql(db, 'SELECT name FROM users ORDER BY id')).toEqual([{ name: 'ada' }, { name: 'seeded' }]);
    expect(await migrationNames(db)).toEqual(['001_users.js', '002_posts.js', '003_nickname.js']);
  });

  it('restores through the API with fromKnexfile() and with a Knex instance', async () => {
    const { default: knex } = await import('knex');
    const events: string[] = [];
    const onEvent = (e: { event: string; line?: string; message?: string }) => events.push(e.line ?? e.message ?? '');

    await copy(':' + `${db}_snap`, { ...fromKnexfile({ cwd: project, env: 'development' }), onEvent });
    writeFiles(project, { 'migrations/005_tags.js': esmMigration('CREATE TABLE tags (name text)', 'DROP TABLE tags') });
    // A local restore runs hooks only when they are given for the call.
    const viaKnexfile = await restore(`:${db}_snap`, { ...fromKnexfile({ cwd: project, env: 'development' }), preSwapHooks: ['migrate'], onEvent });
    expect(viaKnexfile.database).toBe(db);
    expect(events).toContain('Running migration 005_tags.js');
    expect((await migrationNames(db)).at(-1)).toBe('005_tags.js');

    writeFiles(project, { 'migrations/006_labels.js': esmMigration('CREATE TABLE labels (name text)', 'DROP TABLE labels') });
    const instance = knex({
      client: 'pg',
      connection: dbUrl(db),
      migrations: { directory: path.join(project, 'migrations') },
    });
    try {
      expect((await instance.raw('SELECT current_database() AS d')).rows).toEqual([{ d: db }]);
      events.length = 0;
      const viaInstance = await restore(`:${db}_snap`, { knex: instance, cwd: project, preSwapHooks: ['migrate'], onEvent });
      expect(viaInstance.database).toBe(db);
      expect(events).toContain('Running migration 006_labels.js');
      expect(events).toContain('Running migration 005_tags.js');
      expect((await migrationNames(db)).slice(-2)).toEqual(['005_tags.js', '006_labels.js']);
      // The pooled session was ended by the swap; the instance reconnects, to the new database.
      expect(await instance('labels').count('* as n')).toEqual([{ n: '0' }]);
    } finally {
      await instance.destroy();
    }
  });

  it("reports a Knex instance's failing migration as events and a HookError, printing nothing itself", async () => {
    // Run in this process, Knex's own logger wrote "migration file … failed" and "migration failed with error: …"
    // to the console: the API prints nothing unless asked.
    const { default: knex } = await import('knex');
    const { vi } = await import('vitest');
    writeFiles(project, { 'bad-migrations/001_bad.js': "export async function up() { throw new Error('bad migration'); }\nexport async function down() {}\n" });
    const instance = knex({ client: 'pg', connection: dbUrl(db), migrations: { directory: path.join(project, 'bad-migrations'), tableName: 'bad_migrations' } });
    const printed: string[] = [];
    const capture = (chunk: unknown) => void printed.push(String(chunk));
    const spies = [
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (capture(chunk), true)),
      vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (capture(chunk), true)),
      ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => vi.spyOn(console, m).mockImplementation((...args) => capture(args.join(' ')))),
    ];
    const events: string[] = [];
    try {
      await copy(`:${db}_snapbad`, { knex: instance, cwd: project });
      const error = await restore(`:${db}_snapbad`, {
        knex: instance,
        cwd: project,
        preSwapHooks: ['migrate'],
        onEvent: (e) => void events.push(e.event === 'output' ? e.line : e.event === 'message' ? e.message : ''),
      }).then(() => new Error('restored'), (e: unknown) => e);
      expect(error).toMatchObject({ code: 'HOOK_FAILED' });
      expect((error as Error).message).toContain('bad migration');
    } finally {
      for (const spy of spies) spy.mockRestore();
      await instance.destroy();
      rmSync(path.join(project, 'bad-migrations'), { recursive: true, force: true });
    }
    expect(printed).toEqual([]);
    expect(events.join('\n')).toContain('bad migration');
  });
});

describe('a project without knex installed', () => {
  const db = uniqueName('knexnone');
  let dir: string;
  beforeAll(async () => {
    await createDatabase(db);
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-knex-none-'));
    writeFiles(dir, {
      'knexfile.cjs': `module.exports = ${knexEnv(dbUrl(db))};\n`,
      'migrations/001_t.cjs': 'exports.up = async () => {}; exports.down = async () => {};\n',
    });
  });
  afterAll(async () => {
    await dropDatabases(db);
    removeProject(dir);
  });

  it('dumps with the knexfile connection, and the migrate hook says that knex is missing', async () => {
    const copied = await knexPgclone(['copy', `:${db}_snap`], { cwd: dir });
    expect(copied.code, copied.stderr).toBe(0);
    const restored = await knexPgclone(['restore', `:${db}_snap`, '--pre-swap-hook', 'migrate'], { cwd: dir });
    expect(restored.code).toBe(1);
    expect(restored.stderr).toContain(`Knex is not installed for ${dir}`);
  });
});

describe('a project on Knex 2 (no migration hooks: beforeEach came with Knex 3)', () => {
  const db = uniqueName('knex2');
  let dir: string;
  afterAll(async () => {
    await dropDatabases(db);
    rmSync(dir, { recursive: true, force: true });
  });

  it('announces each migration and names the one that fails', async () => {
    await createDatabase(db);
    await createDatabase(`${db}_src`);
    // The project's own knex is Knex 2 (test/fixtures/knex2), with the repository's pg.
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-knex2-'));
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync(path.join(REPO_ROOT, 'test/fixtures/knex2/node_modules/knex'), path.join(dir, 'node_modules/knex'), 'dir');
    symlinkSync(path.join(REPO_ROOT, 'node_modules/pg'), path.join(dir, 'node_modules/pg'), 'dir');
    writeFiles(dir, {
      'knexfile.js': `module.exports = ${knexEnv(dbUrl(db))};\n`,
      'migrations/001_users.js': cjsMigration('CREATE TABLE users (id int)'),
      'migrations/002_broken.js': "exports.up = async () => { throw new Error('broken on purpose'); };\nexports.down = async () => {};\n",
    });
    const restored = await knexPgclone(['restore', `:${db}_src`, '--pre-swap-hook', 'migrate'], { cwd: dir });
    expect(restored.code).toBe(1);
    expect(restored.stderr).toContain('Running migration 001_users.js');
    expect(restored.stderr).toContain('error: Pre-swap hook migrate failed: Knex migration 002_broken.js failed: broken on purpose');
  });
});

describe('the migrate default belongs to the Knex project: its database, its folder', () => {
  const app = uniqueName('kp_alias_app');
  const reporting = uniqueName('kp_alias_rep');
  const dirs: string[] = [];
  afterAll(async () => {
    await dropDatabases(app);
    await dropDatabases(reporting);
    for (const dir of dirs) removeProject(dir);
  });

  it("a restore of another database alias does not run the app's migrations on it", async () => {
    await createDatabase(app);
    await createDatabase(reporting);
    await sql(reporting, 'CREATE TABLE metrics (x int)');
    const dir = makeProject({
      'knexfile.js': `module.exports = { development: ${knexEnv(dbUrl(app))} };\n`,
      'migrations/001_users.js': cjsMigration('CREATE TABLE users (id int)'),
      '.pgclonerc.json': JSON.stringify({ databases: { reporting: dbUrl(reporting) } }),
    });
    dirs.push(dir);
    const dumped = await knexPgclone(['dump', '-d', 'reporting'], { cwd: dir });
    expect(dumped.code, dumped.stderr).toBe(0);
    const restored = await knexPgclone(['restore', '-d', 'reporting', dumped.lines.at(-1)!], { cwd: dir });
    expect(restored.code, restored.stderr).toBe(0);
    // It ran the three-table app's migrations on the reporting database ("Knex batch 1 on reporting__temp").
    const tables = await sql<{ tablename: string }>(reporting, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    expect(tables.map((t) => t.tablename)).toEqual(['metrics']);
  });

  it("keys test templates by the knexfile's migrations and seeds folders, wherever they are", async () => {
    const base = uniqueName('kp_tpl');
    const dir = makeProject({
      'knexfile.js': `module.exports = { development: ${knexEnv(dbUrl(base), "seeds: { directory: './db/seeds' }").replace("'./migrations'", "'./db/migrations'")} };\n`,
      'db/migrations/001_users.js': cjsMigration('CREATE TABLE users (id int)'),
      'db/seeds/01_users.js': "exports.seed = async (knex) => { await knex('users').insert({ id: 1 }); };\n",
    });
    dirs.push(dir);
    try {
      const options = { cwd: dir, env: { PATH: process.env.PATH } };
      const first = await ensureTemplate(options);
      expect(first.files).toEqual(['db/migrations/001_users.js', 'db/seeds/01_users.js']);
      // A changed migration is a new template, built with it.
      writeFiles(dir, { 'db/migrations/002_name.js': cjsMigration('ALTER TABLE users ADD COLUMN name text') });
      const second = await ensureTemplate(options);
      expect(second).toMatchObject({ built: true, files: ['db/migrations/001_users.js', 'db/migrations/002_name.js', 'db/seeds/01_users.js'] });
      expect(second.name).not.toBe(first.name);
    } finally {
      await close();
      for (const name of await databases()) {
        if (name.startsWith(`${base}_tpl_`)) await sql('postgres', `ALTER DATABASE ${ident(name)} WITH IS_TEMPLATE false`);
      }
      await dropDatabases(base);
    }
  });

  it('keeps dumps beside the knexfile, so a dump made in a subdirectory is listed from the project root', async () => {
    await createDatabase(app);
    const dir = makeProject({
      'knexfile.js': `module.exports = { development: ${knexEnv(dbUrl(app))} };\n`,
      'migrations/.keep': '',
      'src/lib/.keep': '',
    });
    dirs.push(dir);
    const dumped = await knexPgclone(['dump'], { cwd: path.join(dir, 'src/lib') });
    expect(dumped.code, dumped.stderr).toBe(0);
    const listed = await knexPgclone(['ls'], { cwd: dir });
    expect(listed.lines).toContain(dumped.lines.at(-1)!);
  });
});
