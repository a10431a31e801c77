import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, parseConnection } from '@pgclone/core';
import { runCli } from './support/cli.js';
import { runAndKill, waitFor } from './support/kill.js';
import { cluster, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';

// A managed-PostgreSQL-like role: owns its database, has CREATEDB, is no superuser.

const PREFIX = uniqueName('nsu');
const role = { user: `${PREFIX}_owner`, password: `p@ss w0rd;$(touch x)'"${PREFIX}` };
const cwd = mkdtempSync(path.join(os.tmpdir(), 'pgclone-nsu-'));
const asRole = (db: string, query = '') => `${dbUrl(db, role)}${query}`;
let key: string;

async function ownedDatabase(rows = 50): Promise<string> {
  const db = uniqueName(`${PREFIX}_db`);
  await sql('postgres', `CREATE DATABASE ${ident(db)} OWNER ${ident(role.user)} TEMPLATE template0`);
  const client = new pg.Client({ connectionString: asRole(db) });
  await client.connect();
  await client.query(`CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, ${rows})`);
  await client.end();
  return db;
}
const rows = async (db: string) => (await sql<{ n: number }>(db, 'SELECT count(*)::int AS n FROM t'))[0]!.n;
const names = async () => (await sql<{ datname: string }>('postgres', 'SELECT datname FROM pg_database')).map((r) => r.datname);
const configDir = (settings: Record<string, unknown>) => {
  const dir = mkdtempSync(path.join(cwd, 'cfg-'));
  writeFileSync(path.join(dir, '.pgclonerc.json'), JSON.stringify({ storageLocation: '../.pgclone/', ...settings }));
  return dir;
};
/** A session by the superuser (which the role may not end) on `db`. */
async function foreignSession(db: string, app: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: dbUrl(db), application_name: app });
  client.on('error', () => {});
  await client.connect();
  return client;
}

beforeAll(async () => {
  await sql('postgres', `CREATE ROLE ${ident(role.user)} LOGIN CREATEDB PASSWORD '${role.password.replace(/'/g, "''")}'`);
  const src = await ownedDatabase(1000);
  const dumped = await runCli(['dump'], { cwd, env: { DATABASE_URL: asRole(src) } });
  expect(dumped.code, dumped.stderr).toBe(0);
  key = dumped.lines.at(-1)!;
});
afterAll(async () => {
  await dropDatabases(PREFIX);
  await sql('postgres', `DROP ROLE IF EXISTS ${ident(role.user)}`);
});

