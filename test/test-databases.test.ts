import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { close, ensureTemplate, startTestRun, testDatabase, type HookContext } from 'pgclone';
import { runScript } from './support/cli.js';
import { cluster, databases, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';

// Templates keyed by the migrations, one database per worker, runs that clean up after crashed ones.

/** A project directory with SQL migrations, and a hook that applies them (counting how often it ran). */
function project(): { dir: string; builds: () => number; migrate: (context: HookContext) => Promise<void> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-testdb-'));
  mkdirSync(path.join(dir, 'migrations'));
  writeFileSync(path.join(dir, 'migrations', '001_item.sql'), 'CREATE TABLE item (id serial PRIMARY KEY, name text);\n');
  writeFileSync(path.join(dir, 'migrations', '002_seed.sql'), "INSERT INTO item (name) VALUES ('one'), ('two');\n");
  let count = 0;
  const migrate = async ({ databaseUrl }: HookContext) => {
    count += 1;
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      for (const file of readdirSync(path.join(dir, 'migrations')).sort()) {
        await client.query(readFileSync(path.join(dir, 'migrations', file), 'utf8'));
      }
    } finally {
      await client.end();
    }
  };
  return { dir, builds: () => count, migrate };
}

describe('test databases', () => {
  const base = uniqueName('tdb');
  const env = { DATABASE_URL: dbUrl(base) };
  afterAll(async () => {
    await close();
    for (const name of await databases()) {
      if (name.startsWith(base) && /_tpl_[0-9a-f]{12}$/.test(name)) await sql('postgres', `ALTER DATABASE ${ident(name)} WITH IS_TEMPLATE false`);
    }
    await dropDatabases(base);
  });

  it('builds the template once while several workers ask at once, and gives each worker its own database', async () => {
    const p = project();
    const options = { cwd: p.dir, env: { ...env }, files: ['migrations'], hooks: [p.migrate] };
    const [a, b, c] = await Promise.all([1, 2, 3].map((worker) => testDatabase({ ...options, worker })));
    expect(p.builds()).toBe(1);
    expect(new Set([a!.database, b!.database, c!.database]).size).toBe(3);
    expect(a!.template).toBe(b!.template);
    expect(a!.template).toMatch(new RegExp(`^${base}_tpl_[0-9a-f]{12}$`));
    for (const db of [a!, b!, c!]) {
      expect(await sql(db.database, 'SELECT name FROM item ORDER BY id')).toEqual([{ name: 'one' }, { name: 'two' }]);
    }
    // Writes in one worker's database are not seen by another; a reset brings back the template's content.
    await sql(a!.database, "INSERT INTO item (name) VALUES ('only in a')");
    expect(await sql(b!.database, 'SELECT count(*)::int AS n FROM item')).toEqual([{ n: 2 }]);
    await a!.reset();
    expect(await sql(a!.database, 'SELECT count(*)::int AS n FROM item')).toEqual([{ n: 2 }]);
    // The template refuses connections: nothing changes it by accident.
    await expect(sql(a!.template, 'SELECT 1')).rejects.toThrow(/not currently accepting connections/);
    // Own run (no global setup): closing drops the database and its spare.
    for (const db of [a!, b!, c!]) await db.close();
    expect((await databases()).filter((d) => d.startsWith(`${base}_test_`))).toEqual([]);
    // A later run finds the template and does not build it again.
    const again = await testDatabase({ ...options, worker: 9 });
    expect(p.builds()).toBe(1);
    expect(again.template).toBe(a!.template);
    await again.close();
  });

  it('closing one worker\'s database of an own run leaves the other workers\' databases alone', async () => {
    const p = project();
    const options = { cwd: p.dir, env: { ...env }, files: ['migrations'], hooks: [p.migrate] };
    const a = await testDatabase({ ...options, worker: 1 });
    const b = await testDatabase({ ...options, worker: 2 });
    await a.reset(); // a spare of a's is made in the background
    await a.close();
    const left = (await databases()).filter((d) => d.startsWith(`${base}_test_`));
    expect(left.filter((d) => d.startsWith(a.database))).toEqual([]);
    expect(left).toContain(b.database);
    await sql(b.database, "INSERT INTO item (name) VALUES ('three')");
    await b.reset();
    expect(await sql(b.database, 'SELECT count(*)::int AS n FROM item')).toEqual([{ n: 2 }]);
    await b.close();
    expect((await databases()).filter((d) => d.startsWith(`${base}_test_`))).toEqual([]);
  });

  it('rebuilds the template when a migration changes, and drops the old one once no run uses it', async () => {
    const p = project();
    const options = { cwd: p.dir, env: { ...env }, files: ['migrations/*.sql'], hooks: [p.migrate] };
    const first = await testDatabase({ ...options, worker: 1 });
    const builtBefore = p.builds();
    writeFileSync(path.join(p.dir, 'migrations', '003_more.sql'), "ALTER TABLE item ADD COLUMN price int DEFAULT 5;\n");
    const second = await testDatabase({ ...options, worker: 2 });
    expect(p.builds()).toBe(builtBefore + 1);
    expect(second.template).not.toBe(first.template);
    expect(await sql(second.database, 'SELECT price FROM item ORDER BY id')).toEqual([{ price: 5 }, { price: 5 }]);
    // The old template stays while a database of this process still resets to it ...
    expect(await databases()).toContain(first.template);
    await sql(first.database, 'DELETE FROM item');
    await first.reset();
    expect(await sql(first.database, 'SELECT * FROM item ORDER BY id')).toEqual([{ id: 1, name: 'one' }, { id: 2, name: 'two' }]);
    await first.close();
    await second.close();
    // ... and the next build after this process let go of it drops it.
    await close();
    writeFileSync(path.join(p.dir, 'migrations', '004_more.sql'), 'ALTER TABLE item ADD COLUMN qty int;\n');
    const third = await testDatabase({ ...options, worker: 3 });
    const all = await databases();
    expect(all).toContain(third.template);
    expect(all).not.toContain(first.template);
    expect(all).not.toContain(second.template);
    await third.close();
  });

  it('a run of another checkout (other migrations) never drops the template a starting run has just found', async () => {
    // Run A's second connection is held back by a proxy while run B, with another migration, builds its template
    // and drops the older ones: A's template is already marked in use by then.
    const a = project();
    const b = project();
    writeFileSync(path.join(b.dir, 'migrations', '003_more.sql'), 'ALTER TABLE item ADD COLUMN qty int;\n');
    const optionsA = { cwd: a.dir, files: ['migrations'], hooks: [a.migrate] };
    const first = await startTestRun({ ...optionsA, env: { ...env } });
    await first.close();
    const c = cluster();
    let connections = 0;
    const proxy = net.createServer((client) => {
      client.pause();
      const pass = () => {
        const server = net.connect(c.port, c.host);
        client.pipe(server).pipe(client);
        client.resume();
        client.on('error', () => server.destroy());
        server.on('error', () => client.destroy());
      };
      if (++connections !== 2) return pass();
      void startTestRun({ cwd: b.dir, files: ['migrations'], hooks: [b.migrate], env: { ...env } })
        .then((runB) => runB.close())
        .finally(pass);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const viaProxy = dbUrl(base).replace(`:${c.port}/`, `:${(proxy.address() as net.AddressInfo).port}/`);
      const runEnv: NodeJS.ProcessEnv = { DATABASE_URL: viaProxy };
      const runA = await startTestRun({ ...optionsA, env: runEnv });
      expect(runA.template.name).toBe(first.template.name);
      // The exported ensureTemplate takes the helpers' options too.
      expect(await ensureTemplate({ ...optionsA, env: { ...env } })).toMatchObject({ name: first.template.name, built: false });
      expect(await databases()).toContain(runA.template.name);
      const db = await testDatabase({ ...optionsA, env: runEnv, worker: 1 });
      expect(await sql(db.database, 'SELECT count(*)::int AS n FROM item')).toEqual([{ n: 2 }]);
      await db.close();
      await runA.close();
    } finally {
      proxy.close();
    }
  });

  it('a run drops the databases of crashed runs, keeps those of live runs, and drops its own at the end', async () => {
    const p = project();
    const options = { cwd: p.dir, env: { ...env }, files: ['migrations'], hooks: [p.migrate] };
    const crashed = [`${base}_test_deadbeef_1`, `${base}_test_deadbeef_1__spare`, `${base}_test_deadbeef_2`];
    for (const name of crashed) await sql('postgres', `CREATE DATABASE ${ident(name)} TEMPLATE template0`);
    // A live run elsewhere: its process holds the run's lock.
    const live = `${base}_test_a11ve000_1`;
    await sql('postgres', `CREATE DATABASE ${ident(live)} TEMPLATE template0`);
    const holder = new pg.Client({ connectionString: dbUrl('postgres') });
    await holder.connect();
    await holder.query(`SELECT pg_advisory_lock(hashtext('pgclone'), hashtext('test-run:a11ve000'))`);
    try {
      const runEnv: NodeJS.ProcessEnv = { ...options.env };
      const run = await startTestRun({ ...options, env: runEnv });
      expect(run.droppedStale.sort()).toEqual([...crashed].sort());
      expect(runEnv.PGCLONE_TEST_RUN).toBe(run.id);
      expect(runEnv.PGCLONE_TEST_TEMPLATE).toBe(run.template.name);
      // Workers of the run clone the run's template under the run's id.
      const worker = await testDatabase({ ...options, env: runEnv, worker: 4 });
      expect(worker.database).toBe(`${base}_test_${run.id}_4`);
      expect(worker.run).toBe(run.id);
      await worker.close(); // inside a run: kept for the worker's next file
      expect(await databases()).toContain(worker.database);
      await run.close();
      const left = (await databases()).filter((d) => d.startsWith(`${base}_test_`));
      expect(left).toEqual([live]);
      expect(runEnv.PGCLONE_TEST_RUN).toBeUndefined();
    } finally {
      await holder.end();
    }
  });

  it('pgclone.close() after a run, a worker database and a reset leaves no database of the run (nor a late spare)', async () => {
    const p = project();
    const runEnv: NodeJS.ProcessEnv = { ...env };
    const options = { cwd: p.dir, env: runEnv, files: ['migrations'], hooks: [p.migrate] };
    const run = await startTestRun(options);
    const db = await testDatabase({ ...options, worker: 1 });
    await db.reset(); // its next spare is being made in the background
    await close();
    expect((await databases()).filter((d) => d.startsWith(`${base}_test_${run.id}`))).toEqual([]);
  });

  it('shows its URL with the password masked when logged or serialized, and gives the real one to code', async () => {
    // console.log(db) and JSON.stringify(db) printed the URL, password and all, into the test run's log.
    const p = project();
    const db = await testDatabase({ cwd: p.dir, env: { ...env }, files: ['migrations'], hooks: [p.migrate], worker: 1 });
    try {
      const password = encodeURIComponent(cluster().password);
      expect(db.url).toContain(`:${password}@`);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        expect((await client.query('SELECT current_database() AS d')).rows).toEqual([{ d: db.database }]);
      } finally {
        await client.end();
      }
      const masked = db.url.replace(`:${password}@`, ':***@');
      for (const printed of [inspect(db), inspect({ db }, { depth: 5 }), inspect(db, { showHidden: true })]) {
        expect(printed).not.toContain(password);
        expect(printed).toContain(masked);
        expect(printed).toContain(db.database);
      }
      const json = JSON.parse(JSON.stringify(db)) as Record<string, unknown>;
      expect(json).toEqual({ database: db.database, url: masked, template: db.template, run: db.run, resetWhen: db.resetWhen });
      // The handle still spreads and destructures as a plain object does, real URL included.
      expect({ ...db }.url).toBe(db.url);
    } finally {
      await db.close();
    }
  });

  it('works from a plain script, which nothing else keeps alive while it awaits', async () => {
    // The run's session was unreferenced once set up, also while the worker database was being made: Node ended the
    // script (exit code 13, "unsettled top-level await") before testDatabase() returned.
    const { dir } = project();
    const script = `
      import { close, testDatabase } from 'pgclone';
      const db = await testDatabase({ cwd: ${JSON.stringify(dir)}, worker: 7, files: ['migrations'], hooks: ['psql -X -q -v ON_ERROR_STOP=1 -f migrations/001_item.sql'] });
      await db.reset();
      console.log(db.database);
      await db.close();
      await close();`;
    const child = await runScript(script, { DATABASE_URL: dbUrl(base) });
    expect(child.code, child.stderr).toBe(0);
    expect(child.stdout.trim()).toMatch(new RegExp(`^${base}_test_[a-z0-9]{8}_7$`));
    expect(await databases()).not.toContain(child.stdout.trim());
  });

  it('names the problem when the template inputs match no file, or a hook fails', async () => {
    const p = project();
    await expect(testDatabase({ cwd: p.dir, env: { ...env }, files: ['nothing/*.sql'], hooks: [p.migrate] })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    await expect(
      testDatabase({ cwd: p.dir, env: { ...env }, files: ['migrations'], hooks: ['exit 3'], name: `${base}_bad` }),
    ).rejects.toMatchObject({ code: 'HOOK_FAILED' });
    expect((await databases()).filter((d) => d.startsWith(`${base}_bad`))).toEqual([]);
  });

  it('checks the helpers\' options as TypeScript would: a misspelt or mistyped one is a UsageError naming it', async () => {
    const p = project();
    const options = { cwd: p.dir, env: { ...env }, files: ['migrations'], hooks: [p.migrate] };
    const cases: Array<[Promise<unknown>, string]> = [
      [testDatabase({ ...options, wroker: 5 } as never), 'Unknown option "wroker" for testDatabase()'],
      [startTestRun({ ...options, files: 'migrations/*.sql' } as never), 'files: Invalid input: expected array, received string (got "migrations/*.sql")'],
      [startTestRun({ ...options, hooks: 'node migrate.mjs' } as never), 'hooks: Invalid input: expected array, received string'],
      [startTestRun({ ...options, restore: 5 } as never), 'restore: Invalid input: expected string, received number (got 5)'],
      [testDatabase({ ...options, name: 5 } as never), 'name: Invalid input: expected string, received number (got 5)'],
      [testDatabase({ ...options, worker: true } as never), 'worker: '],
      [ensureTemplate({ ...options, spare: 'yes' } as never), 'spare: '],
      [startTestRun({ ...options, worker: 1 } as never), 'Unknown option "worker" for startTestRun()'],
    ];
    for (const [promise, message] of cases) {
      await expect(promise).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining(message) });
    }
    expect((await databases()).filter((d) => d.startsWith('5_') || d.startsWith(`${base}_test_`))).toEqual([]);
  });

  it('an aborted signal stops the helpers before they build or create anything, with an INTERRUPTED error', async () => {
    // They take `signal` like every API call; an aborted one built the template, ran its hooks and made databases.
    const p = project();
    const name = `${base}_sig`;
    const options = { cwd: p.dir, env: { ...env }, files: ['migrations'], hooks: [p.migrate], name, signal: AbortSignal.abort() };
    for (const call of [ensureTemplate(options), startTestRun(options), testDatabase({ ...options, worker: 1 })]) {
      await expect(call).rejects.toMatchObject({ code: 'INTERRUPTED' });
    }
    expect(p.builds()).toBe(0);
    expect((await databases()).filter((d) => d.startsWith(name))).toEqual([]);
    expect(options.env.PGCLONE_TEST_RUN).toBeUndefined();
  });

  it('stamps the step events of each reset with the time since that reset started', async () => {
    // They counted from when the handle was made: a reset of a few milliseconds reported steps seconds "into" it.
    const p = project();
    const events: Array<{ event: string; step?: string; elapsedMs?: number }> = [];
    const db = await testDatabase({ cwd: p.dir, env: { ...env }, files: ['migrations'], hooks: [p.migrate], name: `${base}_ev`, worker: 1, onEvent: (e) => void events.push(e) });
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      events.length = 0;
      const started = performance.now();
      await db.reset();
      const took = performance.now() - started;
      const steps = events.filter((e) => e.event === 'step');
      expect(steps.map((e) => e.step)).toContain('swap');
      // No step can be further into the reset than the reset took.
      for (const e of steps) expect(e.elapsedMs, e.step).toBeLessThanOrEqual(took + 1);
    } finally {
      await db.close();
    }
  });

  it('hands one worker a database per server and base it asks for, not the first one it got', async () => {
    // The handles were kept by worker, cwd and databaseUrl only: asking with another env (or named config) for another
    // database returned the first database.
    const p = project();
    const common = { cwd: p.dir, files: ['migrations'], hooks: [p.migrate], worker: 'k' };
    const main = await testDatabase({ ...common, env: { DATABASE_URL: dbUrl(`${base}_main`) } });
    const other = await testDatabase({ ...common, env: { DATABASE_URL: dbUrl(`${base}_oth`) } });
    try {
      expect(main.database).toMatch(new RegExp(`^${base}_main_test_`));
      expect(other.database).toMatch(new RegExp(`^${base}_oth_test_`));
      // The same request again gets the same handle.
      expect(await testDatabase({ ...common, env: { DATABASE_URL: dbUrl(`${base}_main`) } })).toBe(main);
    } finally {
      await main.close();
      await other.close();
    }
  });

  it('a worker database whose pgclone session was ended (server restart, idle_session_timeout) resets again, printing nothing', async () => {
    // Its reset kept the broken session: every later reset failed ("Client has encountered a connection error"), and
    // each added a listener to the dead socket until Node printed a MaxListenersExceededWarning.
    const p = project();
    const db = await testDatabase({ cwd: p.dir, env: { ...env }, files: ['migrations'], hooks: [p.migrate], name: `${base}_brk`, worker: 1 });
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      await db.reset();
      const ended = await sql(
        'postgres',
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'pgclone-admin:' || $1::text || '@%'`,
        [process.pid],
      );
      expect(ended.length).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const outcomes: string[] = [];
      for (let i = 0; i < 12; i++) {
        await sql(db.database, `INSERT INTO item (name) VALUES ('written ${i}')`);
        outcomes.push(await db.reset().then(() => 'ok', (e: { code?: string }) => `failed ${e.code}`));
      }
      // The ended session is noticed before the next reset, which connects again.
      expect(outcomes).toEqual(Array(12).fill('ok'));
      expect(await sql(db.database, 'SELECT name FROM item ORDER BY id')).toEqual([{ name: 'one' }, { name: 'two' }]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await db.close();
    }
  });

  it('an abort during the template build stops its hook and the helper at once, with an INTERRUPTED error and no template', async () => {
    // The build ignored the signal: the hook ran to its end and the helper resolved with a template, as if not aborted.
    const p = project();
    const marker = path.join(p.dir, 'hook-finished');
    for (const [label, helper] of [
      ['ensureTemplate', ensureTemplate],
      ['startTestRun', startTestRun],
      ['testDatabase', testDatabase],
    ] as const) {
      const name = `${base}_ab${label.length}`;
      const controller = new AbortController();
      const options = {
        cwd: p.dir,
        env: { ...env },
        files: ['migrations'],
        hooks: [`sleep 20 && touch ${marker}`],
        name,
        signal: controller.signal,
        onEvent: (e: { event: string; message?: string }) => {
          if (e.event === 'message' && e.message?.startsWith('Running template hook')) setTimeout(() => controller.abort(), 200);
        },
      };
      const error = await (helper as (o: typeof options) => Promise<unknown>)(options).then(() => new Error(`${label} resolved`), (e: unknown) => e);
      expect((error as { code?: string }).code, label).toBe('INTERRUPTED');
      expect((await databases()).filter((d) => d.startsWith(name)), label).toEqual([]);
      expect(options.env.PGCLONE_TEST_RUN, label).toBeUndefined();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(readdirSync(p.dir)).not.toContain('hook-finished');
  });
});
