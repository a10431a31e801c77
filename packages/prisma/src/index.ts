/**
 * `@pgclone/prisma`: pgclone inside a Prisma project (Prisma 6 and 7). The project is found as the Prisma CLI finds
 * it (`--config`/`prisma.config.ts`, `--schema`, `package.json` `prisma.schema`, `schema.prisma`,
 * `prisma/schema.prisma`, multi-file schema folders); its datasource (`directUrl`, else `url`) is the database pgclone
 * dumps and restores; the `migrate` hook runs the project's own `prisma migrate deploy` on the restored copy before the
 * swap, and `seed` its `prisma db seed`. `pgclone` loads this package by itself; the API is for custom runtimes.
 *
 * @packageDocumentation
 */
export { adapterFactory, prismaAdapterFactory, fromPrismaProject, type PrismaFlags, type PrismaProjectRuntime } from './factory.js';
export { PrismaAdapter, type PrismaAdapterOptions } from './adapter.js';
export { loadPrismaProject, type PrismaProject, type PrismaProjectOptions, type PrismaUrlSource } from './project.js';
export { findPrismaConfig, PRISMA_CONFIG_CANDIDATES, type PrismaConfigObject } from './config-file.js';
export { parseDatasources, POSTGRES_PROVIDERS, type DatasourceValue, type SchemaDatasource } from './datasource.js';
export { loadPrismaDotenv, type LoadedEnv } from './dotenv.js';
export { findPrismaCli, type PrismaCli } from './prisma-cli.js';
export { translatePrismaUrl, withPrismaDatabase, searchPathOption, PRISMA_ONLY_PARAMETERS, type TranslatedUrl, type LibpqConnection } from './url.js';
