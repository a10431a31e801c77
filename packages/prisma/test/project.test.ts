import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { AdapterError, parseConnection, Reporter, type AdapterHookTarget } from '@pgclone/core';
import { loadPrismaProject, prismaAdapterFactory, type PrismaAdapter } from '../src/index.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const prismaDir = (home: string) => path.dirname(createRequire(path.join(repoRoot, home, 'package.json')).resolve('prisma/package.json'));
const prisma7Dir = prismaDir('examples/prisma-app');
const prisma6Dir = prismaDir('test/fixtures/prisma6');

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A project folder with these files; `node_modules/prisma` links to Prisma 7 or 6 when asked. */
function project(files: Record<string, string>, options: { prisma7?: boolean; prisma6?: boolean } = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-test-prisma-unit-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  if (options.prisma7 || options.prisma6) {
    mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    symlinkSync(options.prisma7 ? prisma7Dir : prisma6Dir, path.join(dir, 'node_modules', 'prisma'), 'dir');
  }
  return dir;
}

const pgSchema = (extra = 'url = env("DATABASE_URL")') => `datasource db {\n  provider = "postgresql"\n  ${extra}\n}\n`;

describe('loadPrismaProject', () => {
  it('finds nothing in a folder without a Prisma project, and says so when one is required', async () => {
    const dir = project({ 'package.json': '{}' });
    expect(await loadPrismaProject({ cwd: dir, env: {} })).toBeUndefined();
    const factory = prismaAdapterFactory({ required: true });
    await expect(factory.detect({ cwd: dir, env: {} })).rejects.toThrow(/No Prisma project in .*--schema or --config/);
  });

  it('looks at schema.prisma before prisma/schema.prisma, as the Prisma CLI does', async () => {
    const dir = project({ 'schema.prisma': pgSchema(), 'prisma/schema.prisma': pgSchema() });
    const found = await loadPrismaProject({ cwd: dir, env: { DATABASE_URL: 'postgresql://h/db' } });
    expect(found?.schemaPath).toBe(path.join(dir, 'schema.prisma'));
    expect(found?.migrationsDir).toBe(path.join(dir, 'migrations'));
  });

  it('reads package.json "prisma" (schema folder, seed) in a Prisma 6 project', async () => {
    const dir = project({
      'package.json': JSON.stringify({ prisma: { schema: 'db/schema', seed: 'node seed.js' } }),
      'db/schema/models/user.prisma': 'model User {\n  id Int @id\n}\n',
      'db/schema/main.prisma': pgSchema(),
    });
    const found = await loadPrismaProject({ cwd: dir, env: { DATABASE_URL: 'postgresql://h/db' } });
    expect(found).toMatchObject({
      schemaPath: path.join(dir, 'db/schema'),
      migrationsDir: path.join(dir, 'db/schema/migrations'),
      seed: 'node seed.js',
      migrateUrl: { url: 'postgresql://h/db', env: 'DATABASE_URL' },
    });
    expect(found?.datasource.file).toBe(path.join(dir, 'db/schema/main.prisma'));
  });

  it('loads .env files like Prisma 6: the environment wins, then the root .env, then prisma/.env; ${VAR} expands', async () => {
    const dir = project({
      'package.json': '{}',
      '.env': 'DIRECT_URL=postgresql://${DB_HOST}/direct_root\nPOOLED_URL=postgresql://pooler/pooled?pgbouncer=true\n',
      'prisma/.env': 'DIRECT_URL=postgresql://ignored/x\nDB_HOST=also-ignored\nEXTRA=from-prisma-env\n',
      'prisma/schema.prisma': pgSchema('url = env("POOLED_URL")\n  directUrl = env("DIRECT_URL")'),
    });
    const env = { DB_HOST: 'db.internal' };
    const found = await loadPrismaProject({ cwd: dir, env });
    expect(found?.envFiles).toEqual([path.join(dir, '.env'), path.join(dir, 'prisma/.env')]);
    // directUrl wins over the pooled url for dump and restore.
    expect(found?.migrateUrl).toEqual({ url: 'postgresql://db.internal/direct_root', from: 'env("DIRECT_URL") in prisma/schema.prisma', env: 'DIRECT_URL' });
    expect(found?.pooledUrl?.url).toBe('postgresql://pooler/pooled?pgbouncer=true');
    expect(found?.env.EXTRA).toBe('from-prisma-env');
    expect(env).toEqual({ DB_HOST: 'db.internal' });
    const adapter = (await prismaAdapterFactory().detect({ cwd: dir, env })) as PrismaAdapter;
    expect(await adapter.connection()).toMatchObject({ host: 'db.internal', database: 'direct_root' });
  });

  it('keeps an unset env("…") as the connection error, so commands that need no database still work', async () => {
    const dir = project({ 'prisma/schema.prisma': pgSchema('url = env("APP_DB")') });
    const adapter = (await prismaAdapterFactory().detect({ cwd: dir, env: {} })) as PrismaAdapter;
    await expect(adapter.connection()).rejects.toThrow(/reads its url from env\("APP_DB"\), which is not set/);
  });

  it('refuses a non-PostgreSQL provider, naming it', async () => {
    const dir = project({ 'prisma/schema.prisma': 'datasource db {\n  provider = "mysql"\n  url = env("DATABASE_URL")\n}\n' });
    await expect(loadPrismaProject({ cwd: dir, env: {} })).rejects.toThrow(
      new AdapterError('The Prisma datasource "db" in prisma/schema.prisma uses provider "mysql"; pgclone works with PostgreSQL only (provider = "postgresql")'),
    );
  });

  it('runs a Prisma 7 prisma.config.ts (defineConfig, env, dotenv) and loads no .env itself', async () => {
    const dir = project(
      {
        'prisma.config.ts': [
          "import { defineConfig, env } from 'prisma/config'",
          "process.env.FROM_CONFIG ??= 'postgresql://cfg-host/from_config?schema=app'",
          'export default defineConfig({',
          "  schema: 'db/app.prisma',",
          "  migrations: { path: 'db/migrations', seed: 'tsx db/seed.ts' },",
          "  datasource: { url: env('FROM_CONFIG') },",
          '})',
        ].join('\n'),
        'db/app.prisma': 'datasource db {\n  provider = "postgresql"\n}\n',
        '.env': 'FROM_CONFIG=postgresql://dotenv/should_not_load\n',
      },
      { prisma7: true },
    );
    const env = { PATH: process.env.PATH };
    const found = await loadPrismaProject({ cwd: dir, env });
    expect(found).toMatchObject({
      configFile: path.join(dir, 'prisma.config.ts'),
      schemaPath: path.join(dir, 'db/app.prisma'),
      migrationsDir: path.join(dir, 'db/migrations'),
      seed: 'tsx db/seed.ts',
      envFiles: [],
      migrateUrl: { url: 'postgresql://cfg-host/from_config?schema=app', from: 'prisma.config.ts datasource.url' },
      cli: { major: 7 },
    });
    // The config ran against the given environment, not process.env.
    expect(process.env.FROM_CONFIG).toBeUndefined();
    expect(env).toEqual({ PATH: process.env.PATH });
  });

  it("runs the Prisma config in the project's folder, as Prisma does, wherever the caller is (import 'dotenv/config')", async () => {
    // Reads a file relative to the working directory, as `import 'dotenv/config'` reads `.env`.
    const dir = project({
      'prisma.config.mjs': "import { readFileSync } from 'node:fs'\nexport default { datasource: { url: readFileSync('./db-url.txt', 'utf8').trim() } }\n",
      'db-url.txt': 'postgresql://h/from_project_folder\n',
      'prisma/schema.prisma': pgSchema(''),
    });
    const caller = process.cwd();
    expect(caller).not.toBe(dir);
    const found = await loadPrismaProject({ cwd: dir, env: {} });
    expect(found?.migrateUrl?.url).toBe('postgresql://h/from_project_folder');
    expect(process.cwd()).toBe(caller);
  });

  it('reports a Prisma config that cannot load (an env() that is not set)', async () => {
    const dir = project(
      {
        'prisma.config.ts': "import { defineConfig, env } from 'prisma/config'\nexport default defineConfig({ datasource: { url: env('NOT_SET_ANYWHERE') } })\n",
        'prisma/schema.prisma': 'datasource db {\n  provider = "postgresql"\n}\n',
      },
      { prisma7: true },
    );
    await expect(loadPrismaProject({ cwd: dir, env: {} })).rejects.toThrow(/Cannot load the Prisma config prisma\.config\.ts: .*NOT_SET_ANYWHERE/);
  });

  it('finds prisma7.config.* and .config/prisma.* and takes --config and --schema as given', async () => {
    const schema = 'datasource db {\n  provider = "postgresql"\n}\n';
    const a = project({ '.config/prisma.mjs': "export default { schema: '../s.prisma' }\n", 's.prisma': schema });
    expect((await loadPrismaProject({ cwd: a, env: {} }))?.configFile).toBe(path.join(a, '.config/prisma.mjs'));
    expect((await loadPrismaProject({ cwd: a, env: {} }))?.schemaPath).toBe(path.join(a, 's.prisma'));
    const b = project({ 'prisma7.config.mjs': 'export default {}\n', 'prisma.config.mjs': 'export default {}\n', 'schema.prisma': schema, 'other/x.prisma': schema });
    expect((await loadPrismaProject({ cwd: b, env: {} }))?.configFile).toBe(path.join(b, 'prisma7.config.mjs'));
    const chosen = await loadPrismaProject({ cwd: b, env: {}, config: 'prisma.config.mjs', schema: 'other/x.prisma' });
    expect(chosen).toMatchObject({ configFile: path.join(b, 'prisma.config.mjs'), schemaPath: path.join(b, 'other/x.prisma'), schemaFrom: '--schema' });
    await expect(loadPrismaProject({ cwd: b, env: {}, schema: 'nope.prisma' })).rejects.toThrow(/schema nope\.prisma does not exist/);
  });
});

