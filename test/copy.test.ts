// `pgclone copy :name`: a template copy of the target, and every target it must refuse.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { databaseOid, databasesLike, removeDir, tempDir, userNames, usersDatabase } from './support/fixtures.js';
import { databases, dbUrl, dropDatabases, sql, uniqueName } from './support/pg.js';

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
