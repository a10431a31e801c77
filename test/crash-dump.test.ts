import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostTag } from '@pgclone/core';
import { runCli } from './support/cli.js';
import { crashWorkspace, fill, fingerprint, NEW, OLD, oldDatabase } from './support/crash.js';
import { runAndKill, waitFor } from './support/kill.js';
import { createDatabase, dbUrl, dropDatabases, uniqueName } from './support/pg.js';

// Killed dumps leave no key, only a hidden partial file that the next dump removes; stale locks, temporary files
// and orphan sidecars are found by doctor and repaired by the next run.

const PREFIX = uniqueName('crashd');
const ws = crashWorkspace(PREFIX);
const storageDir = path.join(ws.cwd, '.pgclone', 'dev', 'default', 'none');
const big = `${PREFIX}_big`;
const outcomes: string[] = [];

/** A pid that no process has any more. */
function deadPid(): number {
  const child = spawnSync('sh', ['-c', 'echo $$']);
  return Number(child.stdout.toString().trim());
}

const partials = () => (existsSync(storageDir) ? readdirSync(storageDir).filter((f) => f.startsWith('.pgclone-partial-')) : []);

beforeAll(async () => {
  await createDatabase(big);
  await fill(big, 200_000, NEW.u, 'new');
});
afterAll(async () => {
  console.log(`crash outcomes (dump and leftovers):\n${outcomes.join('\n')}`);
  await dropDatabases(PREFIX);
});

describe('SIGKILL during a dump', () => {
  it('midway leaves no key; doctor shows the partial file; the next dump removes it and says so', async () => {
    const killed = await runAndKill(['dump'], {
      cwd: ws.cwd,
      env: ws.envFor(big),
      when: (e) => e.step === 'dump' && waitFor(async () => partials().some((f) => statSync(path.join(storageDir, f)).size > 0), 30_000),
    });
    expect(killed.killedAfter?.step).toBe('dump');
    const [partial] = partials();
    expect(partial).toBeDefined();
    const listed = await runCli(['ls'], { cwd: ws.cwd, env: ws.envFor(big) });
    expect(listed.lines).toEqual([]);
    const shown = await runCli(['doctor'], { cwd: ws.cwd, env: ws.envFor(big) });
    expect(shown.code).toBe(1);
    expect(shown.stdout).toContain(partial);
    expect(shown.stdout).toContain('left by an interrupted run');

    const next = await runCli(['dump'], { cwd: ws.cwd, env: ws.envFor(big) });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(`warning: Removed ${path.join(storageDir, partial!)}`);
    expect(partials()).toEqual([]);
    const keys = (await runCli(['ls', '--long'], { cwd: ws.cwd, env: ws.envFor(big) })).lines;
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/ verified$/);
    outcomes.push(`dump killed midway: no key listed, ${partial} left → doctor listed it, the next dump removed it and succeeded`);
  });

  it('during a pre-dump hook or the check leaves nothing at all', async () => {
    // A dump that remembers the server's version starts pg_dump during the check (docs/performance.md): killed then,
    // it is killed midway. Without that memory, the check comes first.
    const env = { ...ws.envFor(big), XDG_CACHE_HOME: path.join(ws.cwd, 'no-cache') };
    for (const [step, args] of [['check', []], ['pre-dump-hooks', ['--pre-dump-hook', 'sleep 30']]] as const) {
      const before = readdirSync(storageDir).sort();
      const killed = await runAndKill(['dump', ...args], { cwd: ws.cwd, env, when: (e) => e.step === step });
      expect(killed.killedAfter?.step).toBe(step);
      expect(readdirSync(storageDir).sort()).toEqual(before);
      outcomes.push(`dump killed after ${step}: storage unchanged`);
    }
  });
});

