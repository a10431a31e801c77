import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { runCli } from './cli.js';
import { runAndKill, waitFor, type StepEvent } from './kill.js';
import { createDatabase, dbUrl, dropDatabases, sql, uniqueName } from './pg.js';

/**
 * Crash scenarios: kill `pgclone restore` (SIGKILL to its whole process group, as a container kill does) right
 * after a step event, then check that the live database is complete (old or new, never partial), that `doctor`
 * names every leftover, and that the next restore repairs them, says so, and succeeds.
 */

export type Fingerprint = { t: number; tv: string | null; u: number };
export const OLD: Fingerprint = { t: 400, tv: 'old', u: 40 };
export const NEW: Fingerprint = { t: 1000, tv: 'new', u: 100 };

export async function fingerprint(db: string): Promise<Fingerprint> {
  const [row] = await sql<Fingerprint>(
    db,
    `SELECT (SELECT count(*) FROM t)::int AS t, (SELECT string_agg(DISTINCT v, ',') FROM t) AS tv, (SELECT count(*) FROM u)::int AS u`,
  );
  return row!;
}

export async function fill(db: string, rows: number, u: number, v: string): Promise<void> {
  await sql(db, `CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL, pad text)`);
  await sql(db, `INSERT INTO t SELECT g, $1, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, ${rows}) g`, [v]);
  await sql(db, `CREATE TABLE u (id int PRIMARY KEY, v text NOT NULL)`);
  await sql(db, `INSERT INTO u SELECT g, $1 FROM generate_series(1, ${u}) g`, [v]);
}

/** Which of pgclone's names exist around `db`, and which of those pgclone blocks and unblocks are blocked. */
export async function family(db: string) {
  const rows = await sql<{ datname: string; datallowconn: boolean }>(
    'postgres',
    `SELECT datname, datallowconn FROM pg_database WHERE datname = $1 OR datname LIKE $2`,
    [db, `${db.replace(/_/g, '\\_')}\\_\\_%`],
  );
  const has = (suffix: string) => rows.some((r) => r.datname === (suffix ? `${db}__${suffix}` : db));
  const watched = [db, `${db}__pre`, `${db}__post`, `${db}__temp`];
  return {
    live: has(''),
    liveAllowed: rows.find((r) => r.datname === db)?.datallowconn ?? false,
    temp: has('temp'),
    swap: has('swap'),
    stage: has('stage'),
    pre: has('pre'),
    post: has('post'),
    blocked: rows.filter((r) => !r.datallowconn && watched.includes(r.datname)).map((r) => r.datname),
  };
}

/** Waits until the killed CLI's server sessions are gone (a backend finishes its statement before it notices). */
export async function settle(db: string, pid: number, wholeGroup: boolean): Promise<void> {
  const gone = await waitFor(async () => {
    const rows = await sql(
      'postgres',
      `SELECT 1 FROM pg_stat_activity WHERE application_name LIKE $1 OR ($2 AND (datname = $3 OR datname LIKE $4))`,
      [`pgclone-admin:${pid}@%`, wholeGroup, db, `${db.replace(/_/g, '\\_')}\\_\\_%`],
    );
    return rows.length === 0;
  }, 60_000);
  expect(gone, 'sessions of the killed run did not end').toBe(true);
}

/** A test file's working directory, storage and scratch directory. */
export function crashWorkspace(prefix: string) {
  const cwd = mkdtempSync(path.join(os.tmpdir(), `pgclone-${prefix}-`));
  // Scratch files of killed runs stay here, away from other test files' doctors.
  const tmp = path.join(cwd, 'tmp');
  mkdirSync(tmp);
  return { cwd, tmp, envFor: (db: string) => ({ DATABASE_URL: dbUrl(db), TMPDIR: tmp }) };
}

/** Dumps a fresh database of `rows` new rows; returns the key. */
export async function makeDump(ws: ReturnType<typeof crashWorkspace>, db: string, rows: number): Promise<string> {
  await createDatabase(db);
  await fill(db, rows, NEW.u, 'new');
  const dumped = await runCli(['dump'], { cwd: ws.cwd, env: ws.envFor(db) });
  expect(dumped.code, dumped.stderr).toBe(0);
  return dumped.lines.at(-1)!;
}

