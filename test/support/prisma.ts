import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectOutput, type CliResult } from './cli.js';

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The committed `prisma-pgclone` bin. */
export const PRISMA_PGCLONE_BIN = path.join(REPO_ROOT, 'packages/pgclone/bin/prisma-pgclone.js');
/** The example app (Prisma 7). */
export const EXAMPLE_DIR = path.join(REPO_ROOT, 'examples/prisma-app');

// Where each Prisma major is installed by `npm ci`: the example app (7) and a test fixture workspace (6).
const PRISMA_HOMES = { 7: EXAMPLE_DIR, 6: path.join(REPO_ROOT, 'test/fixtures/prisma6') } as const;

/** The directory of an installed package, resolved as `from` would resolve it. */
export function packageDir(name: string, from: string): string {
  // Node's lookup order, without resolve(): some packages do not export their package.json.
  for (const dir of createRequire(path.join(from, 'package.json')).resolve.paths(name) ?? []) {
    if (existsSync(path.join(dir, name, 'package.json'))) return path.join(dir, name);
  }
  throw new Error(`${name} is not installed (from ${from}): run npm ci`);
}

/** The `prisma` package of a major version. */
export function prismaDir(major: 6 | 7): string {
  return packageDir('prisma', PRISMA_HOMES[major]);
}

/**
 * The Prisma CLI downloads its native schema engine (and Prisma 6 its query engine library) on first use, which this
 * network cannot. Where they are absent, tests point Prisma at the offline stand-in from ../shared (a copy inside
 * node_modules/.cache, since ../shared is read-only and the copy must resolve the stand-in's npm dependencies).
 */
export function prismaEngineEnv(major: 6 | 7): Record<string, string> {
  const env: Record<string, string> = { CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' };
  const engines = packageDir('@prisma/engines', prismaDir(major));
  const files = readdirSync(engines);
  const hasSchemaEngine = files.some((f) => f.startsWith('schema-engine-') && !f.endsWith('.sha256'));
  if (!hasSchemaEngine) env.PRISMA_SCHEMA_ENGINE_BINARY = offlineSchemaEngine();
  if (major === 6 && !files.some((f) => f.startsWith('libquery_engine-'))) {
    // Prisma 6 only checks that the library exists before `migrate`/`db seed`; it never loads it there.
    env.PRISMA_QUERY_ENGINE_LIBRARY = offlineSchemaEngine();
  }
  return env;
}

let shimPath: string | undefined;
function offlineSchemaEngine(): string {
  if (shimPath) return shimPath;
  const source = path.resolve(REPO_ROOT, '../shared/tools/prisma-offline/schema-engine-shim.mjs');
  const dir = path.join(REPO_ROOT, 'node_modules/.cache/pgclone-prisma-offline');
  const target = path.join(dir, 'schema-engine-shim.mjs');
  mkdirSync(dir, { recursive: true });
  // Two test workers may get here at once: copy to a private name, then rename into place.
  const partial = `${target}.${process.pid}`;
  copyFileSync(source, partial);
  chmodSync(partial, 0o755);
  renameSync(partial, target);
  shimPath = target;
  return target;
}

const created: string[] = [];

/** Removes the projects {@link prismaProject} made in this test file (call it in `afterAll`). */
export function removePrismaProjects(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * A throwaway Prisma project: `files` written into a temp folder, with `node_modules/<name>` linked to the installed
 * packages (`prisma` of the given major, plus `links`), and the bins of `bins` in `node_modules/.bin`.
 */
export function prismaProject(options: {
  files?: Record<string, string>;
  copyFrom?: string;
  major: 6 | 7;
  links?: string[];
  bins?: Record<string, string>;
}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-test-prisma-'));
  created.push(dir);
  if (options.copyFrom) {
    cpSync(options.copyFrom, dir, {
      recursive: true,
      filter: (src) => !/[/\\](node_modules|generated|\.pgclone|\.env)$/.test(src),
    });
  }
  for (const [name, content] of Object.entries(options.files ?? {})) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  const modules = path.join(dir, 'node_modules');
  mkdirSync(path.join(modules, '.bin'), { recursive: true });
  const link = (name: string, target: string) => {
    mkdirSync(path.dirname(path.join(modules, name)), { recursive: true });
    if (!existsSync(path.join(modules, name))) symlinkSync(target, path.join(modules, name), 'dir');
  };
  link('prisma', prismaDir(options.major));
  for (const name of options.links ?? []) link(name, packageDir(name, options.copyFrom ?? EXAMPLE_DIR));
  for (const [bin, target] of Object.entries({ prisma: path.join(prismaDir(options.major), 'build/index.js'), ...options.bins })) {
    symlinkSync(target, path.join(modules, '.bin', bin));
  }
  return dir;
}

/** Runs the project's Prisma CLI (as `npx prisma …` would) with the offline engine where needed. */
export function runPrisma(dir: string, major: 6 | 7, args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...prismaEngineEnv(major) };
  for (const k of Object.keys(childEnv)) if (k.startsWith('PG') || k === 'DATABASE_URL') delete childEnv[k];
  childEnv.PATH = `${path.join(dir, 'node_modules/.bin')}${path.delimiter}${process.env.PATH ?? ''}`;
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  return collectOutput(
    spawn(process.execPath, [path.join(dir, 'node_modules/prisma/build/index.js'), ...args], { cwd: dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
}
