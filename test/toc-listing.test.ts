import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { locateTool, readContents, readDataSizes, Reporter, RestoreProgress } from '@pgclone/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cluster, createDatabase, dropDatabases, sql, uniqueName } from './support/pg.js';

// readContents keeps the `pg_restore -l` listing as bytes and line offsets (TocListing), not as a string per item:
// what it hands out must still be exactly pg_restore's lines, whatever characters the names have.

const prefix = uniqueName('listing');
const TABLES = 4000;
// 28 two-byte characters in every name: the listing is ~1 MB, read in 64 KiB chunks, so chunk ends fall inside
// characters.
const NAME = 'é'.repeat(28);

describe('table of contents listing', () => {
  const db = `${prefix}_many`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-listing-'));
  const file = path.join(dir, 'many.dump');
  const env = () => ({ ...process.env, PGPASSWORD: cluster().password });

  beforeAll(async () => {
    await createDatabase(db);
    await sql(
      db,
      `DO $$ BEGIN FOR i IN 1..${TABLES} LOOP
         EXECUTE format('CREATE TABLE %1$I (id int PRIMARY KEY); INSERT INTO %1$I VALUES (1); COMMENT ON TABLE %1$I IS %2$L', '${NAME}' || i, 'ü ' || i);
       END LOOP; END $$`,
    );
    await sql(db, `COMMENT ON DATABASE ${db} IS 'the database'`);
    const c = cluster();
    execFileSync(path.join(c.binDir, 'pg_dump'), ['-Fc', '-h', c.host, '-p', String(c.port), '-U', c.user, '-d', db, '-f', file], { env: env() });
  });
  afterAll(() => dropDatabases(prefix));

  it("holds exactly pg_restore's lines, in order, the database's own entries apart", async () => {
    const tool = await locateTool('pg_restore', cluster().major);
    const expected = execFileSync(tool.path, ['-l', '--create', file], { maxBuffer: 1 << 30 })
      .toString('utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith(';'));
    const isDatabase = (l: string) => / \d+ \d+ (DATABASE|COMMENT - DATABASE) /.test(l);
    const { toc, databaseEntries } = await readContents(tool, { path: file }, env(), 'many.dump');

    expect(databaseEntries).toEqual(expected.filter(isDatabase));
    expect(databaseEntries.some((l) => l.includes('COMMENT - DATABASE'))).toBe(true);
    const lines = [...toc];
    expect(lines.length).toBe(toc.length);
    expect(lines).toEqual(expected.filter((l) => !isDatabase(l)));
    expect(lines.filter((l) => l.includes(NAME)).length).toBe(TABLES * 4); // table, data, primary key, comment
    expect(lines.some((l) => l.includes('\uFFFD'))).toBe(false);
    expect(toc.at(0)).toBe(lines[0]);
    expect(toc.at(-1)).toBe(lines.at(-1));
    expect(toc.at(toc.length)).toBeUndefined();

    // Progress takes the data items and builds from the listing in its order: one job, once every table's data has
    // started and a build after them, all the data is counted done.
    const data = await readDataSizes(file);
    expect(data?.sizes.size).toBe(TABLES);
    const progress = new RestoreProgress(new Reporter('restore', () => {}), toc, data, false);
    expect(progress.wantsBuildProgress).toBe(true);
    for (let i = 0; i < TABLES; i++) progress.line(`pg_restore: processing data for table "public.${NAME}${i}"`);
    progress.line(`pg_restore: creating CONSTRAINT "public.x x_pkey"`);
    expect(progress.done).toBe([...data!.sizes.values()].reduce((a, b) => a + b, 0));
  });
});
