import { readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConnection, PgcloneError, type AdapterFactory } from '@pgclone/core';
import {
  adapterFactory,
  assertPostgresClient,
  connectionInput,
  evaluateConnection,
  findKnexfile,
  knexAdapterFactory,
  knexInstanceAdapterFactory,
  loadKnexfile,
  sslParams,
} from '@pgclone/knex';
import { makeProject, removeProject, writeFiles } from './support/project.js';

const projects: string[] = [];
function project(files: Record<string, string>): string {
  const dir = makeProject(files);
  projects.push(dir);
  return dir;
}
afterAll(() => projects.forEach(removeProject));

async function detect(factory: AdapterFactory, cwd: string, env: NodeJS.ProcessEnv = {}) {
  return factory.detect({ cwd, env });
}

async function failure(promise: Promise<unknown>): Promise<PgcloneError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PgcloneError);
  return error as PgcloneError;
}

describe('knexfile discovery', () => {
  it('searches from the CWD up, preferring .js, .cjs, .mjs, .ts in one directory', () => {
    const dir = project({ 'knexfile.ts': '', 'knexfile.mjs': '', 'a/b/.keep': '', 'a/knexfile.cjs': '' });
    expect(findKnexfile(path.join(dir, 'a/b'))).toBe(path.join(dir, 'a/knexfile.cjs'));
    expect(findKnexfile(dir)).toBe(path.join(dir, 'knexfile.mjs'));
    writeFiles(dir, { 'knexfile.js': '' });
    expect(findKnexfile(dir)).toBe(path.join(dir, 'knexfile.js'));
  });

  it('leaves a directory without a knexfile to other adapters', async () => {
    const dir = project({ 'package.json': '{}' });
    expect(await detect(adapterFactory, dir)).toBeUndefined();
    const error = await failure(detect(knexAdapterFactory({ required: true }), dir));
    expect(error.message).toContain(`No knexfile found in ${dir}`);
  });
});

describe('loading knexfiles', () => {
  it('picks the environment section, else takes a flat config', async () => {
    const dir = project({
      'envs.cjs': "module.exports = { development: { client: 'pg', connection: 'postgres://h/dev' }, test: { client: 'pg', connection: 'postgres://h/test' } };",
      'flat.cjs': "module.exports = { client: 'pg', connection: 'postgres://h/flat' };",
    });
    const test = await loadKnexfile(path.join(dir, 'envs.cjs'), { envName: 'test' });
    expect(test.section).toBe('test');
    expect(test.config.connection).toBe('postgres://h/test');
    const flat = await loadKnexfile(path.join(dir, 'flat.cjs'), { envName: 'production' });
    expect(flat.section).toBeUndefined();
    expect(flat.config.connection).toBe('postgres://h/flat');
    const error = await failure(loadKnexfile(path.join(dir, 'envs.cjs'), { envName: 'staging' }));
    expect(error.message).toContain('has no "staging" environment (it has "development", "test")');
  });

  it('calls a default-exported (async) function, in TypeScript too', async () => {
    const dir = project({
      'package.json': JSON.stringify({ type: 'module' }),
      'knexfile.ts': "type C = { client: string; connection: string };\nexport default async (): Promise<Record<string, C>> => ({ development: { client: 'pg', connection: 'postgres://h/ts' as string } });\n",
    });
    const loaded = await loadKnexfile(path.join(dir, 'knexfile.ts'), { envName: 'development' });
    expect(loaded.config).toEqual({ client: 'pg', connection: 'postgres://h/ts' });
  });

  it('reports a knexfile that throws or exports nothing usable', async () => {
    const dir = project({ 'bad.cjs': "throw new Error('no config for you');", 'num.cjs': 'module.exports = 42;' });
    expect((await failure(loadKnexfile(path.join(dir, 'bad.cjs'), { envName: 'development' }))).message).toMatch(
      /Cannot load knexfile .*bad\.cjs: no config for you/,
    );
    expect((await failure(loadKnexfile(path.join(dir, 'num.cjs'), { envName: 'development' }))).message).toContain(
      'exports a number, not a Knex config object',
    );
  });
});

describe('the knexfile pgclone section', () => {
  it('is validated with the pgclone config schema and becomes the adapter config', async () => {
    const dir = project({
      'knexfile.cjs': "module.exports = { development: { client: 'pg', connection: 'postgres://h/db', pgclone: { exclude: ['audit'], reversible: true } } };",
    });
    const adapter = await detect(adapterFactory, dir);
    expect(adapter?.name).toBe('knex');
    expect(adapter?.projectDir).toBe(dir);
    expect(adapter?.config).toEqual({ exclude: ['audit'], reversible: true });

    const typo = project({ 'knexfile.cjs': "module.exports = { development: { client: 'pg', pgclone: { storageLocaton: 'x' } } };" });
    const error = await failure(detect(adapterFactory, typo));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('(development.pgclone): unknown key "storageLocaton"');
  });
});

