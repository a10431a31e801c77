// Hooks: shell commands and functions, the database each phase gets, reserved names, and how flags combine.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { runCli, type CliResult } from './support/cli.js';
import { databasesLike, keyAt, layDump, pgBin, plainDump, removeDir, subdir, tempDir, userNames, usersDatabase, writeFiles } from './support/fixtures.js';
import { cluster, dbUrl, dropDatabases, sql, uniqueName } from './support/pg.js';

const root = tempDir('hooks');
const fixture = path.join(root, 'fixture.dump'); // users: ['dumped']
const src = uniqueName('hk_src');
const prefixes = [src];

beforeAll(async () => {
  await usersDatabase(src, ['dumped']);
  await plainDump(src, fixture);
});
afterAll(async () => {
  for (const p of prefixes) await dropDatabases(p);
  removeDir(root);
});

/** A live database with users ['live'], a project directory with a config, and one dump in its storage. */
async function setup(name: string, config: unknown = {}, configFile = '.pgclonerc.json') {
  const db = uniqueName(name);
  prefixes.push(db);
  await usersDatabase(db, ['live']);
  const dir = subdir(root, db);
  writeFiles(dir, { [configFile]: typeof config === 'string' ? config : config });
  layDump(path.join(dir, '.pgclone'), keyAt('2026-01-01-00-00-00-000000'), fixture);
  const env = { DATABASE_URL: dbUrl(db) };
  return { db, dir, env, cli: (args: string[], cwd = dir) => runCli(args, { cwd, env }), read: (f: string) => readFileSync(path.join(dir, f), 'utf8') };
}

/**
 * A shell hook that records, for its phase: the libpq variables it got, the database psql reaches through them and
 * through DATABASE_URL, what that database holds, and the directory it runs in.
 */
function recorder(phase: string, out: string): string {
  const psql = pgBin('psql');
  return [
    `echo "${phase} env $PGDATABASE $PGHOST $PGPORT $PGUSER $([ "$PGPASSWORD" = "${cluster().password}" ] && echo pw-ok)" >> ${out}`,
    `echo "${phase} pg $(${psql} -XAtc 'select current_database()')" >> ${out}`,
    `echo "${phase} url $(${psql} "$DATABASE_URL" -XAtc 'select current_database() || chr(32) || string_agg(name, chr(44)) from users')" >> ${out}`,
    `echo "${phase} cwd $(pwd)" >> ${out}`,
  ].join('; ');
}

