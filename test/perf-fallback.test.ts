import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findProgram, type PgcloneEvent, type Storage } from '@pgclone/core';
import { openStorage } from '@pgclone/storage';
import { dump, restore } from 'pgclone';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { createPerfFixture, fingerprint, handMadeKey, slowRemote, writeHandMadeDump } from './support/perf-fixture.js';
import { cluster, databases, dbUrl, dropDatabases, sql, uniqueName } from './support/pg.js';

const prefix = uniqueName('perffb');
const source = `${prefix}_src`;
const hasZstd = findProgram('zstd') !== undefined;
const hasLz4 = findProgram('lz4') !== undefined;

function head(file: string): Buffer {
  const fd = openSync(file, 'r');
  const bytes = Buffer.alloc(4);
  readSync(fd, bytes, 0, 4, 0);
  closeSync(fd);
  return bytes;
}

/** A PATH without the zstd and lz4 programs (pgclone finds pg_dump in /usr/lib/postgresql/<major>/bin). */
const noCompressors = mkdtempSync(path.join(os.tmpdir(), 'pgclone-empty-path-'));

/** The storage of `location`, looking remote: no local path, so pg_restore cannot read the file itself. */
async function remoteLooking(location: string, settings: Record<string, unknown>): Promise<Storage> {
  const local = await openStorage(location, settings);
  return {
    display: local.display,
    list: (p) => local.list(p),
    stat: (k) => local.stat(k),
    read: (k, r) => local.read(k, r),
    write: (k, h) => local.write(k, h),
    delete: (k) => local.delete(k),
  };
}

