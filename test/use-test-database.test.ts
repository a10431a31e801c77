import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { close } from 'pgclone';
import { useTestDatabase } from 'pgclone/vitest';
import { cluster, databases, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';

// pgclone/vitest's useTestDatabase inside a real Vitest file: beforeAll gives the database, beforeEach resets it.

const base = uniqueName('utd');
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-utd-'));
mkdirSync(path.join(dir, 'migrations'));
writeFileSync(path.join(dir, 'migrations', '001.sql'), "CREATE TABLE note (id serial PRIMARY KEY, body text); INSERT INTO note (body) VALUES ('seed');\n");

describe('useTestDatabase', () => {
  // Registered first, so it runs after useTestDatabase's own afterAll.
  afterAll(async () => {
    await close();
    for (const name of await databases()) {
      if (name.startsWith(`${base}_tpl_`)) await sql('postgres', `ALTER DATABASE ${ident(name)} WITH IS_TEMPLATE false`);
    }
    await dropDatabases(base);
  });

  const db = useTestDatabase({
    cwd: dir,
    env: { DATABASE_URL: dbUrl(base) },
    files: ['migrations'],
    hooks: ['psql -X -q -v ON_ERROR_STOP=1 -f migrations/001.sql'],
    envVar: false,
  });

  it('gives this worker a migrated database', async () => {
    expect(db.database).toMatch(new RegExp(`^${base}_test_[a-z0-9]{8}_1$`));
    expect(db.url).toContain(db.database);
    await sql(db.database, "INSERT INTO note (body) VALUES ('from test 1')");
    expect(await sql(db.database, 'SELECT count(*)::int AS n FROM note')).toEqual([{ n: 2 }]);
  });

  it('resets it before the next test', async () => {
    expect(await sql(db.database, 'SELECT body FROM note')).toEqual([{ body: 'seed' }]);
    await sql(db.database, 'DROP TABLE note');
    const result = await db.reset();
    expect(result.database).toBe(db.database);
    expect(await sql(db.database, 'SELECT body FROM note')).toEqual([{ body: 'seed' }]);
  });

  it('shows its URL with the password masked when serialized or logged, and gives the real one to code', () => {
    // JSON.stringify(db) (and a failing expect's diff, which calls toJSON) read the url getter: the password.
    const password = encodeURIComponent(cluster().password);
    expect(db.url).toContain(`:${password}@`);
    const masked = db.url.replace(`:${password}@`, ':***@');
    expect(JSON.parse(JSON.stringify(db))).toEqual({ database: db.database, url: masked });
    for (const printed of [inspect(db), inspect({ db }), JSON.stringify({ db })]) {
      expect(printed).not.toContain(password);
      expect(printed).toContain(masked);
    }
  });
});
