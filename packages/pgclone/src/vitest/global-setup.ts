/**
 * Ready-made Vitest global setup: `globalSetup: ['pgclone/vitest/global-setup']`. Builds or finds the template for
 * the current migrations (options from the `test` section of the pgclone config), drops the databases of crashed
 * runs, and at the end drops this run's databases.
 */
import { startTestRun } from '../testing/index.js';

export default async function setup(): Promise<() => Promise<void>> {
  const run = await startTestRun();
  return () => run.close();
}
