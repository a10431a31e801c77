import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** The project's own Prisma CLI (the `prisma` package in its node_modules). */
export interface PrismaCli {
  /** The package directory. */
  dir: string;
  /** The CLI entry point, run with the current Node. */
  bin: string;
  version: string;
  major: number;
}

/**
 * Resolves the `prisma` package as Node would from `cwd` (so from the project's node_modules, hoisted or not).
 * pgclone never bundles Prisma: migrations run with the version the project pinned.
 */
export function findPrismaCli(cwd: string): PrismaCli | undefined {
  let pkgFile: string;
  try {
    pkgFile = createRequire(path.join(path.resolve(cwd), 'package.json')).resolve('prisma/package.json');
  } catch {
    return undefined;
  }
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { version?: string; bin?: string | Record<string, string> };
  const dir = path.dirname(pkgFile);
  const binPath = typeof pkg.bin === 'string' ? pkg.bin : (pkg.bin?.prisma ?? 'build/index.js');
  const version = pkg.version ?? '0.0.0';
  return { dir, bin: path.join(dir, binPath), version, major: Number(version.split('.')[0]) || 0 };
}
