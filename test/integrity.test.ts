import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStorage } from '@pgclone/storage';
import { restore as coreRestore, type PgcloneEvent, type Storage } from '@pgclone/core';
import { runCli } from './support/cli.js';
import { cluster, createDatabase, dbUrl, dropDatabases, sql, uniqueName } from './support/pg.js';

// Manifests: written after the dump, checked (size up front, sha256 while pg_restore reads) before the swap.

const PREFIX = uniqueName('integ');
const cwd = mkdtempSync(path.join(os.tmpdir(), 'pgclone-integrity-'));
const root = path.join(cwd, '.pgclone');
const src = `${PREFIX}_src`;
let key: string;
const file = (k: string) => path.join(root, ...k.split('/'));
const sha256 = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const env = (db: string) => ({ DATABASE_URL: dbUrl(db) });
const rows = async (db: string) => (await sql<{ n: number }>(db, 'SELECT count(*)::int AS n FROM t'))[0]!.n;
const steps = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { event: string; step?: string; code?: string })
    .filter((e) => e.event === 'step')
    .map((e) => e.step);
const errorCode = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{"event":"error"'))
    .map((l) => (JSON.parse(l) as { code: string }).code)[0];

async function target(n = 5): Promise<string> {
  const db = uniqueName(`${PREFIX}_t`);
  await createDatabase(db);
  await sql(db, `CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, ${n})`);
  return db;
}

beforeAll(async () => {
  await createDatabase(src);
  await sql(src, `CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 20000); CREATE TABLE audit (x text); INSERT INTO audit VALUES ('a')`);
  const dumped = await runCli(['dump', '--exclude', 'audit'], { cwd, env: env(src) });
  expect(dumped.code, dumped.stderr).toBe(0);
  key = dumped.lines.at(-1)!;
});
afterAll(() => dropDatabases(PREFIX));

describe('manifest', () => {
  it('records size and sha256 of the stored bytes, versions, compression, exclusions and time', () => {
    const manifest = JSON.parse(readFileSync(`${file(key)}.manifest.json`, 'utf8'));
    const major = cluster().major;
    expect(manifest).toMatchObject({
      format: 'pgclone-manifest',
      version: 1,
      key,
      size: statSync(file(key)).size,
      sha256: sha256(file(key)),
      exclude: ['audit'],
      database: src,
    });
    // How the stored bytes were compressed (`compression: auto`), as `pgclone dump` reports it.
    expect(manifest.compression).toMatch(/^(zstd|gzip):\d+ \(/);
    expect(manifest.pgDumpVersion).toMatch(new RegExp(`^${major}\\.`));
    expect(manifest.serverVersion).toMatch(new RegExp(`^${major}\\.`));
    expect(Date.now() - Date.parse(manifest.createdAt)).toBeLessThan(10 * 60_000);
  });

  it('is never listed or restored as a dump, even with validateDumpKeys off', async () => {
    const dir = path.join(cwd, 'loose');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, '.pgclonerc.json'), JSON.stringify({ validateDumpKeys: false, storageLocation: '../.pgclone/' }));
    // Newer than the dump by mtime, which is what a loose listing sorts by.
    utimesSync(`${file(key)}.manifest.json`, new Date(Date.now() + 60_000), new Date(Date.now() + 60_000));
    const listed = await runCli(['ls'], { cwd: dir, env: env(src) });
    expect(listed.lines).toContain(key);
    expect(listed.lines.filter((l) => l.endsWith('.json'))).toEqual([]);
    const db = await target();
    const direct = await runCli(['--json', 'restore', `${key}.manifest.json`], { cwd: dir, env: env(db) });
    expect(direct.code).toBe(1);
    expect(errorCode(direct.stderr)).toBe('KEY_INVALID');
    expect(direct.stderr).toContain('is a manifest, not a dump');
    const byPrefix = await runCli(['restore', 'dev/default/none/'], { cwd: dir, env: env(db) });
    expect(byPrefix.code, byPrefix.stderr).toBe(0);
    expect(byPrefix.lines).toEqual([key]);
    expect(await rows(db)).toBe(20000);
  });
});