describe('a role that owns its database and has CREATEDB', () => {
  it('restores (reversibly), ending its own sessions', async () => {
    const db = await ownedDatabase();
    const own = new pg.Client({ connectionString: asRole(db), application_name: 'own-app' });
    own.on('error', () => {});
    await own.connect();
    const run = await runCli(['restore', key, '--reversible'], { cwd, env: { DATABASE_URL: asRole(db) } });
    expect(run.code, run.stderr).toBe(0);
    expect(await rows(db)).toBe(1000);
    expect(await names()).toEqual(expect.arrayContaining([`${db}__pre`, `${db}__post`]));
    const [owner] = await sql<{ owner: string }>('postgres', `SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1`, [db]);
    expect(owner!.owner).toBe(role.user);
    await own.end().catch(() => {});
    const back = await runCli(['restore', ':pre'], { cwd, env: { DATABASE_URL: asRole(db) } });
    expect(back.code, back.stderr).toBe(0);
    expect(await rows(db)).toBe(50);
  });

  it("keeps its database's privileges, comment and role settings, warning of what it may not set", async () => {
    const db = await ownedDatabase();
    const other = `${PREFIX}_other`;
    await sql('postgres', `CREATE ROLE ${ident(other)}`);
    await sql('postgres', `REVOKE CONNECT ON DATABASE ${ident(db)} FROM PUBLIC; GRANT CONNECT ON DATABASE ${ident(db)} TO ${ident(other)};
      COMMENT ON DATABASE ${ident(db)} IS 'mine'; ALTER DATABASE ${ident(db)} CONNECTION LIMIT 20;
      ALTER ROLE ${ident(other)} IN DATABASE ${ident(db)} SET work_mem = '7MB';
      ALTER ROLE ${ident(role.user)} IN DATABASE ${ident(db)} SET work_mem = '3MB'`);
    const properties = () =>
      sql('postgres', `SELECT pg_get_userbyid(datdba) AS owner, datacl::text AS acl, datconnlimit, shobj_description(d.oid, 'pg_database') AS comment,
          (SELECT array_agg(pg_get_userbyid(setrole) || ': ' || array_to_string(setconfig, ', ')) FROM pg_db_role_setting WHERE setdatabase = d.oid) AS settings
          FROM pg_database d WHERE datname = $1`, [db]);
    const before = await properties();
    const run = await runCli(['restore', key, '--reversible'], { cwd, env: { DATABASE_URL: asRole(db) } });
    expect(run.code, run.stderr).toBe(0);
    // Another role's settings need a superuser (or CREATEROLE): a warning after the data load, not a failure.
    expect(run.stderr).toMatch(new RegExp(`warning: ${db}__temp does not get the setting of role ${other} \\(work_mem TO '7MB'\\) of ${db}: PostgreSQL: permission denied`));
    expect(await properties()).toEqual([{ ...before[0], settings: [`${role.user}: work_mem=3MB`] }]);
    expect(await rows(db)).toBe(1000);
    const back = await runCli(['restore', ':pre'], { cwd, env: { DATABASE_URL: asRole(db) } });
    expect(back.code, back.stderr).toBe(0);
    expect(await properties()).toEqual([{ ...before[0], settings: [`${role.user}: work_mem=3MB`] }]);
    await dropDatabases(db);
    await sql('postgres', `DROP ROLE ${ident(other)}`);
  });

  it('names the sessions it may not end, and aborts before the swap with nothing changed', async () => {
    const db = await ownedDatabase();
    const other = await foreignSession(db, 'admin-console');
    try {
      const run = await runCli(['--json', 'restore', key], { cwd: configDir({ lockTimeout: 1500 }), env: { DATABASE_URL: asRole(db) } });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`that ${role.user} may not end: \\"admin-console\\"`);
      expect(run.stderr).toContain('"code":"DATABASE_BUSY"');
      expect(await rows(db)).toBe(50);
      const state = await sql<{ datname: string; datallowconn: boolean }>('postgres', `SELECT datname, datallowconn FROM pg_database WHERE datname LIKE $1`, [`${db}%`]);
      expect(state).toEqual([{ datname: db, datallowconn: true }]);
      expect((await other.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    } finally {
      await other.end();
    }
  });

  it("refuses a database it does not own (nor its owner's privileges) before restoring anything, naming the owner", async () => {
    const db = uniqueName(`${PREFIX}_theirs`);
    await sql('postgres', `CREATE DATABASE ${ident(db)} TEMPLATE template0`); // owned by the superuser
    await sql(db, 'CREATE TABLE t (id int); INSERT INTO t VALUES (1)');
    const mine = await ownedDatabase();
    // RENAME and DROP need ownership, so does blocking a database: found only at the swap, after the whole restore.
    const expected = (name: string) =>
      `pgclone: error: ${role.user} may not rename, drop or copy database "${name}": it is owned by ${cluster().user}, whose privileges ${role.user} does not have (run pgclone as the owner, or grant it the owner's role)`;
    for (const [target, source] of [[db, key], [mine, `:${db}`]] as const) {
      const run = await runCli(['restore', source], { cwd, env: { DATABASE_URL: asRole(target) } });
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split('\n').at(-1)).toBe(expected(db));
      expect(run.stderr).not.toMatch(/Creating|Copying/);
    }
    expect(await rows(db)).toBe(1);
    expect(await rows(mine)).toBe(50);
    expect((await names()).filter((n) => n.startsWith(db) || n.startsWith(mine)).sort()).toEqual([mine, db].sort());
  });

  it('waits for such sessions to end on their own within lockTimeout', async () => {
    const db = await ownedDatabase();
    const other = await foreignSession(db, 'short-job');
    // The session ends only once pgclone has named it: ended any earlier (between blocking N and listing its
    // sessions), there would be nothing to wait for or to name.
    let named!: Promise<void>;
    const run = runCli(['restore', key], {
      cwd: configDir({ lockTimeout: 20_000 }),
      env: { DATABASE_URL: asRole(db) },
      onSpawn: (child) => {
        named = new Promise((resolve) => {
          let stderr = '';
          child.stderr!.on('data', (d) => {
            stderr += d;
            if (stderr.includes('"short-job"')) resolve();
          });
        });
      },
    });
    await Promise.race([named, run]);
    expect(await sql('postgres', `SELECT 1 FROM pg_database WHERE datname = $1 AND NOT datallowconn`, [db])).toHaveLength(1);
    await other.end();
    const done = await run;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toContain('"short-job"');
    expect(await rows(db)).toBe(1000);
  });

  it('killed while it waits with the live database blocked: the next run lets connections in again', async () => {
    const db = await ownedDatabase();
    const other = await foreignSession(db, 'stuck-job');
    const killed = await runAndKill(['restore', key], {
      cwd: configDir({ lockTimeout: 60_000 }),
      env: { DATABASE_URL: asRole(db) },
      when: async (e) =>
        e.step === 'swap' &&
        waitFor(async () => (await sql('postgres', `SELECT 1 FROM pg_database WHERE datname = $1 AND NOT datallowconn`, [db])).length > 0),
    });
    expect(killed.killedAfter?.step).toBe('swap');
    await other.end();
    const next = await runCli(['restore', key], { cwd, env: { DATABASE_URL: asRole(db) } });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(`warning: Allowed connections to ${db} again`);
    expect(next.stderr).toContain(`warning: Dropping ${db}__temp (left by an earlier run)`);
    expect(await rows(db)).toBe(1000);
  });
});

