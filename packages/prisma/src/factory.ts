import path from 'node:path';
import { AdapterError, type AdapterFactory } from '@pgclone/core';
import { PrismaAdapter } from './adapter.js';
import { loadPrismaProject } from './project.js';

/** The Prisma CLI's own flags, as `prisma-pgclone` and {@link fromPrismaProject} take them. */
export interface PrismaFlags {
  /** `--schema`: a schema file, or a folder of `.prisma` files (relative to the working directory). */
  schema?: string;
  /** `--config`: the Prisma config file (relative to the working directory). */
  config?: string;
  /**
   * Fail when no Prisma project is found instead of letting pgclone go on without one (`prisma-pgclone` and
   * {@link fromPrismaProject} set it; the plain `pgclone` CLI does not, as it serves Knex projects too).
   */
  required?: boolean;
}

/**
 * Creates the factory that finds a Prisma project, given Prisma's own `--schema` and `--config` flags.
 *
 * @example
 * const runtime = { adapters: [prismaAdapterFactory({ schema: 'db/schema.prisma' })] };
 */
export function prismaAdapterFactory(flags: PrismaFlags = {}): AdapterFactory {
  return {
    name: 'prisma',
    async detect({ cwd, env }) {
      const project = await loadPrismaProject({
        cwd,
        env,
        ...(flags.schema ? { schema: flags.schema } : {}),
        ...(flags.config ? { config: flags.config } : {}),
      });
      if (!project) {
        if (flags.required) {
          throw new AdapterError(
            `No Prisma project in ${path.resolve(cwd)}: found no Prisma config (prisma.config.ts, …), schema.prisma or prisma/schema.prisma ` +
              '(run from the project\'s folder, or pass --schema or --config)',
          );
        }
        return undefined;
      }
      return new PrismaAdapter(project, flags.schema ? { schemaArg: flags.schema } : {});
    },
  };
}

/** The factory `pgclone` uses when it finds a Prisma project in the working directory. */
export const adapterFactory: AdapterFactory = prismaAdapterFactory();

/** Options for pgclone's API that make it work with a Prisma project. */
export interface PrismaProjectRuntime {
  /** The directory pgclone and Prisma run from. */
  cwd: string;
  runtime: { adapters: AdapterFactory[] };
}

/**
 * Options for pgclone's `dump()`, `restore()`, `copy()` and `ls()` that use the Prisma project in `cwd` (found as the
 * Prisma CLI finds it, or from `schema`/`config`): its datasource URL is the database, and restores run
 * `prisma migrate deploy` on the restored copy before the swap.
 *
 * @example
 * import pgclone from 'pgclone';
 * import { fromPrismaProject } from '@pgclone/prisma';
 *
 * const prisma = fromPrismaProject({ config: 'prisma.config.ts' });
 * const { key } = await pgclone.dump(prisma);
 * await pgclone.restore(key, { ...prisma, reversible: true });
 */
export function fromPrismaProject(options: PrismaFlags & { cwd?: string } = {}): PrismaProjectRuntime {
  const { cwd, ...flags } = options;
  return {
    cwd: path.resolve(cwd ?? process.cwd()),
    runtime: { adapters: [prismaAdapterFactory({ required: true, ...flags })] },
  };
}
