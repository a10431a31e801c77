// `pgclone copy :name`: a template copy of the target, and every target it must refuse.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { databaseOid, databasesLike, removeDir, tempDir, userNames, usersDatabase } from './support/fixtures.js';
import { databases, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';

const cwd = tempDir('copy');
const db = uniqueName('cpy');
const env = { DATABASE_URL: dbUrl(db) };
const cli = (...args: string[]) => runCli(args, { cwd, env });

beforeAll(() => usersDatabase(db, ['one']));
afterAll(async () => {
  await dropDatabases(db);
  removeDir(cwd);
});

describe('copy', () => {
  it('copies the target into :name, replaces an earlier copy, and the copy restores', async () => {
    const idle = new pg.Client({ connectionString: dbUrl(db) });
    idle.on('error', () => {});
    await idle.connect(); // a session on the source must not make the copy fail
    try {
      const r = await cli('copy', `:${db}_snap`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.lines).toEqual([`:${db}_snap`]);
      expect(await userNames(`${db}_snap`)).toEqual(['one']);
    } finally {
      await idle.end().catch(() => {});
    }
    await sql(db, `INSERT INTO users (name) VALUES ('two')`);
    const again = await cli('copy', `:${db}_snap`);
    expect(again.code, again.stderr).toBe(0);
    expect(await userNames(`${db}_snap`)).toEqual(['one', 'two']);
    expect(await databasesLike(db)).toEqual([db, `${db}_snap`]);

    await sql(db, `INSERT INTO users (name) VALUES ('three')`);
    expect((await cli('restore', `:${db}_snap`)).code).toBe(0);
    expect(await userNames(db)).toEqual(['one', 'two']);
    expect(await userNames(`${db}_snap`)).toEqual(['one', 'two']); // restoring a copy keeps it
  });

  it('never replaces a database someone is connected to: more likely a live database named by a typo than a copy', async () => {
    const other = `${db}_inuse`;
    await usersDatabase(other, ['precious']);
    const app = new pg.Client({ connectionString: dbUrl(other), application_name: 'other-app' });
    app.on('error', () => {});
    await app.connect();
    try {
      const r = await cli('copy', `:${other}`);
      expect([r.code, r.stdout]).toEqual([1, '']);
      expect(r.stderr.trim().split('\n').at(-1)).toBe(
        `pgclone: error: ${other} has 1 open session (other-app): it looks in use, and a copy would replace it; end its sessions, or drop it first ("pgclone rm --force :${other}")`,
      );
      expect((await app.query('SELECT name FROM users')).rows).toEqual([{ name: 'precious' }]);
    } finally {
      await app.end().catch(() => {});
    }
    const idle = await cli('copy', `:${other}`);
    expect(idle.code, idle.stderr).toBe(0);
    expect(await userNames(other)).toEqual(await userNames(db));
  });
});

describe('copy while another session alters the source', () => {
  const busy = uniqueName('cpybusy');
  const busyCwd = tempDir('copy-busy');
  beforeAll(async () => {
    await usersDatabase(busy, ['one']);
    // Big enough that CREATE DATABASE … TEMPLATE runs long enough to be seen.
    await sql(busy, 'CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS t FROM generate_series(1, 300000) g');
    writeFileSync(path.join(busyCwd, 'pgclone.config.json'), JSON.stringify({ lockTimeout: 1000 }));
  });
  afterAll(async () => {
    await dropDatabases(busy);
    removeDir(busyCwd);
  });

  it('allows connections to the source again before it reports success, when an ALTER DATABASE holds it for a while', async () => {
    // The copy blocks its source during CREATE DATABASE … TEMPLATE. An ALTER DATABASE that queued behind it then
    // holds the database for 1.5 s: allowing connections again waited past lock_timeout (1 s), the failure was
    // swallowed, and the copy reported success with the source still refusing every connection.
    const locker = new pg.Client({ connectionString: dbUrl('postgres') });
    await locker.connect();
    const watcher = new pg.Client({ connectionString: dbUrl('postgres') });
    await watcher.connect();
    let stop = false;
    const interfere = (async () => {
      while (!stop) {
        const rows = await watcher.query(`SELECT 1 FROM pg_stat_activity WHERE query LIKE 'CREATE DATABASE %${busy}%TEMPLATE%' AND state = 'active'`);
        if (rows.rowCount) {
          await locker.query('BEGIN');
          await locker.query(`ALTER DATABASE ${ident(busy)} CONNECTION LIMIT 50`); // waits for the copy's CREATE DATABASE
          await new Promise((resolve) => setTimeout(resolve, 1500));
          await locker.query('COMMIT');
          return true;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return false;
    })();
    try {
      const r = await runCli(['copy', `:${busy}_snap`], { cwd: busyCwd, env: { DATABASE_URL: dbUrl(busy) } });
      stop = true;
      expect(await interfere, 'the CREATE DATABASE was not seen').toBe(true);
      expect(r.code, r.stderr).toBe(0);
      expect(await sql('postgres', 'SELECT datallowconn FROM pg_database WHERE datname = $1', [busy])).toEqual([{ datallowconn: true }]);
      expect(await userNames(`${busy}_snap`)).toEqual(['one']);
    } finally {
      stop = true;
      await interfere.catch(() => {});
      await sql('postgres', `ALTER DATABASE ${ident(busy)} CONNECTION LIMIT -1`);
      await locker.end();
      await watcher.end();
    }
  });
});

// Every reserved suffix is covered by packages/core/test/names.test.ts; these go through the CLI end to end.
describe.concurrent('copy refuses', () => {
  const refusals: Array<[string, string, RegExp]> = [
    ['a target without the colon', `${db}_x`, /must start with ":"/],
    [':pre', ':pre', /reserved for restore points/],
    [':post', ':post', /reserved for restore points/],
    ['N__pre', `:${db}__pre`, /ends in "__pre", a name pgclone reserves/],
    ['N__temp', `:${db}__temp`, /ends in "__temp", a name pgclone reserves/],
    ['the source itself', `:${db}`, /is the database being copied/],
    ['a system database', ':template1', /system database/],
    ['a name over 63 bytes', `:${'c'.repeat(64)}`, /63 bytes/],
  ];
  for (const [what, targetName, message] of refusals) {
    it(what, async ({ expect }) => {
      const before = await databases();
      const oid = await databaseOid(db);
      const r = await cli('copy', targetName);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines.at(-1)).toMatch(message);
      expect(await databaseOid(db)).toBe(oid);
      expect((await databases()).filter((d) => !before.includes(d) && d.startsWith(db))).toEqual([]);
    });
  }

  it('without a target, as a usage error', async ({ expect }) => {
    const r = await cli('copy');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Not enough non-option arguments');
  });
});
