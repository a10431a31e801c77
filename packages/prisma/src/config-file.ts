import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { AdapterError, importModule, inWorkingDir } from '@pgclone/core';

const EXTENSIONS = ['.js', '.ts', '.mjs', '.cjs', '.mts', '.cts'];

/**
 * Where the Prisma CLI looks for its config in the working directory, in its order: Prisma 7.10 prefers
 * `prisma7.config.*`; then `prisma.config.*` and the `.config/` forms that Prisma 6 and 7 read.
 */
export const PRISMA_CONFIG_CANDIDATES: readonly string[] = [
  ...EXTENSIONS.map((ext) => `prisma7.config${ext}`),
  ...EXTENSIONS.map((ext) => path.join('.config', `prisma7${ext}`)),
  ...['prisma.config', path.join('.config', 'prisma'), path.join('.config', 'prisma.config')].flatMap((base) => [
    ...EXTENSIONS.map((ext) => `${base}${ext}`),
    ...EXTENSIONS.map((ext) => path.join(base, `index${ext}`)),
  ]),
];

/** The Prisma config file in `cwd`, if any. */
export function findPrismaConfig(cwd: string): string | undefined {
  for (const candidate of PRISMA_CONFIG_CANDIDATES) {
    const file = path.resolve(cwd, candidate);
    if (existsSync(file) && statSync(file).isFile()) return file;
  }
  return undefined;
}

/** The parts of a Prisma config (`defineConfig({...})`) pgclone reads. Paths are as written (relative to the file). */
export interface PrismaConfigObject {
  schema?: string;
  migrations?: { path?: string; seed?: string; [key: string]: unknown };
  datasource?: { url?: string; directUrl?: string; shadowDatabaseUrl?: string; [key: string]: unknown };
  /** Prisma 6: `'classic'` (URL from `datasource`) or `'js'` (a driver adapter function). */
  engine?: string;
  adapter?: unknown;
  migrate?: { adapter?: unknown };
  [key: string]: unknown;
}

/** A loaded config file: its default export and the environment after running it (it may load `.env` itself). */
export interface LoadedPrismaConfig {
  file: string;
  config: PrismaConfigObject;
  env: NodeJS.ProcessEnv;
}

/**
 * Runs the project's Prisma config with jiti (TypeScript included, nothing to install), as the Prisma CLI does.
 * `prisma/config`'s `env()` and `import 'dotenv/config'` use `process.env`, so when `env` is not `process.env` it
 * stands in for `process.env` while the file runs, and `cwd` is the working directory.
 */
export async function loadPrismaConfig(file: string, env: NodeJS.ProcessEnv, display: string, cwd: string): Promise<LoadedPrismaConfig> {
  // In the folder Prisma runs in: `import 'dotenv/config'` reads the .env there.
  return inWorkingDir(cwd, () => runPrismaConfig(file, env, display));
}

async function runPrismaConfig(file: string, env: NodeJS.ProcessEnv, display: string): Promise<LoadedPrismaConfig> {
  const swap = env !== process.env;
  const saved = process.env;
  if (swap) process.env = { ...env };
  try {
    let loaded: unknown;
    try {
      loaded = await importModule(file);
    } catch (error) {
      const message = String((error as Error)?.message ?? error).split('\n')[0];
      throw new AdapterError(`Cannot load the Prisma config ${display}: ${message}`, { cause: error });
    }
    if (!loaded || typeof loaded !== 'object') {
      throw new AdapterError(`The Prisma config ${display} must export an object (export default defineConfig({ ... }))`);
    }
    return { file, config: loaded as PrismaConfigObject, env: swap ? { ...process.env } : process.env };
  } finally {
    if (swap) process.env = saved;
  }
}

/** True when the config gives Prisma Migrate a driver adapter function instead of a URL (Prisma 6 `engine: 'js'`). */
export function usesDriverAdapter(config: PrismaConfigObject): boolean {
  return config.engine === 'js' || typeof config.adapter === 'function' || typeof config.migrate?.adapter === 'function';
}
