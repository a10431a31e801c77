// allowDump / allowRestore / allowCopy: false refuses with a clear error and changes nothing.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { databaseOid, databasesLike, dumpsUnder, keyAt, layDump, plainDump, removeDir, subdir, tempDir, userNames, usersDatabase, writeFiles } from './support/fixtures.js';
import { dbUrl, dropDatabases, uniqueName } from './support/pg.js';

const root = tempDir('guards');
const db = uniqueName('grd');
const env = { DATABASE_URL: dbUrl(db) };
const key = keyAt('2026-01-01-00-00-00-000000');
let oid: number | undefined;

/** A project whose config sets `guards`, with one dump of the database in its storage. */
function project(name: string, config: unknown): { dir: string; cli: (...args: string[]) => ReturnType<typeof runCli> } {
  const dir = subdir(root, name);
  writeFiles(dir, { '.pgclonerc.json': config });
  layDump(path.join(dir, '.pgclone'), key, path.join(root, 'fixture.dump'));
  return { dir, cli: (...args) => runCli(args, { cwd: dir, env }) };
}

beforeAll(async () => {
  await usersDatabase(db, ['dumped']);
  await plainDump(db, path.join(root, 'fixture.dump'));
  await usersDatabase(db, ['live']);
  oid = await databaseOid(db);
});
afterAll(async () => {
  await dropDatabases(db);
  removeDir(root);
});

async function unchanged() {
  expect(await databaseOid(db)).toBe(oid);
  expect(await userNames(db)).toEqual(['live']);
  expect(await databasesLike(db)).toEqual([db]);
}

describe.concurrent('guards', () => {
  it('allowDump: false refuses to dump and writes nothing', async ({ expect }) => {
    const p = project('no-dump', { allowDump: false });
    const r = await p.cli('dump');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: Dump is not allowed here (allowDump is false in the pgclone config)');
    expect(dumpsUnder(path.join(p.dir, '.pgclone'))).toEqual([key]);
  });

  it('allowRestore: false refuses to restore, also a local key, and changes nothing', async ({ expect }) => {
    const p = project('no-restore', { allowRestore: false });
    for (const target of ['dev', ':pre', key]) {
      const r = await p.cli('restore', target, '--reversible');
      expect(r.code, target).toBe(1);
      expect(r.stderr).toContain('error: Restore is not allowed here (allowRestore is false in the pgclone config)');
    }
    await unchanged();
  });

  it('allowCopy: false refuses to copy and creates nothing', async ({ expect }) => {
    const p = project('no-copy', { allowCopy: false });
    const r = await p.cli('copy', `:${db}_copy`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: Copy is not allowed here (allowCopy is false in the pgclone config)');
    await unchanged();
  });

  it('a guard in a named config applies with -c', async ({ expect }) => {
    const p = project('named-guard', { configs: { prod: { allowRestore: false } } });
    const r = await p.cli('restore', 'dev', '-c', 'prod');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Restore is not allowed here');
    const dry = await p.cli('restore', 'dev', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    await unchanged();
  });
});