describe('leftovers that are not databases', () => {
  it('a lock held by the session of a pgclone process that no longer runs is ended by the next run', async () => {
    const db = await oldDatabase(PREFIX);
    const pid = deadPid();
    const holder = new pg.Client({ connectionString: dbUrl('postgres'), application_name: `pgclone-admin:${pid}@${hostTag()}` });
    await holder.connect();
    holder.on('error', () => {});
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtext('pgclone'), hashtext($1))`, [db]);
      const shown = await runCli(['doctor'], { cwd: ws.cwd, env: ws.envFor(db) });
      expect(shown.code).toBe(1);
      expect(shown.stdout).toContain(`holds pgclone's lock on ${db} for pgclone process ${pid}, which no longer runs`);
      const next = await runCli(['copy', `:${db}_copy`], { cwd: ws.cwd, env: ws.envFor(db) });
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr).toContain(`of pgclone process ${pid}, which no longer runs but still held the lock on ${db}`);
      expect(await fingerprint(`${db}_copy`)).toEqual(OLD);
      outcomes.push('stale lock (session of a dead pgclone process) → doctor listed it, the next run ended it and succeeded');
    } finally {
      await holder.end().catch(() => {});
    }
  });

  it('a lock held by a running pgclone makes the next run wait lockTimeout and name the holder', async () => {
    const db = await oldDatabase(PREFIX);
    const dir = path.join(ws.cwd, 'short-lock');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, '.pgclonerc.json'), JSON.stringify({ lockTimeout: 300, storageLocation: '../.pgclone/' }));
    const holder = new pg.Client({ connectionString: dbUrl('postgres'), application_name: `pgclone-admin:${process.pid}@${hostTag()}` });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtext('pgclone'), hashtext($1))`, [db]);
      const blocked = await runCli(['copy', `:${db}_copy`], { cwd: dir, env: ws.envFor(db) });
      expect(blocked.code).toBe(1);
      expect(blocked.stderr).toContain(`Another pgclone run is working on database "${db}" (pgclone process ${process.pid}`);
      const shown = await runCli(['doctor'], { cwd: dir, env: ws.envFor(db) });
      expect(shown.stdout).toContain(`info: [lock]`);
      expect(shown.code).toBe(0);
    } finally {
      await holder.end();
    }
  });

  it('temporary files of a killed run are removed by the next restore; orphan sidecars by doctor --fix', async () => {
    const db = await oldDatabase(PREFIX);
    const dumped = await runCli(['dump'], { cwd: ws.cwd, env: ws.envFor(db) });
    expect(dumped.code, dumped.stderr).toBe(0);
    const key = dumped.lines.at(-1)!;
    const scratch = path.join(ws.tmp, `pgclone-${deadPid()}@${hostTag()}-spool-x1y2z3`);
    mkdirSync(scratch);
    writeFileSync(path.join(scratch, 'archive.dump'), Buffer.alloc(4096, 1));
    const orphan = path.join(storageDir, '2020-01-01-00-00-00-000000.dump.manifest.json');
    writeFileSync(orphan, '{}');

    const shown = await runCli(['doctor'], { cwd: ws.cwd, env: ws.envFor(db) });
    expect(shown.code).toBe(1);
    expect(shown.stdout).toContain(scratch);
    expect(shown.stdout).toContain('dev/default/none/2020-01-01-00-00-00-000000.dump.manifest.json');

    const restored = await runCli(['restore', key], { cwd: ws.cwd, env: ws.envFor(db) });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toContain(`warning: Removed ${scratch} (4096 bytes of temporary files) left by an interrupted run`);
    expect(existsSync(scratch)).toBe(false);

    const fixed = await runCli(['doctor', '--fix'], { cwd: ws.cwd, env: ws.envFor(db) });
    expect(fixed.code, fixed.stdout).toBe(0);
    expect(existsSync(orphan)).toBe(false);
    const clean = await runCli(['doctor'], { cwd: ws.cwd, env: ws.envFor(db) });
    expect(clean.code, clean.stdout).toBe(0);
    outcomes.push('spool directory of a dead run → removed by the next restore; orphan manifest → removed by doctor --fix');
  });

  it('doctor --all also looks at working databases of other targets (and the default does not)', async () => {
    const db = await oldDatabase(PREFIX);
    const other = uniqueName(`${PREFIX}_o`);
    await createDatabase(`${other}__stage`);
    const scoped = await runCli(['doctor'], { cwd: ws.cwd, env: ws.envFor(db) });
    expect(scoped.stdout).not.toContain(`${other}__stage`);
    // Without --fix: other test files' leftovers on this cluster are theirs to repair.
    const all = await runCli(['doctor', '--all'], { cwd: ws.cwd, env: ws.envFor(db) });
    expect(all.stdout).toContain(`problem: [database] ${other}__stage: ${other}__stage is an unfinished :post snapshot`);
    expect(all.code).toBe(1);
    await dropDatabases(other);
  });
});
