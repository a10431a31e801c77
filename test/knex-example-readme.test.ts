import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databases, dbUrl, dropDatabases, sql, uniqueName } from './support/pg.js';

const REPO = path.resolve(fileURLToPath(import.meta.url), '../..');
const EXAMPLE = path.join(REPO, 'examples/knex-app');

/** The ```sh blocks of the example's README, in order: the walkthrough a user types. */
function shellBlocks(): string[] {
  const readme = readFileSync(path.join(EXAMPLE, 'README.md'), 'utf8');
  return [...readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

function runShell(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('examples/knex-app README', () => {
  const db = uniqueName('knexapp');
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    // A copy of the example as a clean clone has it (no dumps), resolving packages from the repository's install.
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-knex-app-'));
    cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/[/\\](node_modules|\.pgclone)$/.test(src) });
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    env = { ...process.env, DATABASE_URL: dbUrl(db), npm_config_update_notifier: 'false', NO_COLOR: '1' };
    for (const k of Object.keys(env)) if (k.startsWith('PG') || k === 'NODE_ENV') delete env[k];
  });
  afterAll(async () => {
    await dropDatabases(db);
    rmSync(dir, { recursive: true, force: true });
  });

  const count = async (table: string, database = db) => (await sql<{ n: number }>(database, `SELECT count(*)::int AS n FROM ${table}`))[0]!.n;
  const migrations = async (database = db) => (await sql<{ name: string }>(database, 'SELECT name FROM knex_migrations ORDER BY id')).map((r) => r.name);
  const userColumns = async () =>
    (await sql<{ c: string }>(db, "SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'users' ORDER BY ordinal_position")).map((r) => r.c);
  const base = ['20240101000000_create_users.ts', '20240102000000_create_posts.ts', '20240103000000_create_sessions.ts'];

  it('works verbatim: dump, add a migration, restore --reversible, roll back with :pre', async () => {
    const blocks = shellBlocks();
    expect(blocks).toHaveLength(6);
    const run = async (i: number) => {
      const result = await runShell(blocks[i]!, dir, env);
      expect(result.code, `README block ${i + 1}:\n${blocks[i]}\n${result.output}`).toBe(0);
      return result.output;
    };

    await run(0);
    expect(await migrations()).toEqual(base);
    expect([await count('users'), await count('posts'), await count('sessions')]).toEqual([2, 2, 1]);

    const dumped = await run(1);
    expect(dumped).toMatch(/^dev\/default\/none\/\d{4}(-\d{2}){5}-\d{6}\.dump$/m);

    await run(2);
    const restored = await run(3);
    expect(restored).toContain('Running migration 20240104000000_add_users_nickname.ts');
    expect(restored).toContain('Filled users.nickname from email addresses');
    expect(restored).toContain('Found 4 Completed Migration file/files.');
    expect(await migrations()).toEqual([...base, '20240104000000_add_users_nickname.ts']);
    expect(await sql(db, 'SELECT nickname FROM users ORDER BY id')).toEqual([{ nickname: 'ada' }, { nickname: 'grace' }]);
    expect(await count('sessions')).toBe(0); // excluded by the knexfile's pgclone section

    const local = await run(4);
    expect(local).toContain(`:${db}__pre`);
    expect(local).toContain(`:${db}__post`);

    const rolledBack = await run(5);
    expect(rolledBack).toContain('Found 3 Completed Migration file/files.');
    expect(await migrations()).toEqual(base);
    expect(await userColumns()).not.toContain('nickname');
    expect(await count('sessions')).toBe(1); // the database as it was before the restore
    expect(await databases()).not.toContain(`${db}__temp`);
  }, 300_000); // about twenty npm, npx and knex-pgclone runs
});
