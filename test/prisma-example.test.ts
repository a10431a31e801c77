// The README of examples/prisma-app, step by step, on a copy of the example with the real Prisma 7 CLI.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { createDatabase, dbUrl, dropDatabases, sql, uniqueName } from './support/pg.js';
import { EXAMPLE_DIR, packageDir, PRISMA_PGCLONE_BIN, prismaEngineEnv, prismaProject, removePrismaProjects, runPrisma } from './support/prisma.js';

describe('examples/prisma-app README', () => {
  const db = uniqueName('prisma_app');
  const dir = prismaProject({
    copyFrom: EXAMPLE_DIR,
    major: 7,
    links: ['@prisma/client', '@prisma/adapter-pg', 'dotenv', 'pg', 'tsx'],
    bins: { tsx: path.join(packageDir('tsx', EXAMPLE_DIR), 'dist/cli.mjs') },
  });
  const env = prismaEngineEnv(7);
  const pgclone = (args: string[]) => runCli(args, { cwd: dir, bin: PRISMA_PGCLONE_BIN, env });
  const migrations = async (database = db) =>
    (await sql<{ migration_name: string }>(database, 'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1')).map(
      (r) => r.migration_name,
    );
  const columns = async (database: string, table: string) =>
    (await sql<{ column_name: string }>(database, "SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY 1", [table])).map(
      (r) => r.column_name,
    );
  afterAll(async () => {
    await dropDatabases(db);
    removePrismaProjects();
  });

  it('sets up, dumps, adds a migration, restores reversibly and rolls back', { timeout: 600_000 }, async () => {
    // Set up: .env, a database, the three migrations, Prisma Client, the seed.
    writeFileSync(path.join(dir, '.env'), `DATABASE_URL="${dbUrl(db)}?schema=public"\n`);
    await createDatabase(db);
    for (const args of [['migrate', 'deploy'], ['generate'], ['db', 'seed']]) {
      const run = await runPrisma(dir, 7, args);
      expect(run.code, `prisma ${args.join(' ')}: ${run.stdout}${run.stderr}`).toBe(0);
    }
    expect(await migrations()).toEqual(['20250101000000_init', '20250102000000_add_posts', '20250103000000_add_post_published_at']);
    expect(await sql(db, 'SELECT count(*)::int AS n FROM "Post"')).toEqual([{ n: 3 }]);

    // 1. Dump.
    const dumped = await pgclone(['dump']);
    expect(dumped.code, dumped.stderr).toBe(0);
    const key = dumped.lines.at(-1)!;
    expect(key).toMatch(/^dev\/default\/none\/.+\.dump$/);

    // 2. Add a migration: a field in the schema, then `prisma migrate dev --create-only`.
    const schemaFile = path.join(dir, 'prisma/schema.prisma');
    writeFileSync(schemaFile, readFileSync(schemaFile, 'utf8').replace('  name      String?\n', '  name      String?\n  bio       String?\n'));
    const created = await runPrisma(dir, 7, ['migrate', 'dev', '--create-only', '--name', 'add_user_bio']);
    expect(created.code, created.stdout + created.stderr).toBe(0);
    const added = readdirSync(path.join(dir, 'prisma/migrations')).find((m) => m.endsWith('_add_user_bio'));
    expect(added).toBeDefined();
    expect(readFileSync(path.join(dir, 'prisma/migrations', added!, 'migration.sql'), 'utf8')).toContain('"bio" TEXT');
    expect(await columns(db, 'User')).not.toContain('bio');

    // 3. Restore the dump reversibly: prisma migrate deploy runs on the copy before the swap.
    const restored = await pgclone(['restore', '--reversible', key]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toContain(`Datasource "db": PostgreSQL database "${db}__temp"`);
    expect(restored.stderr).toMatch(/_add_user_bio/);
    expect(await migrations()).toHaveLength(4);
    expect(await columns(db, 'User')).toContain('bio');
    expect(await sql(db, 'SELECT count(*)::int AS n FROM "Post"')).toEqual([{ n: 3 }]);
    // The database that was live is :pre, never migrated; :post is the dump as restored.
    expect(await migrations(`${db}__pre`)).toHaveLength(3);
    expect(await columns(`${db}__pre`, 'User')).not.toContain('bio');
    expect(await migrations(`${db}__post`)).toHaveLength(3);

    // 4. Roll back to :pre, without the migrate hook.
    const rolledBack = await pgclone(['restore', ':pre', '--pre-swap-hook', '']);
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    expect(await migrations()).toHaveLength(3);
    expect(await columns(db, 'User')).not.toContain('bio');
    expect(existsSync(path.join(dir, '.pgclone'))).toBe(true);
  });
});
