import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertDatabaseName,
  assertSafeKey,
  copy as coreCopy,
  formatDumpKey,
  isDumpKey,
  KeyError,
  keyMatchesPrefix,
  parseDumpKey,
  quoteIdent,
  restore as coreRestore,
  sanitizeKeyPart,
} from '@pgclone/core';
import { LocalStorage, openStorage } from '@pgclone/storage';
import { runCli } from './support/cli.js';
import { createDatabase, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';

// Hostile names and values: rejected with a clear error, or handled safely (never a shell, never a path outside the
// storage, never SQL outside a quoted identifier).

const PREFIX = uniqueName('hostile');
const cwd = mkdtempSync(path.join(os.tmpdir(), 'pgclone-hostile-'));
const db = `${PREFIX}_app`;
const env = { DATABASE_URL: dbUrl(db) };
const HOSTILE = [
  '../../etc/passwd',
  '/etc/passwd',
  'dev/../../x',
  "it's",
  'say "hi"',
  'a; DROP DATABASE postgres; --',
  '$(touch pwned)',
  '`touch pwned`',
  'line\nbreak',
  'nul\u0000byte',
  'x'.repeat(2000),
  'dév/Ωmega/数据',
  '..',
  'C:\\Windows',
  '\u202Eevil',
  '\uD800',
];
const errorCode = (stderr: string) => /"code":"([A-Z_]+)"/.exec(stderr)?.[1];

beforeAll(async () => {
  await createDatabase(db);
  await sql(db, 'CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)');
  const dumped = await runCli(['dump'], { cwd, env });
  expect(dumped.code, dumped.stderr).toBe(0);
});
afterAll(async () => {
  await dropDatabases(PREFIX);
});

/** No shell ever ran `touch pwned`: no file of that name anywhere under the working directory. */
const noShell = () =>
  expect((readdirSync(cwd, { recursive: true }) as string[]).filter((f) => path.basename(f) === 'pwned')).toEqual([]);

describe('the CLI with hostile arguments', () => {
  it('keys and prefixes: rejected or not found, never a path outside the storage', async () => {
    // The whole matrix through the CLI's own entry point in this process (fast); a few through the real bin below.
    const { main } = (await import('../packages/pgclone/dist/cli/main.js')) as typeof import('../packages/pgclone/src/cli/main.js');
    const capture = async (args: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await main(['--json', ...args], {
        cwd,
        env: { ...process.env, ...env, PGCLONE_INSTANCE: 'dev' },
        stdout: { write: (d: string) => ((stdout += d), true) } as unknown as NodeJS.WritableStream,
        stderr: { write: (d: string) => ((stderr += d), true) } as unknown as NodeJS.WritableStream,
      });
      return { code, stdout, stderr };
    };
    for (const key of HOSTILE.filter((k) => !k.includes('\u0000'))) {
      for (const args of [['restore', key], ['ls', key], ['rm', key], ['pin', key], ['prune', key, '--keep', '1']]) {
        const run = await capture(args);
        // ls and prune of a prefix nothing is under find nothing; everything else fails, naming the key.
        if (args[0] === 'ls' && run.code === 0) expect(run.stdout.trim(), key).toBe('[]');
        else if (args[0] === 'prune' && run.code === 0) expect(JSON.parse(run.stdout).deleted, key).toEqual([]);
        else expect(run.code, `${args.join(' ')}: ${run.stderr}`).not.toBe(0);
        if (run.code === 1) expect(['KEY_INVALID', 'KEY_NOT_FOUND']).toContain(errorCode(run.stderr));
      }
    }
    for (const key of ['../../etc/passwd', '$(touch pwned)', 'line\nbreak']) {
      const run = await runCli(['--json', 'restore', key], { cwd, env });
      expect(run.code).toBe(1);
      expect(['KEY_INVALID', 'KEY_NOT_FOUND']).toContain(errorCode(run.stderr));
    }
    noShell();
    expect(await sql(db, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 2 }]);
  });

  it('local names: control characters and overlong names rejected; quotes, ; and $() are only characters', async () => {
    for (const [name, code] of [['line\nbreak', 'NAME_INVALID'], ['é'.repeat(40), 'NAME_TOO_LONG'], ['x__temp', 'NAME_RESERVED'], ['postgres', 'NAME_RESERVED']]) {
      const run = await runCli(['--json', 'copy', `:${name}`], { cwd, env });
      expect(run.code, name).toBe(1);
      expect(errorCode(run.stderr), name).toBe(code);
    }
    const victim = `${PREFIX}v`;
    await createDatabase(victim);
    // 55 bytes: N__stage must still fit in 63.
    const weird = `x"; DROP DATABASE ${victim}; --$(touch pwned)Ω`;
    const copied = await runCli(['copy', `:${weird}`], { cwd, env });
    expect(copied.code, copied.stderr).toBe(0);
    const names = (await sql<{ datname: string }>('postgres', 'SELECT datname FROM pg_database')).map((r) => r.datname);
    expect(names).toContain(weird);
    expect(names).toContain(victim);
    // Restore from it and drop it by the same name.
    const restored = await runCli(['restore', `:${weird}`], { cwd, env });
    expect(restored.code, restored.stderr).toBe(0);
    const removed = await runCli(['rm', `:${weird}`], { cwd, env });
    expect(removed.code, removed.stderr).toBe(0);
    noShell();
  });

  it('a target database with quotes, spaces and non-ASCII in its name is dumped and restored', async () => {
    const odd = `${PREFIX} it's "Ωdd"; $(x)`;
    await createDatabase(odd);
    await sql(odd, 'CREATE TABLE t (id int); INSERT INTO t VALUES (7)');
    const oddEnv = { DATABASE_URL: dbUrl(odd) };
    const dumped = await runCli(['dump'], { cwd, env: oddEnv });
    expect(dumped.code, dumped.stderr).toBe(0);
    await sql(odd, 'INSERT INTO t VALUES (8)');
    const restored = await runCli(['restore', dumped.lines.at(-1)!, '--reversible'], { cwd, env: oddEnv });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await sql(odd, 'SELECT array_agg(id)::int[] AS ids FROM t')).toEqual([{ ids: [7] }]);
    expect(await sql(`${odd}__pre`, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 2 }]);
    await sql('postgres', `DROP DATABASE ${ident(`${odd}__pre`)}`);
    await sql('postgres', `DROP DATABASE ${ident(`${odd}__post`)}`);
  });

  it('storage locations, instances, table names and config names', async () => {
    const loc = await runCli(['dump', '-s', 'dumps$(touch pwned)'], { cwd, env });
    expect(loc.code, loc.stderr).toBe(0);
    expect(existsSync(path.join(cwd, 'dumps$(touch pwned)', ...loc.lines.at(-1)!.split('/')))).toBe(true);
    const url = await runCli(['--json', 'ls', '-s', 'ftp://example/x'], { cwd, env });
    expect(errorCode(url.stderr)).toBe('STORAGE');

    const inst = await runCli(['dump', '-i', '../../escape', '-s', 'inst'], { cwd, env });
    expect(inst.code, inst.stderr).toBe(0);
    expect(inst.lines.at(-1)).toMatch(/^______escape\/default\/none\//);
    expect(existsSync(path.join(cwd, 'inst', ...inst.lines.at(-1)!.split('/')))).toBe(true);

    const excl = await runCli(['dump', '-e', 't; DROP TABLE t', '-e', '$(touch pwned)', '-s', 'excl'], { cwd, env });
    expect(excl.code, excl.stderr).toBe(0);
    const nl = await runCli(['--json', 'dump', '-e', 'a\nb'], { cwd, env });
    expect(errorCode(nl.stderr)).toBe('NAME_INVALID');

    for (const args of [['-c', '../x'], ['-d', '$(touch pwned)']]) {
      const run = await runCli(['--json', 'restore', 'dev', ...args], { cwd, env });
      expect(run.code).toBe(1);
      expect(errorCode(run.stderr)).toBe('CONFIG_UNKNOWN_NAME');
    }
    expect(await sql(db, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 2 }]);
    noShell();
  });

  it('NUL bytes (which no process argument can carry) are rejected by the API', async () => {
    const runtime = { openStorage, adapters: [] };
    const opts = { cwd, env: { ...env, PGCLONE_INSTANCE: 'dev' } };
    await expect(coreRestore('dev/\u0000x', opts, runtime)).rejects.toMatchObject({ code: 'KEY_INVALID' });
    await expect(coreRestore(':a\u0000b', opts, runtime)).rejects.toMatchObject({ code: 'NAME_INVALID' });
    await expect(coreCopy(':a\u0000b', opts, runtime)).rejects.toMatchObject({ code: 'NAME_INVALID' });
  });

  it("a system database is never a restore's source, and a dump names a bad database name before it starts", async () => {
    const before = await sql(db, 'SELECT count(*)::int AS n FROM t');
    // :template0 replaced the target with an empty database; :template1 would have had its connections blocked.
    for (const name of ['template0', 'template1', 'postgres']) {
      const run = await runCli(['--json', 'restore', `:${name}`], { cwd, env });
      expect(run.code, name).toBe(1);
      expect(errorCode(run.stderr), name).toBe('NAME_RESERVED');
      expect(run.stderr).not.toContain('"step"'); // refused before the lock
    }
    expect(await sql(db, 'SELECT count(*)::int AS n FROM t')).toEqual(before);
    // PostgreSQL's own error ("invalid byte sequence") named neither the value nor where it came from, and the
    // partial file pg_dump had begun stayed behind.
    const storage = path.join(cwd, 'nul-dump');
    const nul = await runCli(['dump', '-s', storage], { cwd, env: { DATABASE_URL: `${dbUrl(db)}%00x` } });
    expect(nul.code).toBe(1);
    expect(nul.stderr).toBe(`pgclone: error: Invalid database name ${JSON.stringify(`${db}\u0000x`)}: it contains a control character\n`);
    expect(existsSync(storage)).toBe(false);
    // Node 20's recursive mkdir spun forever at 100% CPU on a directory the kernel will not create there.
    const proc = await runCli(['--json', 'dump', '-s', '/proc/pgclone-nope'], { cwd, env });
    expect(proc.code).toBe(1);
    expect(errorCode(proc.stderr)).toBe('STORAGE');
  });
});

