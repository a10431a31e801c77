/**
 * Vitest global setup: `globalSetup: ['pgclone/vitest/global-setup']` (options from the `test` section of the
 * pgclone config), or your own file: `export default createGlobalSetup({ … })`. Builds or finds the template for the
 * current migrations, drops the databases of crashed runs, and at the end drops this run's databases.
 * This module does not import `vitest` (global setups run outside the test workers).
 */
import { startTestRun, type TestTemplateOptions } from '../testing/index.js';

/**
 * A Vitest `globalSetup` function: starts a test run and returns the teardown that drops the run's databases.
 *
 * @example
 * // test/global-setup.ts
 * import { createGlobalSetup } from 'pgclone/vitest/global-setup';
 * export default createGlobalSetup({ files: ['db/migrations/*.sql'], hooks: ['node db/migrate.mjs'] });
 */
export function createGlobalSetup(options: TestTemplateOptions = {}): () => Promise<() => Promise<void>> {
  return async () => {
    const run = await startTestRun(options);
    return () => run.close();
  };
}

/** The ready-made global setup (options from the pgclone config). */
const setup = createGlobalSetup();
export default setup;
