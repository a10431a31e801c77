// End-to-end: pgclone in Prisma 7 and Prisma 6 projects, with the real Prisma CLIs, real migrations, a real cluster.
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { close, ensureTemplate } from 'pgclone';
import { runCli, PGCLONE_BIN } from './support/cli.js';
import { cluster, createDatabase, databases, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';
import { EXAMPLE_DIR, PRISMA_PGCLONE_BIN, prismaEngineEnv, prismaProject, removePrismaProjects, runPrisma } from './support/prisma.js';

const MIGRATIONS = path.join(EXAMPLE_DIR, 'prisma/migrations');
afterAll(removePrismaProjects);
const [M1, M2, M3] = ['20250101000000_init', '20250102000000_add_posts', '20250103000000_add_post_published_at'];

/** The example's schema and its first `count` migrations, with `datasource` as given. */
function schemaFiles(datasource: string): Record<string, string> {
  return {
    'prisma/schema.prisma': `datasource db {\n${datasource}\n}\n\nmodel User {\n  id    Int    @id @default(autoincrement())\n  email String @unique\n}\n`,
  };
}

function addMigrations(dir: string, names: string[]): void {
  for (const name of names) cpSync(path.join(MIGRATIONS, name), path.join(dir, 'prisma/migrations', name), { recursive: true });
  cpSync(path.join(MIGRATIONS, 'migration_lock.toml'), path.join(dir, 'prisma/migrations/migration_lock.toml'));
}

/** A login role with a password full of URL delimiters, and its URL for `database`. */
const PASSWORD = 'p@ss:/?#%w0rd';
function roleUrl(role: string, database: string, query = ''): string {
  const c = cluster();
  return `postgresql://${role}:${encodeURIComponent(PASSWORD)}@${c.host}:${c.port}/${database}${query}`;
}

async function migrationNames(database: string, schema = 'public'): Promise<string[]> {
  const rows = await sql<{ migration_name: string }>(
    database,
    `SELECT migration_name FROM ${ident(schema)}._prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1`,
  );
  return rows.map((r) => r.migration_name);
}

async function hasColumn(database: string, schema: string, table: string, column: string): Promise<boolean> {
  const rows = await sql(database, 'SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3', [
    schema,
    table,
    column,
  ]);
  return rows.length === 1;
}


/** A seed that reads DATABASE_URL, as Prisma's examples do, and records which database it ran on. */
const SEED = [
  "import pg from 'pg'",
  'const client = new pg.Client({ connectionString: process.env.DATABASE_URL })',
  'await client.connect()',
  'await client.query(`INSERT INTO "User" (email) VALUES (current_database())`)',
  'await client.end()',
].join('\n');

describe('Prisma 7 project: prisma.config.ts with a hard-coded URL, a seed', () => {
  const db = uniqueName('p7');
  const role = uniqueName('p7_role');
  // The config names the live database outright: only a generated config can point Prisma elsewhere.
  const liveUrl = () => roleUrl(role, db, '?connection_limit=3&pool_timeout=5');
  let dir: string;
  let key: string;
  const env = prismaEngineEnv(7);
  const pgclone = (args: string[], bin = PRISMA_PGCLONE_BIN) => runCli(args, { cwd: dir, bin, env });

  afterAll(async () => {
    await dropDatabases(db);
    await sql('postgres', `DROP ROLE IF EXISTS ${ident(role)}`);
  });

  it('migrates the dump taken at migration 2 to migration 3 on the copy, and seeds it, before the swap', { timeout: 600_000 }, async () => {
    await sql('postgres', `CREATE ROLE ${ident(role)} LOGIN SUPERUSER PASSWORD '${PASSWORD.replace(/'/g, "''")}'`);
    await createDatabase(db);
    dir = prismaProject({
      major: 7,
      links: ['pg'],
      files: {
        ...schemaFiles('  provider = "postgresql"'),
        'prisma.config.ts': [
          "import { defineConfig } from 'prisma/config'",
          'export default defineConfig({',
          "  schema: './prisma/schema.prisma',",
          "  migrations: { path: 'prisma/migrations', seed: 'node prisma/seed.mjs' },",
          `  datasource: { url: ${JSON.stringify(liveUrl())} },`,
          '})',
        ].join('\n'),
        'prisma/seed.mjs': SEED,
      },
    });
    addMigrations(dir, [M1, M2]);
    const deployed = await runPrisma(dir, 7, ['migrate', 'deploy']);
    expect(deployed.code, deployed.stdout + deployed.stderr).toBe(0);
    expect(await migrationNames(db)).toEqual([M1, M2]);
    await sql(db, `INSERT INTO "User" (email) VALUES ('live@example.com')`);

    const dumped = await pgclone(['dump']);
    expect(dumped.code, dumped.stderr).toBe(0);
    key = dumped.lines.at(-1)!;

    addMigrations(dir, [M3]);
    // The plain pgclone bin finds the Prisma project too; --dry-run shows the default migrate hook.
    const plan = await pgclone(['restore', key, '--dry-run'], PGCLONE_BIN);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain(`run pre-swap hooks on ${db}__temp: migrate`);

    const restored = await pgclone(['restore', '--reversible', key, '--pre-swap-hook', 'migrate', '--pre-swap-hook', 'seed']);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toContain(`Datasource "db": PostgreSQL database "${db}__temp"`);
    expect(restored.stderr).not.toContain(PASSWORD);
    expect(restored.stderr).not.toContain(encodeURIComponent(PASSWORD));

    expect(await migrationNames(db)).toEqual([M1, M2, M3]);
    expect(await hasColumn(db, 'public', 'Post', 'publishedAt')).toBe(true);
    const users = await sql<{ email: string }>(db, 'SELECT email FROM "User" ORDER BY id');
    expect(users.map((u) => u.email)).toEqual(['live@example.com', `${db}__temp`]);
    // Migrations never touched the live database: it is :pre now, still at migration 2.
    expect(await migrationNames(`${db}__pre`)).toEqual([M1, M2]);
    expect(await hasColumn(`${db}__pre`, 'public', 'Post', 'publishedAt')).toBe(false);
  });

  it('leaves the live database as it was when a migration fails', { timeout: 600_000 }, async () => {
    const bad = '20250104000000_broken';
    mkdirSync(path.join(dir, 'prisma/migrations', bad), { recursive: true });
    writeFileSync(path.join(dir, 'prisma/migrations', bad, 'migration.sql'), 'ALTER TABLE "NoSuchTable" ADD COLUMN "x" INTEGER;\n');
    await sql(db, `INSERT INTO "User" (email) VALUES ('before-failed-restore@example.com')`);
    const before = await sql(db, 'SELECT id, email FROM "User" ORDER BY id');

    // --quiet: Prisma's own output is pgclone's step, like Knex's, so only warnings and the error are printed.
    const failed = await pgclone(['restore', key, '--quiet']);
    expect(failed.code).toBe(1);
    for (const line of failed.stderr.trim().split('\n')) expect(line).toMatch(/^prisma-pgclone: (warning|error): /);
    // Prisma will not migrate a copy with a failed migration again (P3009): the hint is to restore the dump again.
    expect(failed.stderr).toContain(`warning: Kept ${db}__temp: it is as the failed migration left it, which Prisma will not migrate again (P3009); fix the migration, then restore the dump again`);
    expect(failed.stderr).not.toContain(`restore :${db}__temp`);
    expect(failed.stderr).toMatch(/prisma migrate deploy \(Prisma 7\.\d+\.\d+\) failed with exit code 1/);
    expect(failed.stderr).toContain(bad);
    expect(failed.stderr).toMatch(/error: Pre-swap hook migrate failed: prisma migrate deploy .*failed with exit code 1: Error: .*NoSuchTable/);
    expect(await sql(db, 'SELECT id, email FROM "User" ORDER BY id')).toEqual(before);
    expect(await migrationNames(db)).toEqual([M1, M2, M3]);
    // The copy is kept to look at; once the migration is fixed, the same restore (from the dump) goes through.
    expect(await databases()).toContain(`${db}__temp`);
    writeFileSync(path.join(dir, 'prisma/migrations', bad, 'migration.sql'), 'ALTER TABLE "User" ADD COLUMN "x" INTEGER;\n');
    const again = await pgclone(['restore', key, '--quiet']);
    expect(again.code, again.stderr).toBe(0);
    expect(await migrationNames(db)).toEqual([M1, M2, M3, bad]);
  });

  it('says to resume the copy when Prisma failed before it recorded a migration, and the resume goes through', { timeout: 600_000 }, async () => {
    // A schema engine that cannot start: Prisma fails before it applies (or records) any migration.
    const engine = path.join(dir, 'broken-engine.sh');
    writeFileSync(engine, '#!/bin/sh\necho "engine: cannot start" >&2\nexit 1\n', { mode: 0o755 });
    const failed = await runCli(['restore', key, '--quiet'], { cwd: dir, bin: PRISMA_PGCLONE_BIN, env: { ...env, PRISMA_SCHEMA_ENGINE_BINARY: engine } });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/error: Pre-swap hook migrate failed: prisma migrate deploy/);
    expect(failed.stderr).not.toContain('P3009');
    expect(failed.stderr).toContain(`warning: Kept ${db}__temp: fix the failing hook, then run "prisma-pgclone restore :${db}__temp" to resume`);
    // The advice holds: with the engine back, resuming the copy migrates it and swaps it in.
    const resumed = await pgclone(['restore', `:${db}__temp`, '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await migrationNames(db)).toEqual([M1, M2, M3, '20250104000000_broken']);
    expect(await databases()).not.toContain(`${db}__temp`);
  });

  it('says to restore the dump again, not to resume the copy, when a migration is stopped by Ctrl-C', { timeout: 600_000 }, async () => {
    const slow = '20250105000000_slow';
    mkdirSync(path.join(dir, 'prisma/migrations', slow), { recursive: true });
    writeFileSync(path.join(dir, 'prisma/migrations', slow, 'migration.sql'), 'SELECT pg_sleep(120);\n');
    const temp = `${db}__temp`;
    const sleeping = async () =>
      (await sql<{ n: number }>('postgres', "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep%'", [temp]))[0]!.n;
    let cli: ChildProcess | undefined;
    const running = runCli(['restore', key], { cwd: dir, bin: PRISMA_PGCLONE_BIN, env, onSpawn: (child) => (cli = child) });
    for (let i = 0; (await sleeping()) === 0; i++) {
      expect(i, 'the migration never started').toBeLessThan(1200);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    cli!.kill('SIGINT');
    const stopped = await running;
    rmSync(path.join(dir, 'prisma/migrations', slow), { recursive: true });
    expect(stopped.code).not.toBe(0);
    // Prisma records the migration it was applying as failed: the copy cannot be migrated again (P3009).
    expect(stopped.stderr).toContain(`warning: Kept ${temp}:`);
    expect(stopped.stderr).toContain('restore the dump again');
    expect(stopped.stderr).not.toContain(`restore :${temp}`);
    await sql('postgres', `DROP DATABASE IF EXISTS ${ident(temp)} WITH (FORCE)`);
  });
});

describe('Prisma 6 project: url and directUrl from env() in .env, a pooler URL, no config file', () => {
  const db = uniqueName('p6');
  const pooled = `${db}_pooler`;
  const role = uniqueName('p6_role');
  const env = prismaEngineEnv(6);

  afterAll(async () => {
    await dropDatabases(db);
    await sql('postgres', `DROP ROLE IF EXISTS ${ident(role)}`);
  });

  it('dumps and migrates through directUrl, overriding the variables .env sets', { timeout: 600_000 }, async () => {
    await sql('postgres', `CREATE ROLE ${ident(role)} LOGIN SUPERUSER PASSWORD '${PASSWORD.replace(/'/g, "''")}'`);
    await createDatabase(db);
    // Stands in for a PgBouncer in front of the database: Prisma's `url`, which pgclone must not use.
    await createDatabase(pooled);
    const dir = prismaProject({
      major: 6,
      files: {
        'package.json': '{ "name": "prisma6-app", "private": true }',
        ...schemaFiles('  provider  = "postgresql"\n  url       = env("POOLED_URL")\n  directUrl = env("DIRECT_URL")'),
        '.env': `POOLED_URL="${roleUrl(role, pooled, '?pgbouncer=true&connection_limit=1')}"\nDIRECT_URL="${roleUrl(role, db)}"\n`,
      },
    });
    addMigrations(dir, [M1, M2]);
    const deployed = await runPrisma(dir, 6, ['migrate', 'deploy']);
    expect(deployed.code, deployed.stdout + deployed.stderr).toBe(0);
    await sql(db, `INSERT INTO "User" (email) VALUES ('live6@example.com')`);

    const pgclone = (args: string[]) => runCli(args, { cwd: dir, bin: PRISMA_PGCLONE_BIN, env });
    const dumped = await pgclone(['dump']);
    expect(dumped.code, dumped.stderr).toBe(0);
    await sql(db, `DELETE FROM "User"`);

    addMigrations(dir, [M3]);
    const restored = await pgclone(['restore', dumped.lines.at(-1)!]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toContain(`Datasource "db": PostgreSQL database "${db}__temp"`);
    expect(await migrationNames(db)).toEqual([M1, M2, M3]);
    expect(await hasColumn(db, 'public', 'Post', 'publishedAt')).toBe(true);
    expect(await sql(db, 'SELECT email FROM "User"')).toEqual([{ email: 'live6@example.com' }]);
    // The pooler's database was never touched.
    expect(await sql(pooled, "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).toEqual([{ n: 0 }]);
  });
});

describe('a Prisma config that loads .env with override: true', () => {
  // dotenv runs again inside the Prisma CLI when it loads the config, putting the live URL back into process.env.
  for (const major of [7, 6] as const) {
    const db = uniqueName(`pov${major}`);
    afterAll(() => dropDatabases(db));

    it(`migrates and seeds the copy, never the live database (Prisma ${major})`, { timeout: 600_000 }, async () => {
      await createDatabase(db);
      const dir = prismaProject({
        major,
        links: ['pg', 'dotenv'],
        files: {
          'package.json': '{ "name": "app", "private": true, "type": "module" }',
          ...schemaFiles(major === 7 ? '  provider = "postgresql"' : '  provider = "postgresql"\n  url      = env("DATABASE_URL")'),
          'prisma.config.ts': [
            "import { config } from 'dotenv'",
            "import { defineConfig, env } from 'prisma/config'",
            'config({ override: true })',
            'export default defineConfig({',
            "  schema: 'prisma/schema.prisma',",
            "  migrations: { path: 'prisma/migrations', seed: 'node seed.mjs' },",
            ...(major === 7 ? ["  datasource: { url: env('DATABASE_URL') },"] : []),
            '})',
          ].join('\n'),
          'seed.mjs': SEED,
          '.env': `DATABASE_URL="${dbUrl(db)}"\n`,
        },
      });
      addMigrations(dir, [M1]);
      const deployed = await runPrisma(dir, major, ['migrate', 'deploy']);
      expect(deployed.code, deployed.stdout + deployed.stderr).toBe(0);
      const env = prismaEngineEnv(major);
      const dumped = await runCli(['dump'], { cwd: dir, bin: PRISMA_PGCLONE_BIN, env });
      expect(dumped.code, dumped.stderr).toBe(0);

      addMigrations(dir, [M2]);
      const args = ['restore', '--reversible', dumped.lines.at(-1)!, '--pre-swap-hook', 'migrate', '--pre-swap-hook', 'seed'];
      const restored = await runCli(args, { cwd: dir, bin: PRISMA_PGCLONE_BIN, env });
      expect(restored.code, restored.stderr).toBe(0);
      expect(await sql(db, 'SELECT email FROM "User"')).toEqual([{ email: `${db}__temp` }]);
      expect(await migrationNames(db)).toEqual([M1, M2]);
      // The old live database, now :pre, was neither seeded nor migrated.
      expect(await sql(`${db}__pre`, 'SELECT email FROM "User"')).toEqual([]);
      expect(await migrationNames(`${db}__pre`)).toEqual([M1]);
    });
  }
});

describe('schema= in the Prisma URL', () => {
  const db = uniqueName('psch');
  afterAll(() => dropDatabases(db));

  it('is the search_path hooks see, while dump and restore cover every schema', async () => {
    await createDatabase(db);
    await sql(db, 'CREATE SCHEMA app; CREATE TABLE app."Thing" (id int); INSERT INTO app."Thing" VALUES (1), (2);');
    await sql(db, 'CREATE SCHEMA other; CREATE TABLE other.t (id int); INSERT INTO other.t VALUES (7);');
    const dir = prismaProject({
      major: 7,
      files: {
        ...schemaFiles('  provider = "postgresql"'),
        'prisma.config.ts': `export default { datasource: { url: process.env.APP_URL } }\n`,
      },
    });
    const env = { APP_URL: `${dbUrl(db)}?schema=app&pgbouncer=true&statement_cache_size=0` };
    const psql = path.join(cluster().binDir, 'psql');
    const count = `${psql} -XAtc 'SELECT count(*) || '"'"' things'"'"' FROM "Thing"'`;
    const dumped = await runCli(['dump', '--pre-dump-hook', count], { cwd: dir, bin: PRISMA_PGCLONE_BIN, env });
    expect(dumped.code, dumped.stderr).toBe(0);
    expect(dumped.stderr).toContain('2 things');
    await sql(db, 'DROP SCHEMA app CASCADE; DROP SCHEMA other CASCADE;');
    const restored = await runCli(['restore', dumped.lines.at(-1)!, '--pre-swap-hook', count], { cwd: dir, bin: PRISMA_PGCLONE_BIN, env });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toContain('2 things');
    expect(await sql(db, 'SELECT id FROM other.t')).toEqual([{ id: 7 }]);
  });
});

describe('test templates of a Prisma project', () => {
  const base = uniqueName('ptpl');
  afterAll(async () => {
    await close();
    for (const name of await databases()) {
      if (name.startsWith(`${base}_tpl_`)) await sql('postgres', `ALTER DATABASE ${ident(name)} WITH IS_TEMPLATE false`);
    }
    await dropDatabases(base);
  });

  it('are keyed by prisma/migrations, the schema and the seed, and built with prisma migrate deploy', { timeout: 600_000 }, async () => {
    const dir = prismaProject({
      major: 7,
      files: {
        ...schemaFiles('  provider = "postgresql"'),
        'prisma.config.ts': `export default { datasource: { url: ${JSON.stringify(dbUrl(base))} }, migrations: { seed: 'node prisma/seed.mjs' } }\n`,
        'prisma/seed.mjs': SEED,
      },
    });
    addMigrations(dir, [M1]);
    const options = { cwd: dir, env: { ...prismaEngineEnv(7), PATH: process.env.PATH } };
    const first = await ensureTemplate(options);
    expect(first.files).toEqual([`prisma/migrations/${M1}/migration.sql`, 'prisma/migrations/migration_lock.toml', 'prisma/schema.prisma', 'prisma/seed.mjs']);
    // A new migration is a new template, built with it.
    addMigrations(dir, [M2]);
    const second = await ensureTemplate(options);
    expect(second.built).toBe(true);
    expect(second.name).not.toBe(first.name);
    expect(second.files).toContain(`prisma/migrations/${M2}/migration.sql`);
  });
});

describe('a Prisma project with another provider', () => {
  it('is refused with a message naming the provider', async () => {
    const dir = prismaProject({ major: 7, files: schemaFiles('  provider = "mysql"\n  url = env("DATABASE_URL")') });
    for (const bin of [PRISMA_PGCLONE_BIN, PGCLONE_BIN]) {
      const result = await runCli(['ls'], { cwd: dir, bin, env: { DATABASE_URL: 'mysql://u@h/db' } });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('uses provider "mysql"; pgclone works with PostgreSQL only');
    }
  });
});

describe('a Prisma schema folder', () => {
  it('skips a subfolder that cannot be found once listed, instead of failing with a raw ENOENT', async () => {
    // A folder that vanished between its listing and its reading gave "error: ENOENT: no such file or directory,
    // scandir …". A name that is no UTF-8 does the same, every time: Node lists it as another name, which is not there.
    const dir = prismaProject({
      major: 6,
      files: { 'prisma/schema/main.prisma': schemaFiles('  provider = "postgresql"\n  url = env("DATABASE_URL")')['prisma/schema.prisma']! },
    });
    const schemaDir = path.join(dir, 'prisma/schema');
    mkdirSync(Buffer.concat([Buffer.from(`${schemaDir}/`), Buffer.from([0x66, 0xff])]));
    expect(readdirSync(schemaDir)).toHaveLength(2);
    const storage = path.join(dir, 'dumps');
    const result = await runCli(['ls', '--schema', 'prisma/schema', '-s', storage], { cwd: dir, bin: PRISMA_PGCLONE_BIN, env: { DATABASE_URL: dbUrl('postgres') } });
    expect([result.code, result.stderr]).toEqual([0, '']);
  });
});
