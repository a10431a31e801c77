// The whole test suite: PostgreSQL binaries (installed with apt on a fresh Debian machine as root), a build,
// then vitest against real servers. Ends with a plain "N passed, N failed" line and a non-zero exit on failure.
// Extra arguments go to vitest (e.g. `npm test -- test/restore.test.ts`).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensurePostgres } from './ensure-postgres.mjs';

ensurePostgres();

// Everything the tests write to the temp directory (clusters, dumps, spools, projects: ~0.3 GB a run) goes below one
// directory of this run, removed at its end. Readable by all: the postgres user reaches its clusters' data below it.
// The PostgreSQL 18 server fetched from npm stays in the real temp directory, for the next run.
const runTmp = mkdtempSync(path.join(os.tmpdir(), 'pgclone-test-run-'));
chmodSync(runTmp, 0o755);
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', TMPDIR: runTmp, PGCLONE_TEST_CACHE_DIR: os.tmpdir() };
const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env });
process.on('exit', () => rmSync(runTmp, { recursive: true, force: true }));

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
