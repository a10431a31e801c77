// The whole test suite: PostgreSQL binaries (installed with apt on a fresh Debian machine as root), a build,
// then vitest against real servers. Ends with a plain "N passed, N failed" line and a non-zero exit on failure.
// Extra arguments go to vitest (e.g. `npm test -- test/restore.test.ts`).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { ensurePostgres } from './ensure-postgres.mjs';

ensurePostgres();

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } });

const build = run('npm', ['run', 'build', '--silent']);
if (build.status !== 0) {
  console.log('0 passed, 1 failed (build failed)');
  process.exit(1);
}

mkdirSync('test-results', { recursive: true });
const report = 'test-results/vitest.json';
rmSync(report, { force: true });
const vitest = run('node_modules/.bin/vitest', ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)]);

let passed = 0;
let failed = 0;
if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed = json.numPassedTests ?? 0;
  failed = (json.numFailedTests ?? 0) + (json.numFailedTestSuites ?? 0 ? 0 : 0);
  // A file that failed to load has no tests; count it as a failure so it cannot pass silently.
  for (const file of json.testResults ?? []) if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) failed += 1;
} else {
  failed = 1;
}
if (vitest.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || vitest.status !== 0 ? 1 : 0);