describe('admin statements', () => {
  const connect = (timeouts: { lockTimeout: number; statementTimeout?: number }) =>
    Admin.connect(parseConnection(asRole('postgres')), timeouts);

  it('run with lockTimeout and statementTimeout', async () => {
    const admin = await connect({ lockTimeout: 1234, statementTimeout: 700 });
    try {
      expect(await admin.query('SHOW lock_timeout')).toEqual([{ lock_timeout: '1234ms' }]);
      expect(await admin.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '700ms' }]);
      await expect(admin.query('SELECT pg_sleep(5)')).rejects.toThrow(/statement timeout/);
      expect(admin.superuser).toBe(false);
    } finally {
      await admin.close();
    }
  });

  it('takes the statements of callers sharing its session one at a time, in order, without node-pg\'s deprecated queue', async () => {
    const admin = await connect({ lockTimeout: 5000 });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const started = [1, 2, 3, 4].map((i) => admin.query<{ i: number }>('SELECT $1::int AS i FROM pg_sleep(0.05)', [i]));
      expect((await Promise.all(started)).map(([row]) => row?.i)).toEqual([1, 2, 3, 4]);
      // A failed statement does not stop the ones queued after it.
      const [failed, after] = await Promise.allSettled([admin.query('SELECT 1/0'), admin.query<{ ok: number }>('SELECT 1 AS ok')]);
      expect(failed.status).toBe('rejected');
      expect(after).toEqual({ status: 'fulfilled', value: [{ ok: 1 }] });
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => /already executing a query/.test(w))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await admin.close();
    }
  });

  it('checks the client connection, and takes its locks in one go or lets them go while it waits', async () => {
    const [a, b, c] = [await connect({ lockTimeout: 20_000 }), await connect({ lockTimeout: 20_000 }), await connect({ lockTimeout: 100 })];
    const [first, second] = [`${PREFIX}_lock_a`, `${PREFIX}_lock_b`];
    try {
      // The settings are made in one query with the connection's other defaults (Admin.#init).
      expect(await a.query('SHOW client_connection_check_interval')).toEqual([{ client_connection_check_interval: '1s' }]);
      await b.lock([first]);
      // `a` says when it starts waiting for another run (it polls, so that an abort can stop the wait).
      let waits = false;
      a.notify = (message) => void (waits ||= message.includes(`working on ${first}`));
      const waiting = a.lock([second, first]);
      for (let i = 0; i < 400 && !waits; i++) await new Promise((r) => setTimeout(r, 25));
      expect(waits).toBe(true);
      // Waiting for the first, `a` holds nothing: had it kept the second, a run locking in the other order would deadlock.
      expect(await c.tryLock(second)).toBe(true);
      await c.unlock(second);
      await b.close();
      await waiting;
      expect([await c.tryLock(first), await c.tryLock(second)]).toEqual([false, false]);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()].map((p) => p.catch(() => {})));
    }
  });

  it('RENAME is retried while another session is leaving, and fails clearly when it stays', async () => {
    const db = await ownedDatabase();
    const admin = await connect({ lockTimeout: 1000 });
    try {
      const stays = await foreignSession(db, 'stays');
      await expect(admin.rename(db, `${db}_x`)).rejects.toThrow(/being accessed by other users/);
      const leaving = stays;
      setTimeout(() => void leaving.end(), 400);
      await admin.rename(db, `${db}_x`);
      expect(await names()).toContain(`${db}_x`);
    } finally {
      await admin.close();
    }
  });
});

