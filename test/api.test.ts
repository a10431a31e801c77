// The programmatic API, imported from the built `pgclone` package as a user would: exports, results, typed errors,
// events, and not a byte of console output.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { databaseOid, databasesLike, removeDir, tempDir, userNames, usersDatabase } from './support/fixtures.js';
import { cluster, dbUrl, dropDatabases, sql, uniqueName } from './support/pg.js';

const pgclone = await import('pgclone');
const cwd = tempDir('api');
const db = uniqueName('api');
const options = { cwd, env: { DATABASE_URL: dbUrl(db) }, instance: 'api' };

let writes: string[] = [];
beforeEach(() => {
  writes = [];
  const capture = (chunk: unknown) => {
    writes.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void writes.push(args.join(' ')));
  }
});
afterEach(() => {
  vi.restoreAllMocks();
  expect(writes, 'the API printed something').toEqual([]);
});

beforeAll(() => usersDatabase(db, ['one']));
afterAll(async () => {
  await dropDatabases(db);
  removeDir(cwd);
});

/** The rejection of `promise`, which must be a PgcloneError with `code`. */
async function rejection(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(pgclone.PgcloneError);
  expect(pgclone.isPgcloneError(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error as InstanceType<typeof pgclone.PgcloneError>;
}

describe('API', () => {
  it('exports the operations by name and as a default object, and the error classes', () => {
    for (const name of ['dump', 'restore', 'copy', 'ls'] as const) {
      expect(typeof pgclone[name]).toBe('function');
      expect(pgclone.default[name]).toBe(pgclone[name]);
    }
    // "The API as one object": every operation and test helper, not only some (ensureTemplate was missing).
    const helpers = ['isPgcloneError', 'defaultRuntime'];
    const operations = Object.entries(pgclone).filter(([name, value]) => typeof value === 'function' && !/^[A-Z]/.test(name) && !helpers.includes(name));
    expect(operations.map(([name]) => name).sort()).toEqual(Object.keys(pgclone.default).sort());
    for (const name of ['PgcloneError', 'UsageError', 'ConfigError', 'KeyError', 'GuardError', 'DumpError', 'HookError', 'StorageError'] as const) {
      expect(typeof pgclone[name]).toBe('function');
    }
  });

  it('dumps, lists, restores reversibly, copies and restores a copy, with result objects and events', async () => {
    const events: Array<{ event: string; step?: string }> = [];
    const onEvent = (e: { event: string }) => void events.push(e);
    const dumped = await pgclone.dump({ ...options, onEvent });
    expect(dumped).toEqual({
      key: expect.stringMatching(/^api\/default\/none\/[\d-]+\.dump$/),
      database: db,
      storageLocation: `${cwd}/.pgclone/`,
      bytes: expect.any(Number),
      compression: expect.any(String),
      durationMs: expect.any(Number),
    });
    expect(events.filter((e) => e.event === 'step').map((e) => e.step)).toEqual(['check', 'dump']);

    expect(await pgclone.ls(undefined, options)).toEqual([dumped.key]);
    expect(await pgclone.default.ls('api', { ...options, instances: true })).toEqual(['api']);

    await sql(db, `INSERT INTO users (name) VALUES ('two')`);
    const hookCalls: string[] = [];
    const restored = await pgclone.restore('api', {
      ...options,
      reversible: true,
      preSwapHooks: [({ database }: { database: string }) => void hookCalls.push(database)],
    });
    expect(restored).toMatchObject({ key: dumped.key, database: db, reversible: true, dryRun: false, durationMs: expect.any(Number) });
    expect(restored.plan.length).toBeGreaterThan(3);
    expect(hookCalls).toEqual([`${db}__temp`]);
    expect(await userNames(db)).toEqual(['one']);

    const copied = await pgclone.copy(`:${db}_copy`, options);
    expect(copied).toEqual({ key: `:${db}_copy`, database: `${db}_copy`, source: db, durationMs: expect.any(Number) });
    expect(await pgclone.ls(undefined, { ...options, local: true })).toEqual(
      expect.arrayContaining([`:${db}__pre`, `:${db}__post`, `:${db}_copy`]),
    );
    const back = await pgclone.restore(':pre', options);
    expect(back).toMatchObject({ key: ':pre', database: db, source: `${db}__pre`, reversible: false });
    expect(await userNames(db)).toEqual(['one', 'two']);
  });

  it('reads the connection from its env option, for its own session as for pg_dump and pg_restore', async () => {
    // The URL names the database only; host, port, user and password are in `env` and nowhere in process.env.
    expect(Object.keys(process.env).filter((k) => ['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD'].includes(k))).toEqual([]);
    const c = cluster();
    const own = uniqueName('apienv');
    await usersDatabase(own, ['env']);
    const env = { DATABASE_URL: `postgres:///${own}`, PGHOST: c.host, PGPORT: String(c.port), PGUSER: c.user, PGPASSWORD: c.password };
    const apart = { ...options, cwd: tempDir('api-env'), env };
    try {
      const dumped = await pgclone.dump(apart);
      await sql(own, `INSERT INTO users (name) VALUES ('later')`);
      await pgclone.restore(dumped.key, apart);
      expect(await userNames(own)).toEqual(['env']);
      // A snapshot and its fast reset (the process's own long-lived session) read `env` too.
      await pgclone.copy(`:${own}_snap`, apart);
      await sql(own, `INSERT INTO users (name) VALUES ('after the snapshot')`);
      const reset = await pgclone.restore(`:${own}_snap`, apart);
      expect(reset).toMatchObject({ database: own, source: `${own}_snap` });
      expect(await userNames(own)).toEqual(['env']);
    } finally {
      // The reset's background work (the next spare) ends before its databases go.
      await pgclone.close({ dropSpares: true });
      await dropDatabases(own);
      removeDir(apart.cwd);
    }
  });

  it('dryRun returns the plan and changes nothing', async () => {
    const oid = await databaseOid(db);
    const before = await databasesLike(db);
    const plan = await pgclone.restore('api', { ...options, dryRun: true, reversible: true });
    expect(plan.dryRun).toBe(true);
    expect(plan.plan[0]).toMatch(new RegExp(`^restore dump api/default/none/.* into ${db} \\(reversible\\)$`));
    expect(await databaseOid(db)).toBe(oid);
    expect(await databasesLike(db)).toEqual(before);
  });

  it('fails with typed errors carrying a stable code', async () => {
    await rejection(pgclone.restore(undefined, options), 'KEY_MISSING');
    const notFound = await rejection(pgclone.restore('nothing/here', options), 'KEY_NOT_FOUND');
    expect(notFound).toBeInstanceOf(pgclone.KeyError);
    expect(notFound.message).toContain('"nothing/here"');
    const usage = await rejection(pgclone.ls(undefined, { ...options, local: true, configs: true }), 'USAGE');
    expect(usage).toBeInstanceOf(pgclone.UsageError);
    expect(usage.exitCode).toBe(2);
    expect(await rejection(pgclone.dump({ ...options, config: 'nope' }), 'CONFIG_UNKNOWN_NAME')).toBeInstanceOf(pgclone.ConfigError);
    expect(await rejection(pgclone.copy(':pre', options), 'NAME_RESERVED')).toBeInstanceOf(pgclone.KeyError);
    expect(await rejection(pgclone.restore('../x', options), 'KEY_INVALID')).toBeInstanceOf(pgclone.KeyError);
    const hook = await rejection(pgclone.restore('api', { ...options, preSwapHooks: ['echo failing; exit 5'] }), 'HOOK_FAILED');
    expect(hook).toBeInstanceOf(pgclone.HookError);
    // A function hook's own error often quotes the URL it got: the password never reaches the caller's logs.
    const failing = async ({ databaseUrl }: { databaseUrl: string }) => {
      throw new Error(`cannot migrate ${databaseUrl}`);
    };
    const leaked = await rejection(pgclone.restore('api', { ...options, preSwapHooks: [failing] }), 'HOOK_FAILED');
    expect(leaked.message).toContain(`cannot migrate postgresql://${cluster().user}:***@`);
    expect(leaked.message).not.toContain(cluster().password);
    // Test runners print the cause's message and stack too.
    const cause = leaked.cause as Error;
    expect(cause.message).toContain(`cannot migrate postgresql://${cluster().user}:***@`);
    expect(`${cause.message}\n${cause.stack}`).not.toContain(cluster().password);
    expect(await rejection(pgclone.restore('api', { ...options, preSwapHooks: ['migrate'] }), 'HOOK_FAILED')).toBeInstanceOf(pgclone.HookError);
    await rejection(pgclone.dump({ cwd, env: {} }), 'CONNECTION_MISSING');
    expect(await databasesLike(db)).toEqual([db, `${db}__post`, `${db}__pre`, `${db}__temp`, `${db}_copy`]);
  });

  it('checks what a JavaScript caller passes as TypeScript would, before anything changes', async () => {
    const before = await databasesLike(db);
    const cases: Array<[Promise<unknown>, string]> = [
      // `reversible: 'no'` restored reversibly; the others failed with a TypeError from deep inside, without a code.
      [pgclone.restore('api', { ...options, reversible: 'no' as never }), 'Invalid options: reversible: Invalid input: expected boolean, received string (got "no")'],
      [pgclone.dump({ ...options, compression: 5 as never }), 'Invalid options: compression: Invalid input: expected string, received number (got 5)'],
      [pgclone.dump({ ...options, exclude: 'audit' as never }), 'Invalid options: exclude: Invalid input: expected array, received string (got "audit")'],
      [pgclone.copy(5 as never, options), 'Invalid copy target 5: expected a string'],
      [pgclone.restore(123 as never, options), 'Invalid dump key 123: expected a string'],
      [pgclone.ls({} as never, options), 'Invalid prefix (an object): expected a string'],
      [pgclone.ls(undefined, null as never), 'Invalid options null: expected an object'],
      // A bigint argument or a symbol option threw a TypeError from the message's own formatting; NaN read "(got null)".
      [pgclone.restore(10n as never, options), 'Invalid dump key 10n: expected a string'],
      [pgclone.ls(undefined, 10n as never), 'Invalid options 10n: expected an object'],
      [pgclone.dump({ ...options, compression: Symbol('zstd') as never }), 'compression: Invalid input: expected string, received symbol (got Symbol(zstd))'],
      [pgclone.dump({ ...options, instance: 10n as never }), 'instance: Invalid input: expected string, received bigint (got 10n)'],
      [pgclone.restore('api', { ...options, jobs: NaN }), 'jobs: Invalid input: expected number, received NaN (got NaN)'],
      [pgclone.dump({ ...options, configFile: '' }), 'Invalid options: configFile: expected a value (got "")'],
      [pgclone.dump({ ...options, cwd: '' }), 'Invalid options: cwd: expected a value (got "")'],
      // A misspelt option was ignored.
      [pgclone.copy(':x', { ...options, copyStrategi: 'file_copy' } as never), 'Unknown option "copyStrategi" for copy(); it takes'],
      // An empty variable (`storageLocation: process.env.DUMPS ?? ''`), as the CLI's `-s ''` is: the dump was written
      // into the project directory itself, and `-i ''` made keys with instance `_`.
      [pgclone.dump({ ...options, storageLocation: '' }), 'Invalid options: storageLocation: expected a value (got "")'],
      [pgclone.dump({ ...options, instance: '' }), 'Invalid options: instance: expected a value (got "")'],
      [pgclone.restore('api', { ...options, database: '' }), 'Invalid options: database: expected a value (got "")'],
      [pgclone.ls(undefined, { ...options, config: '' }), 'Invalid options: config: expected a value (got "")'],
      // `databaseUrl: ''` fell back to DATABASE_URL: a restore would replace another database than the one meant.
      [pgclone.restore('api', { ...options, databaseUrl: '' }), 'Invalid options: databaseUrl: expected a value (got "")'],
    ];
    for (const [promise, message] of cases) {
      const error = await rejection(promise, 'USAGE');
      expect(error.message).toContain(message);
    }
    expect(await databasesLike(db)).toEqual(before);
    expect(existsSync(path.join(cwd, 'api'))).toBe(false);
  });

  it('an aborted signal stops every operation before it changes anything, with an INTERRUPTED error', async () => {
    // The README: "an aborted one stops the operation with a PgcloneError of code INTERRUPTED; one aborted before the
    // call changes nothing". rm deleted the dump or dropped the database, pin pinned, prune threw a DOMException.
    await pgclone.dump(options);
    const keys = await pgclone.ls(undefined, options);
    expect(keys.length).toBeGreaterThan(1);
    const listing = await pgclone.lsLong(undefined, options);
    const databases = await databasesLike(db);
    expect(databases).toContain(`${db}_copy`);
    const marker = path.join(cwd, 'hook-ran');
    const signal = AbortSignal.abort();
    const aborted = { ...options, signal };
    const calls: Array<[string, Promise<unknown>]> = [
      ['dump', pgclone.dump({ ...aborted, preDumpHooks: [`touch ${marker}`] })],
      ['pin', pgclone.pin(keys[0]!, aborted)],
      ['unpin', pgclone.unpin(keys[0]!, aborted)],
      ['rm a dump', pgclone.rm(keys.at(-1)!, aborted)],
      ['rm a local database', pgclone.rm(`:${db}_copy`, aborted)],
      ['prune', pgclone.prune(undefined, { ...aborted, keep: 1, yes: true })],
      ['doctor', pgclone.doctor({ ...aborted, fix: true })],
      ['ls', pgclone.ls(undefined, aborted)],
      ['lsLong', pgclone.lsLong(undefined, aborted)],
      ['lsLocal', pgclone.lsLocal(aborted)],
    ];
    for (const [name, call] of calls) {
      const error = await call.then(
        () => new Error(`${name} resolved`),
        (e: unknown) => e,
      );
      expect(error, name).toBeInstanceOf(pgclone.PgcloneError);
      expect((error as { code?: string }).code, name).toBe('INTERRUPTED');
    }
    expect(existsSync(marker)).toBe(false);
    expect(await pgclone.lsLong(undefined, options)).toEqual(listing);
    expect(await databasesLike(db)).toEqual(databases);
  });
});
