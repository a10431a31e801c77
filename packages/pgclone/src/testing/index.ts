/**
 * Test setup helpers: a template per migrations hash, a database per test worker, resets in milliseconds.
 * Framework-neutral; `pgclone/vitest` wires them into Vitest. See docs/testing.md.
 *
 * @packageDocumentation
 */
export { testDatabase, type TestDatabase, type TestDatabaseOptions } from './database.js';
export { startTestRun, dropStaleRuns, RUN_ENV, type TestRun } from './run.js';
export { ensureTemplate, type TestTemplate } from './template.js';
export type { TestTemplateOptions } from './settings.js';
