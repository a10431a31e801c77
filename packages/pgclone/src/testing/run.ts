import { checkTestOptions, connectAdmin, interruptible, PgcloneError, type Admin } from '@pgclone/core';
import { onClose, settleSession } from '../session.js';
import { newRunId, runDatabasePattern, runLockName } from './names.js';
import { testRuntime, testSettings, type TestTemplateOptions } from './settings.js';
import { findOrBuildTemplate, type TestTemplate } from './template.js';

/** Environment variables through which a run hands its template and id to the worker processes. */
export const RUN_ENV = {
  run: 'PGCLONE_TEST_RUN',
  base: 'PGCLONE_TEST_BASE',
  template: 'PGCLONE_TEST_TEMPLATE',
} as const;

/** One test run: the template it clones and the id in its databases' names. */
export interface TestRun extends AsyncDisposable {
  readonly id: string;
  readonly base: string;
  readonly template: TestTemplate;
  /** Databases of crashed earlier runs that this run dropped at its start. */
  readonly droppedStale: string[];
  /** Drops this run's databases, ends the run's session and removes the run's environment variables. */
  close(): Promise<void>;
}

/**
 * Starts a test run (a Vitest `globalSetup`, a Jest `globalSetup`, or a script): builds or finds the template,
 * drops the databases of crashed earlier runs, and exports `PGCLONE_TEST_RUN`, `PGCLONE_TEST_BASE` and
 * `PGCLONE_TEST_TEMPLATE` so that worker processes started afterwards clone the same template under the same run.
 * The run stays alive (and its databases safe from other runs' cleanup) while this process holds the run's lock.
 */
export async function startTestRun(options: TestTemplateOptions = {}): Promise<TestRun> {
  checkTestOptions(options, 'startTestRun');
  return interruptible(options.signal, 'The test run', () => startTestRunNow(options));
}

async function startTestRunNow(options: TestTemplateOptions): Promise<TestRun> {
  const runtime = await testRuntime(options);
  const settings = await testSettings(options, runtime);
  const opts = settings.prepared.options;
  const admin = await connectAdmin(opts, settings.conn, settings.prepared.env);
  const id = newRunId();
  let closed = false;
  try {
    const template = await findOrBuildTemplate(settings, runtime, admin);
    // Aborted while a build (by this or another process) finished: no run is started.
    if (settings.signal?.aborted) throw new PgcloneError('INTERRUPTED', 'The test run was interrupted');
    await admin.lock([runLockName(id)]);
    const droppedStale = await dropStaleRuns(admin, settings.base, id);
    admin.keepProcessAlive(false);
    const env = options.env ?? process.env;
    Object.assign(env, { [RUN_ENV.run]: id, [RUN_ENV.base]: settings.base, [RUN_ENV.template]: template.name });
    const close = async () => {
      if (closed) return;
      closed = true;
      unregister();
      admin.keepProcessAlive(true);
      try {
        // A worker database's spare still being made in this process would be created after the drop.
        await settleSession();
        await dropRunDatabases(admin, settings.base, id);
      } finally {
        await admin.close();
        for (const name of Object.values(RUN_ENV)) if (env[name] !== undefined) delete env[name];
      }
    };
    const unregister = onClose(close);
    return { id, base: settings.base, template, droppedStale, close, [Symbol.asyncDispose]: close };
  } catch (error) {
    await admin.close();
    throw error;
  }
}

/**
 * Drops the databases of `base`'s runs that no live process holds (crashed or killed runs), except run `except`.
 * Returns the names dropped.
 */
export async function dropStaleRuns(admin: Admin, base: string, except?: string): Promise<string[]> {
  const pattern = runDatabasePattern(base);
  const byRun = new Map<string, string[]>();
  for (const db of await admin.listDatabases()) {
    const run = pattern.exec(db.name)?.[1];
    if (!run || run === except) continue;
    byRun.set(run, [...(byRun.get(run) ?? []), db.name]);
  }
  const dropped: string[] = [];
  for (const [run, names] of byRun) {
    if (!(await admin.tryLock(runLockName(run)))) continue; // alive
    try {
      for (const name of names) {
        await admin.drop(name);
        dropped.push(name);
      }
    } finally {
      await admin.unlock(runLockName(run));
    }
  }
  return dropped;
}

/** Drops every database of run `run`. */
export async function dropRunDatabases(admin: Admin, base: string, run: string): Promise<string[]> {
  const pattern = runDatabasePattern(base);
  const dropped: string[] = [];
  for (const db of await admin.listDatabases()) {
    if (pattern.exec(db.name)?.[1] !== run) continue;
    await admin.drop(db.name);
    dropped.push(db.name);
  }
  return dropped;
}