describe('restore checks the dump against its manifest before the swap', () => {
  let tampered = 0;
  function tamper(change: (p: string) => void): string {
    const k = key.replace(/\.dump$/, `${++tampered}.dump`);
    copyFileSync(file(key), file(k));
    const manifest = JSON.parse(readFileSync(`${file(key)}.manifest.json`, 'utf8'));
    writeFileSync(`${file(k)}.manifest.json`, JSON.stringify({ ...manifest, key: k }));
    change(file(k));
    return k;
  }

  it('a changed byte: pg_restore is stopped, nothing is swapped, the live database is untouched', async () => {
    const k = tamper((p) => {
      const bytes = readFileSync(p);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = bytes[at]! ^ 0xff;
      writeFileSync(p, bytes);
    });
    const db = await target();
    const run = await runCli(['--json', 'restore', k], { cwd, env: env(db) });
    expect(run.code).toBe(1);
    expect(errorCode(run.stderr)).toBe('DUMP_CORRUPT');
    expect(run.stderr).toContain("does not match its manifest's sha256");
    expect(steps(run.stderr)).not.toContain('swap');
    expect(await rows(db)).toBe(5);
    expect((await sql('postgres', `SELECT 1 FROM pg_database WHERE datname LIKE $1`, [`${db}\\_\\_%`])).length).toBe(0);
  });

  it('a dump streamed into one pg_restore job (one table) is hashed beside it: a sha256 that differs stops it', async () => {
    // The bytes are intact, so only the manifest check can refuse them; the stored file is the decompressor's own
    // input (no spool: one table needs one job), and its checksum is read beside it.
    const k = tamper((p) => {
      const manifest = JSON.parse(readFileSync(`${p}.manifest.json`, 'utf8')) as Record<string, unknown>;
      writeFileSync(`${p}.manifest.json`, JSON.stringify({ ...manifest, sha256: '0'.repeat(64) }));
    });
    const db = await target();
    const run = await runCli(['--json', 'restore', k], { cwd, env: env(db) });
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain('Spooled');
    expect(errorCode(run.stderr)).toBe('DUMP_CORRUPT');
    expect(run.stderr).toContain("does not match its manifest's sha256");
    expect(steps(run.stderr)).not.toContain('swap');
    expect(await rows(db)).toBe(5);

    // The same dump with its true manifest restores, and its download bar ends at the stored size.
    const ok = await runCli(['--json', 'restore', key], { cwd, env: env(db) });
    expect(ok.code, ok.stderr).toBe(0);
    const download = ok.stderr
      .split('\n')
      .filter((l) => l.startsWith('{"event":"progress"'))
      .map((l) => JSON.parse(l) as { phase: string; done: number; total?: number; final?: boolean })
      .filter((e) => e.phase === 'download');
    expect(download.at(-1)).toMatchObject({ done: statSync(file(key)).size, total: statSync(file(key)).size, final: true });
    expect(await rows(db)).toBe(20000);
  });

  it('a changed byte in a plain archive written through a pipe (restored from a copy with offsets) is refused too', async () => {
    // A plain archive as django-pgclone stores it (pg_dump -Fc into a pipe), with a manifest of its bytes.
    const c = cluster();
    const piped = execFileSync(path.join(c.binDir, 'pg_dump'), ['-Fc', '-h', c.host, '-p', String(c.port), '-U', c.user, '-d', src], {
      env: { ...process.env, PGPASSWORD: c.password },
      maxBuffer: 1 << 28,
    });
    // The share of its largest table is left out: the other dump's (without the audit rows) would make it one job.
    const { largestShare: _, ...manifest } = JSON.parse(readFileSync(`${file(key)}.manifest.json`, 'utf8')) as Record<string, unknown>;
    const k = key.replace(/\.dump$/, `${++tampered}.dump`);
    writeFileSync(`${file(k)}.manifest.json`, JSON.stringify({ ...manifest, key: k, size: piped.length, sha256: createHash('sha256').update(piped).digest('hex') }));
    const at = piped.length - 200; // in the table data, near the end
    piped[at] = piped[at]! ^ 0xff;
    writeFileSync(file(k), piped);
    const db = await target();
    const run = await runCli(['--json', 'restore', k, '-j', '2'], { cwd, env: env(db) });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('copied it to');
    expect(errorCode(run.stderr)).toBe('DUMP_CORRUPT');
    expect(steps(run.stderr)).not.toContain('swap');
    expect(await rows(db)).toBe(5);
    expect((await sql('postgres', `SELECT 1 FROM pg_database WHERE datname LIKE $1`, [`${db}\\_\\_%`])).length).toBe(0);
  });

  it('a truncated dump is refused at the verify step, before any database is created', async () => {
    const k = tamper((p) => truncateSync(p, statSync(p).size - 100));
    const db = await target();
    const run = await runCli(['--json', 'restore', k], { cwd, env: env(db) });
    expect(run.code).toBe(1);
    expect(errorCode(run.stderr)).toBe('DUMP_CORRUPT');
    expect(run.stderr).toContain('truncated');
    expect(steps(run.stderr)).not.toContain('create-temp');
    expect(await rows(db)).toBe(5);
  });

  it('a manifest that is not valid JSON is refused too', async () => {
    const k = tamper((p) => writeFileSync(`${p}.manifest.json`, '{"format":'));
    const db = await target();
    const run = await runCli(['--json', 'restore', k], { cwd, env: env(db) });
    expect(errorCode(run.stderr)).toBe('DUMP_CORRUPT');
    expect(await rows(db)).toBe(5);
  });

  it('a manifest with a bad field is refused with a message naming the field', async () => {
    const k = tamper((p) => {
      const manifest = JSON.parse(readFileSync(`${p}.manifest.json`, 'utf8')) as Record<string, unknown>;
      writeFileSync(`${p}.manifest.json`, JSON.stringify({ ...manifest, size: -1 }));
    });
    const db = await target();
    const run = await runCli(['--json', 'restore', k], { cwd, env: env(db) });
    expect(errorCode(run.stderr)).toBe('DUMP_CORRUPT');
    expect(run.stderr).toContain('is not valid');
    expect(run.stderr).toContain('size: Too small: expected number to be >=0');
    expect(await rows(db)).toBe(5);
  });

  it('checks the bytes pg_restore streams when the storage has no local path (as S3)', async () => {
    const local = new LocalStorage(root);
    const streamed: Storage = {
      display: local.display,
      list: (p) => local.list(p),
      stat: (k) => local.stat(k),
      read: (k, r) => local.read(k, r),
      write: (k) => local.write(k),
      delete: (k) => local.delete(k),
    };
    const runtime = { openStorage: () => streamed, adapters: [] };
    const good = await target();
    const events: PgcloneEvent[] = [];
    await coreRestore(key, { cwd, env: { ...env(good), PGCLONE_INSTANCE: 'dev' }, onEvent: (e) => events.push(e) }, runtime);
    expect(await rows(good)).toBe(20000);

    const k = tamper((p) => {
      const bytes = readFileSync(p);
      bytes[bytes.length - 40] = bytes[bytes.length - 40]! ^ 0x01;
      writeFileSync(p, bytes);
    });
    const bad = await target();
    const seen: string[] = [];
    await expect(
      coreRestore(k, { cwd, env: { ...env(bad), PGCLONE_INSTANCE: 'dev' }, onEvent: (e) => e.event === 'step' && seen.push(e.step) }, runtime),
    ).rejects.toMatchObject({ code: 'DUMP_CORRUPT' });
    expect(seen).not.toContain('swap');
    expect(await rows(bad)).toBe(5);
  });
});