/** A hook target that is never connected to: the checks below fail before anything runs. */
function target(database: string, env: NodeJS.ProcessEnv = {}): AdapterHookTarget {
  const connection = parseConnection(`postgresql://u:pw@127.0.0.1:1/${database}`);
  return { connection, databaseUrl: `postgresql://u:pw@127.0.0.1:1/${database}`, database, env, reporter: new Reporter('restore') };
}

describe('PrismaAdapter hooks refuse what they cannot do safely, before running anything', () => {
  const detect = async (dir: string, env: NodeJS.ProcessEnv = {}) => (await prismaAdapterFactory().detect({ cwd: dir, env })) as PrismaAdapter;

  it('needs the project\'s own prisma package', async () => {
    const adapter = await detect(project({ 'prisma/schema.prisma': pgSchema() }), { DATABASE_URL: 'postgresql://h/app' });
    await expect(adapter.runHook('migrate', target('app__temp'))).rejects.toThrow(/prisma package is not installed in .*npm install --save-dev prisma/);
  });

  it('refuses seed when no seed is configured', async () => {
    const dir = project({ 'prisma.config.ts': 'export default { datasource: { url: "postgresql://h/app" } }\n', 'prisma/schema.prisma': pgSchema('') }, { prisma7: true });
    await expect((await detect(dir)).runHook('seed', target('app__temp'))).rejects.toThrow(/none is configured \(migrations\.seed in prisma\.config\.ts\)/);
  });

  it('refuses a Prisma 6 schema that writes its URL as a literal', async () => {
    const dir = project({ 'prisma/schema.prisma': pgSchema('url = "postgresql://u:pw@127.0.0.1:1/app"') }, { prisma6: true });
    await expect((await detect(dir)).runHook('migrate', target('app__temp'))).rejects.toThrow(/writes its url as a literal.*env\("DATABASE_URL"\)/);
  });

  it('refuses a Prisma 6 config that migrates through a driver adapter function', async () => {
    const dir = project(
      { 'prisma.config.ts': 'export default { engine: "js", adapter: async () => ({}) }\n', 'prisma/schema.prisma': pgSchema() },
      { prisma6: true },
    );
    await expect((await detect(dir, { DATABASE_URL: 'postgresql://h/app' })).runHook('migrate', target('app__temp'))).rejects.toThrow(/driver adapter/);
  });

  it('points every variable that holds the live URL at the target, and puts node_modules/.bin on PATH', async () => {
    const dir = project({
      'package.json': '{}',
      '.env': 'POOLED=postgresql://u:pw@pooler:6432/app?pgbouncer=true\nDIRECT=postgresql://u:pw@127.0.0.1:1/app?schema=s\n',
      'prisma/schema.prisma': pgSchema('url = env("POOLED")\n  directUrl = env("DIRECT")'),
    });
    const env = { COPY_OF_URL: 'postgresql://u:pw@127.0.0.1:1/app?schema=s', OTHER: 'x', PATH: '/usr/bin' };
    const adapter = await detect(dir, env);
    const url = adapter.targetUrl(parseConnection('postgresql://u:pw@127.0.0.1:1/app__temp'));
    // Same server and user: the project's own URL, database replaced, schema= kept.
    expect(url).toBe('postgresql://u:pw@127.0.0.1:1/app__temp?schema=s');
    const child = adapter.childEnv(target('app__temp', env), url);
    expect(child).toMatchObject({ POOLED: url, DIRECT: url, COPY_OF_URL: url, DATABASE_URL: url, OTHER: 'x' });
    expect(child.PATH?.split(path.delimiter)[0]).toBe(path.join(dir, 'node_modules', '.bin'));
    // Another server configured in pgclone: the target's URL with the project's schema.
    expect(adapter.targetUrl(parseConnection('postgresql://v:pw@other:5433/x__temp?application_name=web'))).toBe(
      'postgresql://v:pw@other:5433/x__temp?application_name=web&schema=s',
    );
  });
});
