import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { expand } from 'dotenv-expand';

/** The environment as the Prisma CLI sees it after loading `.env` files, and which files it loaded. */
export interface LoadedEnv {
  env: NodeJS.ProcessEnv;
  files: string[];
}

/** The first directory from `cwd` up with a `package.json` (other than a generated `.prisma/client`). */
function projectRoot(cwd: string): string | undefined {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        if ((JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name !== '.prisma/client') return dir;
      } catch {
        // Prisma skips a package.json it cannot parse.
      }
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * Loads `.env` files the way the Prisma CLI (up to 6.x) does when there is no Prisma config file; with a config file
 * (and always in Prisma 7) Prisma loads none, leaving it to the config (`import 'dotenv/config'`).
 *
 * The files: `.env` beside the nearest `package.json`, then the first that exists of `.env` beside the `--schema`
 * given on the command line, `prisma/.env`, `.env` (from `cwd`). Like Prisma (dotenv, then `${VAR}` expansion), a
 * variable already set in the environment wins over the files, and the first file wins over the second.
 */
export function loadPrismaDotenv(input: { cwd: string; env: NodeJS.ProcessEnv; schemaArg?: string }): LoadedEnv {
  const root = projectRoot(input.cwd);
  const rootEnv = root ? path.join(root, '.env') : undefined;
  const candidates = [
    ...(input.schemaArg ? [path.join(path.dirname(path.resolve(input.cwd, input.schemaArg)), '.env')] : []),
    path.join(input.cwd, 'prisma', '.env'),
    path.join(input.cwd, '.env'),
  ];
  const schemaEnv = candidates.find((file) => existsSync(file));
  const env: NodeJS.ProcessEnv = { ...input.env };
  const files: string[] = [];
  for (const file of [rootEnv, schemaEnv]) {
    if (!file || !existsSync(file) || files.some((f) => path.resolve(f) === path.resolve(file))) continue;
    const parsed = dotenv.parse(readFileSync(file));
    expand({ parsed, processEnv: env as Record<string, string> });
    files.push(file);
  }
  return { env, files };
}