export interface Scenario {
  prefix: string;
  ws: ReturnType<typeof crashWorkspace>;
  key: string;
  /** What the dump holds. */
  fresh: Fingerprint;
  /** Kill right after this step event. */
  step: string;
  args?: string[];
  reversible?: boolean;
  /** Before the kill: e.g. a first reversible restore so that :pre/:post exist. */
  before?: (db: string) => Promise<void>;
  /** Kill only once this also holds (e.g. pg_restore has written something). */
  also?: (db: string, event: StepEvent) => Promise<boolean>;
  /** Kill only the CLI, not what it started. */
  parentOnly?: boolean;
}

/** Runs one scenario; returns the observed outcome as a line for the report. */
export async function crash(s: Scenario): Promise<string> {
  const { ws } = s;
  const db = uniqueName(`${s.prefix}_t`);
  await createDatabase(db);
  await fill(db, OLD.t, OLD.u, 'old');
  await s.before?.(db);
  const before = await family(db);
  const hadRestorePoints = before.pre && before.post;
  const args = ['restore', s.key, ...(s.reversible ? ['--reversible'] : []), ...(s.args ?? [])];

  const killed = await runAndKill(args, {
    cwd: ws.cwd,
    env: ws.envFor(db),
    group: !s.parentOnly,
    when: async (event) => event.step === s.step && (!s.also || (await s.also(db, event))),
  });
  expect(killed.killedAfter?.step, `never reached ${s.step}: ${killed.stderr}`).toBe(s.step);
  expect(killed.signal).toBe('SIGKILL');
  await settle(db, killed.pid, !s.parentOnly);

  // The live database is there, and complete: the old one or the new one, never a mix or a part.
  const after = await family(db);
  expect(after.live, JSON.stringify(after)).toBe(true);
  // Restore points that existed are never lost on the way: the old ones until the swap commits, the new ones after.
  // (They were dropped before the swap's transaction: a kill in between left no :pre.)
  if (hadRestorePoints) expect({ pre: after.pre, post: after.post }, JSON.stringify(after)).toEqual({ pre: true, post: true });
  let seen = 'blocked (rows checked after the repair)';
  if (after.liveAllowed) {
    const fp = await fingerprint(db);
    expect([OLD, s.fresh]).toContainEqual(fp);
    seen = fp.tv === 'old' ? 'old, complete' : 'new, complete';
  }
  const leftovers = [
    after.temp && `${db}__temp`,
    after.swap && `${db}__swap`,
    after.stage && `${db}__stage`,
    ...after.blocked,
  ].filter((x): x is string => !!x);

  // doctor shows each leftover, and exits 1 while there are any.
  const shown = await runCli(['doctor'], { cwd: ws.cwd, env: ws.envFor(db) });
  for (const name of leftovers) expect(shown.stdout, `doctor after ${s.step}`).toContain(name);
  expect(shown.code, shown.stdout + shown.stderr).toBe(leftovers.length > 0 ? 1 : 0);

  // The next run repairs them, tells the user, and succeeds.
  const next = await runCli(['restore', s.key, ...(s.reversible ? ['--reversible'] : [])], { cwd: ws.cwd, env: ws.envFor(db) });
  expect(next.code, next.stderr).toBe(0);
  if (after.temp) expect(next.stderr).toContain(`warning: Dropping ${db}__temp (left by an earlier run)`);
  if (after.stage) expect(next.stderr).toMatch(new RegExp(`warning: Dropp(ed|ing) ${db}__stage`));
  if (after.swap) expect(next.stderr).toMatch(new RegExp(`warning: (Dropped|Renamed) ${db}__swap`));
  for (const name of after.blocked) expect(next.stderr).toContain(`warning: Allowed connections to ${name} again`);

  expect(await fingerprint(db)).toEqual(s.fresh);
  const final = await family(db);
  expect(final).toMatchObject({ live: true, liveAllowed: true, temp: false, swap: false, stage: false, blocked: [] });
  if (s.reversible) expect(final).toMatchObject({ pre: true, post: true });
  await dropDatabases(db);
  const names = leftovers.map((l) => (l === db ? 'N blocked' : l.slice(db.length)));
  return `killed after ${s.step}${s.reversible ? ' (reversible)' : ''}${s.parentOnly ? ' (CLI only)' : ''}: live ${seen}; leftovers [${names.join(', ')}] → doctor listed them, the next restore repaired them and succeeded`;
}

/** Creates the old-data target for hand-made states. */
export async function oldDatabase(prefix: string): Promise<string> {
  const db = uniqueName(`${prefix}_r`);
  await createDatabase(db);
  await fill(db, OLD.t, OLD.u, 'old');
  return db;
}
