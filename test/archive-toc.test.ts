import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addDataOffsets, readDataSizes, scanDataSizes } from '@pgclone/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cluster, createDatabase, dropDatabases, sql, uniqueName } from './support/pg.js';

// The reader of an archive's table of contents (archive-offsets.ts) reads it field by field from a 4 MiB buffer,
// skipping the strings it does not need by their length: these archives have strings larger than that buffer, and
// fields that a spool still being written cuts anywhere.

const prefix = uniqueName('toc');
const TABLES = 600;

describe('table of contents reader', () => {
  const db = `${prefix}_many`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-toc-'));
  const pgDump = (args: string[]) => {
    const c = cluster();
    return execFileSync(path.join(c.binDir, 'pg_dump'), ['-Fc', '-Z0', '-h', c.host, '-p', String(c.port), '-U', c.user, '-d', db, ...args], {
      env: { ...process.env, PGPASSWORD: c.password },
      maxBuffer: 1 << 30,
    });
  };

  beforeAll(async () => {
    await createDatabase(db);
    await sql(
      db,
      `DO $$ BEGIN FOR i IN 1..${TABLES} LOOP
         EXECUTE format('CREATE TABLE t%s (id int, v text); INSERT INTO t%s SELECT g, md5(g::text) FROM generate_series(1, %s) g;
                         CREATE INDEX t%s_v ON t%s (v); COMMENT ON TABLE t%s IS %L', i, i, 1 + i % 5, i, i, i, 'table ' || i);
       END LOOP; END $$`,
    );
    // Strings of several MB in the TOC: a function's body and a comment, larger than the reader's buffer.
    await sql(db, `CREATE SCHEMA heavy; CREATE TABLE heavy.big (id int PRIMARY KEY); INSERT INTO heavy.big VALUES (1)`);
    await sql(db, `CREATE FUNCTION heavy.body() RETURNS text LANGUAGE sql AS $f$ SELECT '${'x'.repeat(6 << 20)}' $f$`);
    await sql(db, `COMMENT ON TABLE heavy.big IS '${'y'.repeat(5 << 20)}'`);
  });
  afterAll(() => dropDatabases(prefix));

  it('finds the data offsets of a schema of many items and multi-MB strings exactly as pg_dump writes them to a file', async () => {
    const piped = pgDump([]);
    const patchedFile = path.join(dir, 'patched.dump');
    writeFileSync(patchedFile, piped);
    const fileDump = path.join(dir, 'file.dump');
    pgDump(['-f', fileDump]);
    expect(await readDataSizes(patchedFile)).toBeUndefined(); // written to a pipe: no offsets

    const result = await addDataOffsets(patchedFile);
    expect(result).toMatchObject({ patched: TABLES + 1 });
    const fromFile = await readDataSizes(fileDump);
    expect(fromFile?.sizes.size).toBe(TABLES + 1);
    expect('data' in result && result.data).toEqual(fromFile);
    // Each table's index and the big table's primary key are builds, costed from their tables' data.
    expect(fromFile?.builds?.size).toBe(TABLES + 1);
    expect([...fromFile!.builds!.values()].every((cost) => cost > 0)).toBe(true);
    // The same offsets, in the same places: the files differ only in the header's timestamp.
    const patched = readFileSync(patchedFile);
    const byFile = readFileSync(fileDump);
    expect(patched.length).toBe(byFile.length);
    const differing = [...patched.keys()].filter((i) => patched[i] !== byFile[i]);
    expect(differing.every((i) => i < 64), `bytes differ at ${differing.slice(0, 10).join(', ')}`).toBe(true);
    expect(await scanDataSizes(path.join(dir, 'file.dump'))).toEqual(fromFile);
  });

  it('resumes a field that the end of a spool still being written cuts, wherever it is cut', async () => {
    const piped = pgDump(['-n', 'public']);
    const whole = path.join(dir, 'whole.dump');
    writeFileSync(whole, piped);
    let dataStart = 0;
    const expected = await addDataOffsets(whole, { onLayout: (at) => (dataStart = at) });
    expect(expected).toMatchObject({ patched: TABLES });
    expect(dataStart).toBeGreaterThan(TABLES * 4 * 50);

    // The spool holds the first `cut` bytes when the reader starts, the rest arrives once it waits for more.
    const cuts = Array.from({ length: 150 }, (_, k) => 1 + Math.floor((k * (dataStart - 1)) / 150) + (k % 17));
    for (const cut of cuts) {
      const growing = path.join(dir, `growing-${cut}.dump`);
      writeFileSync(growing, piped.subarray(0, cut));
      const written = new Promise((resolve) => setTimeout(resolve, 10)).then(() => appendFileSync(growing, piped.subarray(cut)));
      let layoutAt = 0;
      const followed = await addDataOffsets(growing, { written, onLayout: (at) => (layoutAt = at) });
      expect(followed, `cut at byte ${cut}`).toEqual(expected);
      expect(layoutAt, `cut at byte ${cut}`).toBe(dataStart);
      expect(readFileSync(growing).equals(readFileSync(whole)), `cut at byte ${cut}`).toBe(true);
    }
  });
});
