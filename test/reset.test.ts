import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { close, copy, dump, restore, settled, type ResetResult } from 'pgclone';
import { runScript } from './support/cli.js';
import { startCluster } from './support/cluster.js';
import { createDatabase, databases, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';

// The fast path of restore(':snapshot'): spare copies, renames, ended sessions.

const cwd = mkdtempSync(path.join(os.tmpdir(), 'pgclone-reset-'));

/** Everything a test could observe of a database: tables, columns, rows, sequences, settings. */
async function contents(db: string): Promise<unknown> {
  const columns = await sql(
    db,
    `SELECT table_name, column_name, data_type FROM information_schema.columns
      WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
  );
  const tables = [...new Set(columns.map((c) => c.table_name as string))];
  const rows: Record<string, unknown> = {};
  for (const t of tables) rows[t] = await sql(db, `SELECT * FROM ${ident(t)} ORDER BY 1`);
  const sequences = await sql(db, `SELECT sequencename, last_value::text FROM pg_sequences ORDER BY 1`);
  const settings = await sql(
    'postgres',
    `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1`,
    [db],
  );
  return { columns, rows, sequences, settings };
}

async function seed(db: string, label: string): Promise<void> {
  await sql(
    db,
    `CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL);
     INSERT INTO item (name) SELECT '${label}-' || g FROM generate_series(1, 20) g;
     CREATE SEQUENCE ticket START 100;
     SELECT nextval('ticket');
     ALTER DATABASE ${ident(db)} SET statement_timeout = '7s';`,
  );
}

describe('restore(":snapshot") fast path', () => {
  const db = uniqueName('rst');
  const fixture = `${db}_fx`;
  const env = { DATABASE_URL: dbUrl(db) };
  let expected: unknown;

  beforeAll(async () => {
    await createDatabase(db);
    await seed(db, 'a');
    const copied = await copy(`:${fixture}`, { cwd, env });
    expect(copied.database).toBe(fixture);
    expected = await contents(db);
  });
  afterAll(async () => {
    await close({ dropSpares: true });
    await dropDatabases(db);
  });

  it('restores exactly the snapshot after writes, schema changes and sequence advances, from the spare after the first reset', async () => {
    const used: boolean[] = [];
    for (let round = 0; round < 3; round++) {
      await sql(
        db,
        `INSERT INTO item (name) VALUES ('extra'); DELETE FROM item WHERE id = 3; UPDATE item SET name = 'changed' WHERE id = 5;
         ALTER TABLE item ADD COLUMN note text; CREATE TABLE scratch (x int); INSERT INTO scratch VALUES (1);
         SELECT nextval('ticket'), nextval('ticket'); SELECT setval('item_id_seq', 999);`,
      );
      await sql('postgres', `ALTER DATABASE ${ident(db)} SET work_mem = '3MB'`);
      expect(await contents(db)).not.toEqual(expected);
      const result = (await restore(`:${fixture}`, { cwd, env })) as ResetResult;
      expect(result.database).toBe(db);
      expect(result.source).toBe(fixture);
      expect(await contents(db)).toEqual(expected);
      used.push(result.usedSpare);
      await settled();
    }
    // The first reset copies during the call; later ones rename the spare prepared in the background.
    expect(used).toEqual([false, true, true]);
    const left = (await databases()).filter((d) => d.startsWith(db));
    expect(left.sort()).toEqual([db, `${db}__spare`, fixture].sort());
  });

  it('ends the sessions of the caller’s pool, and the pool reconnects to the reset database', async () => {
    await restore(`:${fixture}`, { cwd, env });
    await settled();
    const pool = new pg.Pool({ connectionString: dbUrl(db), max: 3 });
    const errors: string[] = [];
    pool.on('error', (error) => errors.push((error as { code?: string }).code ?? error.message));
    try {
      const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
      for (const c of clients) c.release();
      expect(pool.idleCount).toBe(3);
      await pool.query(`INSERT INTO item (name) VALUES ('from the pool')`);
      const result = (await restore(`:${fixture}`, { cwd, env })) as ResetResult;
      expect(result.endedSessions).toBe(3);
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM item WHERE name = 'from the pool'`);
      expect(rows).toEqual([{ n: 0 }]);
      expect(errors.length).toBe(3);
      expect(new Set(errors)).toEqual(new Set(['57P01'])); // terminating connection due to administrator command
    } finally {
      await pool.end();
    }
  });

  it('never uses a spare of an older snapshot: a new copy() invalidates it', async () => {
    await restore(`:${fixture}`, { cwd, env });
    await settled();
    await sql(db, `INSERT INTO item (name) VALUES ('second snapshot')`);
    await copy(`:${fixture}`, { cwd, env });
    const second = await contents(db);
    await sql(db, `DELETE FROM item`);
    const result = (await restore(`:${fixture}`, { cwd, env })) as ResetResult;
    expect(result.usedSpare).toBe(false);
    expect(await contents(db)).toEqual(second);
    await settled();
    expect(((await restore(`:${fixture}`, { cwd, env })) as ResetResult).usedSpare).toBe(true);
    expect(await contents(db)).toEqual(second);
  });

  it('never uses a spare when the snapshot was written to after the spare was made', async () => {
    await restore(`:${fixture}`, { cwd, env });
    await settled();
    await sql(fixture, `INSERT INTO item (name) VALUES ('written into the snapshot')`);
    const result = (await restore(`:${fixture}`, { cwd, env })) as ResetResult;
    expect(result.usedSpare).toBe(false);
    expect(await sql(db, `SELECT count(*)::int AS n FROM item WHERE name = 'written into the snapshot'`)).toEqual([{ n: 1 }]);
  });

  it('a spare being prepared does not block the caller’s own CREATE DATABASE … TEMPLATE of the snapshot', async () => {
    const client = new pg.Client({ connectionString: dbUrl('postgres') });
    await client.connect();
    try {
      await client.query(`SET lock_timeout = '2s'`);
      for (let i = 0; i < 4; i++) {
        await restore(`:${fixture}`, { cwd, env }); // its next spare is being copied from the fixture now
        const name = `${db}_own${i}`;
        await client.query(`CREATE DATABASE ${ident(name)} TEMPLATE ${ident(fixture)}`);
        await client.query(`DROP DATABASE ${ident(name)}`);
      }
    } finally {
      await client.end();
      await settled();
    }
  });

  it('repairs what a crashed reset left: a replaced database beside N, a blocked N, a spare without its mark', async () => {
    await settled();
    await sql('postgres', `CREATE DATABASE ${ident(`${db}__swap`)} TEMPLATE template0`);
    await sql('postgres', `ALTER DATABASE ${ident(db)} WITH ALLOW_CONNECTIONS false`);
    await sql('postgres', `COMMENT ON DATABASE ${ident(`${db}__spare`)} IS NULL`);
    const events: string[] = [];
    const result = (await restore(`:${fixture}`, { cwd, env, onEvent: (e) => e.event === 'message' && events.push(e.message) })) as ResetResult;
    expect(result.usedSpare).toBe(false);
    expect(events.some((m) => m.includes(`Dropped ${db}__swap`))).toBe(true);
    expect(await sql(db, `SELECT count(*)::int AS n FROM item`)).not.toEqual([]);
    await settled();
    const left = (await databases()).filter((d) => d.startsWith(db));
    expect(left.sort()).toEqual([db, `${db}__spare`, fixture].sort());
    expect(((await restore(`:${fixture}`, { cwd, env })) as ResetResult).usedSpare).toBe(true);
  });

  it('an onEvent callback that throws never stops a reset or a restore halfway: no N__swap or N__temp left, the result as without it', async () => {
    // A throw at `swap` left the whole copy N__temp; at `done` (after the renames) the reset rejected although N was
    // reset, and N__swap stayed until the next reset; in the general restore a throw at `cleanup` left N__swap.
    const { key } = await dump({ cwd, env: { DATABASE_URL: dbUrl(fixture) } });
    // Earlier tests change the snapshot: what it holds now.
    const want = await contents(fixture);
    const runs: [string, string, Record<string, unknown>][] = [
      ...['lock', 'create-temp', 'swap', 'done'].map((step): [string, string, Record<string, unknown>] => [step, `:${fixture}`, { spare: false }]),
      ...['swap', 'cleanup', 'done'].map((step): [string, string, Record<string, unknown>] => [step, key, {}]),
    ];
    for (const [step, source, extra] of runs) {
      await sql(db, `INSERT INTO item (name) VALUES ('extra')`);
      const onEvent = (e: { event: string; step?: string }) => {
        if (e.event === 'step' && e.step === step) throw new Error(`listener bug at ${step}`);
      };
      const result = await restore(source, { cwd, env, onEvent, ...extra });
      expect(result.database, `${source} ${step}`).toBe(db);
      await settled();
      expect(await contents(db), `${source} ${step}`).toEqual(want);
      const left = (await databases()).filter((d) => d.startsWith(`${db}__`) && d !== `${db}__spare`);
      expect(left, `${source} ${step}`).toEqual([]);
    }
  });

  it('refuses :N__spare as a source and keeps the spare sealed: a later reset never swaps in a changed spare', async () => {
    await restore(`:${fixture}`, { cwd, env });
    await settled();
    await expect(restore(`:${db}__spare`, { cwd, env })).rejects.toMatchObject({ code: 'NAME_RESERVED' });
    await expect(restore(`:${db}__spare`, { cwd, env, fast: false })).rejects.toMatchObject({ code: 'NAME_RESERVED' });
    const [spare] = await sql('postgres', `SELECT datallowconn FROM pg_database WHERE datname = $1`, [`${db}__spare`]);
    expect(spare?.datallowconn).toBe(false);
    // A spare someone opened (and could have written to) is never swapped in.
    await sql('postgres', `ALTER DATABASE ${ident(`${db}__spare`)} WITH ALLOW_CONNECTIONS true`);
    await sql(`${db}__spare`, `DELETE FROM item`);
    const result = (await restore(`:${fixture}`, { cwd, env })) as ResetResult;
    expect(result.usedSpare).toBe(false);
    expect(await contents(db)).toEqual(await contents(fixture));
    await settled();
  });

  it('gives N the snapshot’s owner, privileges, per-role settings and comment, from a copy made during the call and from the spare', async () => {
    const role = uniqueName('rst_owner');
    const reader = uniqueName('rst_reader');
    const own = uniqueName('rst_own');
    const ownFixture = `${own}_fx`;
    const ownEnv = { DATABASE_URL: dbUrl(own) };
    await sql('postgres', `CREATE ROLE ${ident(role)}; CREATE ROLE ${ident(reader)}`);
    try {
      await createDatabase(ownFixture);
      await sql(
        'postgres',
        `ALTER DATABASE ${ident(ownFixture)} OWNER TO ${ident(role)};
         REVOKE ALL ON DATABASE ${ident(ownFixture)} FROM PUBLIC;
         GRANT CONNECT ON DATABASE ${ident(ownFixture)} TO ${ident(reader)};
         ALTER ROLE ${ident(reader)} IN DATABASE ${ident(ownFixture)} SET work_mem = '5MB';
         COMMENT ON DATABASE ${ident(ownFixture)} IS 'the fixture'`,
      );
      const properties = async (name: string) =>
        (
          await sql(
            'postgres',
            `SELECT pg_get_userbyid(d.datdba) AS owner, d.datacl::text[] AS acl, shobj_description(d.oid, 'pg_database') AS comment,
                    (SELECT array_agg(s.setconfig::text ORDER BY s.setrole) FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole <> 0) AS roles
               FROM pg_database d WHERE d.datname = $1`,
            [name],
          )
        )[0];
      const expected = await properties(ownFixture);
      expect(expected).toMatchObject({ owner: role, comment: 'the fixture' });
      const used: boolean[] = [];
      for (let round = 0; round < 2; round++) {
        const result = (await restore(`:${ownFixture}`, { cwd, env: ownEnv })) as ResetResult;
        used.push(result.usedSpare);
        // The ACL names the owner: the same text, owner included.
        expect(await properties(own)).toEqual(expected);
        await settled();
      }
      expect(used).toEqual([false, true]);
    } finally {
      await close({ dropSpares: true });
      await dropDatabases(own);
      await sql('postgres', `DROP ROLE ${ident(role)}; DROP ROLE ${ident(reader)}`);
    }
  });

  it('checks strategy, spare and fast as TypeScript would (a UsageError), and never pastes strategy into SQL', async () => {
    const bad: Array<[object, string]> = [
      [{ strategy: 'WAL_LOG CONNECTION LIMIT 0' }, 'strategy'],
      [{ strategy: 'file_copy' }, 'strategy'],
      [{ spare: 'yes' }, 'spare'],
      [{ fast: 'no' }, 'fast'],
    ];
    for (const [option, name] of bad) {
      const error = await restore(`:${fixture}`, { cwd, env, spare: false, ...option }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'USAGE', message: expect.stringContaining(`${name}: `) });
    }
    const [row] = await sql('postgres', `SELECT datconnlimit FROM pg_database WHERE datname = $1`, [db]);
    expect(row?.datconnlimit).toBe(-1);
  });

  it('an aborted signal stops restore and copy before they change anything, with an INTERRUPTED error', async () => {
    await settled();
    await sql(db, `INSERT INTO item (name) VALUES ('kept')`);
    const signal = AbortSignal.abort();
    for (const fast of [true, false]) {
      await expect(restore(`:${fixture}`, { cwd, env, signal, fast })).rejects.toMatchObject({ code: 'INTERRUPTED' });
    }
    await expect(copy(`:${fixture}`, { cwd, env, signal })).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(await sql(db, `SELECT count(*)::int AS n FROM item WHERE name = 'kept'`)).toEqual([{ n: 1 }]);
    expect(await sql(fixture, `SELECT count(*)::int AS n FROM item WHERE name = 'kept'`)).toEqual([{ n: 0 }]);
  });

  it('an abort while waiting for another run\'s lock stops restore and copy at once, with an INTERRUPTED error', async () => {
    // Another pgclone run (here: a session holding pgclone's advisory lock on db) keeps them waiting; aborting must
    // not wait out lockTimeout (it did: 30 s by default) before reporting INTERRUPTED.
    await settled();
    await sql(db, `INSERT INTO item (name) VALUES ('kept-locked')`);
    const holder = new pg.Client({ connectionString: dbUrl('postgres') });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtext('pgclone'), hashtext($1))`, [db]);
      const calls: Array<[string, (signal: AbortSignal) => Promise<unknown>]> = [
        ['fast restore', (signal) => restore(`:${fixture}`, { cwd, env, signal })],
        ['general restore', (signal) => restore(`:${fixture}`, { cwd, env, signal, fast: false })],
        ['copy', (signal) => copy(`:${fixture}`, { cwd, env, signal })],
      ];
      for (const [name, call] of calls) {
        const controller = new AbortController();
        const started = performance.now();
        setTimeout(() => controller.abort(), 300);
        const error = await call(controller.signal).then(() => new Error(`${name} resolved`), (e: unknown) => e);
        expect((error as { code?: string }).code, name).toBe('INTERRUPTED');
        // Not a speed target: waiting out lockTimeout (30 s by default) is what this tells apart.
        expect(performance.now() - started, name).toBeLessThan(20_000);
      }
    } finally {
      await holder.end();
    }
    expect(await sql(db, `SELECT count(*)::int AS n FROM item WHERE name = 'kept-locked'`)).toEqual([{ n: 1 }]);
    expect(await sql(fixture, `SELECT count(*)::int AS n FROM item WHERE name = 'kept-locked'`)).toEqual([{ n: 0 }]);
    // The lock is free again: the next reset works.
    expect((await restore(`:${fixture}`, { cwd, env })).database).toBe(db);
  });

  it('an abort while the reset waits its turn behind the last reset\'s spare stops it at once, changing nothing', async () => {
    // It waited for the spare to be made (however long that took) and only then said INTERRUPTED.
    await restore(`:${fixture}`, { cwd, env });
    await settled();
    const blocker = new pg.Client({ connectionString: dbUrl('postgres') });
    await blocker.connect();
    try {
      // Holds a lock on the snapshot's catalog entry that the next spare's CREATE DATABASE … TEMPLATE waits for.
      await blocker.query(`BEGIN; COMMENT ON DATABASE ${ident(fixture)} IS 'held'`);
      expect((await restore(`:${fixture}`, { cwd, env })).database).toBe(db); // its background work now waits
      await sql(db, `INSERT INTO item (name) VALUES ('kept-queued')`);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const started = performance.now();
      await expect(restore(`:${fixture}`, { cwd, env, signal: controller.signal })).rejects.toMatchObject({ code: 'INTERRUPTED' });
      // Not a speed target: waiting for the spare (up to lockTimeout, 30 s by default) is what this tells apart.
      expect(performance.now() - started).toBeLessThan(20_000);
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      await blocker.end();
    }
    await settled();
    expect(await sql(db, `SELECT count(*)::int AS n FROM item WHERE name = 'kept-queued'`)).toEqual([{ n: 1 }]);
  });

  it('copies with the copyStrategy of the options or the config, unless strategy says otherwise', async () => {
    const copied = async (options: object, dir = cwd) => {
      await restore(`:${fixture}`, { cwd: dir, env, spare: false, ...options }); // drops a spare the next one would use
      return ((await restore(`:${fixture}`, { cwd: dir, env, spare: false, ...options })) as ResetResult).plan.join('\n');
    };
    expect(await copied({ copyStrategy: 'file_copy' })).toContain('(FILE_COPY)');
    expect(await copied({ copyStrategy: 'wal_log' })).toContain('(WAL_LOG)');
    expect(await copied({ copyStrategy: 'file_copy', strategy: 'WAL_LOG' })).toContain('(WAL_LOG)');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-reset-strategy-'));
    writeFileSync(path.join(dir, 'pgclone.config.json'), JSON.stringify({ copyStrategy: 'file_copy' }));
    expect(await copied({}, dir)).toContain('(FILE_COPY)');
  });

  it('lets a process that never calls close() exit, after its spare is ready', async () => {
    await close({ dropSpares: true });
    expect(await databases()).not.toContain(`${db}__spare`);
    const script = `
      import { restore } from 'pgclone';
      const result = await restore(':${fixture}', { cwd: ${JSON.stringify(cwd)} });
      console.log(JSON.stringify({ database: result.database, usedSpare: result.usedSpare }));`;
    const child = await runScript(script, { DATABASE_URL: dbUrl(db) });
    expect(child.code, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({ database: db, usedSpare: false });
    // The background work finished before the process exited: the spare is there, marked, and used next time.
    const [row] = await sql('postgres', `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`, [`${db}__spare`]);
    expect(row?.comment).toMatch(/^pgclone spare: copy of /);
    expect(((await restore(`:${fixture}`, { cwd, env })) as ResetResult).usedSpare).toBe(true);
  });

  it('a plain script that awaits close() after its resets ends normally, its spare dropped', async () => {
    // The kept session was unreferenced while idle, and stayed so while closing: Node ended the script with nothing
    // left to wait on (exit code 13, "unsettled top-level await") before close() returned.
    const script = `
      import { close, restore } from 'pgclone';
      await restore(':${fixture}', { cwd: ${JSON.stringify(cwd)} });
      await restore(':${fixture}', { cwd: ${JSON.stringify(cwd)} });
      await close({ dropSpares: true });
      console.log('closed');`;
    const child = await runScript(script, { DATABASE_URL: dbUrl(db) });
    expect([child.code, child.stdout.trim()], child.stderr).toEqual([0, 'closed']);
    expect(await databases()).not.toContain(`${db}__spare`);
  });

  it('close() called while a reset is under way lets it finish and drops the database it replaced', async () => {
    // The background work queued behind the close found the resetter closed and skipped everything: the replaced
    // database (N__swap, a whole copy) stayed on the server for the next run or doctor to find.
    await restore(`:${fixture}`, { cwd, env });
    await settled();
    const under = restore(`:${fixture}`, { cwd, env });
    await close();
    expect((await under).database).toBe(db);
    expect(await databases()).not.toContain(`${db}__swap`);
  });

  it('sees a config file change and a new DATABASE_URL between calls in one process', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-reset-cfg-'));
    writeFileSync(path.join(dir, 'pgclone.config.json'), JSON.stringify({ lockTimeout: 10000 }));
    await restore(`:${fixture}`, { cwd: dir, env });
    writeFileSync(path.join(dir, 'pgclone.config.json'), JSON.stringify({ allowRestore: false, lockTimeout: 10001 }));
    await expect(restore(`:${fixture}`, { cwd: dir, env })).rejects.toMatchObject({ code: 'GUARD_REFUSED' });
    writeFileSync(path.join(dir, 'pgclone.config.json'), JSON.stringify({ lockTimeout: 10000 }));
    const other = `${db}_other`;
    await createDatabase(other);
    const result = (await restore(`:${fixture}`, { cwd: dir, env: { DATABASE_URL: dbUrl(other) } })) as ResetResult;
    expect(result.database).toBe(other);
    expect(await sql(other, `SELECT count(*)::int AS n FROM item`)).not.toEqual([]);
  });

  it('fails with a typed error when the snapshot does not exist, and takes the general path when hooks are configured', async () => {
    await expect(restore(`:${db}_missing`, { cwd, env })).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    const result = await restore(`:${fixture}`, { cwd, env, postSwapHooks: [() => undefined] });
    expect('usedSpare' in result).toBe(false);
    expect(result.plan.some((line) => line.startsWith('post-swap-hooks'))).toBe(true);
  });

  it('runs no configured pre-swap hook (the ORM\'s migrate included): a reset brings the snapshot back as it is', async () => {
    // docs/testing.md and docs/knex.md said a reset in a Knex or Prisma project ran `migrate` unless preSwapHooks: [].
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-reset-hooks-'));
    const marker = path.join(dir, 'hook-ran');
    writeFileSync(path.join(dir, 'pgclone.config.json'), JSON.stringify({ preSwapHooks: [`touch ${JSON.stringify(marker)}`] }));
    const result = (await restore(`:${fixture}`, { cwd: dir, env })) as ResetResult;
    expect(typeof result.usedSpare).toBe('boolean');
    expect(existsSync(marker)).toBe(false);
    // Given for the call, a pre-swap hook runs, through the general plan.
    const hooked = await restore(`:${fixture}`, { cwd: dir, env, preSwapHooks: [`touch ${JSON.stringify(marker)}`] });
    expect('usedSpare' in hooked).toBe(false);
    expect(existsSync(marker)).toBe(true);
  });
});

describe('restore(":snapshot") fast path on a server whose autovacuum visits every second', () => {
  // Its own small cluster: autovacuum_naptime is server-wide, and one second of it would disturb the other tests.
  let server: Awaited<ReturnType<typeof startCluster>>;
  const url = (database: string) => {
    const { host, port, user, password } = server.info;
    return `postgresql://${user}:${encodeURIComponent(password)}@${host}:${port}/${database}`;
  };
  const query = async (database: string, text: string) => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return (await client.query(text)).rows;
    } finally {
      await client.end();
    }
  };
  const xacts = async (database: string) =>
    Number((await query('postgres', `SELECT pg_stat_get_db_xact_commit(oid) AS n FROM pg_database WHERE datname = '${database}'`))[0].n);

  beforeAll(async () => {
    server = await startCluster({ settings: { autovacuum_naptime: '1' } });
  }, 60_000);
  afterAll(async () => {
    await close({ dropSpares: true });
    await server?.stop();
  });

  it('uses the spare although autovacuum ran transactions in the snapshot since it was made', async () => {
    await query('postgres', 'CREATE DATABASE app');
    await query('app', `CREATE TABLE item (id int PRIMARY KEY); INSERT INTO item SELECT generate_series(1, 500)`);
    const env = { DATABASE_URL: url('app') };
    await copy(':fx', { cwd, env });
    // Autovacuum visits only databases it has statistics for: a session on the snapshot gives it some.
    await query('fx', 'SELECT 1');
    await restore(':fx', { cwd, env });
    await settled();
    // Autovacuum's visits are transactions in the snapshot, with no client session on it.
    const before = await xacts('fx');
    for (let waited = 0; (await xacts('fx')) === before; waited += 200) {
      expect(waited, 'autovacuum did not visit the snapshot').toBeLessThan(20_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const result = (await restore(':fx', { cwd, env })) as ResetResult;
    expect(result.usedSpare).toBe(true);
    expect(await query('app', 'SELECT count(*)::int AS n FROM item')).toEqual([{ n: 500 }]);
    // A client session on the snapshot still makes the spare unusable.
    await settled();
    await query('fx', 'SELECT 1');
    expect(((await restore(':fx', { cwd, env })) as ResetResult).usedSpare).toBe(false);
  }, 60_000);
});
