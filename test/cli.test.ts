// The CLI contract: help, exit codes 0/1/2, results on stdout, --json results and NDJSON step events on stderr.
import { accessSync, chmodSync, constants, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { cliEnv, collectOutput, KNEX_PGCLONE_BIN, PGCLONE_BIN, runCli, runScript } from './support/cli.js';
import { filesUnder, keyAt, layDump, plainDump, removeDir, repoRoot, tempDir, userNames, usersDatabase } from './support/fixtures.js';
import { cluster, dbUrl, dropDatabases, uniqueName } from './support/pg.js';

const cwd = tempDir('cli');
const db = uniqueName('cli');
const env = { DATABASE_URL: dbUrl(db) };
const cli = (...args: string[]) => runCli(args, { cwd, env });

beforeAll(() => usersDatabase(db, ['live']));
afterAll(async () => {
  await dropDatabases(db);
  removeDir(cwd);
});

/** Parses every stderr line as JSON (fails on any other line) and returns the objects. */
function ndjson(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
const steps = (events: Array<Record<string, unknown>>) => events.filter((e) => e.event === 'step').map((e) => e.step);

describe('help and exit codes', () => {
  it('npm install leaves an executable node_modules/.bin/pgclone whose --help lists the commands', async () => {
    const bin = path.join(repoRoot, 'node_modules', '.bin', 'pgclone');
    accessSync(bin, constants.X_OK);
    const r = await runCli(['--help'], { cwd, bin });
    expect(r.code).toBe(0);
    for (const command of ['ls [prefix]', 'dump', 'restore [key]', 'copy <target>']) expect(r.stdout).toContain(`pgclone ${command}`);
  });

  it('the pre-rendered --help of the bin is exactly what yargs prints', async () => {
    const rendered = await runCli(['--help'], { cwd });
    const script = path.join(cwd, 'yargs-help.mjs');
    const main = pathToFileURL(path.join(repoRoot, 'packages/pgclone/dist/cli/main.js')).href;
    writeFileSync(script, `const { main } = await import(${JSON.stringify(main)});\nprocess.exitCode = await main(['--help']);\n`);
    const live = await runCli([], { cwd, bin: script });
    expect(live.code, live.stderr).toBe(0);
    expect(rendered.code).toBe(0);
    expect(rendered.stdout).toBe(live.stdout);
    expect(rendered.stdout).toContain('pgclone restore [key]');
  });

  it('--version prints the version of the pgclone package and runs nothing else', async () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'packages/pgclone/package.json'), 'utf8')) as { version: string };
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const args of [['--version'], ['restore', 'nothing/here', '--version']]) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
      expect(r.stderr).toBe('');
    }
    expect((await cli('--help')).stdout).toMatch(/--version +Print the version of pgclone/);
    // After `--` it is an argument, not the option.
    expect((await cli('restore', '--', '--version')).code).not.toBe(0);
  });

  it('exits 2 on usage errors: no command, an unknown command, an unknown option', async () => {
    for (const args of [[], ['frobnicate'], ['ls', '--bogus'], ['restore', '-Z']]) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('pgclone --help');
    }
  });

  it('a bad option value is one line that names it, exit 2, before anything runs', async () => {
    const cases: Array<[string[], string]> = [
      [['restore', 'nothing/here', '--jobs', 'abc'], 'pgclone: error: Invalid --jobs "abc": expected a whole number from 1 to 1024 (see "pgclone --help")'],
      [['prune', '--keep', 'many'], 'pgclone: error: Invalid --keep "many": expected a whole number of at least 1 (see "pgclone --help")'],
      // yargs' number parsing took these for numbers (0x10 as 16 jobs), or named what it made of them (1e9 as 1000000000).
      ...['0x10', ' 3', '1e9', '2.5', '+3', '-1', '0', '1025'].map((jobs): [string[], string] => [
        ['restore', 'nothing/here', '-j', jobs],
        `pgclone: error: Invalid --jobs ${JSON.stringify(jobs)}: expected a whole number from 1 to 1024 (see "pgclone --help")`,
      ]),
      ...['0x3', '1e0', '0', ' 2'].map((keep): [string[], string] => [
        ['prune', '--keep', keep, '--older-than', '1d'],
        `pgclone: error: Invalid --keep ${JSON.stringify(keep)}: expected a whole number of at least 1 (see "pgclone --help")`,
      ]),
      [['restore', 'nothing/here', '--jobs'], 'pgclone: error: Not enough arguments following: jobs (see "pgclone --help")'],
      // An empty value (an unset variable, most likely): `-s ''` listed the default location, `-i ''` made instance `_`.
      [['ls', '-s', ''], 'pgclone: error: Invalid --storage-location "": expected a value (see "pgclone --help")'],
      [['dump', '--instance='], 'pgclone: error: Invalid --instance "": expected a value (see "pgclone --help")'],
      // Checked before the dump connects: with an unreachable server it was the connection's error, exit 1.
      [['dump', '--compression', 'zstd:99'], 'pgclone: error: Invalid compression "zstd:99": expected auto, none, gzip[:1-9], zstd[:1-19] or lz4[:1-12]'],
      // A billion jobs ended in pg_restore's "out of memory", after the temporary database was made.
      [['restore', 'nothing/here', '-j', '1000000000'], 'pgclone: error: Invalid --jobs "1000000000": expected a whole number from 1 to 1024 (see "pgclone --help")'],
      // A boolean flag given another value was taken as false: --json=maybe printed plain text.
      [['ls', '--json=maybe'], 'pgclone: error: Invalid --json "maybe": expected true or false (see "pgclone --help")'],
      [['ls', '-q=yes'], 'pgclone: error: Invalid -q "yes": expected true or false (see "pgclone --help")'],
      [['ls', '-lq=yes'], 'pgclone: error: Invalid -q "yes": expected true or false (see "pgclone --help")'],
      [['restore', 'nothing/here', '--dry-run=1'], 'pgclone: error: Invalid --dry-run "1": expected true or false (see "pgclone --help")'],
      [['ls', '--long='], 'pgclone: error: Invalid --long "": expected true or false (see "pgclone --help")'],
      [
        ['copy', ':snap', '--copy-strategy', 'bogus'],
        // Was yargs' "Invalid values: Argument: copy-strategy, Given: "bogus", Choices: …", unlike every other bad value.
        'pgclone: error: Invalid --copy-strategy "bogus": expected auto, wal_log, file_copy or clone (see "pgclone --help")',
      ],
    ];
    for (const [args, line] of cases) {
      const r = await runCli(args, { cwd, env: { DATABASE_URL: dbUrl(db).replace(/:\d+\//, ':1/') } }); // no server there
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`${line}\n`); // no "Resolving" step: nothing ran
    }
    // true and false are still a boolean flag's values.
    const storage = tempDir('cli-bool');
    const [yes, no] = [await cli('ls', '-s', storage, '--json=true'), await cli('ls', '-s', storage, '--json=false')];
    removeDir(storage);
    expect([yes.code, yes.stdout, no.code, no.stdout]).toEqual([0, '[]\n', 0, '']);
    // Leading zeros are still a plain decimal number: 010 jobs are 10 (the restore then finds no such key).
    const padded = await cli('restore', 'nothing/here', '-j', '010', '--json');
    expect(padded.code).toBe(1);
    expect(ndjson(padded.stderr).at(-1)).toMatchObject({ event: 'error', code: 'KEY_NOT_FOUND' });
  });

  it('a repeated flag keeps its last value, a flag without its value is a usage error, an unknown command is named', async () => {
    const storage = tempDir('cli-repeat');
    writeFileSync(path.join(storage, 'source.dump'), 'not read by ls');
    layDump(storage, keyAt('2026-01-01-00-00-00-000000'), path.join(storage, 'source.dump'));
    // Each of these reached the command as an array ("Database alias ["a","default"] is not configured").
    const repeated = await cli('ls', '-s', path.join(cwd, 'elsewhere'), '-s', storage, '-d', 'nope', '-d', 'default');
    removeDir(storage);
    expect(repeated.stderr).toBe('');
    expect(repeated.lines).toEqual([keyAt('2026-01-01-00-00-00-000000')]);
    // Silently ignored before: `--storage-location` alone listed the default location.
    const bare = await cli('ls', '--storage-location');
    expect([bare.code, bare.stderr]).toEqual([2, 'pgclone: error: Not enough arguments following: storage-location (see "pgclone --help")\n']);
    const unknown = await cli('rn');
    expect([unknown.code, unknown.stderr]).toEqual([2, 'pgclone: error: Unknown command "rn". Did you mean rm? (see "pgclone --help")\n']);
    // The unknown flag took "ls" as its value, and the error was "Give a command".
    const swallowed = await cli('--bogus', 'ls');
    expect([swallowed.code, swallowed.stderr]).toEqual([2, 'pgclone: error: Unknown argument: bogus, before the command "ls" (a command\'s options go after it) (see "pgclone --help")\n']);
    // A command's own flag given before it: was 'Unknown command "rm". Did you mean ls?' (the flag took "rm").
    const early = await cli('--force', 'rm', ':x');
    expect([early.code, early.stderr]).toEqual([2, 'pgclone: error: Unknown argument: force, before the command "rm" (a command\'s options go after it) (see "pgclone --help")\n']);
    // A flag that takes a value may take a command's name: a database alias "ls".
    const alias = await cli('-d', 'ls');
    expect(alias.stderr).toMatch(/^pgclone: error: Give a command: ls, dump/);
  });

  it('a usage error has the same "error:" line as any other error, in each of the three bins', async () => {
    // Read "pgclone: Unknown arguments: …" and "pgclone: Invalid …", unlike every other error ("pgclone: error: …").
    const prisma = path.join(repoRoot, 'packages/pgclone/bin/prisma-pgclone.js');
    for (const [name, bin] of [['pgclone', PGCLONE_BIN], ['knex-pgclone', KNEX_PGCLONE_BIN], ['prisma-pgclone', prisma]] as const) {
      for (const [args, message] of [
        [['ls', '--bogus'], 'Unknown argument: bogus'],
        // Named twice before, as typed and camel-cased: "Unknown arguments: dry-runn, dryRunn".
        [['restore', 'x', '--dry-runn', '--other-one'], 'Unknown arguments: dry-runn, other-one'],
        // yargs reads --no-X as X negated, and named "such", a word never typed.
        [['restore', 'x', '--no-such'], 'Unknown argument: no-such'],
        [['restore', 'x', '--no-dry-runn', '--bogus'], 'Unknown arguments: no-dry-runn, bogus'],
        [['restore', 'x', '-j', 'abc'], 'Invalid --jobs "abc": expected a whole number from 1 to 1024'],
        [[], 'Give a command: ls, dump, restore, copy, prune, pin, unpin, rm or doctor'],
      ] as const) {
        const r = await runCli([...args], { cwd, env, bin });
        expect([r.code, r.stderr], `${name} ${args.join(' ')}`).toEqual([2, `${name}: error: ${message} (see "${name} --help")\n`]);
      }
    }
  });

  it('an argument after "--" is a usage error naming it, not silently dropped', async () => {
    // yargs binds no positional after "--": "ls -- zzz" listed every key, and "prune --yes -- dev" pruned every group.
    const storage = tempDir('cli-dashdash');
    writeFileSync(path.join(storage, 'source.dump'), 'not read');
    const key = keyAt('2026-01-01-00-00-00-000000');
    const older = keyAt('2025-01-01-00-00-00-000000');
    layDump(storage, key, path.join(storage, 'source.dump'));
    layDump(storage, older, path.join(storage, 'source.dump'));
    const message = (arg: string) => `pgclone: error: Unexpected argument after "--": ${arg} (a key or prefix goes before "--") (see "pgclone --help")\n`;
    const ls = await cli('ls', '-s', storage, '--', 'zzz');
    const prune = await cli('prune', '-s', storage, '--keep', '1', '--yes', '--', 'nothing-here');
    const after = filesUnder(storage);
    removeDir(storage);
    expect([ls.code, ls.stdout, ls.stderr]).toEqual([2, '', message('zzz')]);
    expect([prune.code, prune.stdout, prune.stderr]).toEqual([2, '', message('nothing-here')]);
    expect(after).toContain(older);
  });

  it('a config file that does not parse is one line that says where and what', async () => {
    const dir = tempDir('cli-badjson');
    writeFileSync(path.join(dir, 'pgclone.config.json'), '{bad json');
    const r = await runCli(['ls'], { cwd: dir, env });
    removeDir(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^pgclone: error: Cannot read the pgclone config: JSON Error in ${path.join(dir, 'pgclone.config.json')}: \\S.*'\\{bad json'\n$`),
    );
  });

  it('exits 1 on errors with one line on stderr, and 0 on success', async () => {
    const missing = await cli('restore', 'nothing/here');
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr.trim().split('\n').at(-1)).toBe(
      `pgclone: error: No dump matches "nothing/here" in ${path.join(cwd, '.pgclone')}/ ("pgclone ls" lists the keys)`,
    );
    const noKey = await cli('restore');
    expect(noKey.code).not.toBe(0);
    expect(noKey.stderr).toContain('No dump key given: pass a key, a prefix or a :local name');
    expect((await cli('ls')).code).toBe(0);
  });

  it('a reader that closes the pipe early (pgclone ls | head -1) is not an error', async () => {
    const storage = tempDir('cli-pipe');
    const dump = path.join(storage, 'source.dump');
    writeFileSync(dump, 'not read by ls');
    for (const stamp of ['2026-01-01-00-00-00-000000', '2026-01-02-00-00-00-000000']) layDump(storage, keyAt(stamp), dump);
    const child = spawn(process.execPath, [PGCLONE_BIN, 'ls', '-s', storage], { cwd, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // closed before pgclone writes its first line: that write fails with EPIPE
    const result = await collectOutput(child);
    removeDir(storage);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('connection', () => {
  it('a URL without host, port, user or password: pgclone and its tools take them from PGHOST, PGPORT, PGUSER, PGPASSWORD', async () => {
    const c = cluster();
    const libpq = { DATABASE_URL: `postgres:///${db}`, PGHOST: c.host, PGPORT: String(c.port), PGUSER: c.user, PGPASSWORD: c.password };
    const before = await userNames(db);
    const dumped = await runCli(['dump', '--json'], { cwd, env: libpq });
    expect(dumped.code, dumped.stderr).toBe(0);
    const key = (JSON.parse(dumped.stdout) as { key: string }).key;
    // A hook that prints the password from its environment: masked, as a URL's password is.
    const restored = await runCli(['restore', key, '--pre-swap-hook', 'echo "hook has $PGPASSWORD"'], { cwd, env: libpq });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toContain('hook has ***');
    expect(await userNames(db)).toEqual(before);
    expect(`${dumped.stdout}${dumped.stderr}${restored.stdout}${restored.stderr}`).not.toContain(c.password);
  });

  it('a bad PGPORT or PGSSLMODE is an error naming it, before anything starts', async () => {
    // PGPORT=abc, -5 or 70000 made pgclone's session wait on a connection that never came: the process ran out of
    // work and exited 0 after "Checking", printing no key. PGSSLMODE=bogus read as "require".
    const c = cluster();
    const libpq = { DATABASE_URL: `postgres:///${db}`, PGHOST: c.host, PGPORT: String(c.port), PGUSER: c.user, PGPASSWORD: c.password };
    const storage = path.join(cwd, 'bad-libpq-env');
    for (const [name, value] of [['PGPORT', 'abc'], ['PGPORT', '-5'], ['PGPORT', '70000'], ['PGSSLMODE', 'bogus']] as const) {
      const r = await runCli(['dump', '-s', storage], { cwd, env: { ...libpq, [name]: value } });
      expect(r.code, `${name}=${value}: ${r.stderr}`).toBe(1);
      expect(r.stdout).toBe('');
      const message =
        name === 'PGPORT'
          ? `PGPORT ${JSON.stringify(value)} is not a port number (1-65535)`
          : 'PGSSLMODE "bogus" is not an sslmode: expected one of disable, allow, prefer, require, verify-ca, verify-full, no-verify';
      // Refused as a bad URL parameter is, before any step starts (it printed "Checking" first).
      expect(r.stderr).toBe(`pgclone: error: ${message}\n`);
    }
    // A dump that remembers the server's version starts pg_dump before its check answers: no file of it remains.
    expect(filesUnder(storage)).toEqual([]);
  });

  it('a bad connect_timeout (in the URL or PGCONNECT_TIMEOUT) is one line naming it, before anything starts', async () => {
    // pg_dump was the first to read it, once "Dumping" had started: exit 1, and its error printed twice.
    const storage = path.join(cwd, 'bad-timeout');
    const xdg = tempDir('cli-timeout-cache');
    // A server whose version is remembered: the dump then starts pg_dump before its check answers.
    const warm = await runCli(['dump', '-s', path.join(xdg, 'warm')], { cwd, env: { ...env, XDG_CACHE_HOME: xdg } });
    expect(warm.code, warm.stderr).toBe(0);
    const cases: Array<[Record<string, string>, string]> = [
      [{ DATABASE_URL: `${dbUrl(db)}?connect_timeout=abc` }, 'The $DATABASE_URL has connect_timeout="abc": expected a whole number of seconds'],
      [{ DATABASE_URL: `${dbUrl(db)}?connect_timeout=1.5` }, 'The $DATABASE_URL has connect_timeout="1.5": expected a whole number of seconds'],
      [{ DATABASE_URL: `${dbUrl(db)}?connect_timeout=` }, 'The $DATABASE_URL has connect_timeout="": expected a whole number of seconds'],
    ];
    for (const [given, message] of cases) {
      const r = await runCli(['dump', '-s', storage], { cwd, env: { ...given, XDG_CACHE_HOME: xdg } });
      expect([r.code, r.stdout, r.stderr], message).toEqual([1, '', `pgclone: error: ${message}\n`]);
    }
    // Refused up front like the URL's, never pg_dump's error (nor after "Checking").
    const fromEnv = await runCli(['dump', '-s', storage], { cwd, env: { ...env, PGCONNECT_TIMEOUT: 'soon', XDG_CACHE_HOME: xdg } });
    expect([fromEnv.code, fromEnv.stdout, fromEnv.stderr]).toEqual([1, '', 'pgclone: error: PGCONNECT_TIMEOUT "soon" is not a whole number of seconds\n']);
    removeDir(xdg);
    expect(filesUnder(storage)).toEqual([]);
    // A whole number still works, for pgclone's session and pg_dump alike.
    const ok = await runCli(['dump', '-s', storage], { cwd, env: { DATABASE_URL: `${dbUrl(db)}?connect_timeout=10`, PGCONNECT_TIMEOUT: '10' } });
    expect(ok.code, ok.stderr).toBe(0);
    removeDir(storage);
  });

  it('a connection service (pg_service.conf): read for pgclone and its tools alike, below the URL and above PG* variables', async () => {
    const c = cluster();
    const dir = tempDir('cli-service');
    const serviceFile = path.join(dir, 'services.conf');
    // `wrong` points at a port nothing listens on: libpq ranks a service above PGPORT, so pg_dump followed it before.
    writeFileSync(serviceFile, `[test]\nhost=${c.host}\nport=${c.port}\nuser=${c.user}\npassword=${c.password}\n[wrong]\nport=1\n`);
    const before = await userNames(db);
    try {
      const byService = { DATABASE_URL: `postgres:///${db}?service=test`, PGSERVICEFILE: serviceFile, PGSYSCONFDIR: dir };
      const dumped = await runCli(['dump', '--json'], { cwd, env: byService });
      expect(dumped.code, dumped.stderr).toBe(0);
      const key = (JSON.parse(dumped.stdout) as { key: string }).key;
      const restored = await runCli(['restore', key, '--pre-swap-hook', 'echo "hook service=[$PGSERVICE] port=$PGPORT"'], { cwd, env: byService });
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.stderr).toContain(`hook service=[] port=${c.port}`);
      expect(await userNames(db)).toEqual(before);
      expect(`${dumped.stdout}${dumped.stderr}${restored.stdout}${restored.stderr}`).not.toContain(c.password);

      // PGSERVICE left in a shell: the URL's own host and port win, for pg_dump too.
      const shell = { DATABASE_URL: dbUrl(db), PGSERVICE: 'wrong', PGSERVICEFILE: serviceFile, PGSYSCONFDIR: dir };
      const again = await runCli(['dump'], { cwd, env: shell });
      expect(again.code, again.stderr).toBe(0);

      const missing = await runCli(['restore', key], { cwd, env: { ...byService, DATABASE_URL: `postgres:///${db}?service=nope` } });
      expect(missing.code).toBe(1);
      expect(missing.stderr.trim()).toBe(
        `pgclone: error: Connection service "nope" (service=nope) is not defined in ${serviceFile} or ${path.join(dir, 'pg_service.conf')}`,
      );
      expect(await userNames(db)).toEqual(before);
    } finally {
      removeDir(dir);
    }
  });

  it("a password file (~/.pgpass, PGPASSFILE, passfile=): read for pgclone's sessions and its tools alike, without node-pg's deprecation warning", async () => {
    const c = cluster();
    const dir = tempDir('cli-passfile');
    const escaped = c.password.replace(/[\\:]/g, '\\$&');
    // A line for a port nothing listens on comes first: only the matching line counts.
    const text = `${c.host}:1:*:*:wrong\n${c.host}:${c.port}:*:${c.user}:${escaped}\n`;
    const file = path.join(dir, 'pgpass');
    writeFileSync(file, text, { mode: 0o600 });
    writeFileSync(path.join(dir, '.pgpass'), text, { mode: 0o600 });
    const url = `postgresql://${encodeURIComponent(c.user)}@${c.host}:${c.port}/${db}`;
    const before = await userNames(db);
    try {
      let key = '';
      for (const env of [{ DATABASE_URL: url, HOME: dir }, { DATABASE_URL: url, PGPASSFILE: file }, { DATABASE_URL: `${url}?passfile=${encodeURIComponent(file)}` }]) {
        const dumped = await runCli(['dump', '--json'], { cwd, env });
        expect(dumped.code, dumped.stderr).toBe(0);
        expect(dumped.stderr).not.toContain('Warning');
        key = (JSON.parse(dumped.stdout) as { key: string }).key;
      }
      const restored = await runCli(['restore', key], { cwd, env: { DATABASE_URL: `${url}?passfile=${encodeURIComponent(file)}` } });
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.stderr).not.toContain('Warning');
      expect(await userNames(db)).toEqual(before);

      // Open to others, the file is ignored, as libpq ignores it: the error that there was no password (node-pg's own
      // is about SASL's internals) says why. No separate warning: the file is read only when the server asks for a
      // password, so ignoring it always ends in that error; and the API, which prints nothing, printed Node's
      // `(node:1234) PgcloneWarning: …` for it.
      chmodSync(file, 0o644);
      const why = `password file ${JSON.stringify(file)} has group or world access (permissions should be u=rw, 0600, or less), so it was ignored`;
      const open = await runCli(['ls', '--local'], { cwd, env: { DATABASE_URL: url, PGPASSFILE: file } });
      expect(open.code).toBe(1);
      expect(open.stderr).toContain('the server asks for a password, and none was given (in the URL, PGPASSWORD, or a password file such as ~/.pgpass)');
      expect(open.stderr).toContain(why);
      expect(open.stderr).not.toContain('warning');
      expect(open.stderr.trim().split('\n')).toHaveLength(1);
      // With --json, every line of stderr stays an NDJSON event.
      const json = await runCli(['ls', '--local', '--json'], { cwd, env: { DATABASE_URL: url, PGPASSFILE: file } });
      expect(json.code).toBe(1);
      const events = json.stderr.trim().split('\n').map((line) => JSON.parse(line) as { event: string; level?: string; message: string });
      expect(events.at(-1)?.event).toBe('error');
      expect(events.at(-1)?.message).toContain('the server asks for a password, and none was given');
      expect(events.at(-1)?.message).toContain(why);
      // The API prints nothing: the reason is in the error it rejects with.
      const api = await runScript(
        `import { lsLocal } from 'pgclone';
         try { await lsLocal(); } catch (error) { process.exitCode = error.message.includes(${JSON.stringify(why)}) ? 3 : 4; }`,
        { DATABASE_URL: url, PGPASSFILE: file },
      );
      expect(api.code, api.stderr).toBe(3);
      expect(api.stderr + api.stdout).toBe('');
      expect(`${open.stdout}${open.stderr}${restored.stderr}${json.stderr}`).not.toContain(c.password);
    } finally {
      removeDir(dir);
    }
  });

  it('sslmode=prefer with a server without TLS: connects without it, as psql and pg_dump do', async () => {
    const env = { DATABASE_URL: `${dbUrl(db)}?sslmode=prefer` };
    const before = await userNames(db);
    const dumped = await runCli(['dump', '--json'], { cwd, env });
    expect(dumped.code, dumped.stderr).toBe(0);
    const restored = await runCli(['restore', (JSON.parse(dumped.stdout) as { key: string }).key], { cwd, env });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await userNames(db)).toEqual(before);
  });
});

