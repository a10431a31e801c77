import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, type CliResult } from '../../../../test/support/cli.js';

/** The repository root (its node_modules holds the real knex, pg and pgclone). */
export const REPO_ROOT = path.resolve(fileURLToPath(import.meta.url), '../../../../..');

/** The committed `knex-pgclone` bin. */
export const KNEX_PGCLONE_BIN = path.join(REPO_ROOT, 'packages/pgclone/bin/knex-pgclone.js');

/**
 * A throwaway Knex project: `files` (path → contents) in a temporary directory whose `node_modules` links to the
 * repository's, so the project's `knex` and `pg` are the real installed packages, resolved as in a user's project.
 */
export function makeProject(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-knex-'));
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  writeFiles(dir, files);
  return dir;
}

/** Writes (or overwrites) files under `dir`. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, contents] of Object.entries(files)) {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, contents);
  }
}

/** Removes a project made by {@link makeProject}. */
export function removeProject(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Runs `knex-pgclone` in `cwd` (no DATABASE_URL or PG* from outside; PGCLONE_INSTANCE=dev). */
export function knexPgclone(
  args: string[],
  options: { cwd: string; env?: Record<string, string | undefined>; onSpawn?: (child: ChildProcess) => void },
): Promise<CliResult> {
  return runCli(args, { ...options, bin: KNEX_PGCLONE_BIN, env: { NODE_ENV: undefined, ...options.env } });
}

/** A knexfile environment in JavaScript object syntax, with a URL connection. */
export function knexEnv(url: string, extra = ''): string {
  return `{ client: 'pg', connection: ${JSON.stringify(url)}, migrations: { directory: './migrations' }${extra ? `, ${extra}` : ''} }`;
}

/** An ESM migration (up runs `upSql`, down runs `downSql`). */
export function esmMigration(upSql: string, downSql = 'SELECT 1'): string {
  return `export async function up(knex) { await knex.raw(${JSON.stringify(upSql)}); }\nexport async function down(knex) { await knex.raw(${JSON.stringify(downSql)}); }\n`;
}

/** A CommonJS migration. */
export function cjsMigration(upSql: string, downSql = 'SELECT 1'): string {
  return `exports.up = async (knex) => { await knex.raw(${JSON.stringify(upSql)}); };\nexports.down = async (knex) => { await knex.raw(${JSON.stringify(downSql)}); };\n`;
}

/** A TypeScript migration (types that only jiti's transpilation removes). */
export function tsMigration(upSql: string, downSql = 'SELECT 1'): string {
  return `import type { Knex } from 'knex';\nconst sql: string = ${JSON.stringify(upSql)};\nexport async function up(knex: Knex): Promise<void> { await knex.raw(sql); }\nexport async function down(knex: Knex): Promise<void> { await knex.raw(${JSON.stringify(downSql)}); }\n`;
}
