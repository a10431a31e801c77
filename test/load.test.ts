import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PGCLONE_BIN, runCli } from './support/cli.js';
import { createDatabase, dbUrl, dropDatabases, sql, uniqueName } from './support/pg.js';

// Concurrent restores on one cluster: into different databases they all succeed; into the same database they take
// turns (pgclone's lock), and nothing ends up corrupt.

const PREFIX = uniqueName('load');
const cwd = mkdtempSync(path.join(os.tmpdir(), 'pgclone-load-'));
let key: string;
let expected: string;
let seq = 0;

const digest = async (db: string) =>
  (await sql<{ d: string }>(db, `SELECT count(*) || ':' || md5(string_agg(id::text || v, ',' ORDER BY id)) AS d FROM t`))[0]!.d;

interface Run {
  code: number | null;
  stderr: string;
  /** Arrival order (across all runs) of each step event. */
  at: Record<string, number>;
}

function restoreJson(db: string, extra: string[] = []): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: dbUrl(db), PGCLONE_INSTANCE: 'dev' };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PGCLONE_BIN, '--json', 'restore', key, ...extra], { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let pending = '';
    const at: Record<string, number> = {};
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{"event":"step"')) continue;
        at[(JSON.parse(line) as { step: string }).step] = ++seq;
      }
    });
    child.on('close', (code) => resolve({ code, stderr, at }));
  });
}

async function target(): Promise<string> {
  const db = uniqueName(`${PREFIX}_t`);
  await createDatabase(db);
  await sql(db, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'old')`);
  return db;
}

beforeAll(async () => {
  const src = `${PREFIX}_src`;
  await createDatabase(src);
  await sql(src, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 50000) g`);
  const dumped = await runCli(['dump'], { cwd, env: { DATABASE_URL: dbUrl(src) } });
  expect(dumped.code, dumped.stderr).toBe(0);
  key = dumped.lines.at(-1)!;
  expected = await digest(src);
});
afterAll(() => dropDatabases(PREFIX));

it('4 concurrent restores into 4 databases all succeed', async () => {
  const dbs = await Promise.all([target(), target(), target(), target()]);
  const runs = await Promise.all(dbs.map((db) => restoreJson(db)));
  for (const run of runs) expect(run.code, run.stderr).toBe(0);
  for (const db of dbs) expect(await digest(db)).toBe(expected);
  const leftovers = await sql('postgres', `SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${PREFIX}\\_t\\_%\\_\\_%`]);
  expect(leftovers).toEqual([]);
});

it('2 concurrent restores into the same database take turns', async () => {
  const db = await target();
  const hook = ['--pre-swap-hook', 'sleep 1'];
  const [a, b] = await Promise.all([restoreJson(db, hook), restoreJson(db, hook)]);
  expect(a!.code, a!.stderr).toBe(0);
  expect(b!.code, b!.stderr).toBe(0);
  const [first, second] = a!.at['create-temp']! < b!.at['create-temp']! ? [a!, b!] : [b!, a!];
  // The second starts working only after the first is done.
  expect(first.at.done).toBeLessThan(second.at['create-temp']!);
  expect(second.stderr).toContain('Waiting up to');
  expect(await digest(db)).toBe(expected);
  const family = await sql('postgres', `SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${db.replace(/_/g, '\\_')}\\_\\_%`]);
  expect(family).toEqual([]);
});
