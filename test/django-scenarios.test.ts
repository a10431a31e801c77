// django-pgclone's two integration scenarios (pgclone/tests/test_integration.py), replayed through the real CLI.
// A `users` table stands in for Django's auth.User; keys carry real timestamps, so they are compared with what
// `dump` printed instead of a frozen clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { count, removeDir, tempDir, usersDatabase } from './support/fixtures.js';
import { dbUrl, dropDatabases, sql, uniqueName } from './support/pg.js';

function scenario(prefix: string) {
  const db = uniqueName(prefix);
  const cwd = tempDir(prefix);
  const env = { DATABASE_URL: dbUrl(db) };
  let users = 0;
  return {
    db,
    cwd,
    cli: (...args: string[]) => runCli(args, { cwd, env }),
    addUser: async () => {
      await sql(db, 'INSERT INTO users (name) VALUES ($1)', [`user${++users}`]);
    },
    users: () => count(db, 'users'),
    cleanup: async () => {
      await dropDatabases(db);
      await dropDatabases(`my_backup_${db}`);
      removeDir(cwd);
    },
  };
}

describe('django-pgclone scenario: simple dump, ls, restore', () => {
  const s = scenario('dj_simple');
  beforeAll(() => usersDatabase(s.db, []));
  afterAll(() => s.cleanup());

  it('dumps, lists and restores, then restores a dump made with --exclude', async () => {
    const empty = await s.cli('ls');
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe('');

    const none = await s.cli('restore', 'dev/default/none/');
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('No dump matches "dev/default/none/"');

    await s.addUser();
    const dumped = await s.cli('dump');
    expect(dumped.code, dumped.stderr).toBe(0);
    const key = dumped.lines.at(-1)!;
    expect(key).toMatch(/^dev\/default\/none\/\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{6}\.dump$/);

    const listed = await s.cli('ls');
    expect(listed.stdout).toBe(`${key}\n`);

    await s.addUser();
    expect(await s.users()).toBe(2);
    const byPrefix = await s.cli('restore', 'dev/default/none');
    expect(byPrefix.code, byPrefix.stderr).toBe(0);
    expect(await s.users()).toBe(1);

    const exact = await s.cli('restore', key);
    expect(exact.code, exact.stderr).toBe(0);
    expect(await s.users()).toBe(1);

    const badConfig = await s.cli('dump', '--config', 'bad_config_name');
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toContain('"bad_config_name" is not a config name');

    const noKey = await s.cli('restore');
    expect(noKey.code).not.toBe(0);
    expect(noKey.stderr).toContain('No dump key given');

    // django-pgclone runs Django's migrate here; without a Knex or Prisma project, `migrate` is an error.
    const migrate = await s.cli('restore', 'dev', '--pre-swap-hook', 'migrate');
    expect(migrate.code).toBe(1);
    expect(migrate.stderr).toContain('no Knex or Prisma project was found');
    const hooked = await s.cli('restore', 'dev', '--pre-swap-hook', 'true');
    expect(hooked.code, hooked.stderr).toBe(0);
    expect(await s.users()).toBe(1);

    const excluded = await s.cli('dump', '--exclude', 'users');
    expect(excluded.code, excluded.stderr).toBe(0);
    const key2 = excluded.lines.at(-1)!;
    expect(key2 > key).toBe(true);
    expect(await s.users()).toBe(1);
    const restored = await s.cli('restore', 'dev/default/none/');
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.lines.at(-1)).toBe(key2);
    expect(await s.users()).toBe(0); // the table is there, its rows are not
  }, 300_000);
});

describe('django-pgclone scenario: reversible restores, :pre/:post and copies', () => {
  const s = scenario('dj_rev');
  beforeAll(() => usersDatabase(s.db, []));
  afterAll(() => s.cleanup());

  it('restores reversibly, moves between :pre and :post, and restores copies', async () => {
    expect((await s.cli('ls')).stdout).toBe('');

    await s.addUser();
    const dumped = await s.cli('dump');
    expect(dumped.code, dumped.stderr).toBe(0);
    const key = dumped.lines.at(-1)!;
    expect((await s.cli('ls')).stdout).toBe(`${key}\n`);

    const two = await s.cli('ls', '--instances', '--databases');
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('Use only one of');
    expect((await s.cli('ls', '--instances')).stdout).toBe('dev\n');
    expect((await s.cli('ls', '--configs')).stdout).toBe('none\n');
    expect((await s.cli('ls', '--databases')).stdout).toBe('default\n');

    await s.addUser();
    expect(await s.users()).toBe(2);
    expect((await s.cli('restore', 'dev', '--reversible')).code).toBe(0);
    expect(await s.users()).toBe(1);

    const local = await s.cli('ls', '--local');
    expect(local.lines).toContain(`:${s.db}__post`);
    expect(local.lines).toContain(`:${s.db}__pre`);

    await s.addUser();
    await s.addUser();
    expect(await s.users()).toBe(3);

    // :post goes back to the moment of the restore (one user).
    expect((await s.cli('restore', ':post')).code).toBe(0);
    expect(await s.users()).toBe(1);

    // :pre goes back to the database before the restore (two users); --reversible has no effect on local keys.
    const pre = await s.cli('restore', ':pre', '--reversible');
    expect(pre.code, pre.stderr).toBe(0);
    expect(await s.users()).toBe(2);

    await s.addUser();
    await s.addUser();
    expect(await s.users()).toBe(4);
    expect((await s.cli('restore', ':post')).code).toBe(0); // :post still there after restoring :pre
    expect(await s.users()).toBe(1);

    expect((await s.cli('restore', `:${s.db}__pre`)).code).toBe(0);
    expect(await s.users()).toBe(2);

    // A non-reversible restore drops the old restore points.
    expect((await s.cli('restore', 'dev')).code).toBe(0);
    const noPre = await s.cli('restore', ':pre');
    expect(noPre.code).toBe(1);
    expect(noPre.stderr).toContain(`Local database "${s.db}__pre" does not exist`);
    const noPost = await s.cli('restore', ':post');
    expect(noPost.code).toBe(1);
    expect(noPost.stderr).toContain(`Local database "${s.db}__post" does not exist`);

    expect((await s.cli('restore', 'dev', '--reversible')).code).toBe(0);
    await s.addUser();
    expect(await s.users()).toBe(2);
    const copied = await s.cli('copy', `:my_backup_${s.db}`);
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.lines.at(-1)).toBe(`:my_backup_${s.db}`);
    await s.addUser();
    expect(await s.users()).toBe(3);
    expect((await s.cli('restore', `:my_backup_${s.db}`)).code).toBe(0);
    expect(await s.users()).toBe(2);

    // The reversible restore points survived the copy and the local restore.
    expect((await s.cli('restore', ':post')).code).toBe(0);
    expect(await s.users()).toBe(1);
  }, 300_000);
});
