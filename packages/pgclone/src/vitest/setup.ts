/**
 * Ready-made Vitest setup file: `setupFiles: ['pgclone/vitest/setup']`. Before the test file is imported, gives this
 * worker its own database and puts its URL in `DATABASE_URL` (so an app that reads it at import time connects to
 * it); then resets it before each test (`test.reset` in the pgclone config: `each`, `file` or `never`).
 */
import { afterAll, beforeEach } from 'vitest';
import { testDatabase } from '../testing/database.js';

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
afterAll(() => db.close());

