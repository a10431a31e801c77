// Each guarantee of "Restore: guarantees, not just steps" (issue 3) as its own test, through the real CLI.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import {
  databaseOid,
  databasesLike,
  keyAt,
  layDump,
  libpqEnv,
  pgBin,
  plainDump,
  removeDir,
  tempDir,
  userNames,
  usersDatabase,
  writeFiles,
} from './support/fixtures.js';
import { cluster, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';

const cwd = tempDir('rg');
const store = path.join(cwd, '.pgclone');
const fixture = path.join(cwd, 'fixture.dump'); // users: ['dumped']
const other = path.join(cwd, 'other.dump'); // users: ['other']
const src = uniqueName('rg_src');
const prefixes: string[] = [src];

/** A live target database with users ['live'] and its own keys (instance part = the database name). */
async function target(prefix: string) {
  const db = uniqueName(prefix);
  prefixes.push(db);
  await usersDatabase(db, ['live']);
  const oid = await databaseOid(db);
  const env = { DATABASE_URL: dbUrl(db) };
  return {
    db,
    env,
    key: (stamp = '2026-01-01-00-00-00-000000') => keyAt(stamp, db),
    cli: (...args: string[]) => runCli(args, { cwd, env }),
    /** The live database is the same database with the same rows, and nothing was left beside it. */
    async unchanged() {
      expect(await databaseOid(db)).toBe(oid);
      expect(await userNames(db)).toEqual(['live']);
      expect(await databasesLike(db)).toEqual([db]);
    },
  };
}

beforeAll(async () => {
  await usersDatabase(src, ['dumped']);
  await plainDump(src, fixture);
  await sql(src, `UPDATE users SET name = 'other'`);
  await plainDump(src, other);
});

afterAll(async () => {
  for (const p of prefixes) await dropDatabases(p);
  removeDir(cwd);
});

describe.concurrent('the dump is checked before anything changes', () => {
  it('refuses an empty dump', async ({ expect }) => {
    const t = await target('rg_empty');
    writeFiles(store, { [t.key()]: '' });
    const r = await t.cli('restore', t.key());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Dump ${t.key()} is empty`);
    await t.unchanged();
  });

  it('refuses a dump truncated inside its table of contents', async ({ expect }) => {
    const t = await target('rg_trunc_toc');
    layDump(store, t.key(), fixture);
    truncateSync(path.join(store, t.key()), 200);
    const r = await t.cli('restore', t.key());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: .*(not a readable archive|pg_restore of)/);
    await t.unchanged();
  });

  it('refuses a dump truncated inside its data', async ({ expect }) => {
    const t = await target('rg_trunc_data');
    layDump(store, t.key(), fixture);
    const file = path.join(store, t.key());
    truncateSync(file, statSync(file).size - 40);
    const r = await t.cli('restore', t.key());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error:');
    await t.unchanged();
  });

  it('a dump cut in half, found out by pg_restore itself, is one error line', async ({ expect }) => {
    const t = await target('rg_trunc_half');
    // Table data of ~2 MB, so that half of the archive keeps its table of contents: a cut pg_restore meets in the data.
    const big = uniqueName('rg_big');
    prefixes.push(big);
    await usersDatabase(big, ['big']);
    await sql(big, `CREATE TABLE filler AS SELECT g, md5(g::text) AS h FROM generate_series(1, 40000) g`);
    const half = path.join(cwd, 'half.dump');
    await plainDump(big, half);
    layDump(store, t.key(), half);
    const file = path.join(store, t.key());
    truncateSync(file, Math.floor(statSync(file).size / 2));
    const r = await t.cli('restore', t.key());
    expect(r.code).toBe(1);
    // pg_restore's own error line is the failure's message: it came twice, pg_restore's line first. (Restored with -j,
    // whose data offsets in the table of contents point past the cut, pgclone says so itself before pg_restore.)
    expect(r.stderr.split('\n').filter((l) => l.includes('error:'))).toEqual([
      expect.stringMatching(/^pgclone: error: (pg_restore of .* failed|Dump .* is not a readable archive|Dump .* is truncated): /),
    ]);
    await t.unchanged();
  });

  it('refuses a spool directory that is missing or a file, whether or not this restore would spool', async ({ expect }) => {
    const t = await target('rg_spool');
    layDump(store, t.key(), fixture);
    const missing = await t.cli('restore', t.key(), '--spool-dir', path.join(cwd, 'no-such-dir'));
    expect([missing.code, missing.stderr]).toEqual([2, `pgclone: error: Spool directory "${path.join(cwd, 'no-such-dir')}" does not exist\n`]);
    const file = await t.cli('restore', t.key(), '--spool-dir', fixture);
    expect([file.code, file.stderr]).toEqual([2, `pgclone: error: Spool directory "${fixture}" is not a directory\n`]);
    // From the config it is a config error (exit 1, as every other bad config value), naming the key.
    const project = tempDir('rg-spool-config');
    writeFiles(project, { 'pgclone.config.json': { spoolDir: 'no-such-dir', storageLocation: store } });
    const configured = await runCli(['restore', t.key()], { cwd: project, env: t.env });
    expect([configured.code, configured.stderr]).toEqual([
      1,
      `pgclone: error: Spool directory "${path.join(project, 'no-such-dir')}" (spoolDir in the pgclone config) does not exist\n`,
    ]);
    removeDir(project);
    await t.unchanged();
  });

  it('refuses a missing dump, naming the key', async ({ expect }) => {
    const t = await target('rg_missing');
    const r = await t.cli('restore', t.key());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`No dump matches "${t.key()}"`);
    await t.unchanged();
  });

  it('refuses to restore N from itself', async ({ expect }) => {
    const t = await target('rg_self');
    const r = await t.cli('restore', `:${t.db}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Cannot restore ${t.db} from itself`);
    await t.unchanged();
  });

  it('refuses a file that is not a custom-format archive', async ({ expect }) => {
    const t = await target('rg_notdump');
    writeFiles(store, { [t.key()]: '--\n-- PostgreSQL database dump\n--\nDROP TABLE users;\n' });
    const r = await t.cli('restore', t.key());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('plain SQL script');
    await t.unchanged();
  });

  it('refuses an archive newer than the local pg_restore reads, naming both versions', async ({ expect }) => {
    const t = await target('rg_version');
    layDump(store, t.key(), fixture);
    const file = path.join(store, t.key());
    const bytes = readFileSync(file);
    expect(bytes.subarray(0, 5).toString('latin1')).toBe('PGDMP');
    bytes[6] = 16; // archive version 1.16: written by pg_dump 17
    writeFileSync(file, bytes);
    const r = await t.cli('restore', t.key());
    expect(r.code).toBe(1);
    const error = r.stderr.split('\n').find((l) => l.includes('error:'))!;
    expect(error).toContain('archive version 1.16');
    expect(error).toMatch(/pg_restore 15\.\d+/);
    expect(error).toContain('up to 1.14');
    await t.unchanged();
  });
});

describe('restore into N__temp and swap', () => {
  it('restores a plain pg_dump -Fc --no-acl --no-owner file laid out under a key as-is', async () => {
    const t = await target('rg_plain');
    layDump(store, t.key(), fixture);
    const r = await t.cli('restore', t.db);
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines.at(-1)).toBe(t.key());
    expect(await userNames(t.db)).toEqual(['dumped']);
    expect(await databasesLike(t.db)).toEqual([t.db]);
  });

  it('restores into a database that does not exist yet (reversible: :post but no :pre)', async () => {
    const db = uniqueName('rg_first');
    prefixes.push(db);
    const key = keyAt('2026-01-01-00-00-00-000000', db);
    layDump(store, key, fixture);
    const r = await runCli(['restore', key, '--reversible'], { cwd, env: { DATABASE_URL: dbUrl(db) } });
    expect(r.code, r.stderr).toBe(0);
    expect(await userNames(db)).toEqual(['dumped']);
    expect(await databasesLike(db)).toEqual([db, `${db}__post`]);
  });

  it('a new database gets the settings of the dump, a value spanning lines included', async () => {
    const db = uniqueName('rg_nl');
    prefixes.push(db);
    await sql('postgres', `CREATE DATABASE ${ident(db)} TEMPLATE template0`);
    await sql('postgres', `ALTER DATABASE ${ident(db)} SET app.msg = E'line1\nline2; it''s'; ALTER DATABASE ${ident(db)} SET work_mem = '5MB'`);
    const d = await runCli(['dump'], { cwd, env: { DATABASE_URL: dbUrl(db) } });
    expect(d.code, d.stderr).toBe(0);
    const fresh = `${db}_new`;
    const r = await runCli(['restore', d.lines.at(-1)!], { cwd, env: { DATABASE_URL: dbUrl(fresh) } });
    expect(r.code, r.stderr).toBe(0);
    const settings = `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1 AND s.setrole = 0`;
    expect(await sql('postgres', settings, [fresh])).toEqual([{ setconfig: ["app.msg=line1\nline2; it's", 'work_mem=5MB'] }]);
  });

  it('a failing pre-swap hook leaves N and the previous :pre/:post untouched and keeps N__temp to resume', async () => {
    const t = await target('rg_hook');
    layDump(store, t.key(), fixture);
    expect((await t.cli('restore', t.key(), '--reversible')).code).toBe(0);
    await sql(t.db, `INSERT INTO users (name) VALUES ('after')`);
    const oids = { live: await databaseOid(t.db), pre: await databaseOid(`${t.db}__pre`), post: await databaseOid(`${t.db}__post`) };

    const failed = await t.cli('restore', t.key(), '--reversible', '--pre-swap-hook', 'echo hook-ran; exit 3');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('hook-ran');
    expect(failed.stderr).toMatch(/error: .*exit code 3/);
    expect(failed.stderr).toContain(`restore :${t.db}__temp`);
    expect(await databaseOid(t.db)).toBe(oids.live);
    expect(await userNames(t.db)).toEqual(['dumped', 'after']);
    expect(await databaseOid(`${t.db}__pre`)).toBe(oids.pre);
    expect(await databaseOid(`${t.db}__post`)).toBe(oids.post);
    expect(await userNames(`${t.db}__pre`)).toEqual(['live']);
    expect(await databasesLike(t.db)).toEqual([t.db, `${t.db}__post`, `${t.db}__pre`, `${t.db}__temp`]);

    const doctor = await t.cli('doctor');
    expect(doctor.stdout).toContain(`${t.db}__temp is a complete restore that was not swapped in (a pre-swap hook failed, or the run was stopped)`);
    const resumed = await t.cli('restore', `:${t.db}__temp`);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await userNames(t.db)).toEqual(['dumped']);
    expect(await databasesLike(t.db)).toEqual([t.db, `${t.db}__post`, `${t.db}__pre`]);
    expect(await databaseOid(`${t.db}__pre`)).toBe(oids.pre);
    expect(await databaseOid(`${t.db}__post`)).toBe(oids.post);
    // The mark that made N__temp resumable does not stay on the live database.
    expect(await sql('postgres', `SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1`, [t.db])).toEqual([{ c: null }]);
  });

  it('an N__temp cut off before it was complete is not resumed: refused, nothing changes', async () => {
    const t = await target('rg_cutoff');
    layDump(store, t.key(), fixture);
    expect((await t.cli('restore', t.key())).code).toBe(0);
    const live = await databaseOid(t.db);
    // What a restore killed during pg_restore leaves: N__temp with part of the data, not marked restored.
    await sql('postgres', `CREATE DATABASE ${ident(`${t.db}__temp`)} TEMPLATE template0`);
    const doctor = await t.cli('doctor');
    expect(doctor.stdout).toContain(`${t.db}__temp is a restore that stopped before it was complete (it cannot be resumed)`);
    const resumed = await t.cli('restore', `:${t.db}__temp`);
    expect(resumed.code).toBe(1);
    expect(resumed.stderr.trim().split('\n').at(-1)).toBe(
      `pgclone: error: ${t.db}__temp was left by a restore that stopped before it was complete, so it cannot be resumed: restore the dump again (that drops it; so does "pgclone doctor --fix")`,
    );
    expect(await databaseOid(t.db)).toBe(live);
    expect(await userNames(t.db)).toEqual(['dumped']);
    expect(await databasesLike(t.db)).toEqual([t.db, `${t.db}__temp`]);
    // The next restore of a dump drops it and goes on.
    expect((await t.cli('restore', t.key())).code).toBe(0);
    expect(await databasesLike(t.db)).toEqual([t.db]);
  });

  it('restores :N__swap and :N__stage, leftovers that ls --local lists, instead of dropping them as leftovers first', async () => {
    const t = await target('rg_leftsrc');
    for (const suffix of ['swap', 'stage']) {
      const left = `${t.db}__${suffix}`;
      // What a restore killed after its swap (or during its :post snapshot) leaves beside N.
      await usersDatabase(left, [suffix]);
      expect((await t.cli('ls', '--local')).lines).toContain(`:${left}`);
      const r = await t.cli('restore', `:${left}`);
      expect(r.code, r.stderr).toBe(0);
      expect(await userNames(t.db)).toEqual([suffix]);
      // As after any local restore, the source stays, unless the swap needs its name (N__swap).
      expect(await databasesLike(t.db)).toEqual(suffix === 'swap' ? [t.db] : [t.db, left]);
    }
  });

  it('idle and busy sessions on N neither fail nor hang the restore, and are terminated', async () => {
    const t = await target('rg_sessions');
    layDump(store, t.key(), fixture);
    const idle = new pg.Client({ connectionString: dbUrl(t.db) });
    const inTransaction = new pg.Client({ connectionString: dbUrl(t.db) });
    for (const c of [idle, inTransaction]) c.on('error', () => {});
    await idle.connect();
    await inTransaction.connect();
    await inTransaction.query('BEGIN');
    await inTransaction.query('SELECT count(*) FROM users');
    const sleeper = spawn(pgBin('psql'), ['-X', '-c', 'SELECT pg_sleep(600)'], { env: libpqEnv(t.db), stdio: 'ignore' });
    const sleeperExit = new Promise<number | null>((resolve) => sleeper.on('close', (code) => resolve(code)));
    try {
      for (let i = 0; i < 200; i++) {
        const rows = await sql(t.db, `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()`, [t.db]);
        if (rows.length) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const r = await t.cli('restore', t.key());
      expect(r.code, r.stderr).toBe(0);
      expect(await userNames(t.db)).toEqual(['dumped']);
      expect(await sleeperExit).not.toBe(0);
      await expect(idle.query('SELECT 1')).rejects.toThrow();
      await expect(inTransaction.query('SELECT 1')).rejects.toThrow();
    } finally {
      sleeper.kill();
      await idle.end().catch(() => {});
      await inTransaction.end().catch(() => {});
    }
  }, 90_000);

  it('readers of N see the old or the new complete database at every moment, never a partial or missing one', async () => {
    const t = await target('rg_atomic');
    layDump(store, t.key(), fixture);
    const c = cluster();
    const outcomes = new Map<string, number>();
    let stop = false;
    const read = async () => {
      while (!stop) {
        const client = new pg.Client({ host: c.host, port: c.port, user: c.user, password: c.password, database: t.db });
        client.on('error', () => {});
        let outcome: string;
        try {
          await client.connect();
          outcome = (await client.query<{ name: string }>('SELECT name FROM users ORDER BY id')).rows.map((r) => r.name).join(',');
        } catch (error) {
          // PostgreSQL's own startup recheck: a session that looked N up just before the renaming transaction
          // committed finds another database under the name afterwards and fails with this detail. N existed
          // throughout (the first lookup of a truly missing N fails without it); the client retries.
          const renamed = /just been dropped or renamed/.test((error as { detail?: string }).detail ?? '');
          outcome = renamed ? 'renamed while connecting' : `error: ${(error as Error).message}`;
        } finally {
          await client.end().catch(() => {});
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    };
    const readers = [read(), read()];
    const r = await t.cli('restore', t.key(), '--reversible');
    stop = true;
    await Promise.all(readers);
    expect(r.code, r.stderr).toBe(0);
    const allowed = [
      'live',
      'dumped',
      `error: database "${t.db}" is not currently accepting connections`,
      'error: terminating connection due to administrator command',
      'error: Connection terminated unexpectedly',
      // node-pg's words for a session ended by the swap between its connect and its query.
      'error: Client has encountered a connection error and is not queryable',
      'renamed while connecting',
    ];
    for (const outcome of outcomes.keys()) expect(allowed, outcome).toContain(outcome);
    expect(outcomes.get('live')).toBeGreaterThan(0);
    expect(await userNames(t.db)).toEqual(['dumped']);
  });

  /** Waits until `check` holds (polling), failing after a generous bound instead of hanging. */
  async function until(what: string, check: () => boolean | Promise<boolean>) {
    for (let i = 0; i < 2400; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting until ${what}`);
  }
  /** A pre-swap hook that logs its start, then holds the restore (and its lock) until `release` exists. */
  const holdingHook = (name: string, log: string, release: string) =>
    `echo ${name}-start >> ${log}; i=0; while [ ! -e ${release} ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; echo ${name}-end >> ${log}`;
  it('two concurrent restores of the same database are serialised by the lock and both succeed', async () => {
    const t = await target('rg_concurrent');
    const keyA = t.key('2026-01-01-00-00-00-000000');
    const keyB = t.key('2026-01-02-00-00-00-000000');
    layDump(store, keyA, fixture);
    layDump(store, keyB, other);
    const log = path.join(cwd, `${t.db}.log`);
    const release = path.join(cwd, `${t.db}.release`);
    const a = t.cli('restore', keyA, '--pre-swap-hook', holdingHook('A', log, release));
    await until('A runs its hook', () => existsSync(log));
    // B says when it starts waiting for the run holding the lock (it polls for it, so that Ctrl-C stops the wait).
    let bWaits = false;
    const b = runCli(['restore', keyB, '--pre-swap-hook', `echo B-start >> ${log}; echo B-end >> ${log}`], {
      cwd,
      env: t.env,
      onSpawn: (child) => child.stderr?.on('data', (d) => void (bWaits ||= String(d).includes(`working on ${t.db}`))),
    });
    await until('B waits for the lock', () => bWaits);
    expect(await databasesLike(t.db)).toEqual([t.db, `${t.db}__temp`]); // only A's N__temp
    writeFileSync(release, '');
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['A-start', 'A-end', 'B-start', 'B-end']);
    expect(await userNames(t.db)).toEqual(['other']);
    expect(await databasesLike(t.db)).toEqual([t.db]);
  });

  it('a second restore that cannot get the lock within lockTimeout fails clearly and changes nothing', async () => {
    const t = await target('rg_locked');
    layDump(store, t.key(), fixture);
    const impatient = path.join(cwd, `${t.db}-impatient`);
    writeFiles(impatient, { '.pgclonerc.json': { lockTimeout: 300, storageLocation: store } });
    const log = path.join(cwd, `${t.db}.log`);
    const release = path.join(cwd, `${t.db}.release`);
    const first = t.cli('restore', t.key(), '--pre-swap-hook', holdingHook('first', log, release));
    await until('the first restore runs its hook', () => existsSync(log));
    const second = await runCli(['restore', t.key()], { cwd: impatient, env: t.env });
    writeFileSync(release, '');
    expect(second.code).toBe(1);
    expect(second.stderr.trim().split('\n').at(-1)).toMatch(
      new RegExp(`^pgclone: error: Another pgclone run is working on database "${t.db}"( \\(.*\\))?; waited 300 ms \\(lockTimeout\\)$`),
    );
    expect((await first).code).toBe(0);
    expect(await userNames(t.db)).toEqual(['dumped']);
    expect(await databasesLike(t.db)).toEqual([t.db]);
  });

  it("another database's N__temp cut off before it was complete is never restored into this one", async () => {
    const a = await target('rg_foreign_cut');
    const b = await target('rg_foreign_into');
    // What a restore into A killed during pg_restore leaves: A__temp with part of the data, not marked restored.
    await sql('postgres', `CREATE DATABASE ${ident(`${a.db}__temp`)} TEMPLATE template0`);
    const r = await b.cli('restore', `:${a.db}__temp`);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      `pgclone: error: ${a.db}__temp was left by a restore that stopped before it was complete, so it cannot be restored from: restore the dump again (that drops it; so does "pgclone doctor --fix")`,
    );
    await b.unchanged();
  });

  it("a restore from another database's working database (:A__temp, :A__pre) waits for A's running restore", async () => {
    const a = await target('rg_foreign_busy');
    const b = await target('rg_foreign_wait');
    layDump(store, a.key(), fixture);
    const impatient = path.join(cwd, `${b.db}-impatient`);
    writeFiles(impatient, { '.pgclonerc.json': { lockTimeout: 300, storageLocation: store } });
    const log = path.join(cwd, `${a.db}.log`);
    const release = path.join(cwd, `${a.db}.release`);
    const first = a.cli('restore', a.key(), '--pre-swap-hook', holdingHook('A', log, release));
    await until("A's restore runs its hook", () => existsSync(log));
    // A__temp is A's restore at work: B must not copy it (nor end its sessions) while A's run holds it.
    const second = await runCli(['restore', `:${a.db}__temp`], { cwd: impatient, env: b.env });
    writeFileSync(release, '');
    expect(second.code).toBe(1);
    expect(second.stderr.trim().split('\n').at(-1)).toMatch(
      new RegExp(`^pgclone: error: Another pgclone run is working on database "${a.db}"( \\(.*\\))?; waited 300 ms \\(lockTimeout\\)$`),
    );
    expect((await first).code).toBe(0);
    expect(await userNames(a.db)).toEqual(['dumped']);
    await b.unchanged();
  });

  it('a prepared transaction on N, or on the database copied, fails the restore or copy before anything changes, naming it', async () => {
    const t = await target('rg_prepared');
    layDump(store, t.key(), fixture);
    const gid = `${t.db}_gid`;
    // A prepared transaction outlives its session, holds the database like one (RENAME and DROP refuse it), and only
    // COMMIT PREPARED or ROLLBACK PREPARED ends it: waiting for it is pointless.
    await sql(t.db, `BEGIN; INSERT INTO users (name) VALUES ('prepared'); PREPARE TRANSACTION '${gid}'`);
    try {
      const expected = `pgclone: error: Database "${t.db}" has a prepared transaction ("${gid}", owner postgres), which PostgreSQL does not let a database be renamed, dropped or copied with: COMMIT PREPARED or ROLLBACK PREPARED it first`;
      for (const args of [['restore', t.key()], ['restore', t.key(), '--reversible'], ['copy', `:${t.db}_copy`]]) {
        const r = await t.cli(...args);
        expect(r.code, args.join(' ')).toBe(1);
        expect(r.stderr.trim().split('\n').at(-1), args.join(' ')).toBe(expected);
        expect(r.stderr, args.join(' ')).not.toContain('Creating');
        await t.unchanged();
      }
    } finally {
      await sql(t.db, `ROLLBACK PREPARED '${gid}'`);
    }
    expect((await t.cli('restore', t.key())).code).toBe(0);
  });

  it('a logical replication subscription in N fails the restore before anything changes, naming it', async () => {
    const t = await target('rg_subscribed');
    layDump(store, t.key(), fixture);
    const sub = `${t.db}_sub`;
    // Without it, the swap went through and the replaced database (which keeps the subscription) could not be
    // dropped: that restore exited 1, and so did every later one, repairing the leftover.
    await sql(t.db, `CREATE SUBSCRIPTION ${ident(sub)} CONNECTION 'host=127.0.0.1 port=1 dbname=nowhere' PUBLICATION p WITH (connect = false)`);
    try {
      for (const args of [[t.key()], [t.key(), '--reversible']]) {
        const r = await t.cli('restore', ...args);
        expect(r.code).toBe(1);
        expect(r.stderr.trim().split('\n').at(-1)).toBe(
          `pgclone: error: Database "${t.db}" has a logical replication subscription ("${sub}"), which PostgreSQL does not let a database be dropped with, and a restore drops the database it replaces: drop it first (ALTER SUBSCRIPTION … DISABLE, ALTER SUBSCRIPTION … SET (slot_name = NONE), DROP SUBSCRIPTION …)`,
        );
        await t.unchanged();
      }
    } finally {
      await sql(t.db, `ALTER SUBSCRIPTION ${ident(sub)} SET (slot_name = NONE); DROP SUBSCRIPTION ${ident(sub)}`);
    }
    expect((await t.cli('restore', t.key())).code).toBe(0);
  });

  it('--dry-run prints the plan and changes nothing', async () => {
    const t = await target('rg_dry');
    layDump(store, t.key(), fixture);
    const marker = path.join(cwd, `${t.db}.dry`);
    const r = await t.cli('restore', t.db, '--dry-run', '--reversible', '--pre-swap-hook', `touch ${marker}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines[0]).toBe(`restore dump ${t.key()} into ${t.db} (reversible)`);
    expect(r.lines).toContain(`create-temp: create database ${t.db}__temp with the encoding, collation and tablespace of ${t.db}`);
    expect(r.lines).toContain(`settings: give ${t.db}__temp the connection limit, owner, privileges, per-role settings and comment of ${t.db}`);
    expect(r.lines).toContain(`restore: pg_restore ${t.key()} into ${t.db}__temp`);
    expect(r.lines).toContain(`pre-swap-hooks: run pre-swap hooks on ${t.db}__temp: touch ${marker}`);
    expect(r.lines).toContain(
      `swap: in one transaction: rename ${t.db}__stage to ${t.db}__post, rename ${t.db} to ${t.db}__pre, rename ${t.db}__temp to ${t.db}`,
    );
    expect(existsSync(marker)).toBe(false);
    // The key after repeatable flags is the key, not one more hook ("No dump key given" before).
    const after = await t.cli('restore', '--dry-run', '--pre-swap-hook', 'echo a', '--pre-swap-hook', 'echo b', '--post-swap-hook', 'echo c', t.key());
    expect(after.code, after.stderr).toBe(0);
    expect(after.lines).toContain(`pre-swap-hooks: run pre-swap hooks on ${t.db}__temp: echo a, echo b`);
    expect(after.lines).toContain(`post-swap-hooks: run post-swap hooks on ${t.db}: echo c`);
    await t.unchanged();
  });

  it('refuses a target whose N__temp would exceed 63 bytes, before anything changes', async () => {
    const long = `rg_long_${'x'.repeat(50)}`; // 58 bytes; never created
    const key = keyAt('2026-01-01-00-00-00-000000', 'rg_long');
    layDump(store, key, fixture);
    const r = await runCli(['restore', key], { cwd, env: { DATABASE_URL: dbUrl(long) } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`"${long}__temp" would exceed 63 bytes`);
    expect(await databasesLike('rg_long_')).toEqual([]);
  });

  it('restores from a local database whose name is too long for working names of its own (up to 63 bytes)', async () => {
    const t = await target('rg_from_long');
    const long = uniqueName('rg_src_long_'.padEnd(50, 'y')); // 59 bytes: only a restore into it would need N__temp
    prefixes.push(long);
    await usersDatabase(long, ['long']);
    const r = await t.cli('restore', `:${long}`);
    expect(r.code, r.stderr).toBe(0);
    expect(await userNames(t.db)).toEqual(['long']);
    expect(await userNames(long)).toEqual(['long']);
  });
});

describe('what a restore keeps of the database itself', () => {
  const prefix = uniqueName('rg_props');
  const owner = `${prefix}_owner`;
  const reader = `${prefix}_reader`;
  const space = `${prefix}_space`;
  const spaceDir = tempDir('rg-space');
  const isRoot = process.getuid?.() === 0;

  beforeAll(async () => {
    await sql('postgres', `CREATE ROLE ${ident(owner)} LOGIN; CREATE ROLE ${ident(reader)} LOGIN`);
    // The server runs as postgres: the tablespace's directory must be its own.
    if (isRoot) execFileSync('chown', ['postgres', spaceDir]);
    await sql('postgres', `CREATE TABLESPACE ${ident(space)} LOCATION '${spaceDir}'`);
  });
  afterAll(async () => {
    await dropDatabases(prefix);
    await sql('postgres', `DROP TABLESPACE IF EXISTS ${ident(space)}`);
    await sql('postgres', `DROP ROLE IF EXISTS ${ident(owner)}; DROP ROLE IF EXISTS ${ident(reader)}`);
    removeDir(spaceDir);
  });

  /** What pg_database, pg_db_role_setting and pg_shdescription hold for `db`. */
  const properties = async (db: string) =>
    (
      await sql(
        'postgres',
        `SELECT pg_get_userbyid(d.datdba) AS owner, d.datacl::text AS acl, shobj_description(d.oid, 'pg_database') AS comment,
                d.datconnlimit AS connlimit, pg_encoding_to_char(d.encoding) AS encoding, d.datcollate, d.datctype,
                d.datlocprovider AS provider, COALESCE(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale') AS icu,
                t.spcname AS tablespace,
                (SELECT array_agg(CASE WHEN s.setrole = 0 THEN '-' ELSE pg_get_userbyid(s.setrole) END || ': ' || array_to_string(s.setconfig, ', ') ORDER BY s.setrole)
                   FROM pg_db_role_setting s WHERE s.setdatabase = d.oid) AS settings
           FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = $1`,
        [db],
      )
    )[0];
  const sorted = async (db: string) => (await sql<{ s: string }>(db, `SELECT string_agg(x, ',' ORDER BY x) AS s FROM t`))[0]!.s;
  const cli = (db: string, ...args: string[]) => runCli(args, { cwd, env: { DATABASE_URL: dbUrl(db) } });
  async function dumpOf(db: string): Promise<string> {
    const d = await cli(db, 'dump');
    expect(d.code, d.stderr).toBe(0);
    return d.lines.at(-1)!;
  }

  it('a template database stays a template under its name, and what it replaced is dropped', async () => {
    const db = `${prefix}_tpl`;
    await sql('postgres', `CREATE DATABASE ${ident(db)} TEMPLATE template0 IS_TEMPLATE true`);
    await sql(db, `CREATE TABLE t (x text); INSERT INTO t VALUES ('v1')`);
    const templates = async () =>
      (await sql<{ datname: string }>('postgres', `SELECT datname FROM pg_database WHERE datistemplate AND datname LIKE $1 ORDER BY 1`, [`${db}%`])).map((r) => r.datname);
    const key = await dumpOf(db);
    // PostgreSQL refuses to drop a template: a replaced N that kept the flag would stay as N__swap (or a :pre that a
    // later restore cannot drop), and every restore after it would fail.
    try {
      for (const args of [[key], [key, '--reversible'], [':pre'], [key]]) {
        const r = await cli(db, 'restore', ...args);
        expect(r.code, `restore ${args.join(' ')}: ${r.stderr}`).toBe(0);
        expect(await templates()).toEqual([db]);
      }
      expect(await databasesLike(db)).toEqual([db]);
      expect(await sorted(db)).toBe('v1');
    } finally {
      for (const name of await templates()) await sql('postgres', `ALTER DATABASE ${ident(name)} IS_TEMPLATE false`); // for the cleanup's DROP
    }
  });

  it('a restore from its own dump, :pre, :post and a copy keep the owner, privileges, role settings, comment and connection limit', async () => {
    const db = `${prefix}_acl`;
    await sql('postgres', `CREATE DATABASE ${ident(db)} TEMPLATE template0 OWNER ${ident(owner)} CONNECTION LIMIT 5`);
    await sql(db, `CREATE TABLE t (x text); INSERT INTO t VALUES ('v1')`);
    await sql('postgres', `REVOKE CONNECT, TEMPORARY ON DATABASE ${ident(db)} FROM PUBLIC;
      GRANT CONNECT ON DATABASE ${ident(db)} TO ${ident(reader)};
      GRANT TEMPORARY ON DATABASE ${ident(db)} TO ${ident(reader)} WITH GRANT OPTION;
      COMMENT ON DATABASE ${ident(db)} IS 'the app''s
database';
      ALTER ROLE ${ident(reader)} IN DATABASE ${ident(db)} SET work_mem = '7MB';
      ALTER DATABASE ${ident(db)} SET app.msg = E'line1\nline2'`);
    const before = await properties(db);
    expect(before).toMatchObject({ owner, connlimit: 5, comment: "the app's\ndatabase" });

    const restored = await cli(db, 'restore', await dumpOf(db), '--reversible');
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).not.toMatch(/warning/);
    expect(await properties(db)).toEqual(before);
    expect(await properties(`${db}__pre`)).toEqual(before);
    expect(await properties(`${db}__post`)).toEqual(before);

    // The live database changes; a rollback brings back what :pre has, not what N has now.
    await sql('postgres', `GRANT ALL ON DATABASE ${ident(db)} TO PUBLIC; COMMENT ON DATABASE ${ident(db)} IS 'changed';
      ALTER DATABASE ${ident(db)} OWNER TO postgres; ALTER ROLE ${ident(reader)} IN DATABASE ${ident(db)} RESET ALL`);
    const back = await cli(db, 'restore', ':pre');
    expect(back.code, back.stderr).toBe(0);
    expect(await properties(db)).toEqual(before);
    await sql('postgres', `COMMENT ON DATABASE ${ident(db)} IS 'changed'`);
    expect((await cli(db, 'restore', ':post')).code).toBe(0);
    expect(await properties(db)).toEqual(before);

    // A copy is a snapshot of the database, properties included; restoring it brings them back.
    expect((await cli(db, 'copy', `:${db}_snap`)).code).toBe(0);
    expect(await properties(`${db}_snap`)).toEqual(before);
    await sql('postgres', `COMMENT ON DATABASE ${ident(db)} IS 'changed'`);
    expect((await cli(db, 'restore', `:${db}_snap`)).code).toBe(0);
    expect(await properties(db)).toEqual(before);
  });

  it("a restore resumed from N__temp after a failed hook goes live with the database's comment, not pgclone's mark", async () => {
    const db = `${prefix}_mark`;
    await sql('postgres', `CREATE DATABASE ${ident(db)} TEMPLATE template0`);
    await sql('postgres', `COMMENT ON DATABASE ${ident(db)} IS 'the app'`);
    const key = await dumpOf(db);
    const failed = await cli(db, 'restore', key, '--pre-swap-hook', 'exit 3');
    expect(failed.code).toBe(1);
    expect((await cli(db, 'doctor')).stdout).toContain(`${db}__temp is a complete restore that was not swapped in`);
    const resumed = await cli(db, 'restore', `:${db}__temp`);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await properties(db)).toMatchObject({ comment: 'the app' });
  });

  it("a restore from its own dump keeps the encoding, collation and tablespace; into a new database, the dump's", async () => {
    const icu = `${prefix}_icu`;
    await sql('postgres', `CREATE DATABASE ${ident(icu)} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'de-u-kn-true' LOCALE 'C'`);
    await sql(icu, `CREATE TABLE t (x text); INSERT INTO t VALUES ('a10'), ('a9'), ('B'), ('a')`);
    const latin = `${prefix}_latin`;
    await sql('postgres', `CREATE DATABASE ${ident(latin)} TEMPLATE template0 ENCODING 'LATIN1' LOCALE 'C' TABLESPACE ${ident(space)}`);
    await sql(latin, `CREATE TABLE t (x text); INSERT INTO t VALUES ('é'), ('e')`);
    const before = { icu: await properties(icu), latin: await properties(latin) };
    expect(before.icu).toMatchObject({ provider: 'i', icu: 'de-u-kn-true' });
    expect(before.latin).toMatchObject({ encoding: 'LATIN1', tablespace: space });
    expect(await sorted(icu)).toBe('a,a9,a10,B');

    const keys = { icu: await dumpOf(icu), latin: await dumpOf(latin) };
    for (const db of [icu, latin] as const) {
      const key = db === icu ? keys.icu : keys.latin;
      const r = await cli(db, 'restore', key);
      expect(r.code, r.stderr).toBe(0);
      expect(await properties(db)).toEqual(db === icu ? before.icu : before.latin);
      // Into a database that does not exist yet: the dump's CREATE DATABASE.
      const fresh = `${db}_new`;
      const n = await cli(fresh, 'restore', key);
      expect(n.code, n.stderr).toBe(0);
      expect(n.stderr).not.toMatch(/warning/);
      expect(await properties(fresh)).toEqual(db === icu ? before.icu : before.latin);
    }
    expect(await sorted(icu)).toBe('a,a9,a10,B');
    expect(await sorted(`${icu}_new`)).toBe('a,a9,a10,B');
    expect(await sorted(`${latin}_new`)).toBe('e,é');
  });

  it("a dump whose tablespace this server lacks restores into a new database with the server's defaults, saying so", async () => {
    const gone = `${prefix}_gone`;
    const goneSpace = `${prefix}_gone_space`;
    const dir = tempDir('rg-space-gone');
    if (isRoot) execFileSync('chown', ['postgres', dir]);
    await sql('postgres', `CREATE TABLESPACE ${ident(goneSpace)} LOCATION '${dir}'`);
    await sql('postgres', `CREATE DATABASE ${ident(gone)} TEMPLATE template0 TABLESPACE ${ident(goneSpace)}`);
    await sql(gone, `CREATE TABLE t (x text); INSERT INTO t VALUES ('kept')`);
    const key = await dumpOf(gone);
    await sql('postgres', `DROP DATABASE ${ident(gone)}`);
    await sql('postgres', `DROP TABLESPACE ${ident(goneSpace)}`);
    removeDir(dir);
    const fresh = `${prefix}_gone_new`;
    const r = await cli(fresh, 'restore', key);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`warning: ${fresh}__temp has this server's default encoding, collation and tablespace, not the dump's \\(.*TABLESPACE "${goneSpace}"\\): PostgreSQL: tablespace "${goneSpace}" does not exist`));
    expect(await properties(fresh)).toMatchObject({ tablespace: 'pg_default' });
    expect(await sorted(fresh)).toBe('kept');
  });
});

describe('as a non-superuser', () => {
  // A non-superuser cannot create an event trigger: pg_restore reports an error for it, as managed services do.
  const role = uniqueName('rg_role');
  const password = 'role-pw-1';
  const source = uniqueName('rg_evt_src');
  const dir = tempDir('rg-allow');
  const dumpFile = path.join(dir, 'evt.dump');
  prefixes.push(source);

  beforeAll(async () => {
    await sql('postgres', `CREATE ROLE ${ident(role)} LOGIN CREATEDB PASSWORD '${password}'`);
    await usersDatabase(source, ['dumped']);
    await sql(source, `CREATE FUNCTION noop() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;
                       CREATE EVENT TRIGGER noop_trigger ON ddl_command_start EXECUTE FUNCTION noop()`);
    await plainDump(source, dumpFile);
  });
  afterAll(async () => {
    await dropDatabases(`${role}_`);
    await sql('postgres', `DROP ROLE IF EXISTS ${ident(role)}`);
    removeDir(dir);
  });

  async function roleTarget(name: string, allowList?: string[], extra: Record<string, unknown> = {}) {
    const db = `${role}_${name}`;
    await usersDatabase(db, ['live']);
    await sql('postgres', `ALTER DATABASE ${ident(db)} OWNER TO ${ident(role)}`);
    await sql(db, `ALTER TABLE users OWNER TO ${ident(role)}`);
    const projectDir = path.join(dir, name);
    writeFiles(projectDir, { '.pgclonerc.json': { ...(allowList ? { restoreErrorAllowList: allowList } : {}), ...extra } });
    layDump(path.join(projectDir, '.pgclone'), keyAt('2026-01-01-00-00-00-000000'), dumpFile);
    const url = dbUrl(db, { user: role, password });
    return { db, oid: await databaseOid(db), run: () => runCli(['restore', 'dev'], { cwd: projectDir, env: { DATABASE_URL: url } }) };
  }

  it('fails the restore on any pg_restore error, leaving the live database as it was', async () => {
    const t = await roleTarget('strict');
    const r = await t.run();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: pg_restore of .* failed: .*permission denied to create event trigger/);
    expect(await databaseOid(t.db)).toBe(t.oid);
    expect(await userNames(t.db)).toEqual(['live']);
    expect(await databasesLike(t.db)).toEqual([t.db]);
  });

  it('fails when an error does not match the allow list', async () => {
    const t = await roleTarget('nomatch', ['extension .* already exists']);
    const r = await t.run();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('permission denied to create event trigger');
    expect(await databaseOid(t.db)).toBe(t.oid);
    expect(await databasesLike(t.db)).toEqual([t.db]);
  });

  it('a session it may not end fails the restore after lockTimeout, naming it; N is unchanged and open again', async () => {
    const t = await roleTarget('busy', ['permission denied to create event trigger'], { lockTimeout: 500 });
    const other = new pg.Client({ connectionString: dbUrl(t.db) }); // the superuser: not the role's to end
    other.on('error', () => {});
    await other.connect();
    try {
      const r = await t.run();
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`error: Database "${t.db}" still has sessions pgclone may not end after 500 ms: .*pid \\d+`));
      expect(await other.query('SELECT 1 AS ok')).toMatchObject({ rows: [{ ok: 1 }] });
    } finally {
      await other.end();
    }
    expect(await databaseOid(t.db)).toBe(t.oid);
    expect(await userNames(t.db)).toEqual(['live']);
    expect(await databasesLike(t.db)).toEqual([t.db]);
    expect(await sql('postgres', 'SELECT datallowconn FROM pg_database WHERE datname = $1', [t.db])).toEqual([{ datallowconn: true }]);
  });

  it('restores when every error matches the allow list, with a warning', async () => {
    const t = await roleTarget('allowed', ['permission denied to create event trigger']);
    const r = await t.run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('warning: pg_restore error allowed by restoreErrorAllowList');
    expect(await userNames(t.db)).toEqual(['dumped']);
    expect(await databasesLike(t.db)).toEqual([t.db]);
  });
});
