import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cluster, databases, ident, sql } from './pg.js';

const run = promisify(execFile);

/** The repository root (the directory holding `packages/` and `test/`). */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** A fresh temporary directory; remove it with {@link removeDir}. */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `pgclone-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Writes `files` (relative path → text, or a value written as JSON) under `dir`, creating folders. */
export function writeFiles(dir: string, files: Record<string, unknown>): void {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
}

/** A PostgreSQL client program of the test cluster's major version. */
export function pgBin(name: 'pg_dump' | 'pg_restore' | 'psql'): string {
  return path.join(cluster().binDir, name);
}

/** Environment that connects libpq programs to `database` of the test cluster (password in the environment only). */
export function libpqEnv(database: string): NodeJS.ProcessEnv {
  const c = cluster();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('PG') || k === 'DATABASE_URL') delete env[k];
  return { ...env, PGHOST: c.host, PGPORT: String(c.port), PGUSER: c.user, PGPASSWORD: c.password, PGDATABASE: database };
}

/** A plain `pg_dump -Fc --no-acl --no-owner` of `database` into `file` (no pgclone involved). */
export async function plainDump(database: string, file: string): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  await run(pgBin('pg_dump'), ['-Fc', '--no-acl', '--no-owner', '-f', file], { env: libpqEnv(database) });
}

/** Runs a psql script file on `database`, with `-v` variables. */
export async function psqlFile(database: string, file: string, vars: Record<string, string> = {}): Promise<void> {
  const args = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...Object.entries(vars).flatMap(([k, v]) => ['-v', `${k}=${v}`]), '-f', file];
  await run(pgBin('psql'), args, { env: libpqEnv(database), maxBuffer: 64 * 1024 * 1024 });
}

/** Copies a dump file into a storage directory under `key`. */
export function layDump(storageDir: string, key: string, file: string): void {
  const target = path.join(storageDir, ...key.split('/'));
  mkdirSync(path.dirname(target), { recursive: true });
  copyFileSync(file, target);
}

/** A valid key with the given parts. */
export function keyAt(stamp: string, instance = 'dev', alias = 'default', config = 'none'): string {
  return `${instance}/${alias}/${config}/${stamp}.dump`;
}

/** Row count of a table. */
export async function count(database: string, table: string): Promise<number> {
  return (await sql<{ n: number }>(database, `SELECT count(*)::int AS n FROM ${table}`))[0]!.n;
}

/** The OID of a database, or undefined: a restore that swapped the database changes it. */
export async function databaseOid(name: string): Promise<number | undefined> {
  const rows = await sql<{ oid: number }>('postgres', 'SELECT oid::int AS oid FROM pg_database WHERE datname = $1', [name]);
  return rows[0]?.oid;
}

/** Databases whose names start with `prefix`, sorted. */
export async function databasesLike(prefix: string): Promise<string[]> {
  return (await databases()).filter((d) => d.startsWith(prefix)).sort();
}

/** A database with one table `users(id serial, name text)` holding `names`. */
export async function usersDatabase(name: string, names: string[]): Promise<void> {
  await sql('postgres', `DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
  await sql('postgres', `CREATE DATABASE ${ident(name)} TEMPLATE template0`);
  await sql(name, 'CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)');
  for (const n of names) await sql(name, 'INSERT INTO users (name) VALUES ($1)', [n]);
}

/** Names in `users`, ordered by id. */
export async function userNames(database: string): Promise<string[]> {
  return (await sql<{ name: string }>(database, 'SELECT name FROM users ORDER BY id')).map((r) => r.name);
}

/** A running process as /proc shows it. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  /** Arguments, NUL separators turned into spaces. */
  cmdline: string;
}

/** The processes below `root` (children, grandchildren, …), read from /proc. Processes that exit meanwhile are skipped. */
export function descendants(root: number): ProcInfo[] {
  const all: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      all.push({ pid: Number(entry), ppid, comm, cmdline });
    } catch {
      // exited while we looked
    }
  }
  const below = new Set([root]);
  const out: ProcInfo[] = [];
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (below.has(p.ppid) && !below.has(p.pid)) {
        below.add(p.pid);
        out.push(p);
        grew = true;
      }
    }
  }
  return out;
}

/** Every file under `dir` (relative paths, `/`-separated), hidden ones included; [] when `dir` is missing. */
export function filesUnder(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** `parent/name`, created if missing. */
export function subdir(parent: string, ...names: string[]): string {
  const dir = path.join(parent, ...names);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** {@link filesUnder} without sidecars that describe a dump (manifests, pins): the dumps a store holds. */
export function dumpsUnder(dir: string): string[] {
  return filesUnder(dir).filter((f) => !/\.(manifest|pin)\.json$/.test(f));
}
