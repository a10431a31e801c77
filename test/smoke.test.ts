import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { createDatabase, dbUrl, dropDatabases, sql, uniqueName } from './support/pg.js';

describe('smoke', () => {
  const db = uniqueName('smoke');
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'pgclone-smoke-'));
  beforeAll(async () => {
    await createDatabase(db);
    await sql(db, 'CREATE TABLE t (id int); INSERT INTO t VALUES (1)');
  });
  afterAll(() => dropDatabases(db));

  it('dumps, lists and restores', async () => {
    const env = { DATABASE_URL: dbUrl(db) };
    const dumped = await runCli(['dump'], { cwd, env });
    expect(dumped.code, dumped.stderr).toBe(0);
    const key = dumped.lines.at(-1)!;
    expect(key).toMatch(/^dev\/default\/none\/\d{4}(-\d{2}){5}-\d{6}\.dump$/);
    const listed = await runCli(['ls'], { cwd, env });
    expect(listed.lines).toEqual([key]);
    await sql(db, 'INSERT INTO t VALUES (2)');
    const restored = await runCli(['restore', 'dev'], { cwd, env });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await sql(db, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 1 }]);
  });
});
