// ../shared/bench/dataset.sql (scale 0.02) survives dump and restore with its schemas, search_path, sequences, views,
// materialized view, enum, domain, trigger and data intact.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { databasesLike, psqlFile, removeDir, repoRoot, tempDir, usersDatabase } from './support/fixtures.js';
import { createDatabase, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';

const dataset = path.resolve(repoRoot, '../shared/bench/dataset.sql');
const cwd = tempDir('dataset');
const src = uniqueName('ds');
const fresh = uniqueName('ds_fresh');
const cli = (db: string, ...args: string[]) => runCli(args, { cwd, env: { DATABASE_URL: dbUrl(db) } });

/** Everything the round trip must keep, without the database's own name. */
async function fingerprint(db: string) {
  const q = <R extends Record<string, unknown>>(text: string) => sql<R>(db, text);
  const tables = await q<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname IN ('public', 'billing') ORDER BY 1`,
  );
  const data: Record<string, unknown> = {};
  for (const { name } of tables) {
    data[name] = (await q(`SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS md5 FROM ${name} t`))[0];
  }
  return {
    schemas: await q(`SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1`),
    extensions: await q(`SELECT extname FROM pg_extension ORDER BY 1`),
    data,
    sequences: await q(`SELECT schemaname, sequencename, last_value::text FROM pg_sequences ORDER BY 1, 2`),
    views: await q(`SELECT schemaname, viewname, definition FROM pg_views WHERE schemaname IN ('public', 'billing') ORDER BY 1, 2`),
    matviews: await q(`SELECT schemaname, matviewname, ispopulated, definition FROM pg_matviews ORDER BY 1, 2`),
    enum: await q(`SELECT enumlabel FROM pg_enum WHERE enumtypid = 'public.order_status'::regtype ORDER BY enumsortorder`),
    domain: await q(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE contypid = 'public.money_cents'::regtype`),
    triggers: await q(`SELECT tgname, pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`),
    indexes: await q(`SELECT schemaname, indexname, indexdef FROM pg_indexes WHERE schemaname IN ('public', 'billing') ORDER BY 1, 2`),
    constraints: await q(`SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
                           WHERE connamespace IN ('public'::regnamespace, 'billing'::regnamespace) ORDER BY 1, 2`),
    comment: await q(`SELECT obj_description('public.organizations'::regclass, 'pg_class') AS comment`),
    settings: await q(`SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
                        WHERE d.datname = current_database() AND s.setrole = 0`),
    searchPath: await q(`SHOW search_path`),
  };
}

/** `ALTER DATABASE … SET` entries of a database. */
async function settingsOf(db: string): Promise<string[]> {
  const rows = await sql<{ setconfig: string[] }>(
    'postgres',
    `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1 AND s.setrole = 0`,
    [db],
  );
  return (rows[0]?.setconfig ?? []).sort();
}

let original: Awaited<ReturnType<typeof fingerprint>>;
let key: string;

beforeAll(async () => {
  await createDatabase(src);
  await psqlFile(src, dataset, { scale: '0.02' });
  original = await fingerprint(src);
  const dumped = await cli(src, 'dump');
  expect(dumped.code, dumped.stderr).toBe(0);
  key = dumped.lines.at(-1)!;
}, 180_000);
afterAll(async () => {
  await dropDatabases(src);
  await dropDatabases(fresh);
  removeDir(cwd);
});

describe('dataset round trip', () => {
  it('the dataset has what the round trip must keep', () => {
    expect(Object.keys(original.data)).toEqual(
      expect.arrayContaining(['billing.order_items', 'billing.orders', 'billing.revenue_by_status', 'public.events', 'public.organizations', 'public.users']),
    );
    expect((original.data['public.users'] as { rows: number }).rows).toBe(2000);
    expect(original.sequences).toContainEqual({ schemaname: 'public', sequencename: 'invoice_numbers', last_value: '4242' });
    expect(original.settings).toEqual([{ setconfig: ['search_path=public, billing'] }]);
    expect(original.searchPath).toEqual([{ search_path: 'public, billing' }]);
    expect(original.views).toHaveLength(1);
    expect(original.matviews).toHaveLength(1);
    expect(original.triggers).toHaveLength(1);
  });

  it('restores into a new database identical to the original', async () => {
    const r = await cli(fresh, 'restore', key);
    expect(r.code, r.stderr).toBe(0);
    expect(await fingerprint(fresh)).toEqual(original);
    expect(await databasesLike(fresh)).toEqual([fresh]);
  });

  it('restores over a changed database, including the archive search_path, and :post keeps it too', async () => {
    await sql(src, `ALTER DATABASE ${ident(src)} RESET search_path`);
    await sql(src, `SET search_path = public, billing;
                    DROP VIEW active_users; DROP MATERIALIZED VIEW billing.revenue_by_status;
                    SELECT setval('invoice_numbers', 1); DELETE FROM events WHERE id % 2 = 0;
                    ALTER TYPE order_status ADD VALUE 'refunded'; DROP TRIGGER users_touch ON users`);
    expect(await settingsOf(src)).toEqual([]);

    const r = await cli(src, 'restore', key, '--reversible');
    expect(r.code, r.stderr).toBe(0);
    expect(await fingerprint(src)).toEqual(original);
    expect(await settingsOf(`${src}__pre`)).toEqual([]); // :pre is the changed database
    expect(await sql(`${src}__pre`, `SELECT count(*)::int AS n FROM pg_views WHERE viewname = 'active_users'`)).toEqual([{ n: 0 }]);

    // The trigger works and the sequence continues from its value.
    const [touched] = await sql<{ fresh: boolean }>(src, `UPDATE users SET full_name = 'x' WHERE id = 1 RETURNING updated_at > now() - interval '1 hour' AS fresh`);
    expect(touched).toEqual({ fresh: true });
    expect(await sql(src, `SELECT nextval('invoice_numbers')::int AS n`)).toEqual([{ n: 4243 }]);

    // Back to :pre, then :post again: :post is the restored dump, settings included.
    expect((await cli(src, 'restore', ':pre')).code).toBe(0);
    expect(await settingsOf(src)).toEqual([]);
    const post = await cli(src, 'restore', ':post');
    expect(post.code, post.stderr).toBe(0);
    expect(await fingerprint(src)).toEqual(original);
  });
});

describe('database settings', () => {
  const db = uniqueName('ds_settings');
  afterAll(() => dropDatabases(db));

  it('falls back to the live database settings when the archive has none', async () => {
    await usersDatabase(db, ['dumped']);
    const dumped = await cli(db, 'dump', '-i', db);
    expect(dumped.code, dumped.stderr).toBe(0);
    await sql(db, `CREATE SCHEMA extra`);
    await sql(db, `ALTER DATABASE ${ident(db)} SET search_path TO public, extra`);
    await sql(db, `ALTER DATABASE ${ident(db)} SET statement_timeout TO '42s'`);
    const r = await cli(db, 'restore', db);
    expect(r.code, r.stderr).toBe(0);
    expect(await settingsOf(db)).toEqual(['search_path=public, extra', 'statement_timeout=42s']);
  });
});
