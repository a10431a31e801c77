// Secrets and bad input: the password never shows in output or in child process arguments; hostile keys and names
// are refused with a one-line error or quoted safely, and no database changes because of them.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KNEX_PGCLONE_BIN, PGCLONE_BIN, runCli, type CliResult } from './support/cli.js';
import { databaseOid, databasesLike, descendants, dumpsUnder, filesUnder, removeDir, subdir, tempDir, userNames, usersDatabase, type ProcInfo } from './support/fixtures.js';
import { cluster, databases, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';
import { PRISMA_PGCLONE_BIN } from './support/prisma.js';

const root = tempDir('security');
const token = `Zq9${randomBytes(4).toString('hex')}`;
// Every character that needs quoting somewhere: URL, shell, SQL, libpq conninfo.
const password = `${token}'"p@ss:w/rd%;$(touch x) &=?#\\`;
const role = uniqueName('sec_role');
const db = `${role}_db`;
const url = (database = db, pw = password) => dbUrl(database, { user: role, password: pw });
// The role's own database for the tests after 'hostile keys and names', which adds a table the role may not read.
const ownDb = `${role}_own`;

/** Fails when the password, its URL-encoded form or its unique token appears in what a command printed. */
function expectNoSecret(r: CliResult, what: string) {
  for (const stream of [r.stdout, r.stderr]) {
    expect(stream, what).not.toContain(token);
    expect(stream, what).not.toContain(encodeURIComponent(password));
    expect(stream, what).not.toContain(cluster().password);
  }
}

beforeAll(async () => {
  await sql('postgres', `CREATE ROLE ${ident(role)} LOGIN CREATEDB PASSWORD '${password.replace(/'/g, "''")}'`);
  await usersDatabase(db, ['live']);
  await sql('postgres', `ALTER DATABASE ${ident(db)} OWNER TO ${ident(role)}`);
  await sql(db, `ALTER TABLE users OWNER TO ${ident(role)}`);
  await usersDatabase(ownDb, ['own']);
  await sql('postgres', `ALTER DATABASE ${ident(ownDb)} OWNER TO ${ident(role)}`);
  await sql(ownDb, `ALTER TABLE users OWNER TO ${ident(role)}`);
});
afterAll(async () => {
  await dropDatabases(role);
  await sql('postgres', `DROP ROLE IF EXISTS ${ident(role)}`);
  removeDir(root);
});

describe('the password', () => {
  const cwd = subdir(root, 'secrets');
  const cli = (args: string[], env: Record<string, string> = { DATABASE_URL: url() }) => runCli(args, { cwd, env });

  it('never appears in stdout or stderr, of successes or failures', async () => {
    const runs: Array<[string, CliResult]> = [];
    const run = async (args: string[], env?: Record<string, string>) => {
      const r = await cli(args, env);
      runs.push([args.join(' '), r]);
      return r;
    };
    expect((await run(['dump'])).code).toBe(0);
    expect((await run(['dump', '--json', '--pre-dump-hook', 'echo "hook sees $DATABASE_URL and $PGPASSWORD"'])).code).toBe(0);
    await run(['ls']);
    await run(['ls', '--local', '--json']);
    expect((await run(['restore', 'dev', '--reversible', '--json'])).code).toBe(0);
    await run(['restore', 'dev', '--dry-run']);
    expect((await run(['copy', `:${role}_copy`])).code).toBe(0);
    const printJson = `${process.execPath} -e 'console.log(JSON.stringify({ password: process.env.PGPASSWORD }))'`;
    expect((await run(['restore', ':pre', '--post-swap-hook', `echo "$DATABASE_URL"; env | grep PGPASSWORD; ${printJson}`])).code).toBe(0);
    // Failures.
    expect((await run(['restore', 'dev', '--pre-swap-hook', 'echo "failing with $DATABASE_URL $PGPASSWORD" >&2; exit 1'])).code).toBe(1);
    expect((await run(['restore', 'no/such/key'])).code).toBe(1);
    expect((await run(['dump'], { DATABASE_URL: url(db, `${password}-wrong`) })).code).toBe(1);
    expect((await run(['dump'], { DATABASE_URL: `postgresql://${role}:${encodeURIComponent(password)}@127.0.0.1:notaport/${db}` })).code).toBe(1);
    expect((await run(['dump', '--json'], { DATABASE_URL: `postgresql://${role}:${encodeURIComponent(password)}@127.0.0.1:1/${db}` })).code).toBe(1);
    expect((await run(['copy', ':elsewhere'], { DATABASE_URL: url(uniqueName('sec_missing')) })).code).toBe(1);

    // The hooks really had the password, and pgclone masked it.
    const hooked = runs.find(([args]) => args.includes('hook sees'))![1];
    expect(hooked.stderr).toMatch(/hook sees postgresql:\/\/[^:]+:\*\*\*@127\.0\.0\.1:\d+\/\S+ and \*\*\*/);
    for (const [args, r] of runs) expectNoSecret(r, args);
  });

  it('is masked in a DATABASE_URL pgclone refuses, however mangled, and so is an API key in its query', async () => {
    const secret = `Mg9${randomBytes(4).toString('hex')}`;
    const cases: Array<[string, RegExp]> = [
      [`${role}:${secret}@127.0.0.1:5432/${db}`, /is not a postgres:\/\/ or postgresql:\/\/ URL/], // no scheme
      [`postgresql//${role}:${secret}@127.0.0.1/${db}`, /is not a postgres/], // a mangled scheme
      [`postgresql://${role}:p@ss${secret}@127.0.0.1:notaport/${db}`, /cannot be parsed/], // an unencoded @
      [`postgresql://${role}:pa ss${secret}@127.0.0.1:notaport/${db}`, /cannot be parsed/], // an unencoded space
      [`prisma+postgres://accelerate.prisma-data.net/?api_key=${secret}`, /"prisma\+postgres:\/\/accelerate\.prisma-data\.net\/.*" is not a postgres/],
    ];
    for (const [bad, message] of cases) {
      const r = await cli(['dump'], { DATABASE_URL: bad });
      expect(r.code, bad).toBe(1);
      expect(r.stderr, bad).toMatch(message);
      expect(r.stderr, bad).not.toContain(secret);
      expect(r.stderr.trim().split('\n').at(-1), bad).toMatch(/^pgclone: error: /);
    }
  });

  it('never appears in the arguments of pgclone child processes (pg_dump, pg_restore, hooks)', async () => {
    // Enough data that pg_dump and pg_restore run long enough to be seen in /proc.
    const bulk = ident(`${role}_bulk`);
    await sql(db, `CREATE TABLE ${bulk} AS SELECT g AS id, md5(g::text) AS a, md5((g * 7)::text) AS b FROM generate_series(1, 60000) g;
                   CREATE INDEX ON ${bulk} (a); ALTER TABLE ${bulk} OWNER TO ${ident(role)}`);
    const seen: ProcInfo[] = [];
    const watch = async (args: string[]) => {
      let pid: number | undefined;
      let done = false;
      const running = runCli(args, { cwd, env: { DATABASE_URL: url() }, onSpawn: (c) => (pid = c.pid) }).finally(() => (done = true));
      while (!done) {
        if (pid) seen.push(...descendants(pid));
        await new Promise((r) => setTimeout(r, 3));
      }
      const r = await running;
      expect(r.code, r.stderr).toBe(0);
      expectNoSecret(r, args.join(' '));
    };
    await watch(['dump', '--pre-dump-hook', 'sleep 0.3']);
    await watch(['restore', 'dev', '--pre-swap-hook', 'sleep 0.3', '--post-swap-hook', 'true']);
    const programs = new Set(seen.map((p) => path.basename(p.cmdline.split(' ')[0] ?? '')));
    expect(programs).toContain('pg_dump');
    expect(programs).toContain('pg_restore');
    expect(seen.some((p) => p.cmdline.includes('sleep 0.3'))).toBe(true);
    for (const p of seen) {
      expect(p.cmdline, p.cmdline).not.toContain(token);
      expect(p.cmdline, p.cmdline).not.toContain(encodeURIComponent(password));
      expect(p.cmdline, p.cmdline).not.toMatch(/postgres(ql)?:\/\/[^\s]*@/);
      expect(p.cmdline, p.cmdline).not.toMatch(/password=/i);
    }
    await sql(db, `DROP TABLE ${bulk}`);
  });
});

describe('hostile keys and names', () => {
  const cwd = subdir(root, 'hostile');
  const env = { DATABASE_URL: dbUrl(db) };
  const cli = (...args: string[]) => runCli(args, { cwd, env });

  async function unchangedAround(fn: () => Promise<void>) {
    const before = await databasesLike(role); // other test files create databases meanwhile
    const oid = await databaseOid(db);
    const names = await userNames(db);
    await fn();
    expect(await databaseOid(db)).toBe(oid);
    expect(await userNames(db)).toEqual(names);
    expect(await databasesLike(role)).toEqual(before);
    expect(await databases()).toContain('postgres');
  }

  it('rejects path-like keys and prefixes with a one-line error', async () => {
    await unchangedAround(async () => {
      const keys = ['../etc/passwd', '/etc/passwd', 'dev/../../etc/passwd', 'dev\\..\\x', 'dev/default/none/x\n.dump', './dev'];
      for (const [i, key] of keys.entries()) {
        // Every key through restore; ls (same check, covered in ls.test.ts too) with half of them.
        for (const args of i % 2 ? [['restore', key]] : [['restore', key], ['ls', key]]) {
          const r = await cli(...args);
          expect(r.code, JSON.stringify(args)).toBe(1);
          expect(r.stdout).toBe('');
          expect(r.stderr.trim().split('\n'), JSON.stringify(args)).toHaveLength(1);
          expect(r.stderr).toMatch(/error: Invalid (dump key|prefix) /);
        }
      }
    });
    expect(filesUnder(cwd)).toEqual([]);
  });

  it('treats quotes, semicolons and spaces in keys as plain text', async () => {
    await unchangedAround(async () => {
      for (const key of [`dev/it's"; DROP DATABASE ${db}; --`, 'dev/a b', ':"; DROP DATABASE postgres; --']) {
        const r = await cli('restore', key);
        expect(r.code, key).toBe(1);
        expect(r.stderr.trim().split('\n').at(-1)).toMatch(/No dump matches|does not exist/);
      }
    });
  });

  it('creates a copy named with quotes, a semicolon and spaces exactly, and restores from it', async () => {
    const name = `${role}"x; drop`;
    const spaced = `${role} copy 2`;
    const r = await cli('copy', `:${name}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toEqual([`:${name}`]);
    expect((await cli('copy', `:${spaced}`)).code).toBe(0);
    expect(await databasesLike(`${role}"`)).toEqual([name]);
    expect(await databasesLike(`${role} `)).toEqual([spaced]);
    expect(await userNames(name)).toEqual(await userNames(db));
    const local = await cli('ls', '--local');
    expect(local.lines).toEqual(expect.arrayContaining([`:${name}`, `:${spaced}`]));
    await sql(db, `INSERT INTO users (name) VALUES ('after copy')`);
    const restored = await cli('restore', `:${name}`);
    expect(restored.code, restored.stderr).toBe(0);
    expect(await userNames(db)).not.toContain('after copy');
    const newline = await cli('copy', `:${role}\nx`);
    expect(newline.code).toBe(1);
    expect(newline.stderr.trim().split('\n')).toHaveLength(1);
    expect(newline.stderr).toContain('control character');
  });

  it('dumps and restores reversibly a database whose name has quotes, a semicolon and spaces', async () => {
    const weird = `${role} we"ird; name`;
    await usersDatabase(weird, ['weird']);
    const weirdCwd = subdir(root, 'weird');
    const run = (...args: string[]) => runCli(args, { cwd: weirdCwd, env: { DATABASE_URL: dbUrl(weird) } });
    const dumped = await run('dump');
    expect(dumped.code, dumped.stderr).toBe(0);
    await sql(weird, `INSERT INTO users (name) VALUES ('later')`);
    const restored = await run('restore', 'dev', '--reversible');
    expect(restored.code, restored.stderr).toBe(0);
    expect(await userNames(weird)).toEqual(['weird']);
    expect(await databasesLike(weird)).toEqual([weird, `${weird}__post`, `${weird}__pre`]);
    expect((await run('restore', ':pre')).code).toBe(0);
    expect(await userNames(weird)).toEqual(['weird', 'later']);
  });

  it('passes hostile exclude patterns, instances and aliases as data, never as SQL or paths', async () => {
    await sql(db, `CREATE TABLE IF NOT EXISTS keep (id int)`);
    const r = await cli('dump', '-e', 'users; DROP TABLE keep', '-e', `"users"'; --`, '-i', '../../evil');
    expect(r.code, r.stderr).toBe(0);
    const key = r.lines.at(-1)!;
    expect(key).toMatch(/^______evil\/default\/none\/[\d-]+\.dump$/);
    expect(dumpsUnder(path.join(cwd, '.pgclone'))).toEqual([key]);
    expect(dumpsUnder(root).filter((f) => f.includes('evil'))).toEqual([`hostile/.pgclone/${key}`]);
    expect(existsSync(path.resolve(cwd, '../../evil'))).toBe(false);
    expect(await sql(db, `SELECT to_regclass('public.keep') IS NOT NULL AS kept`)).toEqual([{ kept: true }]);
    const alias = await cli('dump', '-d', "x'; DROP DATABASE postgres; --");
    expect(alias.code).toBe(1);
    expect(alias.stderr).toContain(`Database alias "x'; DROP DATABASE postgres; --" is not configured`);
    const config = await cli('dump', '-c', '../../etc/passwd');
    expect(config.code).toBe(1);
    expect(config.stderr).toContain('"../../etc/passwd" is not a config name');
  });
});

describe('the password through the API', () => {
  const cwd = subdir(root, 'api');

  it('never reaches onEvent, not even in what a hook prints', async () => {
    const pgclone = await import('pgclone');
    const events: unknown[] = [];
    const options = { cwd, env: { DATABASE_URL: url(ownDb) }, onEvent: (e: unknown) => void events.push(e) };
    const { key } = await pgclone.dump({ ...options, preDumpHook: ['echo "dump hook: $DATABASE_URL $PGPASSWORD"'] });
    await expect(pgclone.restore(key, { ...options, preSwapHook: ['echo "swap hook: $DATABASE_URL" >&2; exit 3'] })).rejects.toMatchObject({ code: 'HOOK_FAILED' });
    const lines = events.flatMap((e) => ((e as { event: string }).event === 'output' ? [(e as { line: string }).line] : []));
    // The hooks really printed the URL and the password, and pgclone masked them.
    expect(lines).toContainEqual(expect.stringMatching(/^dump hook: postgresql:\/\/[^:]+:\*\*\*@127\.0\.0\.1:\d+\/\S+ \*\*\*$/));
    expect(lines).toContainEqual(expect.stringMatching(/^swap hook: postgresql:\/\/[^:]+:\*\*\*@/));
    const text = JSON.stringify(events);
    expect(text).not.toContain(token);
    expect(text).not.toContain(JSON.stringify(encodeURIComponent(password)).slice(1, -1));
  });
});

describe('the password in usage errors', () => {
  it('is not echoed when options or a URL are passed where a key or options belong', async () => {
    const pgclone = await import('pgclone');
    const databaseUrl = url(ownDb);
    const misuses: Array<[string, () => Promise<unknown>]> = [
      // ls(options) instead of ls(prefix, options): the options object, URL and all, was quoted in the error.
      ['ls', () => pgclone.ls({ databaseUrl } as never)],
      ['restore', () => pgclone.restore({ databaseUrl } as never)],
      ['copy', () => pgclone.copy(databaseUrl as never, databaseUrl as never)],
      ['testDatabase', () => pgclone.testDatabase(databaseUrl as never)],
      // A URL as the directory to work from: accepted (ls listed nothing), or named resolved, its `//` merged.
      ['ls in cwd', () => pgclone.ls(undefined, { cwd: databaseUrl })],
      ['fromKnexfile cwd', async () => pgclone.ls(undefined, (await import('@pgclone/knex')).fromKnexfile({ cwd: databaseUrl }))],
    ];
    for (const [fn, call] of misuses) {
      const error = (await call().then(() => undefined, (e: unknown) => e)) as Error & { code?: string };
      expect(error?.code, fn).toBe('USAGE');
      expect(error.message, fn).not.toContain(token);
      expect(error.message, fn).not.toContain(encodeURIComponent(password).slice(0, 12));
      expect(error.message.split('\n'), fn).toHaveLength(1);
    }
  });

  it('is not echoed by the CLI when a URL is passed as an argument or a flag value it does not take', async () => {
    // "pgclone dump postgresql://…" (dump takes no URL) printed the whole URL, password included, in the usage error.
    const cwd = subdir(root, 'usage-url');
    const databaseUrl = url(ownDb);
    for (const args of [['dump', databaseUrl], ['doctor', '--fix', databaseUrl], ['restore', 'x', '-j', databaseUrl]]) {
      const r = await runCli(args, { cwd, env: { DATABASE_URL: databaseUrl } });
      expect(r.code, args[0]).toBe(2);
      expect(r.stderr, args[0]).toMatch(/^pgclone: error: (Unknown argument|Invalid --jobs)/);
      expect(r.stderr, args[0]).toContain(`${role}:***@`);
      expect(r.stderr.trim().split('\n'), args[0]).toHaveLength(1);
      expect(`${r.stdout}${r.stderr}`, args[0]).not.toContain(token);
      expect(`${r.stdout}${r.stderr}`, args[0]).not.toContain(encodeURIComponent(password).slice(0, 12));
    }
  });

  it('is not echoed when a URL is passed as the Knex --cwd: a usage error names it, masked', async () => {
    // "knex-pgclone dump --cwd postgresql://…" printed "No knexfile found in <the value resolved>": the `//` merged,
    // the password no longer looked like one to the masking of printed lines.
    const cwd = subdir(root, 'cwd-url');
    const databaseUrl = url(ownDb);
    for (const flags of [['--cwd', databaseUrl], ['--cwd', databaseUrl, '--knexfile', 'knexfile.js']]) {
      const what = `--cwd URL ${flags.slice(2).join(' ')}`;
      const r = await runCli(['dump', ...flags], { cwd, bin: KNEX_PGCLONE_BIN });
      expect(r.code, what).toBe(2);
      expect(r.stderr, what).toMatch(/^knex-pgclone: error: Invalid --cwd "postgresql:\/\/[^"]*": not a directory/);
      expect(r.stderr, what).toContain(`${role}:***@`);
      expect(r.stderr.trim().split('\n'), what).toHaveLength(1);
      expectNoSecret(r, what);
      expect(`${r.stdout}${r.stderr}`, what).not.toContain(encodeURIComponent(password).slice(0, 12));
    }
    // A --cwd that is a directory still works: relative to where knex-pgclone runs.
    const listed = await runCli(['ls', '--cwd', '.', '--knexfile', 'missing.js'], { cwd, bin: KNEX_PGCLONE_BIN });
    expect(listed.stderr).toContain('Knexfile "missing.js" does not exist');
  });

  it('is not echoed when a URL is passed as a storage directory, which messages name resolved', async () => {
    // "pgclone pin KEY -s ./postgresql://…" said the dump "does not exist in <cwd>/postgresql:/user:password@…/".
    const cwd = subdir(root, 'storage-url');
    const key = 'dev/default/none/2026-01-01-00-00-00-000000.dump';
    for (const location of [`./${url(ownDb)}`, `dumps/${url(ownDb)}/`]) {
      const r = await runCli(['pin', key, '-s', location], { cwd });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`does not exist in ${cwd}/`);
      expect(r.stderr).toContain(`${role}:***@`);
      expectNoSecret(r, 'pin -s');
      expect(`${r.stdout}${r.stderr}`).not.toContain(encodeURIComponent(password).slice(0, 12));
    }
  });

  it('is not echoed when a URL is passed as the knexfile, the Prisma schema or a config file', async () => {
    // "knex-pgclone dump --knexfile postgresql://…" printed the password in the path the value resolved to: resolving
    // merges the `//`, so what the error showed no longer looked like a URL to the masking of printed lines.
    const cwd = subdir(root, 'project-url');
    const databaseUrl = url(ownDb);
    const runs: Array<[string, string[]]> = [
      [KNEX_PGCLONE_BIN, ['--knexfile', databaseUrl]],
      [KNEX_PGCLONE_BIN, ['--knexfile', `./${databaseUrl}`]],
      [PRISMA_PGCLONE_BIN, ['--schema', databaseUrl]],
      [PRISMA_PGCLONE_BIN, ['--config', databaseUrl]],
      [PGCLONE_BIN, ['--config-file', databaseUrl]],
    ];
    for (const [bin, flags] of runs) {
      const what = `${path.basename(bin)} ${flags[0]} ${flags[1]!.slice(0, 2)}`;
      const r = await runCli(['dump', ...flags], { cwd, bin });
      expect(r.code, what).not.toBe(0);
      expect(r.stderr, what).toContain('does not exist');
      expect(r.stderr, what).toContain(`${role}:***@`);
      expect(r.stderr.trim().split('\n'), what).toHaveLength(1);
      expectNoSecret(r, what);
      expect(`${r.stdout}${r.stderr}`, what).not.toContain(encodeURIComponent(password).slice(0, 12));
    }
  });
});

describe('files in local storage', () => {
  it('are readable by their owner only, whatever the umask lets others read: a dump holds the database\'s data', async () => {
    const cwd = subdir(root, 'modes');
    // The CLI under the common umask 022, which leaves new files readable by every user of the machine.
    const bin = path.join(cwd, 'umask-022.mjs');
    writeFileSync(bin, `process.umask(0o022);\nawait import(${JSON.stringify(PGCLONE_BIN)});\n`);
    const dumped = await runCli(['dump'], { cwd, env: { DATABASE_URL: url(ownDb) }, bin });
    expect(dumped.code, dumped.stderr).toBe(0);
    const key = dumped.lines.at(-1)!;
    expect((await runCli(['pin', key], { cwd, env: { DATABASE_URL: url(ownDb) }, bin })).code).toBe(0);
    const files = filesUnder(path.join(cwd, '.pgclone'));
    expect(files.map((f) => path.basename(f)).sort()).toEqual([path.basename(key), `${path.basename(key)}.manifest.json`, `${path.basename(key)}.pin.json`].sort());
    for (const file of files) expect((statSync(path.join(cwd, '.pgclone', file)).mode & 0o777).toString(8), file).toBe('600');
  });
});

describe('the transpiled copy of a TypeScript config', () => {
  it('is kept where only its owner can read it: the config may hold a password', async () => {
    const cwd = subdir(root, 'ts-config');
    const cache = path.join(cwd, 'node_modules', '.cache', 'pgclone-jiti');
    // As an earlier version left it: created under umask 022.
    mkdirSync(cache, { recursive: true, mode: 0o755 });
    writeFileSync(path.join(cwd, 'pgclone.config.ts'), `const url: string = ${JSON.stringify(url(ownDb))};\nexport default { databases: { default: url } };\n`, { mode: 0o600 });
    const bin = path.join(cwd, 'umask-022.mjs');
    writeFileSync(bin, `process.umask(0o022);\nawait import(${JSON.stringify(PGCLONE_BIN)});\n`);
    const r = await runCli(['ls'], { cwd, env: {}, bin });
    expect(r.code, r.stderr).toBe(0);
    expectNoSecret(r, 'ls');
    // The cache is still used, and its folder lets no one else in.
    expect(readdirSync(cache).some((f) => f.includes('pgclone.config'))).toBe(true);
    expect((statSync(cache).mode & 0o777).toString(8)).toBe('700');
  });
});
