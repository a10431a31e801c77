// `pgclone ls` and how keys and prefixes are chosen: modes, hidden files, newest-by-timestamp, whole-segment prefixes.
import { mkdirSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { keyAt, layDump, plainDump, removeDir, tempDir, userNames, usersDatabase, writeFiles } from './support/fixtures.js';
import { dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';

const root = tempDir('ls');
afterAll(() => removeDir(root));

/** A project directory whose storage holds empty files under `keys` (ls never reads them). */
function project(name: string, keys: string[], config?: unknown): { dir: string; ls: (...args: string[]) => ReturnType<typeof runCli> } {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFiles(dir, Object.fromEntries(keys.map((k) => [path.join('.pgclone', k), 'x'])));
  if (config) writeFiles(dir, { '.pgclonerc.json': config });
  return { dir, ls: (...args) => runCli(['ls', ...args], { cwd: dir }) };
}

const a2020 = keyAt('2020-01-01-00-00-00-000000', 'zeta');
const b2021 = keyAt('2021-01-01-00-00-00-000000', 'alpha', 'reporting', 'anon');
const c2022 = keyAt('2022-06-01-12-00-00-000001', 'mid');

describe.concurrent('ls', () => {
  it('prints nothing and exits 0 for an empty or missing store', async ({ expect }) => {
    const p = project('nothing-here', []);
    const r = await p.ls();
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    writeFiles(p.dir, { '.pgclone/README.txt': 'not a dump' });
    const json = await p.ls('--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([]);
  });

  it('a storage location that is a file, not a directory, is an error naming it (not an empty store)', async ({ expect }) => {
    // A mistyped -s pointing at a file listed nothing and exited 0, as if the store were empty.
    const p = project('storage-is-a-file', []);
    writeFiles(p.dir, { 'notes.txt': 'x' });
    for (const location of ['notes.txt', 'notes.txt/dumps']) {
      const r = await p.ls('-s', location);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toBe(`pgclone: error: Storage location ${path.join(p.dir, location)} is not a directory\n`);
    }
  });

  it('lists keys newest first by their timestamp, not lexicographically (keys of several instances)', async ({ expect }) => {
    const p = project('order', [a2020, b2021, c2022]);
    const r = await p.ls();
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([c2022, b2021, a2020]);
  });

  it('lists sorted unique instances, databases and configs', async ({ expect }) => {
    const p = project('modes', [a2020, b2021, c2022, keyAt('2023-01-01-00-00-00-000000', 'alpha')]);
    expect((await p.ls('--instances')).lines).toEqual(['alpha', 'mid', 'zeta']);
    expect((await p.ls('--databases')).lines).toEqual(['default', 'reporting']);
    expect((await p.ls('--configs')).lines).toEqual(['anon', 'none']);
    expect((await p.ls('alpha', '--configs')).lines).toEqual(['anon', 'none']);
  });

  it('refuses two modes at once with a usage error (exit 2)', async ({ expect }) => {
    const p = project('two-modes', [a2020]);
    for (const pair of [['--instances', '--databases'], ['--configs', '--local']]) {
      const r = await p.ls(...pair);
      expect(r.code, pair.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('Use only one of --instances, --databases, --configs and --local');
    }
  });

  it('refuses a prefix with --local (local names have no key segments) with a usage error, rather than ignoring it', async ({ expect }) => {
    const p = project('local-prefix', [a2020]);
    for (const args of [['snap', '--local'], ['snap', '--local', '--long']]) {
      const r = await p.ls(...args);
      expect([r.code, r.stdout], args.join(' ')).toEqual([2, '']);
      expect(r.stderr).toContain('--local lists every local database; it takes no prefix (got "snap")');
    }
  });

  it('matches whole path segments: dev is not devops; a prefix may end inside the timestamp', async ({ expect }) => {
    const dev = keyAt('2020-01-01-00-00-00-000000', 'dev');
    const devops = keyAt('2024-01-01-00-00-00-000000', 'devops');
    const p = project('segments', [dev, devops]);
    // The corner cases are in packages/core/test/keys.test.ts; these go through the CLI and the local storage.
    expect((await p.ls('dev')).lines).toEqual([dev]);
    expect((await p.ls('devops/')).lines).toEqual([devops]);
    expect((await p.ls('de')).lines).toEqual([]);
    expect((await p.ls('dev/default/none/2020-01')).lines).toEqual([dev]);
  });

  it('hides files that are not valid keys', async ({ expect }) => {
    const valid = keyAt('2026-01-01-00-00-00-000000');
    const p = project('invalid', [
      valid,
      'dev/default/none/not-a-stamp.dump',
      'dev/default/none/2026-01-01-00-00-00-000000.sql',
      'dev/default/2026-01-01-00-00-00-000000.dump',
      'dev/default/none/.pgclone-partial-2026-01-02-00-00-00-000000.dump-abcd',
      `${valid}.manifest.json`,
      'cron/nightly.dump',
      'README.txt',
    ]);
    const r = await p.ls();
    expect(r.lines).toEqual([valid]);
    expect((await p.ls('--instances')).lines).toEqual(['dev']);
  });

  it('with validateDumpKeys: false also shows other files, ordered with the keys by modification time', async ({ expect }) => {
    const valid = keyAt('2026-01-01-00-00-00-000000');
    const p = project('unvalidated', [valid, 'cron/nightly.dump', 'cron/weekly.dump', 'dev/default/none/.pgclone-partial-x'], {
      validateDumpKeys: false,
    });
    const file = (k: string) => path.join(p.dir, '.pgclone', ...k.split('/'));
    utimesSync(file('cron/nightly.dump'), new Date('2027-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z'));
    utimesSync(file('cron/weekly.dump'), new Date('2025-01-01T00:00:00Z'), new Date('2025-01-01T00:00:00Z'));
    expect((await p.ls()).lines).toEqual(['cron/nightly.dump', valid, 'cron/weekly.dump']);
    expect((await p.ls('cron')).lines).toEqual(['cron/nightly.dump', 'cron/weekly.dump']);
  });

  it('refuses a hostile prefix with a one-line error', async ({ expect }) => {
    const p = project('hostile', [a2020]);
    for (const prefix of ['../', '/etc', 'dev/../..', 'a\\b']) {
      const r = await p.ls(prefix);
      expect(r.code, prefix).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`Invalid prefix ${JSON.stringify(prefix)}`);
    }
  });
});

describe('ls --local', () => {
  const db = uniqueName('lsl');
  beforeAll(async () => {
    for (const name of [db, `${db}__pre`, `${db}__post`, `${db}_copy`, `${db}__spare`, `${db}_tmpl`]) {
      await sql('postgres', `CREATE DATABASE ${ident(name)} TEMPLATE template0`);
    }
    // As the fast reset keeps its spare, and the test setup its templates.
    await sql('postgres', `ALTER DATABASE ${ident(`${db}__spare`)} WITH ALLOW_CONNECTIONS false`);
    await sql('postgres', `ALTER DATABASE ${ident(`${db}_tmpl`)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
  });
  afterAll(async () => {
    await sql('postgres', `ALTER DATABASE ${ident(`${db}_tmpl`)} WITH IS_TEMPLATE false`); // a template cannot be dropped
    await dropDatabases(db);
  });

  it('lists the restore points and copies as :name, never the target itself or the system databases', async () => {
    const r = await runCli(['ls', '--local'], { cwd: root, env: { DATABASE_URL: dbUrl(db) } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toEqual(expect.arrayContaining([`:${db}__pre`, `:${db}__post`, `:${db}_copy`]));
    expect(r.lines.every((l) => l.startsWith(':'))).toBe(true);
    for (const hidden of [`:${db}`, ':postgres', ':template0', ':template1']) expect(r.lines).not.toContain(hidden);
  });

  it('--long lists the same databases, a spare as the spare it is (not as a blocked database), templates in neither', async () => {
    const env = { DATABASE_URL: dbUrl(db) };
    const short = (await runCli(['ls', '--local'], { cwd: root, env })).lines.filter((l) => l.startsWith(`:${db}`));
    const long = (await runCli(['ls', '--local', '--long'], { cwd: root, env })).lines.filter((l) => l.startsWith(`:${db}`));
    expect(long.map((l) => l.split(/\s+/)[0])).toEqual(short);
    expect(short).not.toContain(`:${db}_tmpl`);
    expect(long.find((l) => l.startsWith(`:${db}__spare `))).toMatch(new RegExp(`spare of ${db}$`));
  });
});

describe('prefix restores pick the newest dump by timestamp', () => {
  const db = uniqueName('lsp');
  const src = uniqueName('lsp_src');
  const dir = tempDir('ls-prefix');
  const store = path.join(dir, '.pgclone');
  const dump = (name: string) => path.join(dir, `${name}.dump`);
  const restore = (key: string) => runCli(['restore', key], { cwd: dir, env: { DATABASE_URL: dbUrl(db) } });

  beforeAll(async () => {
    await usersDatabase(db, ['live']);
    for (const name of ['older', 'newer', 'devops']) {
      await usersDatabase(src, [name]);
      await plainDump(src, dump(name));
    }
  });
  afterAll(async () => {
    await dropDatabases(db);
    await dropDatabases(src);
    removeDir(dir);
  });

  it('chooses the newest key under a prefix even when it sorts first lexicographically', async () => {
    layDump(store, 'dev/zzz/none/2020-01-01-00-00-00-000000.dump', dump('older'));
    layDump(store, 'dev/aaa/none/2021-01-01-00-00-00-000000.dump', dump('newer'));
    const r = await restore('dev');
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines.at(-1)).toBe('dev/aaa/none/2021-01-01-00-00-00-000000.dump');
    expect(await userNames(db)).toEqual(['newer']);
  });

  it('dev does not match devops, even when devops has the newest dump', async () => {
    layDump(store, 'devops/aaa/none/2030-01-01-00-00-00-000000.dump', dump('devops'));
    const r = await restore('dev');
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines.at(-1)).toBe('dev/aaa/none/2021-01-01-00-00-00-000000.dump');
    expect(await userNames(db)).toEqual(['newer']);
    const ops = await restore('devops');
    expect(ops.lines.at(-1)).toBe('devops/aaa/none/2030-01-01-00-00-00-000000.dump');
    expect(await userNames(db)).toEqual(['devops']);
  });

  it('a file that is not a key is restored by prefix only with validateDumpKeys: false', async () => {
    layDump(store, 'cron/nightly.dump', dump('older'));
    writeFiles(dir, { 'unvalidated.json': { validateDumpKeys: false } });
    const hidden = await restore('cron');
    expect(hidden.code).toBe(1);
    expect(hidden.stderr).toContain('No dump matches "cron"');
    const r = await runCli(['restore', 'cron', '--config-file', 'unvalidated.json'], { cwd: dir, env: { DATABASE_URL: dbUrl(db) } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines.at(-1)).toBe('cron/nightly.dump');
    expect(await userNames(db)).toEqual(['older']);
    expect((await restore('devops')).code).toBe(0);
  });

  it('a prefix that matches nothing is an error naming it', async () => {
    const r = await restore('de');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('No dump matches "de"');
    expect(await userNames(db)).toEqual(['devops']);
  });
});
