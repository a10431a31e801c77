import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { databases, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';

// The example app's own Vitest suite (examples/vitest-setup), run as CI would run it: its global setup builds the
// template from the migrations, each of its two workers gets its own database, and the run cleans up after itself.

const root = fileURLToPath(new URL('..', import.meta.url));
const exampleDir = path.join(root, 'examples', 'vitest-setup');

function runExample(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; output: string }> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Not the outer run's Vitest worker variables, PG* connection or pgclone test run.
    if (/^(VITEST|PG|PGCLONE_|DATABASE_URL$|NODE_ENV$|TEST$)/.test(k)) continue;
    childEnv[k] = v;
  }
  Object.assign(childEnv, env, { NO_COLOR: '1', CI: 'true' });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...args], {
      cwd: exampleDir,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('examples/vitest-setup', () => {
  const base = uniqueName('shop');
  afterAll(async () => {
    for (const name of await databases()) {
      if (name.startsWith(`${base}_tpl_`)) await sql('postgres', `ALTER DATABASE ${ident(name)} WITH IS_TEMPLATE false`);
    }
    await dropDatabases(base);
  });

  it('passes with per-worker databases reset between tests, and leaves only the template behind', async () => {
    const first = await runExample({ DATABASE_URL: dbUrl(base) });
    expect(first.code, first.output).toBe(0);
    expect(first.output).toMatch(/Tests\s+11 passed/);
    const left = (await databases()).filter((d) => d.startsWith(base));
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(new RegExp(`^${base}_tpl_[0-9a-f]{12}$`));
  });

  it('passes without a global setup in one process that runs every file (isolate: false), leaving only the template', async () => {
    // The setup file left DATABASE_URL pointing at the worker's database, which its own run dropped after the file:
    // the next file's setup took that name as the base, built a junk template of it and then failed (name too long).
    const configDir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-example-'));
    const config = path.join(configDir, 'vitest.config.mjs');
    writeFileSync(
      config,
      `export default ${JSON.stringify({
        root: exampleDir,
        test: { include: ['test/**/*.test.ts'], setupFiles: ['pgclone/vitest/setup'], pool: 'forks', maxWorkers: 1, isolate: false },
      })};\n`,
    );
    try {
      const run = await runExample({ DATABASE_URL: dbUrl(base) }, ['--config', config]);
      expect(run.code, run.output).toBe(0);
      expect(run.output).toMatch(/Tests\s+11 passed/);
    } finally {
      rmSync(configDir, { recursive: true, force: true });
    }
    const left = (await databases()).filter((d) => d.startsWith(base));
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(new RegExp(`^${base}_tpl_[0-9a-f]{12}$`));
  });
});
