import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { cluster, createDatabase, dbUrl, dropDatabases, sql, uniqueName } from './support/pg.js';

const prefix = uniqueName('perfcp');

describe('copy strategy', () => {
  const source = `${prefix}_src`;
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'pgclone-perf-copy-'));
  const env = { DATABASE_URL: dbUrl(source) };
  beforeAll(async () => {
    await createDatabase(source);
    await sql(source, `CREATE TABLE t AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 5000) g;
                       CREATE SEQUENCE s; SELECT setval('s', 42);`);
  });
  afterAll(() => dropDatabases(prefix));

  const cases: Array<[option: string | undefined, said: RegExp]> = [
    [undefined, /Copying \S+ with WAL_LOG \(.* copyStrategy auto\)/], // a small database
    ['wal_log', /Copying \S+ with WAL_LOG$/m],
    ['file_copy', /Copying \S+ with FILE_COPY$/m],
    ['clone', cluster().major >= 18 ? /with FILE_COPY with file_copy_method = clone|Cloning .* failed/ : /warning: copyStrategy clone needs PostgreSQL 18/],
  ];
  cases.forEach(([option, said], i) => {
    it(`copy with ${option ?? 'the default (auto)'}`, async () => {
      const args = ['copy', `:${prefix}_c${i}`, ...(option ? ['--copy-strategy', option] : [])];
      const copied = await runCli(args, { cwd, env });
      expect(copied.code, copied.stderr).toBe(0);
      expect(copied.stderr).toMatch(said);
      expect(await sql(`${prefix}_c${i}`, `SELECT count(*)::int AS n, (SELECT last_value::int FROM s) AS s FROM t`)).toEqual([{ n: 5000, s: 42 }]);
    });
  });

  it('uses the configured strategy for reversible snapshots and local restores too', async () => {
    const configDir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-perf-copy-cfg-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(configDir, 'pgclone.config.json'), JSON.stringify({ copyStrategy: 'file_copy', jobs: 1 }));
    const target = `${prefix}_tgt`;
    const cenv = { DATABASE_URL: dbUrl(target) };
    await createDatabase(target);
    const dumped = await runCli(['dump'], { cwd: configDir, env });
    expect(dumped.code, dumped.stderr).toBe(0);
    const restored = await runCli(['restore', dumped.lines.at(-1)!, '--reversible'], { cwd: configDir, env: cenv });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toMatch(/Copying \S+__temp with FILE_COPY$/m);
    const back = await runCli(['restore', ':pre', '--copy-strategy', 'wal_log'], { cwd: configDir, env: cenv });
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toMatch(/Copying \S+__pre with WAL_LOG$/m);
  });
});
