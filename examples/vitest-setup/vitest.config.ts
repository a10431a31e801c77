import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Once per run: build (or find) the template for the current migrations; drop crashed runs' databases.
    globalSetup: ['pgclone/vitest/global-setup'],
    // Once per test file, before it is imported: this worker's own database in DATABASE_URL, reset before each test.
    setupFiles: ['pgclone/vitest/setup'],
    pool: 'forks',
    maxWorkers: 2,
  },
});