describe('child processes', () => {
  it('get sslmode and friends in their environment, never the password in their arguments', async () => {
    const db = await ownedDatabase();
    const bin = mkdtempSync(path.join(os.tmpdir(), 'pgclone-wrap-'));
    const log = path.join(bin, 'calls.log');
    for (const tool of ['pg_dump', 'pg_restore']) {
      const wrapper = path.join(bin, tool);
      writeFileSync(
        wrapper,
        `#!/bin/sh\n{ tr '\\0' ' ' < /proc/$$/cmdline; echo "| PGSSLMODE=$PGSSLMODE PGAPPNAME=$PGAPPNAME PGCONNECT_TIMEOUT=$PGCONNECT_TIMEOUT"; } >> "${log}"\nexec ${cluster().binDir}/${tool} "$@"\n`,
      );
      chmodSync(wrapper, 0o755);
    }
    const url = asRole(db, '?sslmode=disable&application_name=nsu-app&connect_timeout=7');
    const env = { DATABASE_URL: url, PGCLONE_PG_BIN: bin };
    const seen = new Map<number, string>();
    let watching = true;
    const cli = (args: string[]) => runCli(args, { cwd, env });
    // Every process on the machine, while pgclone runs: none may carry the password in its arguments.
    const watcher = (async () => {
      while (watching) {
        for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
          try {
            seen.set(Number(pid), readFileSync(`/proc/${pid}/cmdline`).toString().replace(/\0/g, ' '));
          } catch {
            // gone
          }
        }
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    const dumped = await cli(['dump']);
    const restored = await cli(['restore', dumped.lines.at(-1) ?? '', '--pre-swap-hook', 'sleep 1; echo "hook sslmode=$PGSSLMODE"']);
    watching = false;
    await watcher;
    expect(dumped.code, dumped.stderr).toBe(0);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toContain('hook sslmode=disable');
    const calls = readFileSync(log, 'utf8');
    expect(calls).toMatch(/pg_dump .*-Fc/);
    expect(calls).toMatch(/pg_restore .*--no-owner/);
    // The calls that connect (not --version, not pg_restore -l reading the archive).
    const connecting = calls.split('\n').filter((l) => /pg_dump .*-Fc|pg_restore .* -d /.test(l));
    expect(connecting).toHaveLength(2);
    for (const line of connecting) expect(line).toMatch(/\| PGSSLMODE=disable PGAPPNAME=nsu-app PGCONNECT_TIMEOUT=7$/);
    const all = [...seen.values()].join('\n') + calls;
    expect([...seen.values()].some((c) => c.includes('pg_restore'))).toBe(true);
    for (const secret of [role.password, encodeURIComponent(role.password)]) expect(all).not.toContain(secret);
  });
});
