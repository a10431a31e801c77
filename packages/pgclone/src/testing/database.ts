import { inspect } from 'node:util';
import { checkTestOptions, connectAdmin, connectionUrl, derivedName, displayUrl, interruptible, Reporter, resolvePerfOptions, withDatabase, type Admin } from '@pgclone/core';
import { fastRestoreResult, type ResetResult } from '../fast-restore.js';
import { forgetResetter, onClose, resetThrough, settleResetter } from '../session.js';
import { newRunId, runLockName, workerDatabaseName } from './names.js';
import { dropStaleRuns, RUN_ENV } from './run.js';
import { testRuntime, testSettings, type TestTemplateOptions } from './settings.js';
import { findOrBuildTemplate } from './template.js';

/** Options of {@link testDatabase}. */
export interface TestDatabaseOptions extends TestTemplateOptions {
  /**
   * Which worker this is; each worker of a run gets its own database. Default: `VITEST_POOL_ID`, else
   * `JEST_WORKER_ID`, else `1`.
   */
  worker?: string | number;
}

/** A database of one test worker: a clone of the template, reset in milliseconds. */
export interface TestDatabase extends AsyncDisposable {
  /** Its name, `<base>_test_<run>_<worker>`. */
  readonly database: string;
  /**
   * Its connection URL, password included. `console.log`, `util.inspect` and `JSON.stringify` of the handle show it
   * with the password masked; reading `url` gives the real one.
   */
  readonly url: string;
  /** The template it is a copy of. */
  readonly template: string;
  /** The run it belongs to. */
  readonly run: string;
  /** `test.reset` from the pgclone config (default `each`): when the ready-made setup file resets. */
  readonly resetWhen: 'each' | 'file' | 'never';
  /** Puts the database back to exactly the template's content; ends the sessions on it (pools reconnect). */
  reset(): Promise<ResetResult>;
  /**
   * Done with it in this process. Inside a run started by a global setup, the database stays for the worker's next
   * test file and the run's teardown drops it; otherwise it is dropped now.
   */
  close(): Promise<void>;
}

interface OwnRun {
  id: string;
  admin: Admin;
  base: string;
}

/** What a reset can leave beside a worker's database (ops/reset.ts). */
const WORKING_SUFFIXES = ['spare', 'swap', 'temp'] as const;

const OWN_RUN = Symbol.for('pgclone.testing.ownRun.v1');
const HANDLES = Symbol.for('pgclone.testing.databases.v1');

function handles(): Map<string, Promise<TestDatabase>> {
  const holder = globalThis as unknown as Record<symbol, Map<string, Promise<TestDatabase>> | undefined>;
  return (holder[HANDLES] ??= new Map());
}

/**
 * Hands this worker its own database, a clone of the template for the current migrations (built on first use,
 * see `ensureTemplate`), reset to the template's content. Within one process the same worker gets the same
 * handle back (reset again). Under a run started by `startTestRun` (the Vitest global setup) the run's id, template and base name
 * come from the environment; without one, this process starts its own run: it drops the leftovers of crashed runs,
 * and `close()` (or `pgclone.close()`) drops its databases.
 *
 * @example
 * const db = await testDatabase();
 * process.env.DATABASE_URL = db.url;
 * beforeEach(() => db.reset());
 */
export async function testDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  checkTestOptions(options, 'testDatabase');
  return interruptible(options.signal, 'The test database', () => testDatabaseNow(options));
}

async function testDatabaseNow(options: TestDatabaseOptions): Promise<TestDatabase> {
  const env = options.env ?? process.env;
  const worker = options.worker ?? env.VITEST_POOL_ID ?? env.JEST_WORKER_ID ?? '1';
  // What picks the server and the base: the options that say so explicitly. Not the process's own DATABASE_URL, which
  // the setup file points at this very database once it has it.
  const key = JSON.stringify([
    env[RUN_ENV.run] ?? null,
    options.name ?? null,
    String(worker),
    options.databaseUrl ?? null,
    options.cwd ?? null,
    options.config ?? null,
    options.configFile ?? null,
    options.database ?? null,
    options.env ?? null,
  ]);
  const existing = handles().get(key);
  if (existing) {
    const db = await existing.catch(() => undefined);
    if (db) {
      // Always hand out a clean database: an earlier test file in this process may have written to it.
      await db.reset();
      return db;
    }
  }
  const created = openTestDatabase(options, String(worker), () => handles().delete(key));
  handles().set(key, created);
  created.catch(() => handles().delete(key));
  return created;
}

