import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/load.js';
import { resolveOptions } from '../src/config/resolve.js';
import { ConfigError, PgcloneError } from '../src/errors.js';
import type { PgcloneConfig } from '../src/config/schema.js';

const file = (config: PgcloneConfig, filepath = '/proj/pgclone.config.json') => ({ config, filepath });
const env = { DATABASE_URL: 'postgres://u:p@h:5432/app' };

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).not.toContain('\n');
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('config schema', () => {
  it('accepts every documented key at the top level and in named configs', () => {
    const bundle = {
      instance: 'i',
      database: 'default',
      databases: { default: 'postgres://h/app', other: { env: 'OTHER_URL' } },
      storageLocation: 'dumps',
      exclude: ['audit'],
      preDumpHooks: ['echo'],
      preSwapHooks: ['migrate'],
      postSwapHooks: [() => undefined],
      reversible: true,
      allowDump: true,
      allowRestore: false,
      allowCopy: true,
      statementTimeout: 1000,
      lockTimeout: 2000,
      validateDumpKeys: false,
      restoreErrorAllowList: ['extension .* already exists'],
      adapter: 'knex',
    } as const;
    expect(() => validateConfig({ ...bundle, configs: { ci: bundle } }, 'test')).not.toThrow();
  });

  it('names an unknown top-level key', () => {
    const e = configError(() => validateConfig({ storageLocaton: 'x' }, '/p/.pgclonerc'));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('"storageLocaton"');
    expect(e.message).toContain('/p/.pgclonerc');
  });

  it('names an unknown key inside a named config with its path', () => {
    const e = configError(() => validateConfig({ configs: { ci: { reversable: true } } }, 'f'));
    expect(e.message).toContain('"reversable"');
    expect(e.message).toContain('configs.ci');
  });

  it('reports the path of a bad value', () => {
    expect(configError(() => validateConfig({ configs: { ci: { reversible: 'yes' } } }, 'f')).message).toContain(
      'configs.ci.reversible',
    );
    expect(configError(() => validateConfig({ exclude: ['a', 3] }, 'f')).message).toContain('exclude.1');
    expect(configError(() => validateConfig({ lockTimeout: -1 }, 'f')).message).toContain('lockTimeout');
    expect(configError(() => validateConfig({ databases: { x: { env: 'not a var' } } }, 'f')).message).toContain('databases.x');
    expect(configError(() => validateConfig({ adapter: 'sequelize' }, 'f')).message).toContain('adapter');
    expect(configError(() => validateConfig({ configs: { '../x': {} } }, 'f')).message).toContain('configs');
    // Found only once a restore had made its temporary database and run pg_restore.
    expect(configError(() => validateConfig({ restoreErrorAllowList: ['ok', '('] }, 'f')).message).toBe(
      'Invalid pgclone config in f: restoreErrorAllowList.1: expected a regular expression (got "(")',
    );
    expect(configError(() => validateConfig({ jobs: 5000 }, 'f')).message).toContain('jobs: Too big: expected number to be <=1024');
  });
  it('names the bad value too, unless it is not a scalar or its key may hold a secret', () => {
    expect(configError(() => validateConfig({ compression: 'zstd:50' }, 'f')).message).toBe(
      'Invalid pgclone config in f: compression: expected auto, none, gzip[:1-9], zstd[:1-19] or lz4[:1-12] (got "zstd:50")',
    );
    expect(configError(() => validateConfig({ configs: { ci: { jobs: -1 } } }, 'f')).message).toMatch(/configs\.ci\.jobs: .* \(got -1\)$/);
    expect(configError(() => validateConfig({ exclude: ['a', ''] }, 'f')).message).toMatch(/exclude\.1: .* \(got ""\)$/);
    expect(configError(() => validateConfig({ jobs: { n: 2 } }, 'f')).message).not.toContain('got');
    // A URL's password is redacted; a key named like a secret never shows its value.
    const url = configError(() => validateConfig({ databases: { x: { env: 'postgres://u:hunter2@h/db' } } }, 'f')).message;
    expect(url).toContain('(got "postgres://***@h/db")');
    expect(url).not.toContain('hunter2');
    // So is whatever precedes "@" in a mangled URL, which redact()'s URL patterns do not recognise.
    const endpoint = configError(() => validateConfig({ s3: { endpoint: 'http//backup:hunter2@minio:9000' } }, 'f')).message;
    expect(endpoint).toBe(
      'Invalid pgclone config in f: s3.endpoint: expected an http:// or https:// URL such as "https://s3.example.com" (got "***@minio:9000")',
    );
    const hook = configError(() => validateConfig({ test: { hooks: [''], name: 'password!' } }, 'f')).message;
    expect(hook).toContain('test.name: use only [A-Za-z0-9_] (got "password!")');
    expect(configError(() => validateConfig({ s3: { secretAccessKey: 'AKIAXXXX' } }, 'f')).message).not.toContain('AKIAXXXX');
  });
});

