/**
 * `pgclone/vitest`: test databases for Vitest.
 *
 * vitest.config.ts:
 * ```ts
 * test: {
 *   globalSetup: ['pgclone/vitest/global-setup'], // builds the template once, cleans up crashed runs, drops the run's databases
 *   setupFiles: ['pgclone/vitest/setup'],         // per worker: its own database in DATABASE_URL, reset before each test
 * }
 * ```
 * or, for more control, `createGlobalSetup` (import it from `pgclone/vitest/global-setup` in a global setup file, which
 * runs outside the workers) and {@link useTestDatabase}. See docs/testing.md.
 *
 * @packageDocumentation
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { redact } from '@pgclone/core';
import { startTestRun, type TestTemplateOptions } from '../testing/index.js';
export { createGlobalSetup } from './global-setup.js';
import { printedAs, testDatabase, type TestDatabase, type TestDatabaseOptions } from '../testing/database.js';
import type { ResetResult } from '../fast-restore.js';
import { restoreEnv } from './env.js';

export { testDatabase, startTestRun, type TestDatabase, type TestDatabaseOptions, type TestTemplateOptions };

/** When {@link useTestDatabase} resets the database. */
export type ResetWhen = 'each' | 'file' | 'never';

/** Options of {@link useTestDatabase}. */
export interface UseTestDatabaseOptions extends TestDatabaseOptions {
  /** Reset before each test (default), once before the file's tests, or never. */
  reset?: ResetWhen;
  /** Environment variable to set to the database's URL in `beforeAll` (default `DATABASE_URL`; `false`: none). */
  envVar?: string | false;
}

/** The handle {@link useTestDatabase} returns; its fields are there from `beforeAll` on. */
export interface TestDatabaseRef {
  readonly database: string;
  readonly url: string;
  /** Resets now (for a test that wants a clean database midway). */
  reset(): Promise<ResetResult>;
}

/**
 * Registers `beforeAll` (get this worker's database, set `DATABASE_URL`), `beforeEach` (reset) and `afterAll`
 * (release) in the current file or suite. Code that reads `DATABASE_URL` when it is imported needs the database
 * earlier: use the setup file `pgclone/vitest/setup` instead.
 *
 * @example
 * const db = useTestDatabase();
 * it('inserts', async () => { const pool = new pg.Pool({ connectionString: db.url }); … });
 */
export function useTestDatabase(options: UseTestDatabaseOptions = {}): TestDatabaseRef {
  const { reset: when = 'each', envVar = 'DATABASE_URL', ...rest } = options;
  let db: TestDatabase | undefined;
  let fresh = false;
  let previous: string | undefined;
  const need = (): TestDatabase => {
    if (!db) throw new Error('The test database is ready from beforeAll on (useTestDatabase)');
    return db;
  };
  beforeAll(async () => {
    if (envVar) previous = process.env[envVar];
    db = await testDatabase(rest);
    fresh = true;
    if (envVar) process.env[envVar] = db.url;
    if (when === 'file') await resetUnlessFresh();
  });
  async function resetUnlessFresh(): Promise<void> {
    if (fresh) fresh = false;
    else await need().reset();
  }
  if (when === 'each') beforeEach(resetUnlessFresh);
  afterAll(async () => {
    await db?.close();
    // The next file run in this process (isolate: false) finds the server's URL there again, not this database's.
    if (envVar) restoreEnv(envVar, previous);
  });
  const ref = {
    get database() {
      return need().database;
    },
    get url() {
      return need().url;
    },
    reset: () => {
      fresh = false;
      return need().reset();
    },
  };
  // Before beforeAll there is nothing to show (and nothing secret).
  return printedAs(ref, () => (db ? { database: db.database, url: redact(db.url) } : {}));
}