describe('client check', () => {
  it('accepts pg, postgres, postgresql and PostgreSQL dialect classes, and names anything else', () => {
    for (const client of ['pg', 'postgres', 'postgresql']) expect(() => assertPostgresClient(client, 'k')).not.toThrow();
    class Pg {}
    Object.assign(Pg.prototype, { dialect: 'postgresql' });
    expect(() => assertPostgresClient(Pg, 'k')).not.toThrow();
    expect(() => assertPostgresClient('sqlite3', 'knexfile.js (test)')).toThrow(
      'Knex client "sqlite3" in knexfile.js (test) is not PostgreSQL; pgclone works with client "pg", "postgres", "postgresql"',
    );
    class Cockroach {}
    Object.assign(Cockroach.prototype, { dialect: 'cockroachdb' });
    expect(() => assertPostgresClient(Cockroach, 'k')).toThrow('is for cockroachdb, not PostgreSQL');
    expect(() => assertPostgresClient(undefined, 'k')).toThrow('has no "client"');
  });
});

describe('connections', () => {
  it('passes URLs on, with their libpq parameters', async () => {
    const input = await connectionInput('postgres://u:p%40ss@db.example:6543/app?sslmode=require&application_name=web', {}, 'k');
    expect(parseConnection(input!)).toEqual({
      host: 'db.example',
      port: 6543,
      user: 'u',
      password: 'p@ss',
      database: 'app',
      params: { sslmode: 'require', application_name: 'web' },
    });
  });

  it('reads objects as node-postgres does: a connectionString replaces the parts, PG* variables fill the gaps', async () => {
    const env = { PGHOST: 'envhost', PGUSER: 'envuser', PGPASSWORD: 'envpw' };
    expect(await connectionInput({ database: 'app' }, env, 'k')).toEqual({
      host: 'envhost',
      port: 5432,
      user: 'envuser',
      password: 'envpw',
      database: 'app',
      params: {},
    });
    expect(
      await connectionInput(
        { connectionString: 'postgres://cs@cshost/csdb?sslmode=require', host: 'ignored', port: 7000, application_name: 'web', ssl: true },
        {},
        'k',
      ),
    ).toEqual({ host: 'cshost', port: 5432, user: 'cs', database: 'csdb', params: { sslmode: 'require', application_name: 'web' } });
  });

  it('keeps a password full of URL syntax intact, and calls password and connection functions', async () => {
    const password = 'p@ss:w/rd?#%41';
    const conn = await connectionInput(
      (await evaluateConnection(async () => ({ host: 'h', user: 'u', password: async () => password, database: 'd' }), 'k')) as Record<string, unknown>,
      {},
      'k',
    );
    expect(conn).toMatchObject({ host: 'h', user: 'u', password, database: 'd' });
    expect(parseConnection(conn!).password).toBe(password);
  });

  it('reads the password Knex hides on the connection of an instance', async () => {
    const connection = { host: 'h', user: 'u', database: 'd' };
    Object.defineProperty(connection, 'password', { value: 'hidden-pw', enumerable: false });
    const factory = knexInstanceAdapterFactory({ client: { config: { client: 'pg', connection } } });
    const adapter = await detect(factory, process.cwd());
    expect(await adapter!.connection!()).toMatchObject({ password: 'hidden-pw', database: 'd' });
  });

  it('maps node-postgres ssl options to libpq parameters of the same strength', () => {
    expect(sslParams(undefined)).toEqual({});
    expect(sslParams(false)).toEqual({ sslmode: 'disable' });
    expect(sslParams({ rejectUnauthorized: false })).toEqual({ sslmode: 'require' });
    expect(sslParams(true).sslmode).toBe('verify-full');
    expect(sslParams({ checkServerIdentity: () => undefined }).sslmode).toBe('verify-ca');
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    const key = '-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----';
    const params = sslParams({ ca: Buffer.from(ca), cert: [ca], key });
    expect(params.sslmode).toBe('verify-full');
    expect(readFileSync(params.sslrootcert!, 'utf8')).toBe(`${ca}\n`);
    expect(readFileSync(params.sslcert!, 'utf8')).toBe(`${ca}\n`);
    expect(readFileSync(params.sslkey!, 'utf8')).toBe(`${key}\n`);
    expect(statSync(params.sslkey!).mode & 0o077).toBe(0);
    expect(statSync(path.dirname(params.sslkey!)).mode & 0o077).toBe(0);
    // Removed at exit; a test worker may be killed instead of exiting.
    rmSync(path.dirname(params.sslkey!), { recursive: true, force: true });
  });

  it('builds the connection for alias default from the selected environment', async () => {
    const dir = project({
      'knexfile.js': `module.exports = {
  development: { client: 'pg', connection: { host: 'devhost', port: '5433', user: 'dev', password: 'pw', database: 'devdb', ssl: { rejectUnauthorized: false } } },
  production: { client: 'pg', connection: () => 'postgres://prod@prodhost/proddb' },
};`,
    });
    const dev = await detect(adapterFactory, dir, {});
    expect(await dev!.connection!()).toEqual({
      host: 'devhost',
      port: 5433,
      user: 'dev',
      password: 'pw',
      database: 'devdb',
      params: { sslmode: 'require' },
    });
    const prod = await detect(adapterFactory, dir, { NODE_ENV: 'production' });
    expect(await prod!.connection!()).toBe('postgres://prod@prodhost/proddb');
    const flag = await detect(knexAdapterFactory({ env: 'production' }), dir, { NODE_ENV: 'development' });
    expect(await flag!.connection!()).toBe('postgres://prod@prodhost/proddb');
  });
});
