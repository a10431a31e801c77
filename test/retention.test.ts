import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decidePrune, formatKeyTimestamp, parseDuration } from '@pgclone/core';
import { runCli } from './support/cli.js';
import { createDatabase, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';

// prune, pin/unpin, rm KEY, rm :name, ls --local --long.

const PREFIX = uniqueName('ret');
const cwd = mkdtempSync(path.join(os.tmpdir(), 'pgclone-retention-'));
const root = path.join(cwd, '.pgclone');
const db = `${PREFIX}_app`;
const env = { DATABASE_URL: dbUrl(db) };
const DAY = 86_400_000;
const file = (k: string) => path.join(root, ...k.split('/'));
const keyAt = (group: string, daysAgo: number) => `${group}/${formatKeyTimestamp(new Date(Date.now() - daysAgo * DAY))}.dump`;
const exists = (k: string) => existsSync(file(k));
let real: string;
const made: Record<string, string> = {};

/** Stores a copy of the real dump (and its manifest) under `key`. */
function place(name: string, key: string): void {
  mkdirSync(path.dirname(file(key)), { recursive: true });
  copyFileSync(file(real), file(key));
  copyFileSync(`${file(real)}.manifest.json`, `${file(key)}.manifest.json`);
  made[name] = key;
}

beforeAll(async () => {
  await createDatabase(db);
  await sql(db, 'CREATE TABLE t (id int); INSERT INTO t VALUES (1)');
  const dumped = await runCli(['dump'], { cwd, env });
  expect(dumped.code, dumped.stderr).toBe(0);
  real = dumped.lines.at(-1)!;
  place('d10', keyAt('dev/default/none', 10));
  place('d20', keyAt('dev/default/none', 20));
  place('d40', keyAt('dev/default/none', 40));
  place('d60', keyAt('dev/default/none', 60));
  place('anon90', keyAt('dev/default/anon', 90));
  place('prod5', keyAt('prod/default/none', 5));
  place('prod50', keyAt('prod/default/none', 50));
});
afterAll(() => dropDatabases(PREFIX));

describe('prune', () => {
  it('needs a rule, refuses bad values', async () => {
    expect((await runCli(['prune'], { cwd, env })).code).toBe(2);
    expect((await runCli(['prune', '--keep', '0'], { cwd, env })).code).toBe(2);
    const bad = await runCli(['prune', '--older-than', '3 months'], { cwd, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Invalid --older-than "3 months"');
    const repeated = await runCli(['prune', '--older-than', '1m1m'], { cwd, env });
    expect(repeated.code).toBe(2);
    expect(repeated.stderr).toContain('Invalid --older-than "1m1m"');
    // Refused like -j ' 3': whitespace was trimmed here and taken as 1d.
    const spaced = await runCli(['prune', '--older-than', ' 1d'], { cwd, env });
    expect([spaced.code, spaced.stdout]).toEqual([2, '']);
    expect(spaced.stderr).toContain('Invalid --older-than " 1d"');
  });

  it('is a dry run by default', async () => {
    const run = await runCli(['prune', '--keep', '2'], { cwd, env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.lines.sort()).toEqual([`would delete ${made.d60}`, `would delete ${made.d40}`, `would delete ${made.d20}`]);
    expect(run.stderr).toContain('pass --yes to delete them');
    expect(Object.values(made).every(exists)).toBe(true);
  });

  it('keeps pinned dumps and the newest of every group; --keep and --older-than must both let a dump go', async () => {
    const pinned = await runCli(['pin', made.d60!], { cwd, env });
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(existsSync(`${file(made.d60!)}.pin.json`)).toBe(true);
    // Older than 30 days and beyond the newest of its group: d40 and prod50 go; d60 is pinned, anon90 the newest.
    const json = await runCli(['--json', 'prune', '--keep', '1', '--older-than', '30d', '--yes'], { cwd, env });
    expect(json.code, json.stderr).toBe(0);
    const result = JSON.parse(json.stdout) as { dryRun: boolean; deleted: Array<{ key: string }>; kept: Array<{ key: string; reason: string }> };
    expect(result.dryRun).toBe(false);
    expect(result.deleted.map((d) => d.key).sort()).toEqual([made.d40, made.prod50].sort());
    expect(result.kept.find((k) => k.key === made.d60)?.reason).toBe('pinned');
    expect(result.kept.find((k) => k.key === made.anon90)?.reason).toBe('newest of its group');
    expect(exists(made.d40!) || existsSync(`${file(made.d40!)}.manifest.json`)).toBe(false);
    expect([real, made.d10, made.d20, made.d60, made.anon90, made.prod5].every((k) => exists(k!))).toBe(true);
  });

  it('only touches groups under the prefix', async () => {
    const run = await runCli(['prune', 'prod', '--keep', '1', '--yes'], { cwd, env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.lines).toEqual([]);
    const dev = await runCli(['prune', 'dev/default/none', '--keep', '2', '--yes'], { cwd, env });
    expect(dev.lines).toEqual([`deleted ${made.d20}`]);
    expect(exists(made.d60!)).toBe(true); // pinned
  });
});

describe('pin, unpin, rm KEY', () => {
  it('rm refuses pinned dumps, prefixes, sidecars and missing keys; deletes the dump with its manifest', async () => {
    const refused = await runCli(['--json', 'rm', made.d60!], { cwd, env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('"code":"KEY_PINNED"');
    expect((await runCli(['unpin', made.d60!], { cwd, env })).code).toBe(0);
    expect(existsSync(`${file(made.d60!)}.pin.json`)).toBe(false);
    for (const bad of ['dev/default/none', 'dev/', `${made.d60}.manifest.json`, 'dev/default/none/2000-01-01-00-00-00-000000.dump']) {
      const run = await runCli(['rm', bad], { cwd, env });
      expect(run.code, bad).toBe(1);
      expect(exists(made.d60!)).toBe(true);
    }
    const removed = await runCli(['rm', made.d60!], { cwd, env });
    expect(removed.code, removed.stderr).toBe(0);
    expect(exists(made.d60!) || existsSync(`${file(made.d60!)}.manifest.json`)).toBe(false);
    expect((await runCli(['pin', made.d60!], { cwd, env })).code).toBe(1);
  });
});

describe('rm :name and ls --local --long', () => {
  it('lists local databases with sizes, drops copies and restore points, never the live or a system database', async () => {
    expect((await runCli(['copy', ':snap'.replace('snap', `${PREFIX}_snap`)], { cwd, env })).code).toBe(0);
    const restored = await runCli(['restore', real, '--reversible'], { cwd, env });
    expect(restored.code, restored.stderr).toBe(0);
    const listed = await runCli(['ls', '--local', '--long'], { cwd, env });
    expect(listed.lines.find((l) => l.startsWith(`:${PREFIX}_snap `))).toMatch(/ \d+(\.\d)? MB {2}database$/);
    expect(listed.lines.find((l) => l.startsWith(`:${db}__pre `))).toMatch(/ MB {2}restore-point of /);

    for (const [name, code] of [[`:${db}`, 'NAME_RESERVED'], [':postgres', 'NAME_RESERVED'], [':template1', 'NAME_RESERVED'], [`:${PREFIX}_nope`, 'KEY_NOT_FOUND'], [':a/../b', undefined]] as const) {
      const run = await runCli(['--json', 'rm', name], { cwd, env });
      expect(run.code, name).toBe(1);
      if (code) expect(run.stderr, name).toContain(`"code":"${code}"`);
    }
    expect((await sql(db, 'SELECT count(*)::int AS n FROM t'))[0]).toEqual({ n: 1 });

    // In use: refused unless --force.
    const client = new pg.Client({ connectionString: dbUrl(`${PREFIX}_snap`), application_name: 'reporting-job' });
    await client.connect();
    client.on('error', () => {});
    const busy = await runCli(['rm', `:${PREFIX}_snap`], { cwd, env });
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('reporting-job');
    const forced = await runCli(['rm', `:${PREFIX}_snap`, '--force'], { cwd, env });
    expect(forced.code, forced.stderr).toBe(0);
    await client.end().catch(() => {});

    const pre = await runCli(['rm', ':pre'], { cwd, env });
    expect(pre.code, pre.stderr).toBe(0);
    const names = (await sql<{ datname: string }>('postgres', 'SELECT datname FROM pg_database')).map((r) => r.datname);
    expect(names).not.toContain(`${PREFIX}_snap`);
    expect(names).not.toContain(`${db}__pre`);
    expect(names).toContain(`${db}__post`);
    expect(names).toContain(db);
  });

  it('refuses to drop N__swap when it is the only copy of N', async () => {
    const other = `${PREFIX}_gone`;
    await createDatabase(`${other}__swap`);
    const run = await runCli(['rm', `:${other}__swap`], { cwd, env });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('only copy');
    await sql('postgres', `DROP DATABASE ${ident(`${other}__swap`)}`);
  });
});

describe('pure parts', () => {
  it('parseDuration', () => {
    expect(parseDuration('30d')).toBe(30 * DAY);
    expect(parseDuration('1d12h')).toBe(1.5 * DAY);
    expect(parseDuration('2w')).toBe(14 * DAY);
    for (const bad of ['', '10', 'd', '1y', '-1d', '1d 2x', '0d']) expect(() => parseDuration(bad), bad).toThrow(/Invalid --older-than/);
    // A repeated or out-of-order unit is a typo (1m1m meant 11m? 1h30m?), not a sum to guess at.
    for (const bad of ['1m1m', '12h1d', '1d2d', '30m1h']) expect(() => parseDuration(bad), bad).toThrow(`Invalid --older-than "${bad}"`);
    for (const bad of [' 1d', '1d ', '1 d', '1d 12h', '\t30d', '1d\n']) expect(() => parseDuration(bad), JSON.stringify(bad)).toThrow(/Invalid --older-than/);
    expect(parseDuration('2w3d4h5m6s')).toBe(17 * DAY + 4 * 3_600_000 + 5 * 60_000 + 6_000);
  });

  it('decidePrune never deletes the newest or a pinned dump, whatever the rules', () => {
    const dumps = [0, 1, 2, 3].map((d) => ({ key: keyAt('a/b/c', d * 40), size: 1, modified: new Date() }));
    const all = decidePrune(dumps, { keep: 1, olderThanMs: 1, now: Date.now(), pinned: new Set([dumps[2]!.key]) });
    expect(all.kept.map((k) => k.key)).toEqual([dumps[0]!.key, dumps[2]!.key]);
    expect(all.deleted.map((k) => k.key)).toEqual([dumps[1]!.key, dumps[3]!.key]);
    expect(readdirSync(root).length).toBeGreaterThan(0);
  });
});