async function openTestDatabase(options: TestDatabaseOptions, worker: string, onClosed: () => void): Promise<TestDatabase> {
  const env = options.env ?? process.env;
  const runtime = await testRuntime(options);
  const fromRun = env[RUN_ENV.run] && env[RUN_ENV.base] && env[RUN_ENV.template] && (!options.name || options.name === env[RUN_ENV.base]);
  let base: string;
  let run: string;
  let template: string;
  let own: OwnRun | undefined;
  const settings = await testSettings(
    { ...options, ...(fromRun ? { name: env[RUN_ENV.base]! } : {}) },
    runtime,
  );
  const opts = settings.prepared.options;
  if (fromRun) {
    base = env[RUN_ENV.base]!;
    run = env[RUN_ENV.run]!;
    template = env[RUN_ENV.template]!;
  } else {
    base = settings.base;
    own = await ownRun(settings.conn, opts, base, settings.prepared.env);
    template = (await findOrBuildTemplate(settings, runtime, own.admin)).name;
    run = own.id;
  }
  const database = workerDatabaseName(base, run, worker);
  const resetOptions = {
    spare: settings.spare,
    ...(settings.strategy ? { strategy: settings.strategy } : {}),
    copyStrategy: resolvePerfOptions({}, opts).copyStrategy,
    timeoutMs: opts.lockTimeout,
  };
  const reset = async (signal?: AbortSignal): Promise<ResetResult> =>
    fastRestoreResult(
      `:${template}`,
      // A reporter per reset: its step events count from this reset's start, as an operation's do.
      await resetThrough(opts, settings.conn, database, settings.prepared.env, template, {
        ...resetOptions,
        reporter: new Reporter('restore', settings.onEvent),
        ...(signal ? { signal } : {}),
      }),
    );
  await reset(settings.signal);
  const conn = withDatabase(settings.conn, database);
  const url = connectionUrl(conn);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    unregister();
    onClosed();
    if (own) {
      await forgetResetter(opts, settings.conn, database, settings.prepared.env, { dropSpare: true });
      // Only this worker's database and its working names: the run's other workers may still be using theirs.
      const admin = await connectAdmin(opts, settings.conn, settings.prepared.env);
      try {
        for (const name of [database, ...WORKING_SUFFIXES.map((suffix) => derivedName(database, suffix))]) {
          await admin.drop(name).catch(() => {});
        }
      } finally {
        await admin.close();
      }
    } else {
      await settleResetter(opts, settings.conn, database, settings.prepared.env);
    }
  };
  const unregister = onClose(close);
  const handle = { database, url, template, run, resetWhen: settings.resetWhen, reset: () => reset(), close, [Symbol.asyncDispose]: close };
  const masked = displayUrl(conn);
  return printedAs(handle, () => ({ ...handle, url: masked }));
}

/**
 * `handle`, printed (`console.log`, `util.inspect`, `JSON.stringify`, a failing `expect`'s diff) as `printed()`
 * says: with its URL masked, as a test that logs its database would otherwise put the password in the CI log. Its
 * `url` property stays the real URL, for the code that connects, and the two views are not enumerable, so spreading
 * the handle copies what it did before.
 */
export function printedAs<T extends object>(handle: T, printed: () => object): T {
  return Object.defineProperties(handle, { toJSON: { value: printed }, [inspect.custom]: { value: printed } });
}

/** This process's own run (when no global setup started one): one per base, alive while the process is. */
async function ownRun(
  conn: Parameters<typeof connectAdmin>[1],
  opts: Parameters<typeof connectAdmin>[0],
  base: string,
  env: NodeJS.ProcessEnv,
): Promise<OwnRun> {
  const holder = globalThis as unknown as Record<symbol, Map<string, Promise<OwnRun>> | undefined>;
  const runs = (holder[OWN_RUN] ??= new Map());
  let run = runs.get(base);
  if (!run) {
    run = (async () => {
      const admin = await connectAdmin(opts, conn, env);
      const id = newRunId();
      await admin.lock([runLockName(id)]);
      await dropStaleRuns(admin, base, id);
      admin.keepProcessAlive(false);
      onClose(async () => {
        runs.delete(base);
        await admin.close();
      });
      return { id, admin, base };
    })();
    runs.set(base, run);
    run.catch(() => runs.delete(base));
  }
  return run;
}

