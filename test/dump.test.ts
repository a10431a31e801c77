// `pgclone dump`: the key on stdout, exclusions, key parts, and failed dumps that must leave no key behind.
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findProgram, type Storage } from '@pgclone/core';
import { openStorage } from '@pgclone/storage';
import { dump } from 'pgclone';
import { runCli } from './support/cli.js';
import { descendants, dumpsUnder, filesUnder, pgBin, removeDir, subdir, tempDir, writeFiles } from './support/fixtures.js';
import { createDatabase, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';

const root = tempDir('dump');
const db = uniqueName('dmp');
const env = { DATABASE_URL: dbUrl(db) };

beforeAll(async () => {
  await createDatabase(db);
  await sql(db, `CREATE TABLE keep_me (id int); INSERT INTO keep_me VALUES (1);
                 CREATE TABLE audit (id int); INSERT INTO audit VALUES (1);
                 CREATE TABLE "Sessions" (id int); INSERT INTO "Sessions" VALUES (1);
                 CREATE SCHEMA app;
                 CREATE TABLE app.events (at int, id int) PARTITION BY RANGE (at);
                 CREATE TABLE app.events_old PARTITION OF app.events FOR VALUES FROM (0) TO (10) PARTITION BY LIST (id);
                 CREATE TABLE app."Events Old 1" PARTITION OF app.events_old FOR VALUES IN (1);
                 CREATE TABLE app.events_def PARTITION OF app.events DEFAULT;
                 INSERT INTO app.events VALUES (5, 1), (50, 2)`);
});
afterAll(async () => {
  await dropDatabases(db);
  removeDir(root);
});

/** `pg_restore -l` of a stored dump: its table of contents. */
async function toc(file: string): Promise<string> {
  const { stdout } = await promisify(execFile)(pgBin('pg_restore'), ['-l', file]);
  return stdout;
}

describe('dump', () => {
  it('prints only the new key on stdout and stores a custom-format archive under it', async () => {
    const cwd = subdir(root, 'plain');
    writeFiles(cwd, { 'package.json': { name: 'app' } });
    // compression gzip: pg_dump's own, a plain archive other tools read (the default wraps it in zstd).
    const r = await runCli(['dump', '--compression', 'gzip'], { cwd, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toHaveLength(1);
    const key = r.lines[0]!;
    expect(key).toMatch(/^dev\/default\/none\/\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{6}\.dump$/);
    // The timestamp is the current UTC time.
    const stamp = key.split('/')[3]!.replace('.dump', '').split('-').map(Number);
    const when = Date.UTC(stamp[0]!, stamp[1]! - 1, stamp[2], stamp[3], stamp[4], stamp[5]);
    expect(Math.abs(Date.now() - when)).toBeLessThan(10 * 60_000);
    expect(r.stderr).toContain(`Dumping ${db} to ${key}`);
    expect(dumpsUnder(path.join(cwd, '.pgclone'))).toEqual([key]);
    const bytes = readFileSync(path.join(cwd, '.pgclone', key));
    expect(bytes.subarray(0, 5).toString('latin1')).toBe('PGDMP');
    expect(bytes[10]).toBe(1); // custom format
    const contents = await toc(path.join(cwd, '.pgclone', key));
    expect(contents).toMatch(/TABLE DATA public keep_me/);
    expect(contents).not.toMatch(/ OWNER TO |\bACL\b/);
  });

  it('repeated -e/--exclude flags accumulate: the tables stay, their rows are left out', async () => {
    const cwd = subdir(root, 'exclude');
    const r = await runCli(['dump', '-e', 'audit', '--exclude', '"Sessions"', '--compression', 'gzip'], { cwd, env });
    expect(r.code, r.stderr).toBe(0);
    const contents = await toc(path.join(cwd, '.pgclone', r.lines.at(-1)!));
    expect(contents).toMatch(/TABLE public audit /);
    expect(contents).toMatch(/TABLE public Sessions /);
    expect(contents).not.toMatch(/TABLE DATA public audit /);
    expect(contents).not.toMatch(/TABLE DATA public Sessions /);
    expect(contents).toMatch(/TABLE DATA public keep_me /);
  });

  it("-e '' turns the configured exclusions off, as an empty hook flag does the configured hooks", async () => {
    const cwd = subdir(root, 'exclude-off');
    writeFiles(cwd, { 'pgclone.config.json': { exclude: ['audit'] } });
    const r = await runCli(['dump', '-e', '', '--compression', 'gzip'], { cwd, env });
    expect(r.code, r.stderr).toBe(0);
    const key = r.lines.at(-1)!;
    expect(await toc(path.join(cwd, '.pgclone', key))).toMatch(/TABLE DATA public audit /);
    // The empty value was handed to pg_dump as a table pattern and recorded as an exclusion.
    const manifest = JSON.parse(readFileSync(path.join(cwd, '.pgclone', `${key}.manifest.json`), 'utf8')) as { exclude: string[] };
    expect(manifest.exclude).toEqual([]);
  });

  it("-e of a partitioned table leaves out its partitions' rows too, at any depth", async () => {
    const cwd = subdir(root, 'exclude-partitions');
    // pg_dump 15's --exclude-table-data does not reach partitions: every row was dumped.
    const r = await runCli(['dump', '-e', 'app.events', '--compression', 'gzip'], { cwd, env });
    expect(r.code, r.stderr).toBe(0);
    const contents = await toc(path.join(cwd, '.pgclone', r.lines.at(-1)!));
    expect(contents).toMatch(/TABLE app events_def /);
    expect(contents).not.toMatch(/TABLE DATA app /);
    expect(contents).toMatch(/TABLE DATA public audit /);
    // A pattern matches as pg_dump's do: ev* in schema app.
    const wild = await runCli(['dump', '-e', 'app.ev*', '--compression', 'gzip'], { cwd, env });
    expect(await toc(path.join(cwd, '.pgclone', wild.lines.at(-1)!))).not.toMatch(/TABLE DATA app /);
  });

  it('builds the key from -i, the -d alias and sanitises characters outside [A-Za-z0-9_-]', async () => {
    const cwd = subdir(root, 'parts');
    writeFiles(cwd, { '.pgclonerc.json': { databases: { 'rep.orting': { env: 'REPORTING_URL' } } } });
    const r = await runCli(['dump', '-i', 'my host/../x', '-d', 'rep.orting'], { cwd, env: { REPORTING_URL: dbUrl(db) } });
    expect(r.code, r.stderr).toBe(0);
    const key = r.lines.at(-1)!;
    expect(key).toMatch(/^my_host____x\/rep_orting\/none\/[\d-]+\.dump$/);
    expect(dumpsUnder(path.join(cwd, '.pgclone'))).toEqual([key]);
  });
});

describe('a failed dump leaves no key that ls or a prefix restore would pick up', () => {
  async function expectNoKey(cwd: string) {
    expect(filesUnder(path.join(cwd, '.pgclone'))).toEqual([]);
    const ls = await runCli(['ls'], { cwd });
    expect(ls.code).toBe(0);
    expect(ls.stdout).toBe('');
    const restore = await runCli(['restore', 'dev'], { cwd, env });
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain('No dump matches "dev"');
  }

  it('when the database does not exist', async () => {
    const cwd = subdir(root, 'missing-db');
    const missing = uniqueName('dmp_missing');
    const r = await runCli(['dump'], { cwd, env: { DATABASE_URL: dbUrl(missing) } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Database "${missing}" does not exist`);
    await expectNoKey(cwd);
  });

  it('when a pre-dump hook fails', async () => {
    const cwd = subdir(root, 'hook-fails');
    const r = await runCli(['dump', '--pre-dump-hook', 'exit 7'], { cwd, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('exit code 7');
    await expectNoKey(cwd);
  });

  it('when pg_dump fails with an error (a table the role may not read)', async () => {
    const role = uniqueName('dmp_role');
    const cwd = subdir(root, 'pg-dump-error');
    await sql('postgres', `CREATE ROLE ${ident(role)} LOGIN PASSWORD 'dump-role-pw'`);
    try {
      await sql(db, `CREATE TABLE ${ident(`${role}_secret`)} (id int)`);
      const r = await runCli(['dump'], { cwd, env: { DATABASE_URL: dbUrl(db, { user: role, password: 'dump-role-pw' }) } });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`error: pg_dump of ${db} failed \\(exit code 1\\): .*permission denied`));
      await expectNoKey(cwd);
    } finally {
      await sql(db, `DROP TABLE IF EXISTS ${ident(`${role}_secret`)}`);
      await sql('postgres', `DROP ROLE IF EXISTS ${ident(role)}`);
    }
  });

  it('when interrupted before pg_dump starts: pg_dump stops at once rather than running the whole dump', async () => {
    const cwd = subdir(root, 'interrupted');
    // pg_dump would wait for this lock: one that was not stopped is still running when the race below ends.
    const blocker = new pg.Client({ connectionString: dbUrl(db) });
    await blocker.connect();
    await blocker.query('BEGIN; LOCK TABLE keep_me IN ACCESS EXCLUSIVE MODE');
    const interrupted = AbortSignal.abort();
    const remote = async (location: string, settings: Record<string, unknown>): Promise<Storage> => {
      const local = await openStorage(location, settings);
      return { display: local.display, list: (p) => local.list(p), stat: (k) => local.stat(k), read: (k, r) => local.read(k, r), write: (k, h) => local.write(k, h), delete: (k) => local.delete(k) };
    };
    // pg_dump writing the file, a compressor writing it, and a stream to a storage without local paths (an upload).
    const runs = [
      () => dump({ cwd, databaseUrl: dbUrl(db), compression: 'none', signal: interrupted }),
      () => dump({ cwd, databaseUrl: dbUrl(db), compression: 'gzip:1', signal: interrupted, runtime: { openStorage: remote } }),
      ...(findProgram('zstd') ? [() => dump({ cwd, databaseUrl: dbUrl(db), compression: 'zstd', signal: interrupted })] : []),
    ];
    try {
      for (const run of runs) {
        const dumping = run().then(() => 'stored', (error: { code?: string }) => error.code);
        const outcome = await Promise.race([dumping, new Promise((r) => setTimeout(() => r('still running'), 15_000))]);
        expect(outcome).toBe('INTERRUPTED');
      }
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      await blocker.end();
    }
    await expectNoKey(cwd);
  });

  it('when pg_dump is killed', async () => {
    const cwd = subdir(root, 'killed');
    // Hold a lock that pg_dump waits for, so that it is reliably running when it gets killed.
    const blocker = new pg.Client({ connectionString: dbUrl(db) });
    await blocker.connect();
    await blocker.query('BEGIN; LOCK TABLE keep_me IN ACCESS EXCLUSIVE MODE');
    let cli: ChildProcess | undefined;
    try {
      const running = runCli(['dump'], { cwd, env, onSpawn: (c) => (cli = c) });
      let killed = false;
      for (let i = 0; i < 600 && !killed; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const waiting = await sql(db, `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pg_dump' AND wait_event_type = 'Lock'`, [db]);
        const dumpProcess = descendants(cli!.pid!).find((p) => p.comm === 'pg_dump');
        if (waiting.length && dumpProcess) {
          process.kill(dumpProcess.pid, 'SIGKILL');
          killed = true;
        }
      }
      expect(killed).toBe(true);
      const r = await running;
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`pg_dump of ${db} failed (signal SIGKILL)`);
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      await blocker.end();
    }
    await expectNoKey(cwd);
  });
});


describe('pg_dump starts before the check answers where an earlier run saw the server', () => {
  const server = new URL(dbUrl(db));
  const identity = `${server.hostname}:${server.port}`;
  /** A cache folder of its own, holding `majors` as what earlier runs saw. */
  function cacheWith(name: string, majors?: Record<string, number>): { cache: string; file: string } {
    const cache = subdir(root, name, 'cache');
    const file = path.join(cache, 'pgclone', 'server-majors.json');
    if (majors) writeFiles(cache, { 'pgclone/server-majors.json': majors });
    return { cache, file };
  }

  it('remembers the server after a dump, and the next dump (started on that guess) stores the same archive', async () => {
    const cwd = subdir(root, 'guess-kept');
    const { cache, file } = cacheWith('guess-kept');
    const first = await runCli(['dump'], { cwd, env: { ...env, XDG_CACHE_HOME: cache } });
    expect(first.code, first.stderr).toBe(0);
    const major = Number((await sql('postgres', `SELECT current_setting('server_version_num')::int / 10000 AS m`))[0]!.m);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ [identity]: major });
    const second = await runCli(['dump', '--compression', 'gzip'], { cwd, env: { ...env, XDG_CACHE_HOME: cache } });
    expect(second.code, second.stderr).toBe(0);
    expect(dumpsUnder(path.join(cwd, '.pgclone'))).toEqual([first.lines.at(-1)!, second.lines.at(-1)!].sort());
    expect(await toc(path.join(cwd, '.pgclone', second.lines.at(-1)!))).toMatch(/TABLE DATA public keep_me/);
  });

  it.each([
    ['an older major (its pg_dump runs, then the dump starts again)', 14],
    ['a newer major (no pg_dump is new enough for it)', 99],
  ])('a server remembered with %s is dumped with the right pg_dump, and remembered anew', async (_what, wrong) => {
    const name = `guess-wrong-${wrong}`;
    const cwd = subdir(root, name);
    const { cache, file } = cacheWith(name, { [identity]: wrong });
    const r = await runCli(['dump', '--compression', 'gzip'], { cwd, env: { ...env, XDG_CACHE_HOME: cache } });
    expect(r.code, r.stderr).toBe(0);
    // One dump and its manifest: the first attempt's partial file is gone.
    const key = r.lines.at(-1)!;
    expect(filesUnder(path.join(cwd, '.pgclone'))).toEqual([key, `${key}.manifest.json`]);
    const manifest = JSON.parse(readFileSync(path.join(cwd, '.pgclone', `${key}.manifest.json`), 'utf8')) as { serverVersion: string };
    const major = Number(manifest.serverVersion.split('.')[0]);
    expect(major).toBeGreaterThanOrEqual(10);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ [identity]: major });
    expect(await toc(path.join(cwd, '.pgclone', key))).toMatch(/TABLE DATA public keep_me/);
  });

  it('a missing database fails with the check\'s error, and stores nothing', async () => {
    const cwd = subdir(root, 'guess-missing-db');
    const major = Number((await sql('postgres', `SELECT current_setting('server_version_num')::int / 10000 AS m`))[0]!.m);
    const { cache } = cacheWith('guess-missing-db', { [identity]: major });
    const missing = uniqueName('dmp_missing');
    const r = await runCli(['dump'], { cwd, env: { DATABASE_URL: dbUrl(missing), XDG_CACHE_HOME: cache } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Database "${missing}" does not exist; nothing to dump`);
    expect(r.stderr).not.toContain('pg_dump: error');
    // pg_dump had started: the folders made for its file (the location, <instance>/<database>/<config>/) were left.
    expect(existsSync(path.join(cwd, '.pgclone'))).toBe(false);
    // Only what the dump made goes: a folder that was there stays.
    mkdirSync(path.join(cwd, '.pgclone', 'dev'), { recursive: true });
    const again = await runCli(['dump'], { cwd, env: { DATABASE_URL: dbUrl(missing), XDG_CACHE_HOME: cache } });
    expect(again.code).toBe(1);
    expect(readdirSync(path.join(cwd, '.pgclone'), { recursive: true })).toEqual(['dev']);
  });
});
