// Config files through the real CLI: search, formats, validation errors, named configs and precedence.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { dumpsUnder, filesUnder, keyAt, removeDir, subdir, tempDir, usersDatabase, writeFiles } from './support/fixtures.js';
import { dbUrl, dropDatabases, uniqueName } from './support/pg.js';

const root = tempDir('config');
afterAll(() => removeDir(root));

/** A project directory with `files`, plus an empty file under each of `keys` (relative to the project). */
function project(name: string, files: Record<string, unknown>, keys: Record<string, string> = {}): string {
  const dir = subdir(root, name);
  writeFiles(dir, files);
  writeFiles(dir, Object.fromEntries(Object.entries(keys).map(([store, key]) => [path.join(store, key), 'x'])));
  return dir;
}

const k1 = keyAt('2026-01-01-00-00-00-000001');

describe.concurrent('config files', () => {
  it('reads the "pgclone" key of package.json, searching up from a subdirectory', async ({ expect }) => {
    const dir = project('pkg', { 'package.json': { name: 'app', pgclone: { storageLocation: 'pkg-dumps' } } }, { 'pkg-dumps': k1 });
    const r = await runCli(['ls'], { cwd: subdir(dir, 'src', 'deep') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toEqual([k1]);
  });

  it("an empty config file is the project's config, all defaults: the search does not go on to a parent's", async ({ expect }) => {
    const k2 = keyAt('2026-01-01-00-00-00-000002');
    const dir = project('empty-file', { '.pgclonerc.json': { storageLocation: 'parent-dumps' }, 'app/pgclone.config.json': '' }, { 'parent-dumps': k1, 'app/.pgclone': k2 });
    const r = await runCli(['ls'], { cwd: path.join(dir, 'app') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toEqual([k2]);
  });

  it('loads a TypeScript config (pgclone.config.ts)', async ({ expect }) => {
    const dir = project(
      'ts',
      { 'pgclone.config.ts': `const location: string = 'ts-dumps';\nexport default { storageLocation: location };\n` },
      { 'ts-dumps': k1 },
    );
    const r = await runCli(['ls'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toEqual([k1]);
  });

  it("keeps the transpiled TypeScript in the project's node_modules/.cache, never in the shared temp dir", async ({ expect }) => {
    // A config may hold a password: jiti's default cache, /tmp/jiti, is readable by every user of the machine.
    const marker = uniqueName('cached');
    const tsConfig = (location: string) => `const location: string = '${location}';\nexport default { storageLocation: location };\n`;
    const withModules = project('ts-cache', { 'pgclone.config.ts': tsConfig(`${marker}-a`), 'node_modules/.keep': '' }, { [`${marker}-a`]: k1 });
    const bare = project('ts-nocache', { 'pgclone.config.ts': tsConfig(`${marker}-n`) }, { [`${marker}-n`]: k1 });
    for (const dir of [withModules, bare]) {
      const r = await runCli(['ls'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.lines).toEqual([k1]);
    }
    const cacheDir = path.join(withModules, 'node_modules', '.cache', 'pgclone-jiti');
    const cached = filesUnder(cacheDir).filter((f) => readFileSync(path.join(cacheDir, f), 'utf8').includes(marker));
    expect(cached).toHaveLength(1);
    expect(existsSync(path.join(bare, 'node_modules'))).toBe(false);
    const sharedDir = path.join(os.tmpdir(), 'jiti');
    const shared = filesUnder(sharedDir).filter((f) => f.includes('pgclone.config'));
    expect(shared.filter((f) => readFileSync(path.join(sharedDir, f), 'utf8').includes(marker))).toEqual([]);

    // An edited config is transpiled again, not served stale from the cache.
    const k2 = keyAt('2026-01-02-00-00-00-000002');
    writeFiles(withModules, { 'pgclone.config.ts': tsConfig(`${marker}-b`), [path.join(`${marker}-b`, k2)]: 'x' });
    const edited = await runCli(['ls'], { cwd: withModules });
    expect(edited.code, edited.stderr).toBe(0);
    expect(edited.lines).toEqual([k2]);
  });

  it('--config-file overrides the search', async ({ expect }) => {
    const k2 = keyAt('2026-01-01-00-00-00-000002');
    const dir = project(
      'explicit',
      { '.pgclonerc.json': { storageLocation: 'searched' }, 'conf/other.json': { storageLocation: 'chosen' } },
      { searched: k1, 'conf/chosen': k2 },
    );
    expect((await runCli(['ls'], { cwd: dir })).lines).toEqual([k1]);
    const r = await runCli(['ls', '--config-file', 'conf/other.json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toEqual([k2]); // relative to the config file's directory
    const missing = await runCli(['ls', '--config-file', 'nope.json'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Config file "nope.json" does not exist');
  });

  it('a JS/TS config that throws is one error line naming the file that threw', async ({ expect }) => {
    // Found in a parent directory, the file is not the obvious one: the message must say which it was.
    const dir = project('throws', { 'pgclone.config.mjs': 'throw new Error("no STAGE set");\n' });
    const r = await runCli(['ls'], { cwd: subdir(dir, 'src') });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(path.join(dir, 'pgclone.config.mjs'));
    expect(r.stderr).toContain('no STAGE set');
  });

  it('a TypeScript config that imports a missing package is one line naming the file and the package, without Node\'s require stack', async ({ expect }) => {
    const dir = project('missing-import', { 'pgclone.config.ts': "import { x } from 'no-such-package-pgclone';\nexport default { instance: x };\n" });
    const r = await runCli(['ls'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(path.join(dir, 'pgclone.config.ts'));
    expect(r.stderr).toContain("Cannot find module 'no-such-package-pgclone'");
    expect(r.stderr).not.toContain('Require stack');
  });

  it('an unknown key is an error naming the key', async ({ expect }) => {
    const dir = project('unknown-key', { '.pgclonerc.json': { storageLocaton: 'typo' } });
    const r = await runCli(['ls'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('unknown key "storageLocaton"');
    expect(r.stderr).toContain(path.join(dir, '.pgclonerc.json'));
  });

  it('a bad value is an error naming its path', async ({ expect }) => {
    const dir = project('bad-value', { '.pgclonerc.yaml': 'configs:\n  ci:\n    reversible: "yes"\n' });
    const r = await runCli(['ls'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('configs.ci.reversible');
  });

  it('a connection that is neither a URL nor { env } says what is expected, never the value', async ({ expect }) => {
    // It said only "databases.default: Invalid input"; the value may hold a password, so the rule is what helps.
    const dir = project('bad-connection', { '.pgclonerc.json': { databases: { default: { url: 'postgres://u:s3cret@h/db' } } } });
    const r = await runCli(['ls'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('databases.default: expected a connection URL or { "env": "VARIABLE" }');
    expect(r.stderr).not.toContain('s3cret');
  });

  it('an unknown -c name is an error naming it', async ({ expect }) => {
    const dir = project('unknown-name', { '.pgclonerc.json': { configs: { ci: {} } } });
    const r = await runCli(['ls', '-c', 'nightly'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('"nightly" is not a config name (known: ci)');
  });

  it("a -c or -d name that every JavaScript object has (toString, constructor) is unknown like any other", async ({ expect }) => {
    const dir = project('proto-names', { '.pgclonerc.json': { configs: { ci: {} }, databases: { reporting: { env: 'REPORTING_URL' } } } });
    for (const [args, error] of [
      [['ls', '-c', 'hasOwnProperty'], '"hasOwnProperty" is not a config name (known: ci)'],
      [['dump', '-c', 'toString'], '"toString" is not a config name (known: ci)'],
      [['ls', '-d', 'constructor'], 'Database alias "constructor" is not configured'],
      [['dump', '-d', '__proto__'], 'Database alias "__proto__" is not configured'],
    ] as const) {
      const r = await runCli([...args], { cwd: dir });
      expect([r.code, r.stdout, r.stderr], args.join(' ')).toEqual([1, '', expect.stringContaining(error)]);
    }
  });

  it('a bad name under configs or databases is an error naming the name and the rule, never the value', async ({ expect }) => {
    const badConfig = project('bad-config-name', { '.pgclonerc.json': { configs: { 'my.cfg': {} } } });
    const r = await runCli(['ls'], { cwd: badConfig });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('configs: invalid name "my.cfg": config names use only [A-Za-z0-9_-]');
    const badAlias = project('bad-alias-name', { '.pgclonerc.json': { databases: { '': 'host=db password=hunter2-secret' } } });
    const a = await runCli(['ls'], { cwd: badAlias });
    expect(a.code).toBe(1);
    expect(a.stderr).toContain('databases: invalid name ""');
    expect(a.stderr).not.toContain('hunter2');
  });

  it('precedence: flag > named config > top level > defaults', async ({ expect }) => {
    const keys = { top: keyAt('2026-01-01-00-00-00-000001', 'top'), named: keyAt('2026-01-01-00-00-00-000002', 'named'), flag: keyAt('2026-01-01-00-00-00-000003', 'flag'), def: keyAt('2026-01-01-00-00-00-000004', 'default') };
    const dir = project(
      'precedence',
      { '.pgclonerc.json': { storageLocation: 'top', configs: { named: { storageLocation: 'named' }, empty: {} } } },
      { top: keys.top, named: keys.named, flag: keys.flag },
    );
    const ls = (...args: string[]) => runCli(['ls', ...args], { cwd: dir }).then((r) => r.lines);
    expect(await ls()).toEqual([keys.top]);
    expect(await ls('-c', 'empty')).toEqual([keys.top]);
    expect(await ls('-c', 'named')).toEqual([keys.named]);
    expect(await ls('-c', 'named', '-s', 'flag')).toEqual([keys.flag]);
    const bare = project('defaults', {}, { '.pgclone': keys.def });
    expect((await runCli(['ls'], { cwd: bare })).lines).toEqual([keys.def]);
  });

  it('names what is missing when there is no connection', async ({ expect }) => {
    const dir = project('no-connection', { '.pgclonerc.json': { databases: { reporting: { env: 'REPORTING_URL' } } } });
    const none = await runCli(['dump'], { cwd: dir });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('No database to work on: set DATABASE_URL');
    const alias = await runCli(['dump', '-d', 'reporting'], { cwd: dir });
    expect(alias.code).toBe(1);
    expect(alias.stderr).toContain('$REPORTING_URL');
    const unknown = await runCli(['dump', '-d', 'billing'], { cwd: dir });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Database alias "billing" is not configured');
    // Also for the commands that need no connection: listed every dump, as if -d were not given.
    for (const args of [['ls', '-d', 'billing'], ['prune', '-d', 'billing', '--keep', '1']]) {
      const typo = await runCli(args, { cwd: dir });
      expect([typo.code, typo.stdout, typo.stderr]).toEqual([1, '', expect.stringContaining('Database alias "billing" is not configured')]);
    }
  });
});

describe('the key and the config', () => {
  const db = uniqueName('cfg');
  const env = { DATABASE_URL: dbUrl(db) };
  beforeAll(() => usersDatabase(db, ['x']));
  afterAll(() => dropDatabases(db));

  it('finds the config from a subdirectory and stores dumps relative to the config file', async () => {
    const dir = project('search', { '.pgclonerc.json': { storageLocation: 'dumps', instance: 'cfg' } });
    const cwd = subdir(dir, 'a', 'b');
    const r = await runCli(['dump'], { cwd, env });
    expect(r.code, r.stderr).toBe(0);
    const key = r.lines.at(-1)!;
    expect(key).toMatch(/^cfg\/default\/none\//);
    expect(dumpsUnder(path.join(dir, 'dumps'))).toEqual([key]);
    expect(filesUnder(cwd)).toEqual([]);
    expect((await runCli(['ls'], { cwd, env })).lines).toEqual([key]);
  });

  it('the config part is the -c name, or none when exclude or hooks are given; instance follows precedence', async () => {
    const dir = project('key-config', {
      '.pgclonerc.json': { instance: 'top', configs: { named: { instance: 'named', exclude: ['users'] } } },
    });
    const dump = async (...args: string[]) => {
      const r = await runCli(['dump', ...args], { cwd: dir, env });
      expect(r.code, r.stderr).toBe(0);
      return r.lines.at(-1)!.split('/').slice(0, 3).join('/');
    };
    expect(await dump()).toBe('top/default/none');
    expect(await dump('-c', 'named')).toBe('named/default/named');
    expect(await dump('-c', 'named', '-e', 'users')).toBe('named/default/none');
    expect(await dump('-c', 'named', '-i', 'flag', '--pre-dump-hook', 'true')).toBe('flag/default/none');
  });

  it('an instance, alias or config name starting with "-" is refused up front: no key could name its dumps', async () => {
    // `pin`, `rm` and `restore` read a key starting with `-` as an option; such a dump could never be named again.
    const dir = project('dash-names', {});
    const withConfig = (name: string, config: unknown) => project(name, { '.pgclonerc.json': config });
    for (const [args, cwd, extra, shown] of [
      [['dump', '--instance=-x'], dir, {}, '"-x"'],
      [['dump'], dir, { PGCLONE_INSTANCE: '-ci' }, '"-ci"'],
      [['dump'], withConfig('dash-instance', { instance: '-top' }), {}, '"-top"'],
      [['dump', '--config=-nightly'], withConfig('dash-config', { configs: { '-nightly': {} } }), {}, '"-nightly"'],
      [['dump', '--database=-main'], withConfig('dash-alias', { databases: { '-main': { env: 'DATABASE_URL' } } }), {}, '"-main"'],
    ] as const) {
      const r = await runCli([...args], { cwd, env: { ...env, ...extra } });
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n'), args.join(' ')).toEqual([expect.stringContaining(shown)]);
      expect(r.stderr).toContain('"-"');
      expect(dumpsUnder(path.join(cwd, '.pgclone'))).toEqual([]);
    }
  });

  it('an instance, alias or config name too long for a key is refused up front, in one line', async () => {
    const dir = project('long-names', {});
    const r = await runCli(['dump', `--instance=${'a'.repeat(120)}`], { cwd: dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    // Before the check starts: no "Checking …" step, no pg_dump.
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('is too long for a dump key')]);
    expect(dumpsUnder(path.join(dir, '.pgclone'))).toEqual([]);
  });

  it('an empty $PGCLONE_INSTANCE counts as unset: the instance is the host name', async () => {
    const dir = project('empty-instance', {});
    const r = await runCli(['dump'], { cwd: dir, env: { ...env, PGCLONE_INSTANCE: '' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines.at(-1)!.split('/')[0]).toBe(os.hostname().replace(/[^A-Za-z0-9_-]/g, '_'));
  });

  it("the user's own config (~/.config/pgclone) gives values, but dumps and hooks stay in the project", async () => {
    // A global `instance` must not move every project's dumps into one shared folder, where a restore in one project
    // would pick another project's dump (same instance, alias and config part).
    const home = subdir(root, 'global-home');
    writeFiles(home, { '.config/pgclone/config.json': { instance: 'laptop', preDumpHooks: ['touch hook-ran-here'] } });
    const projectDir = subdir(home, 'app');
    const r = await runCli(['dump'], { cwd: projectDir, env: { ...env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') } });
    expect(r.code, r.stderr).toBe(0);
    const key = r.lines.at(-1)!;
    expect(key).toMatch(/^laptop\/default\/none\//);
    expect(dumpsUnder(path.join(projectDir, '.pgclone'))).toEqual([key]);
    expect(existsSync(path.join(projectDir, 'hook-ran-here'))).toBe(true);
    expect(existsSync(path.join(home, '.config', 'pgclone', '.pgclone'))).toBe(false);
  });

  it('reversible defaults to the config, and --no-reversible overrides it', async () => {
    const dir = project('reversible', { '.pgclonerc.json': { reversible: true, instance: 'rev' } });
    expect((await runCli(['dump'], { cwd: dir, env })).code).toBe(0);
    const plan = async (...args: string[]) => {
      const r = await runCli(['restore', 'rev', '--dry-run', ...args], { cwd: dir, env });
      expect(r.code, r.stderr).toBe(0);
      return r.lines[0];
    };
    expect(await plan()).toMatch(/ \(reversible\)$/);
    expect(await plan('--no-reversible')).not.toMatch(/reversible/);
  });
});