// Names as fast-check generates them, plus the classics.
const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: fc.constantFrom('.', '/', '\\', '..', '%2e', ' ', '"', "'", ';', '$(', ')', '\n', '\u0000', 'é', 'Ω', '数', '😀', 'a', 'Z', '0', '-', '_', ':'), maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom(...HOSTILE) },
);

describe('properties', () => {
  it('key parsing: formatted keys parse back to sanitized parts; parsed parts are always safe', () => {
    fc.assert(
      fc.property(hostileString, hostileString, hostileString, fc.date({ min: new Date(0), max: new Date(4102444800000), noInvalidDate: true }), (instance, database, config, date) => {
        let key: string;
        try {
          key = formatDumpKey({ instance, database, config }, date);
        } catch (error) {
          // A part too long for a directory name, or one starting with "-" (its key would read as an option).
          const parts = [instance, database, config];
          if ((error as { code?: string }).code === 'NAME_INVALID') expect(parts.some((p) => p.startsWith('-'))).toBe(true);
          else {
            expect(error).toMatchObject({ code: 'NAME_TOO_LONG' });
            expect(parts.some((p) => sanitizeKeyPart(p).length > 100)).toBe(true);
          }
          return;
        }
        expect(isDumpKey(key)).toBe(true);
        expect(() => assertSafeKey(key)).not.toThrow();
        expect(parseDumpKey(key)).toMatchObject({ instance: sanitizeKeyPart(instance), database: sanitizeKeyPart(database), config: sanitizeKeyPart(config) });
        expect(keyMatchesPrefix(key, `${sanitizeKeyPart(instance)}/`)).toBe(true);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(hostileString, (text) => {
        const parts = parseDumpKey(text);
        if (parts) for (const p of [parts.instance, parts.database, parts.config]) expect(p).toMatch(/^[A-Za-z0-9_-]+$/);
        let safe = true;
        try {
          assertSafeKey(text);
        } catch (error) {
          expect(error).toBeInstanceOf(KeyError);
          safe = false;
        }
        if (safe) {
          const segments = text.split('/');
          expect(segments.includes('..') || segments.includes('.') || text.startsWith('/') || /[\u0000-\u001f\\]/.test(text)).toBe(false);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('the CLI: any argument vector exits 0, 1 or 2, with one error line naming no secret and no stack trace', async () => {
    // Commands, flags on the right and the wrong command, bad numbers and durations, URLs where keys belong; the
    // server is a closed port, so nothing can change anywhere but in a scratch storage.
    const { main } = (await import('../packages/pgclone/dist/cli/main.js')) as typeof import('../packages/pgclone/src/cli/main.js');
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'pgclone-argv-'));
    const secret = 'Sx9secretpw';
    const runEnv = { ...process.env, DATABASE_URL: `postgresql://u:${secret}@127.0.0.1:1/app`, HOME: scratch, XDG_CONFIG_HOME: scratch, XDG_CACHE_HOME: scratch };
    const commands = ['ls', 'dump', 'restore', 'copy', 'prune', 'pin', 'unpin', 'rm', 'doctor', 'frob', ''];
    const flags = ['--json', '-q', '--keep', '--older-than', '-j', '-s', '-i', '-d', '-c', '-e', '--config-file', '-y', '--fix', '--all', '-l', '--local', '--instances', '--dry-run', '-r', '--compression', '--copy-strategy', '--spool-dir', '--pre-swap-hook', '--force', '--bogus', '--', '-'];
    const values = fc.oneof(
      fc.constantFrom('', '0', '-1', '1.5', 'NaN', '1e400', '30d', '0d', ':', '::x', ':x', '/etc', '../x', 's3://', 'ftp://x/y', 'zstd:99', 'a\nb', '\u0001', 'é', 'x'.repeat(3000), `postgresql://u:${secret}@h/x`),
      fc.string({ maxLength: 12 }).filter((v) => !v.includes('\u0000')),
    );
    const argv = fc.tuple(fc.constantFrom(...commands), fc.array(fc.oneof(fc.constantFrom(...flags), values), { maxLength: 6 }));
    await fc.assert(
      fc.asyncProperty(argv, async ([command, rest]) => {
        let stdout = '';
        let stderr = '';
        const args = [command, ...rest];
        const code = await main(args, {
          cwd: scratch,
          env: runEnv,
          stdout: { write: (d: string) => ((stdout += d), true) } as unknown as NodeJS.WritableStream,
          stderr: { write: (d: string) => ((stderr += d), true) } as unknown as NodeJS.WritableStream,
        });
        const what = JSON.stringify(args);
        expect([0, 1, 2], what).toContain(code);
        expect(`${stdout}${stderr}`, what).not.toContain(secret);
        expect(stderr, what).not.toMatch(/\n\s+at /);
        if (code === 0) return;
        const errors = stderr.split('\n').filter((line) => /^pgclone: (?!warning:|Checking|Waiting|Resolving)/.test(line) || line.includes('"event":"error"'));
        expect(errors, `${what}: ${stderr}`).toHaveLength(1);
        if (args.includes('--json') && !args.slice(0, args.indexOf('--json')).includes('--')) expect(errors[0], what).toMatch(/^\{"event":"error","code":"[A-Z_]+"/);
      }),
      { numRuns: 300 },
    );
  });

  it('path resolution: LocalStorage never resolves a key outside its root', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'pgclone-root-'));
    const storage = new LocalStorage(path.join(root, 'store'));
    await fc.assert(
      fc.asyncProperty(hostileString, async (key) => {
        let resolved: string | undefined;
        try {
          resolved = storage.pathOf(key);
        } catch (error) {
          expect((error as { code?: string }).code).toMatch(/^(KEY_INVALID|STORAGE)$/);
        }
        if (resolved !== undefined) expect(resolved.startsWith(storage.root + path.sep) || resolved === storage.root).toBe(true);
        // Listing and reading with the same string never escape either (they throw or find nothing).
        const listed = await storage.list(key).catch(() => []);
        expect(listed).toEqual([]);
        expect(await storage.stat(key).catch(() => undefined)).toBeUndefined();
      }),
      { numRuns: 1000 },
    );
  });

  it('identifier quoting: a database created under any accepted name reads back under exactly that name', async () => {
    const client = new pg.Client({ connectionString: dbUrl('postgres') });
    await client.connect();
    let created = 0;
    try {
      await fc.assert(
        fc.asyncProperty(hostileString, async (generated) => {
          // Its own prefix: another test's database (`${PREFIX}v`) must not be generated again ("already exists").
          const name = `${PREFIX}q${generated}`;
          try {
            assertDatabaseName(name);
          } catch (error) {
            expect(error).toBeInstanceOf(KeyError);
            return;
          }
          await client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 STRATEGY FILE_COPY`);
          created++;
          try {
            const { rows } = await client.query('SELECT datname FROM pg_database WHERE datname = $1', [name]);
            expect(rows).toEqual([{ datname: name }]);
          } finally {
            await client.query(`DROP DATABASE ${quoteIdent(name)}`);
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      await client.end();
    }
    expect(created).toBeGreaterThan(10);
  });
});