describe('resolveOptions', () => {
  const base = { options: { cwd: '/proj/sub' }, env, hostname: 'host' };

  it('applies defaults', () => {
    const o = resolveOptions({ ...base, env: {} });
    expect(o).toMatchObject({
      instance: 'host',
      databaseAlias: 'default',
      keyConfig: 'none',
      storageLocation: `/proj/sub/.pgclone${path.sep}`,
      reversible: false,
      allowDump: true,
      allowRestore: true,
      allowCopy: true,
      validateDumpKeys: true,
      exclude: [],
      preSwapHooks: [],
    });
    expect(o.connection).toBeInstanceOf(PgcloneError);
    expect((o.connection as PgcloneError).code).toBe('CONNECTION_MISSING');
  });

  it('takes the instance from PGCLONE_INSTANCE before the host name', () => {
    expect(resolveOptions({ ...base, env: { PGCLONE_INSTANCE: 'ci' } }).instance).toBe('ci');
  });

  it('falls back to DATABASE_URL for alias default', () => {
    expect(resolveOptions(base).connection).toMatchObject({ database: 'app', host: 'h', port: 5432, user: 'u' });
  });

  it('reads { env } connections and names a missing variable', () => {
    const f = file({ databases: { default: { env: 'APP_URL' } } });
    expect(resolveOptions({ ...base, file: f, env: { APP_URL: 'postgres://h/x' } }).connection).toMatchObject({ database: 'x' });
    const missing = resolveOptions({ ...base, file: f, env: {} }).connection as PgcloneError;
    expect(missing.message).toContain('$APP_URL');
  });

  it('resolves precedence flag > named config > top level > defaults', () => {
    const f = file({
      instance: 'top',
      reversible: true,
      lockTimeout: 5,
      exclude: ['top_table'],
      configs: { named: { instance: 'named', exclude: ['named_table'] } },
    });
    const top = resolveOptions({ ...base, file: f });
    expect([top.instance, top.reversible, top.lockTimeout, top.exclude]).toEqual(['top', true, 5, ['top_table']]);
    const named = resolveOptions({ ...base, file: f, options: { cwd: '/proj', config: 'named' } });
    expect([named.instance, named.reversible, named.lockTimeout, named.exclude]).toEqual(['named', true, 5, ['named_table']]);
    const flag = resolveOptions({
      ...base,
      file: f,
      options: { cwd: '/proj', config: 'named', instance: 'flag', reversible: false, exclude: ['flag_table'] },
    });
    expect([flag.instance, flag.reversible, flag.exclude]).toEqual(['flag', false, ['flag_table']]);
    const defaults = resolveOptions({ ...base, file: file({}) });
    expect(defaults.lockTimeout).toBe(30_000);
  });

  it('uses the -c name as the key config part, or none when exclude or hooks are given explicitly', () => {
    const f = file({ configs: { named: { exclude: ['t'], preDumpHooks: ['echo'] } } });
    expect(resolveOptions({ ...base, file: f, options: { cwd: '/proj', config: 'named' } }).keyConfig).toBe('named');
    expect(resolveOptions({ ...base, file: f, options: { cwd: '/proj', config: 'named', exclude: ['x'] } }).keyConfig).toBe('none');
    expect(resolveOptions({ ...base, file: f, options: { cwd: '/proj', config: 'named', preDumpHooks: ['x'] } }).keyConfig).toBe('none');
    expect(resolveOptions({ ...base, file: f, options: { cwd: '/proj', config: 'named', preSwapHooks: [''] } }).keyConfig).toBe('none');
    expect(resolveOptions({ ...base, file: f }).keyConfig).toBe('none');
  });

  it('names an unknown -c config', () => {
    const e = configError(() => resolveOptions({ ...base, file: file({ configs: { ci: {} } }), options: { cwd: '/p', config: 'bad_config_name' } }));
    expect(e.code).toBe('CONFIG_UNKNOWN_NAME');
    expect(e.message).toContain('"bad_config_name"');
    expect(() => resolveOptions({ ...base, options: { cwd: '/p', config: 'x' } })).toThrow(/"x"/);
  });

  it('resolves storageLocation against the config file directory, and a flag against the CWD', () => {
    const f = file({ storageLocation: 'dumps', configs: { named: { storageLocation: '../elsewhere' } } }, '/proj/pgclone.config.json');
    expect(resolveOptions({ ...base, file: f }).storageLocation).toBe('/proj/dumps/');
    expect(resolveOptions({ ...base, file: f, options: { cwd: '/proj/sub', config: 'named' } }).storageLocation).toBe('/elsewhere/');
    expect(resolveOptions({ ...base, file: f, options: { cwd: '/proj/sub', storageLocation: 'flag' } }).storageLocation).toBe('/proj/sub/flag/');
    expect(resolveOptions({ ...base, file: file({}) }).storageLocation).toBe('/proj/.pgclone/');
    expect(resolveOptions({ ...base, file: f, options: { cwd: '/x', storageLocation: 's3://b/p/' } }).storageLocation).toBe('s3://b/p/');
  });

  it('an explicit empty hook disables configured hooks', () => {
    const f = file({ preSwapHooks: ['exit 1'], postSwapHooks: ['exit 1'] });
    const o = resolveOptions({ ...base, file: f, options: { cwd: '/proj', preSwapHooks: [''], postSwapHook: [''] } });
    expect(o.preSwapHooks).toEqual([]);
    expect(o.postSwapHooks).toEqual([]);
    expect(resolveOptions({ ...base, file: f }).preSwapHooks).toEqual(['exit 1']);
  });

  it('uses the adapter default pre-swap hooks only when none are configured', () => {
    const adapter = { name: 'knex', projectDir: '/proj', defaultPreSwapHooks: ['migrate'] };
    expect(resolveOptions({ ...base, adapter }).preSwapHooks).toEqual(['migrate']);
    expect(resolveOptions({ ...base, adapter, file: file({ preSwapHooks: [] }) }).preSwapHooks).toEqual([]);
    expect(resolveOptions({ ...base, adapter, options: { cwd: '/p', preSwapHooks: [''] } }).preSwapHooks).toEqual([]);
  });

  it('names an alias that is not configured', () => {
    const c = resolveOptions({ ...base, options: { cwd: '/p', database: 'reporting' } }).connection as PgcloneError;
    expect(c.code).toBe('CONFIG_UNKNOWN_NAME');
    expect(c.message).toContain('"reporting"');
  });
});