describe('--json', () => {
  it('dump: the result as JSON on stdout, step events as NDJSON on stderr', async () => {
    const r = await cli('dump', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toHaveLength(1);
    const result = JSON.parse(r.stdout);
    expect(result).toEqual({
      key: expect.stringMatching(/^dev\/default\/none\/[\d-]+\.dump$/),
      database: db,
      storageLocation: `${path.join(cwd, '.pgclone')}/`,
      bytes: expect.any(Number),
      compression: expect.any(String),
      durationMs: expect.any(Number),
    });
    expect(result.bytes).toBeGreaterThan(0);
    const events = ndjson(r.stderr);
    expect(steps(events)).toEqual(['check', 'dump']);
    expect(events.find((e) => e.step === 'dump')).toMatchObject({ event: 'step', operation: 'dump', database: db, elapsedMs: expect.any(Number) });
  });

  it('restore: result and the step of each stage, in order', async () => {
    const src = uniqueName('cli_src');
    await usersDatabase(src, ['dumped']);
    const key = keyAt('2020-01-01-00-00-00-000000', 'json');
    try {
      await plainDump(src, path.join(cwd, 'fixture.dump'));
      layDump(path.join(cwd, '.pgclone'), key, path.join(cwd, 'fixture.dump'));
    } finally {
      await dropDatabases(src);
    }
    const r = await cli('restore', 'json', '--reversible', '--pre-swap-hook', 'true', '--post-swap-hook', 'true', '--json');
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ key, database: db, reversible: true, dryRun: false, durationMs: expect.any(Number) });
    expect(result.plan[0]).toBe(`restore dump ${key} into ${db} (reversible)`);
    const events = ndjson(r.stderr);
    expect(steps(events)).toEqual([
      'lock', 'resolve', 'verify', 'create-temp', 'restore', 'settings', 'pre-swap-hooks', 'snapshot-post', 'swap', 'post-swap-hooks', 'done',
    ]);
    expect(events.filter((e) => e.event === 'step').every((e) => e.operation === 'restore')).toBe(true);
    expect(events.find((e) => e.step === 'create-temp')).toMatchObject({ database: `${db}__temp` });
    expect(await userNames(db)).toEqual(['dumped']);
  });

  it('copy and ls: JSON results', async () => {
    const copy = await cli('copy', `:${db}_json`, '--json');
    expect(copy.code, copy.stderr).toBe(0);
    expect(JSON.parse(copy.stdout)).toMatchObject({ key: `:${db}_json`, database: `${db}_json`, source: db, durationMs: expect.any(Number) });
    expect(steps(ndjson(copy.stderr))).toEqual(['lock', 'create-temp', 'settings', 'swap', 'done']);
    const ls = await cli('ls', 'json', '--json');
    expect(JSON.parse(ls.stdout)).toEqual([keyAt('2020-01-01-00-00-00-000000', 'json')]);
  });

  it('errors: a JSON error event with the code on stderr', async () => {
    const r = await cli('restore', 'nothing', '--json');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const events = ndjson(r.stderr);
    expect(events.at(-1)).toEqual({ event: 'error', code: 'KEY_NOT_FOUND', message: expect.stringContaining('No dump matches "nothing"') });
  });

  it('usage errors: the same JSON error event, code USAGE, exit 2', async () => {
    const r = await cli('ls', '--json', '--bogus');
    expect(r.code).toBe(2);
    expect(ndjson(r.stderr)).toEqual([{ event: 'error', code: 'USAGE', message: 'Unknown argument: bogus' }]);
    // --json=true asks for JSON as --json does; it printed the plain line. The last value wins, as for the command.
    const spelled = await cli('ls', '--json=true', '--bogus');
    expect([spelled.code, ndjson(spelled.stderr)]).toEqual([2, [{ event: 'error', code: 'USAGE', message: 'Unknown argument: bogus' }]]);
    const off = await cli('ls', '--json', '--json=false', '--bogus');
    expect([off.code, off.stderr]).toEqual([2, 'pgclone: error: Unknown argument: bogus (see "pgclone --help")\n']);
  });
});

describe('the bins’ start', () => {
  it('a command that stops before it finishes exits 1 with one error line, not 0 with nothing said', async () => {
    const start = fileURLToPath(new URL('../packages/pgclone/dist/cli/start.js', import.meta.url));
    const stalled = await collectOutput(
      spawn(process.execPath, ['--input-type=module', '-e', `import { startCli } from ${JSON.stringify(start)}; startCli(() => new Promise(() => {}));`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    expect(stalled.code).toBe(1);
    expect(stalled.stdout).toBe('');
    expect(stalled.stderr).toMatch(/^[\w-]+: error: the command stopped before it finished, with nothing left to wait for \(a bug in pgclone: please report it\)\n$/);
    // A command that ends keeps its own code, and says nothing more.
    const ended = await collectOutput(
      spawn(process.execPath, ['--input-type=module', '-e', `import { startCli } from ${JSON.stringify(start)}; startCli(async () => 3);`], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    expect(ended).toMatchObject({ code: 3, stdout: '', stderr: '' });
  });
});