describe('fallbacks', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'pgclone-perf-fb-'));
  let expected: Record<string, unknown>;
  beforeAll(async () => {
    await createPerfFixture(source);
    expected = await fingerprint(source);
  });
  afterAll(async () => {
    await dropDatabases(prefix);
    rmSync(noCompressors, { recursive: true, force: true });
  });

  it.skipIf(cluster().major >= 16)('auto without a zstd binary compresses with gzip in-process, and restores', async () => {
    const env = { DATABASE_URL: dbUrl(source), PATH: noCompressors };
    const dumped = await runCli(['dump'], { cwd, env });
    expect(dumped.code, dumped.stderr).toBe(0);
    expect(dumped.stderr).toMatch(/warning: zstd not found on PATH: compressing with gzip:\d/);
    const file = path.join(cwd, '.pgclone', ...dumped.lines.at(-1)!.split('/'));
    expect([head(file)[0], head(file)[1]]).toEqual([0x1f, 0x8b]);
    // Independent gzip members: the standard gunzip reads the stream back to the archive.
    expect(execFileSync('gzip', ['-dc', file], { maxBuffer: 1 << 30 }).subarray(0, 5).toString('latin1')).toBe('PGDMP');
    for (const jobs of ['1', '2']) {
      const target = `${prefix}_gz_j${jobs}`;
      const restored = await runCli(['restore', dumped.lines.at(-1)!, '-j', jobs], { cwd, env: { DATABASE_URL: dbUrl(target), PATH: noCompressors } });
      expect(restored.code, restored.stderr).toBe(0);
      expect(await fingerprint(target)).toEqual(expected);
    }
  });

  it.skipIf(!hasZstd)('restores a zstd dump without a zstd binary (pure-JS decoder)', async () => {
    const key = handMadeKey(11);
    writeHandMadeDump(source, path.join(cwd, '.pgclone'), key, { pgDumpArgs: ['-Z0'], pipe: ['zstd', '-1', '-q', '-c'] });
    for (const jobs of ['1', '2']) {
      const target = `${prefix}_fz_j${jobs}`;
      const restored = await runCli(['restore', key, '-j', jobs], { cwd, env: { DATABASE_URL: dbUrl(target), PATH: noCompressors } });
      expect(restored.code, restored.stderr).toBe(0);
      expect(await fingerprint(target)).toEqual(expected);
    }
  });

  it.skipIf(!hasLz4)('says what to install for an lz4 dump without an lz4 binary', async () => {
    const key = handMadeKey(12);
    writeHandMadeDump(source, path.join(cwd, '.pgclone'), key, { pgDumpArgs: ['-Z0'], pipe: ['lz4', '-q', '-c'] });
    const target = `${prefix}_nolz4`;
    const restored = await runCli(['restore', key, '--json'], { cwd, env: { DATABASE_URL: dbUrl(target), PATH: noCompressors } });
    expect(restored.code).toBe(1);
    expect(restored.stderr).toContain('"code":"TOOL_MISSING"');
    expect(restored.stderr).toMatch(/install lz4/);
    expect(await databases()).not.toContain(target);
  });

  it.skipIf(cluster().major >= 16)('refuses compression zstd when neither pg_dump nor a zstd binary can do it', async () => {
    const dumped = await runCli(['dump', '--compression', 'zstd:3'], { cwd, env: { DATABASE_URL: dbUrl(source), PATH: noCompressors } });
    expect(dumped.code).toBe(1);
    expect(dumped.stderr).toMatch(/compression zstd needs pg_dump 16 or newer, or the zstd program on PATH/);
  });

  it('rejects an invalid compression value', async () => {
    const dumped = await runCli(['dump', '--compression', 'zstd:99'], { cwd, env: { DATABASE_URL: dbUrl(source) } });
    expect(dumped.code).toBe(2);
    expect(dumped.stderr).toMatch(/Invalid compression "zstd:99": expected auto, none, gzip\[:1-9\]/);
  });

  it.skipIf(!hasZstd)('fails a corrupt zstd dump with the decompressor\'s error and leaves the target as it was', async () => {
    const key = handMadeKey(13);
    const file = writeHandMadeDump(source, path.join(cwd, '.pgclone'), key, { pgDumpArgs: ['-Z0'], pipe: ['zstd', '-1', '-q', '-c'] });
    const bytes = readFileSync(file);
    for (let i = Math.floor(bytes.length / 2); i < Math.floor(bytes.length / 2) + 64; i++) bytes[i] = bytes[i]! ^ 0xff;
    writeFileSync(file, bytes);
    const target = `${prefix}_corrupt`;
    await sql('postgres', `CREATE DATABASE ${target} TEMPLATE template0`);
    await sql(target, 'CREATE TABLE keep (id int); INSERT INTO keep VALUES (1)');
    for (const jobs of ['1', '2']) {
      const restored = await runCli(['restore', key, '-j', jobs], { cwd, env: { DATABASE_URL: dbUrl(target) } });
      expect(restored.code).toBe(1);
      expect(restored.stderr).toMatch(/zstd decompression of .*\.dump \(zstd\) failed|pg_restore of .* failed/);
      expect(await sql(target, 'SELECT id FROM keep')).toEqual([{ id: 1 }]);
    }
  });

  // Decompressed in pgclone's own process (gzip always; zstd without its program): the error is the dump's, typed.
  const truncatedCases: Array<[name: string, pipe: string[], env: Record<string, string>]> = [
    ['gzip', ['gzip', '-c'], {}],
    ['zstd, pure-JS decoder', ['zstd', '-1', '-q', '-c'], { PATH: noCompressors }],
  ];
  truncatedCases.forEach(([name, pipe, env], i) => {
    it.skipIf(!findProgram(pipe[0]!))(`fails a truncated dump wrapped in ${name} with an error naming it, and leaves the target as it was`, async () => {
      const key = handMadeKey(20 + i);
      const file = writeHandMadeDump(source, path.join(cwd, '.pgclone'), key, { pgDumpArgs: ['-Z0'], pipe });
      const bytes = readFileSync(file);
      writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
      const target = `${prefix}_trunc${i}`;
      await sql('postgres', `CREATE DATABASE ${target} TEMPLATE template0`);
      await sql(target, 'CREATE TABLE keep (id int); INSERT INTO keep VALUES (1)');
      for (const jobs of ['1', '2']) {
        const restored = await runCli(['restore', key, '-j', jobs, '--json'], { cwd, env: { DATABASE_URL: dbUrl(target), ...env } });
        expect(restored.code).toBe(1);
        const error = restored.stderr.split('\n').find((l) => l.includes('"event":"error"'));
        expect(JSON.parse(error!)).toMatchObject({ code: 'DUMP_INVALID', message: expect.stringContaining(`decompression of ${key} failed`) as string });
        expect(await sql(target, 'SELECT id FROM keep')).toEqual([{ id: 1 }]);
      }
    });
  });

  it('refuses a plain archive cut short after its table of contents as truncated, before pg_restore -j reads it', async () => {
    const key = handMadeKey(23);
    const file = path.join(cwd, '.pgclone', ...key.split('/'));
    const c = cluster();
    mkdirSync(path.dirname(file), { recursive: true });
    // Written by pg_dump to the file itself: its table of contents holds the data offsets.
    execFileSync(path.join(c.binDir, 'pg_dump'), ['-Fc', '-f', file, '-h', c.host, '-p', String(c.port), '-U', c.user, '-d', source], {
      env: { ...process.env, PGPASSWORD: c.password },
    });
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 3)));
    const target = `${prefix}_cut`;
    await sql('postgres', `CREATE DATABASE ${target} TEMPLATE template0`);
    await sql(target, 'CREATE TABLE keep (id int); INSERT INTO keep VALUES (1)');
    const restored = await runCli(['restore', key, '-j', '2', '--json'], { cwd, env: { DATABASE_URL: dbUrl(target) } });
    expect(restored.code).toBe(1);
    expect(restored.stderr).not.toMatch(/One item holds/);
    const error = restored.stderr.split('\n').find((l) => l.includes('"event":"error"'));
    expect(JSON.parse(error!)).toMatchObject({ code: 'DUMP_INVALID', message: expect.stringMatching(new RegExp(`^Dump ${key} is truncated: `)) as string });
    expect(await sql(target, 'SELECT id FROM keep')).toEqual([{ id: 1 }]);
  });

  it.skipIf(!hasZstd)('refuses a damaged zstd dump by its checksum without a zstd binary, where the data would decode', async () => {
    // A table without constraints: rows changed by the damage would load without an error.
    const plain = `${prefix}_noconstraints`;
    await sql('postgres', `CREATE DATABASE ${plain} TEMPLATE template0`);
    await sql(plain, `CREATE TABLE t AS SELECT g AS id, 'name ' || g AS name, g * 3 AS amount FROM generate_series(1, 3000) g`);
    const key = handMadeKey(22);
    const file = writeHandMadeDump(plain, path.join(cwd, '.pgclone'), key, { pgDumpArgs: ['-Z0'], pipe: ['zstd', '-1', '-q', '-c'] });
    const good = readFileSync(file);
    const { decompress } = await import('fzstd');
    const archive = Buffer.from(decompress(good));
    // The first single-byte change in the data's half that the pure-JS decoder turns into a different archive without
    // an error of its own (the zstd program refuses each by the frame's checksum).
    let damaged: Buffer | undefined;
    for (let at = Math.floor(good.length / 2); at < good.length - 8 && !damaged; at++) {
      const bytes = Buffer.from(good);
      bytes[at] = bytes[at]! ^ 0x5a;
      try {
        if (!Buffer.from(decompress(bytes)).equals(archive)) damaged = bytes;
      } catch {
        // the decoder noticed this one
      }
    }
    writeFileSync(file, damaged!);
    expect(() => execFileSync('zstd', ['-t', '-q', file], { stdio: 'ignore' })).toThrow();
    const target = `${prefix}_damaged`;
    await sql('postgres', `CREATE DATABASE ${target} TEMPLATE template0`);
    await sql(target, 'CREATE TABLE keep (id int); INSERT INTO keep VALUES (1)');
    for (const jobs of ['1', '2']) {
      const restored = await runCli(['restore', key, '-j', jobs, '--json'], { cwd, env: { DATABASE_URL: dbUrl(target), PATH: noCompressors } });
      expect(restored.code, restored.stderr).toBe(1);
      const error = restored.stderr.split('\n').find((l) => l.includes('"event":"error"'));
      expect(JSON.parse(error!)).toMatchObject({ code: 'DUMP_INVALID', message: expect.stringMatching(new RegExp(`zstd decompression of ${key} failed: .*checksum`)) as string });
      expect(await sql(target, 'SELECT id FROM keep')).toEqual([{ id: 1 }]);
    }
  });

  describe('spooling', () => {
    let key: string;
    beforeAll(async () => {
      const made = await dump({ cwd, databaseUrl: dbUrl(source), compression: 'gzip:1', instance: 'remote' });
      key = made.key;
    });

    it('spools a remote plain dump for pg_restore -j, and streams it with -j1', async () => {
      for (const jobs of [2, 1]) {
        const events: PgcloneEvent[] = [];
        const target = `${prefix}_remote_j${jobs}`;
        await restore(key, {
          cwd,
          databaseUrl: dbUrl(target),
          jobs,
          onEvent: (e) => events.push(e),
          runtime: { openStorage: remoteLooking },
        });
        expect(await fingerprint(target)).toEqual(expected);
        const messages = events.flatMap((e) => (e.event === 'message' ? [e.message] : []));
        expect(messages.some((m) => m.startsWith('Spooled '))).toBe(jobs === 2);
        const download = events.filter((e) => e.event === 'progress' && e.phase === 'download').at(-1);
        expect(download).toMatchObject({ final: true, unit: 'bytes' });
      }
    });

    it('an interrupted restore of a remote dump does not read the dump again to checksum it', async () => {
      for (const jobs of [1, 2]) {
        // Slow (64 KiB every 20 ms), so that the restore is stopped while the dump is still being read.
        const reads: number[] = [];
        const slow = async (location: string, settings: Record<string, unknown>) =>
          slowRemote(await openStorage(location, settings), 20, () => reads.push(Date.now()));
        const stop = new AbortController();
        let stoppedAt = Infinity;
        const target = `${prefix}_stopped_j${jobs}`;
        const restoring = restore(key, {
          cwd,
          databaseUrl: dbUrl(target),
          jobs,
          signal: stop.signal,
          onEvent: (e) => {
            if (e.event === 'step' && e.step === 'restore') {
              setTimeout(() => {
                stoppedAt = Date.now();
                stop.abort();
              }, 200);
            }
          },
          runtime: { openStorage: slow },
        });
        await expect(restoring).rejects.toThrow();
        expect(stoppedAt).toBeLessThan(Infinity);
        expect(reads.filter((at) => at >= stoppedAt)).toEqual([]);
        expect((await databases()).filter((d) => d.startsWith(target))).toEqual([]);
      }
    });

    it('streams a lone table without indexes even with -j2: pg_restore could not run anything side by side', async () => {
      const lone = `${prefix}_lone`;
      await sql('postgres', `CREATE DATABASE ${lone} TEMPLATE template0`);
      await sql(lone, `CREATE TABLE numbers AS SELECT g AS id, g * 2 AS twice FROM generate_series(1, 5000) g`);
      const made = await dump({ cwd, databaseUrl: dbUrl(lone), compression: 'gzip:1', instance: 'remote' });
      const events: PgcloneEvent[] = [];
      const target = `${prefix}_lone_copy`;
      await restore(made.key, { cwd, databaseUrl: dbUrl(target), jobs: 2, onEvent: (e) => events.push(e), runtime: { openStorage: remoteLooking } });
      expect(await sql(target, 'SELECT count(*)::int AS n, sum(twice)::int AS s FROM numbers')).toEqual([{ n: 5000, s: 25005000 }]);
      expect(events.some((e) => e.event === 'message' && e.message.startsWith('Spooled '))).toBe(false);
    });

    it('streams with one job, saying so, when the spool directory is too small', async (context) => {
      const small = mkdtempSync(path.join(os.tmpdir(), 'pgclone-small-'));
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small], { stdio: 'ignore' });
      } catch {
        rmSync(small, { recursive: true, force: true });
        context.skip(); // mounting a tiny filesystem needs root
      }
      try {
        const events: PgcloneEvent[] = [];
        const target = `${prefix}_nospace`;
        await restore(key, {
          cwd,
          databaseUrl: dbUrl(target),
          jobs: 2,
          spoolDir: small,
          onEvent: (e) => events.push(e),
          runtime: { openStorage: remoteLooking },
        });
        expect(await fingerprint(target)).toEqual(expected);
        const messages = events.flatMap((e) => (e.event === 'message' ? [e.message] : []));
        expect(messages.find((m) => m.startsWith('Not enough free space'))).toMatch(
          new RegExp(`^Not enough free space in ${small} to spool .* for pg_restore -j2 .*restoring from the stream with one job`),
        );
      } finally {
        execFileSync('umount', [small], { stdio: 'ignore' });
        rmSync(small, { recursive: true, force: true });
      }
    });
  });
});

describe('spool module', () => {
  it('throws SpoolSpaceError and removes its directory when the disk fills up', async (context) => {
    const { spoolToFile, SpoolSpaceError } = await import('@pgclone/core');
    const small = mkdtempSync(path.join(os.tmpdir(), 'pgclone-small-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small], { stdio: 'ignore' });
    } catch {
      rmSync(small, { recursive: true, force: true });
      context.skip();
    }
    try {
      const { Readable } = await import('node:stream');
      const input = Readable.from((function* () {
        for (let i = 0; i < 64; i++) yield Buffer.alloc(4096, i);
      })());
      await expect(spoolToFile(input, small)).rejects.toBeInstanceOf(SpoolSpaceError);
      expect(execFileSync('ls', ['-A', small]).toString()).toBe('');
    } finally {
      execFileSync('umount', [small], { stdio: 'ignore' });
      rmSync(small, { recursive: true, force: true });
    }
  });
});
