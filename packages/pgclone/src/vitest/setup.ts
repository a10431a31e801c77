/**
 * Ready-made Vitest setup file: `setupFiles: ['pgclone/vitest/setup']`. Before the test file is imported, gives this
 * worker its own database and puts its URL in `DATABASE_URL` (so an app that reads it at import time connects to
 * it); then resets it before each test (`test.reset` in the pgclone config: `each`, `file` or `never`).
 */
import { afterAll, beforeEach } from 'vitest';
import { testDatabase } from '../testing/database.js';
import { restoreEnv } from './env.js';

const previous = process.env.DATABASE_URL;
const db = await testDatabase();
process.env.DATABASE_URL = db.url;
const when = db.resetWhen;
let fresh = true;
const resetUnlessFresh = async () => {
  if (fresh) fresh = false;
  else await db.reset();
};
if (when === 'each') beforeEach(resetUnlessFresh);
else if (when === 'file') await resetUnlessFresh();
afterAll(async () => {
  await db.close();
  // A process that runs the next test file too (isolate: false) must find the server's URL there, not this database's.
  restoreEnv('DATABASE_URL', previous);
});