describe('dumps without a manifest', () => {
  it('restore after the archive check; garbage is refused before anything is created', async () => {
    const plain = 'dev/default/none/2001-01-01-00-00-00-000000.dump';
    copyFileSync(file(key), file(plain));
    const db = await target();
    const ok = await runCli(['restore', plain], { cwd, env: env(db) });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('has no manifest');
    expect(await rows(db)).toBe(20000);

    const junk = 'dev/default/none/2001-01-02-00-00-00-000000.dump';
    writeFileSync(file(junk), Buffer.concat([readFileSync(file(key)).subarray(0, 200), Buffer.alloc(300, 7)]));
    const db2 = await target();
    const bad = await runCli(['--json', 'restore', junk], { cwd, env: env(db2) });
    expect(bad.code).toBe(1);
    expect(errorCode(bad.stderr)).toBe('DUMP_INVALID');
    expect(steps(bad.stderr)).not.toContain('create-temp');
    expect(await rows(db2)).toBe(5);
  });

  it('ls --long shows size, age and verification', async () => {
    const listed = await runCli(['ls', '--long', 'dev/default/none/'], { cwd, env: env(src) });
    expect(listed.code, listed.stderr).toBe(0);
    const line = (k: string) => listed.lines.find((l) => l.startsWith(`${k} `)) ?? '';
    expect(line(key)).toMatch(/ \d+(\.\d)? (kB|MB) +\d+[smhd] +verified$/);
    expect(line('dev/default/none/2001-01-01-00-00-00-000000.dump')).toMatch(/ \d+d +unverified$/);
    expect(listed.lines.some((l) => / CORRUPT$/.test(l))).toBe(true); // the truncated one
    const json = await runCli(['--json', 'ls', '--long', key], { cwd, env: env(src) });
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ key, size: statSync(file(key)).size, verified: 'manifest', pinned: false }),
    ]);
  });
});