/** The pid a hook wrote to `file`, once it has. */
async function pidWritten(file: string): Promise<number> {
  const deadline = Date.now() + 60_000;
  while (!/^\d+\n/.test(existsSync(file) ? readFileSync(file, 'utf8') : '')) {
    expect(Date.now(), `${file} was never written`).toBeLessThan(deadline);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Number(readFileSync(file, 'utf8'));
}

/**
 * Starts `pgclone restore` of the project's dump and waits until its hook is running, for the test to stop it: until
 * the hook has touched `hook-started`, or with `{ pid }`, until it has written a pid to that file (then returned).
 */
async function restoreInHook(
  t: Awaited<ReturnType<typeof setup>>,
  wait: { pid: string } | 'hook-started',
): Promise<{ cli: ChildProcess; running: Promise<CliResult>; pid: number }> {
  let cli: ChildProcess | undefined;
  const running = runCli(['restore', keyAt('2026-01-01-00-00-00-000000')], { cwd: t.dir, env: t.env, onSpawn: (child) => (cli = child) });
  let pid = 0;
  if (wait === 'hook-started') {
    const deadline = Date.now() + 60_000;
    while (!existsSync(path.join(t.dir, 'hook-started'))) {
      expect(Date.now(), 'the hook never started').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } else {
    pid = await pidWritten(path.join(t.dir, wait.pid));
  }
  return { cli: cli!, running, pid };
}

/** Whether `pid` is a running process (a zombie has ended); kills it if so, not to leave it behind the test. */
function alive(pid: number): boolean {
  let state: string | undefined;
  try {
    state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
  } catch {
    return false;
  }
  if (state === 'Z') return false;
  process.kill(pid, 'SIGKILL');
  return true;
}

describe('hooks', () => {
  it('get DATABASE_URL and PG* for the database of their phase: live for pre-dump, N__temp for pre-swap, N for post-swap', async () => {
    const t = await setup('hk_env');
    const out = path.join(t.dir, 'hooks.log');
    const c = cluster();
    const cwd = subdir(t.dir, 'sub'); // hooks run in the project directory (the config file's), not the CWD
    const dumped = await t.cli(['dump', '--pre-dump-hook', recorder('pre-dump', out)], cwd);
    expect(dumped.code, dumped.stderr).toBe(0);
    const restored = await t.cli(
      ['restore', keyAt('2026-01-01-00-00-00-000000'), '--pre-swap-hook', recorder('pre-swap', out), '--post-swap-hook', recorder('post-swap', out)],
      cwd,
    );
    expect(restored.code, restored.stderr).toBe(0);
    const lines = t.read('hooks.log').trim().split('\n');
    const env = (db: string) => `${db} ${c.host} ${c.port} ${c.user} pw-ok`;
    expect(lines).toEqual([
      `pre-dump env ${env(t.db)}`,
      `pre-dump pg ${t.db}`,
      `pre-dump url ${t.db} live`,
      `pre-dump cwd ${t.dir}`,
      `pre-swap env ${env(`${t.db}__temp`)}`,
      `pre-swap pg ${t.db}__temp`,
      `pre-swap url ${t.db}__temp dumped`,
      `pre-swap cwd ${t.dir}`,
      `post-swap env ${env(t.db)}`,
      `post-swap pg ${t.db}`,
      `post-swap url ${t.db} dumped`, // after the swap: N is the restored database
      `post-swap cwd ${t.dir}`,
    ]);
  });

  it('stream their output to stderr and run in order; repeated flags accumulate', async () => {
    const t = await setup('hk_order');
    const r = await t.cli(['restore', 'dev', '--pre-swap-hook', 'echo first', '--pre-swap-hook', 'echo second >&2', '--post-swap-hook', 'echo third']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/first|second|third/);
    const order = r.stderr.split('\n').filter((l) => /^(first|second|third)$/.test(l));
    expect(order).toEqual(['first', 'second', 'third']);
  });

  it('report characters of several bytes whole, wherever the output pipe splits them', async () => {
    // Each chunk was decoded on its own: a '€' (3 bytes) across a 64 KiB chunk boundary became two U+FFFD.
    const t = await setup('hk_utf8');
    const hook = `${JSON.stringify(process.execPath)} -e "process.stdout.write('€'.repeat(100000) + '\\n')"`;
    const r = await t.cli(['dump', '--json', '--pre-dump-hook', hook]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { event: string; source?: string; line?: string }).filter((e) => e.event === 'output');
    expect(lines.map((e) => e.line)).toEqual(['€'.repeat(100_000)]);
  });

  it('report a huge output without newlines in bounded pieces, all of it', async () => {
    // It was kept whole and searched again for a newline at every chunk: 32 MB took pgclone's event loop ~100 s, and a
    // few hundred MB ended in "Invalid string length".
    const t = await setup('hk_huge');
    const hook = `${JSON.stringify(process.execPath)} -e "process.stdout.write('x'.repeat(3 * 1024 * 1024 + 5))"`;
    const r = await t.cli(['dump', '--json', '--pre-dump-hook', hook]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { event: string; line?: string }).filter((e) => e.event === 'output').map((e) => e.line!);
    expect(lines.map((l) => l.length)).toEqual([1024 * 1024, 1024 * 1024, 1024 * 1024, 5]);
    expect(lines.join('')).toBe('x'.repeat(3 * 1024 * 1024 + 5));
  });

  it('an explicit empty --pre-swap-hook disables the configured hooks', async () => {
    const t = await setup('hk_disable', { preSwapHooks: ['echo configured-hook; exit 9'] });
    const failing = await t.cli(['restore', 'dev']);
    expect(failing.code).toBe(1);
    expect(failing.stderr).toContain('configured-hook');
    const r = await t.cli(['restore', 'dev', '--pre-swap-hook', '']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('configured-hook');
    expect(await userNames(t.db)).toEqual(['dumped']);
  });

  it('migrate and seed without a Knex or Prisma project are an error, before anything changes', async () => {
    const t = await setup('hk_migrate', { preSwapHooks: ['migrate'] });
    const oid = await sql<{ oid: number }>('postgres', 'SELECT oid::int FROM pg_database WHERE datname = $1', [t.db]);
    for (const args of [['restore', 'dev'], ['restore', 'dev', '--pre-swap-hook', 'seed'], ['restore', 'dev', '--pre-swap-hook', '', '--post-swap-hook', 'migrate']]) {
      const r = await t.cli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/Hook "(migrate|seed)" runs the project's (migrations|seeds), but no Knex or Prisma project was found/);
    }
    expect(await sql('postgres', 'SELECT oid::int FROM pg_database WHERE datname = $1', [t.db])).toEqual(oid);
    expect(await databasesLike(t.db)).toEqual([t.db]);
  });

  it('may be functions in a JS config, receiving { databaseUrl, database }', async () => {
    const config = `
      import { appendFileSync } from 'node:fs';
      const record = (phase) => async ({ databaseUrl, database }) => {
        appendFileSync('fn.log', JSON.stringify({ phase, database, urlDatabase: new URL(databaseUrl).pathname.slice(1) }) + '\\n');
      };
      export default {
        preDumpHooks: [record('pre-dump')],
        preSwapHooks: [record('pre-swap')],
        postSwapHooks: [record('post-swap')],
        configs: { broken: { preSwapHooks: [() => { throw new Error('fixture hook broke'); }] } },
      };
    `;
    const t = await setup('hk_fn', config, 'pgclone.config.mjs');
    const dumped = await t.cli(['dump']);
    expect(dumped.code, dumped.stderr).toBe(0);
    const restored = await t.cli(['restore', keyAt('2026-01-01-00-00-00-000000')]);
    expect(restored.code, restored.stderr).toBe(0);
    const calls = t.read('fn.log').trim().split('\n').map((l) => JSON.parse(l));
    expect(calls).toEqual([
      { phase: 'pre-dump', database: t.db, urlDatabase: t.db },
      { phase: 'pre-swap', database: `${t.db}__temp`, urlDatabase: `${t.db}__temp` },
      { phase: 'post-swap', database: t.db, urlDatabase: t.db },
    ]);
    await sql(t.db, `INSERT INTO users (name) VALUES ('kept')`);
    const broken = await t.cli(['restore', keyAt('2026-01-01-00-00-00-000000'), '-c', 'broken']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('fixture hook broke');
    expect(await userNames(t.db)).toEqual(['dumped', 'kept']);
  });

  it('a failing post-swap hook fails the command, and says the restore itself is complete', async () => {
    const t = await setup('hk_postfail', { postSwapHooks: ['exit 4'] });
    const r = await t.cli(['restore', keyAt('2026-01-01-00-00-00-000000')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`warning: ${t.db} is restored and live: what failed came after the swap, and nothing was undone`);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/error: .*exit code 4/);
    expect(await userNames(t.db)).toEqual(['dumped']);
  });

  it('SIGINT during a pre-swap hook keeps N__temp, says the run was stopped (not that a hook failed), and exits at once', async () => {
    // The shell's own child is not in the signal's way (`kill -INT <pid>`, not a terminal's Ctrl-C), and holds the
    // hook's output pipes: the CLI used to wait for it to end (30 s later, writing hook-ended as it does).
    const t = await setup('hk_int', { preSwapHooks: ["touch hook-started; sh -c 'sleep 30; touch hook-ended'; echo unreachable"] });
    const { cli, running } = await restoreInHook(t, 'hook-started');
    cli.kill('SIGINT');
    const r = await running;
    expect(existsSync(path.join(t.dir, 'hook-ended')), 'the CLI waited for the hook’s child to end').toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`warning: Kept ${t.db}__temp: the restore was stopped during its pre-swap hooks; run "pgclone restore :${t.db}__temp" to resume`);
    expect(r.stderr).not.toContain('failing hook');
    expect(await userNames(t.db)).toEqual(['live']);
    await sql('postgres', `DROP DATABASE IF EXISTS "${t.db}__temp"`);
  });

  it('stopped by SIGINT, a hook ends with everything it started: a background child of its shell is not left running', async () => {
    // `sh -c 'sleep & wait'` (as `npm run x` runs node): only the hook's own shell used to be killed, and its children
    // ran on, writing to N__temp or holding it open.
    const t = await setup('hk_tree', { preSwapHooks: [`sh -c 'sleep 300 & echo $! > inner.pid; wait'`] });
    const { cli, running, pid: inner } = await restoreInHook(t, { pid: 'inner.pid' });
    cli.kill('SIGINT');
    const r = await running;
    expect(r.code).toBe(1);
    expect(alive(inner), 'the hook’s background child is still running').toBe(false);
    expect(await userNames(t.db)).toEqual(['live']);
    await sql('postgres', `DROP DATABASE IF EXISTS "${t.db}__temp"`);
  });

  it('a second SIGINT exits at once (130) and kills the stopped hook’s processes that ignored SIGTERM', async () => {
    const t = await setup('hk_twice', { preSwapHooks: [`sh -c 'trap "" TERM; echo $$ > inner.pid; while :; do sleep 1; done'`] });
    const { cli, running, pid: inner } = await restoreInHook(t, { pid: 'inner.pid' });
    const warned = new Promise<void>((resolve) => {
      let text = '';
      cli.stderr!.on('data', (d: Buffer) => (text += d).includes('SIGINT received') && resolve());
    });
    cli.kill('SIGINT');
    await warned;
    cli.kill('SIGINT');
    const r = await running;
    expect(r.code).toBe(130);
    // SIGKILL was sent as pgclone exited; the kernel may take a moment to carry it out on a busy machine.
    const gone = () => {
      try {
        return /\) Z/.test(readFileSync(`/proc/${inner}/stat`, 'utf8'));
      } catch {
        return true;
      }
    };
    for (let i = 0; i < 100 && !gone(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alive(inner), 'the hook’s process outlived pgclone').toBe(false);
    await sql('postgres', `DROP DATABASE IF EXISTS "${t.db}__temp" WITH (FORCE)`);
  });

  it('after SIGINT, no further hook runs, even when the stopped one exits 0', async () => {
    // A hook that ends cleanly on SIGTERM (a trap, a graceful Node script) let the next hook start: a function hook ran
    // to its end on a restore the user had stopped.
    const config = `import { writeFileSync } from 'node:fs';
export default { preSwapHooks: ["trap 'exit 0' TERM; touch hook-started; sleep 300 & wait", () => writeFileSync(new URL('second-ran', import.meta.url), '')] };`;
    const t = await setup('hk_next', config, 'pgclone.config.mjs');
    const { cli, running } = await restoreInHook(t, 'hook-started');
    cli.kill('SIGINT');
    const r = await running;
    expect(r.code).toBe(1);
    expect(existsSync(path.join(t.dir, 'second-ran')), 'the next hook ran after SIGINT').toBe(false);
    expect(r.stderr).toContain(`warning: Kept ${t.db}__temp: the restore was stopped during its pre-swap hooks`);
    expect(await userNames(t.db)).toEqual(['live']);
    await sql('postgres', `DROP DATABASE IF EXISTS "${t.db}__temp"`);
  });

  it('a failing shell hook is an error without the password its command holds, from the API too', async () => {
    // The CLI's printer masks it, but the API's HookError carried the command as written.
    const t = await setup('hk_secret');
    const { dump } = await import('pgclone');
    const hook = 'exit 3 # psql postgres://app:hunter2-hook@db.example/app';
    const error = await dump({ cwd: t.dir, env: t.env, instance: 'dev', preDumpHooks: [hook], onEvent: () => {} }).then(() => undefined, (e: unknown) => e);
    expect((error as { code?: string }).code).toBe('HOOK_FAILED');
    expect((error as Error).message).toContain('exit code 3');
    expect((error as Error).message).not.toContain('hunter2-hook');
  });

  it('aborted through the API, a hook ends with its children, SIGKILL for one that ignores SIGTERM', async () => {
    const t = await setup('hk_tree_api');
    const { dump, PgcloneError } = await import('pgclone');
    const controller = new AbortController();
    const hook = `sh -c 'trap "" TERM; echo $$ > inner.pid; while :; do sleep 1; done'`;
    const running = dump({ cwd: t.dir, env: t.env, instance: 'dev', preDumpHooks: [hook], signal: controller.signal, onEvent: () => {} });
    const inner = await pidWritten(path.join(t.dir, 'inner.pid'));
    controller.abort();
    const error = await running.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(PgcloneError);
    expect((error as { code?: string }).code).toBe('INTERRUPTED');
    expect(alive(inner), 'the hook’s child that ignores SIGTERM is still running').toBe(false);
  });

  it("a function hook's console.log is hook output on stderr, redacted: stdout keeps only the result", async () => {
    const config = `export default { preDumpHooks: [({ databaseUrl }) => { console.log('connecting to', databaseUrl); process.stdout.write('no newline'); }] };`;
    const t = await setup('hk_fnout', config, 'pgclone.config.mjs');
    // It went to stdout: --json's result was no longer one JSON line, and the password was in it.
    const json = await t.cli(['dump', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(json.stdout).key).toMatch(/\.dump$/);
    const events = json.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(events).toContainEqual({ event: 'output', source: 'hook', line: expect.stringMatching(/^connecting to postgres(ql)?:\/\/postgres:\*\*\*@/) });
    expect(events).toContainEqual({ event: 'output', source: 'hook', line: 'no newline' });
    expect(json.stdout + json.stderr).not.toContain(cluster().password);
    const plain = await t.cli(['dump', '-q']);
    expect(plain.lines).toHaveLength(1);
    expect(plain.stderr).toMatch(/^connecting to .*:\*\*\*@/m);
  });
});
