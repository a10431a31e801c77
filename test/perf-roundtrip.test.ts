import { createHash } from 'node:crypto';
import { closeSync, ReadStream, mkdtempSync, openSync, readFileSync, readSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  addDataOffsets,
  Admin,
  DumpInput,
  findProgram,
  libpqEnv,
  locateTool,
  parseConnection,
  pollRestoreProgress,
  readDataSizes,
  Reporter,
  runPgRestore,
  scanDataSizes,
  watchDump,
} from '@pgclone/core';
import { LocalStorage } from '@pgclone/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { createPerfFixture, fingerprint, handMadeKey, slowRemote, writeHandMadeDump } from './support/perf-fixture.js';
import { cluster, createDatabase, dbUrl, dropDatabases, ident, sql, uniqueName } from './support/pg.js';

/** What the stored bytes start with. */
function magicOf(file: string): 'PGDMP' | 'gzip' | 'zstd' | 'lz4' | 'other' {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(5);
  readSync(fd, head, 0, 5, 0);
  closeSync(fd);
  if (head.toString('latin1') === 'PGDMP') return 'PGDMP';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.readUInt32LE(0) === 0x184d2204) return 'lz4';
  return 'other';
}

const prefix = uniqueName('perfrt');

describe('round trip of every compression and job setting', () => {
  const source = `${prefix}_src`;
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'pgclone-perf-rt-'));
  let expected: Record<string, unknown>;
  let major: number;
  beforeAll(async () => {
    major = cluster().major;
    await createPerfFixture(source);
    expected = await fingerprint(source);
  });
  afterAll(() => dropDatabases(prefix));

  // pg_dump 15 keeps zstd/lz4 outside the archive; pg_dump 16+ compresses inside it (a plain archive). The zstd and
  // lz4 CLIs come with the test setup (scripts/ensure-postgres.mjs); cases that need a missing one are skipped.
  const has = (program: string) => findProgram(program) !== undefined;
  const cases: Array<[compression: string, wrapped: 'gzip' | 'zstd' | 'lz4' | undefined]> = [
    ['auto', has('zstd') ? 'zstd' : 'gzip'],
    ['none', undefined],
    ['gzip', undefined],
    ['gzip:1', undefined],
    ['zstd', 'zstd'],
    ['zstd:3', 'zstd'],
    ['lz4', 'lz4'],
  ];
  for (const [compression, wrapped] of cases) {
    const needs = /^(zstd|lz4)/.exec(compression)?.[1];
    it.skipIf(needs !== undefined && !has(needs))(`compression ${compression}, restored with -j1 and -j2`, async () => {
      const dumped = await runCli(['dump', '--compression', compression, '--json'], { cwd, env: { DATABASE_URL: dbUrl(source) } });
      expect(dumped.code, dumped.stderr).toBe(0);
      const result = JSON.parse(dumped.lines.at(-1)!) as { key: string; bytes: number; compression: string };
      expect(result.key).toMatch(/\.dump$/);
      const file = path.join(cwd, '.pgclone', ...result.key.split('/'));
      const expectedMagic = major >= 16 || !wrapped ? 'PGDMP' : wrapped;
      expect(magicOf(file)).toBe(expectedMagic);
      const named = compression.replace(/^(zstd|lz4)$/, '$1:1').replace(/^gzip$/, 'gzip:6');
      expect(result.compression).toContain(compression === 'auto' ? (wrapped === 'gzip' ? 'gzip:' : 'zstd:1') : named);
      // A plain archive on local storage is written by pg_dump to a file, so its table of contents has every data
      // offset that `pg_restore -j` needs (a piped archive has none). A wrapped one is written by its compressor.
      // Either way the manifest's checksum is the stored file's.
      if (expectedMagic === 'PGDMP') {
        const sizes = await readDataSizes(file);
        expect(sizes?.sizes.size).toBeGreaterThan(0);
      }
      const manifest = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8')) as { sha256: string; size: number };
      expect(manifest).toMatchObject({ size: statSync(file).size, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') });
      const dumpProgress = dumped.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { event: string; phase?: string; final?: boolean; done?: number })
        .filter((e) => e.event === 'progress' && e.phase === 'dump');
      expect(dumpProgress.at(-1)).toMatchObject({ final: true });
      if (expectedMagic !== 'PGDMP' && wrapped !== 'gzip') {
        // A compressor program reads pg_dump's output past Node, and the bar counts what it read: at most the
        // uncompressed archive (its own start reads a few KiB more). How close its end comes is proc-io.test.ts's:
        // a dump this small may be compressed before any reading.
        const archiveBytes = execFileSync(wrapped!, ['-dc', file], { maxBuffer: 1 << 30 }).length;
        expect(dumpProgress.at(-1)!.done!).toBeLessThan(archiveBytes + 128 * 1024);
      }

      // Both job settings at once, into two databases: the round trips are independent.
      await Promise.all(
        ['1', '2'].map(async (jobs) => {
          const target = `${prefix}_${compression.replace(':', '')}_j${jobs}`;
          const restored = await runCli(['restore', result.key, '-j', jobs, '--json'], { cwd, env: { DATABASE_URL: dbUrl(target) } });
          expect(restored.code, restored.stderr).toBe(0);
          expect(await fingerprint(target)).toEqual(expected);
          const spooled = restored.stderr.includes('Spooled ');
          // A local plain archive is restored from its own file; a wrapped one is spooled (decompressed) for -j2.
          expect(spooled).toBe(jobs === '2' && expectedMagic !== 'PGDMP');
          if (spooled) expect(restored.stderr).toMatch(/data offsets indexed/);
          const events = restored.stderr
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l) as { event: string; phase?: string; final?: boolean; done?: number; total?: number; unit?: string; items?: unknown });
          // A spooled local dump is read by its decompressor itself: the bar follows what that program has read.
          if (spooled) expect(events.filter((e) => e.event === 'progress' && e.phase === 'download').at(-1)).toMatchObject({ final: true, done: statSync(file).size });
          const restoring = events.filter((e) => e.event === 'progress' && e.phase === 'restore');
          const last = restoring.at(-1);
          expect(last?.final).toBe(true);
          expect(last?.done).toBe(last?.total);
          // A spool (indexed) and a stored plain archive (read beside pg_restore) have known data sizes: the restore
          // counts bytes of table data, items besides. A stream into one job counts items.
          const streamed = jobs === '1' && expectedMagic !== 'PGDMP';
          expect(last?.unit).toBe(streamed ? 'items' : 'bytes');
          if (!streamed) {
            expect(last).toMatchObject({ unit: 'bytes', items: { done: expect.any(Number) as number } });
            expect(last!.total).toBeGreaterThan(1_000_000);
            const done = restoring.map((e) => e.done!);
            expect(done).toEqual([...done].sort((a, b) => a - b));
          }
        }),
      );
    });
  }

  const handMade: Array<[name: string, how: { pgDumpArgs?: string[]; pipe?: string[] }]> = [
    ['plain pg_dump -Fc (django-pgclone)', {}],
    ['pg_dump -Fc -Z0 | gzip', { pgDumpArgs: ['-Z0'], pipe: ['gzip', '-c'] }],
    ['pg_dump -Fc -Z0 | zstd -3', { pgDumpArgs: ['-Z0'], pipe: ['zstd', '-3', '-q', '-c'] }],
    ['pg_dump -Fc -Z0 | lz4', { pgDumpArgs: ['-Z0'], pipe: ['lz4', '-q', '-c'] }],
  ];
  handMade.forEach(([name, how], i) => {
    it.skipIf(how.pipe !== undefined && !has(how.pipe[0]!))(`restores a dump made by ${name} without options`, async () => {
      const key = handMadeKey(i + 1);
      writeHandMadeDump(source, path.join(cwd, '.pgclone'), key, how);
      const target = `${prefix}_hand${i}`;
      const restored = await runCli(['restore', key], { cwd, env: { DATABASE_URL: dbUrl(target) } });
      expect(restored.code, restored.stderr).toBe(0);
      expect(await fingerprint(target)).toEqual(expected);
    });
  });

  it('copies a local plain archive written through a pipe, with its data offsets, for -j; -j1 reads it in place', async () => {
    const key = handMadeKey(50);
    const file = writeHandMadeDump(source, path.join(cwd, '.pgclone'), key);
    expect(await readDataSizes(file)).toBeUndefined(); // pg_dump wrote to a pipe: no offsets
    const parallel = await runCli(['restore', key, '-j', '2'], { cwd, env: { DATABASE_URL: dbUrl(`${prefix}_pipedj2`) } });
    expect(parallel.code, parallel.stderr).toBe(0);
    expect(parallel.stderr).toMatch(new RegExp(`${key} has no data offsets in its table of contents .*: copied it to .* with \\d+ data offsets indexed, for pg_restore -j2`));
    expect(await fingerprint(`${prefix}_pipedj2`)).toEqual(expected);
    const single = await runCli(['restore', key, '-j', '1'], { cwd, env: { DATABASE_URL: dbUrl(`${prefix}_pipedj1`) } });
    expect(single.code, single.stderr).toBe(0);
    expect(single.stderr).not.toContain('copied it');
    expect(await fingerprint(`${prefix}_pipedj1`)).toEqual(expected);
  });

  it('removes its spool before the swap: the post-swap hooks run (and may be killed) without it on disk', async () => {
    const key = handMadeKey(51);
    writeHandMadeDump(source, path.join(cwd, '.pgclone'), key);
    const spoolDir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-spool-gone-'));
    const hook = `echo "spool entries: $(find '${spoolDir}' -mindepth 1 | wc -l)"`;
    const r = await runCli(['restore', key, '-j', '2', '--spool-dir', spoolDir, '--post-swap-hook', hook], {
      cwd,
      env: { DATABASE_URL: dbUrl(`${prefix}_spoolgone`) },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/copied it to .* for pg_restore -j2/);
    expect(r.stderr).toContain('spool entries: 0');
    expect(await fingerprint(`${prefix}_spoolgone`)).toEqual(expected);
  });

  it.skipIf(!has('zstd'))('runs one pg_restore job when one table holds most of the data: told by the manifest before any spool, by the data sizes after one', async () => {
    const db = `${prefix}_lone`;
    await createDatabase(db);
    await sql(
      db,
      `CREATE TABLE big (id int PRIMARY KEY, v text);
       INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 30000) g;
       CREATE TABLE small (id int PRIMARY KEY);
       INSERT INTO small VALUES (1);`,
    );
    const rows = (target: string) => sql(target, 'SELECT (SELECT count(*) FROM big)::int AS big, (SELECT count(*) FROM small)::int AS small');
    const dumped = await runCli(['dump', '--compression', 'zstd'], { cwd, env: { DATABASE_URL: dbUrl(db) } });
    expect(dumped.code, dumped.stderr).toBe(0);
    const key = dumped.lines.at(-1)!;
    const file = path.join(cwd, '.pgclone', ...key.split('/'));
    const manifest = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8')) as { largestShare?: number };
    expect(manifest.largestShare).toBeGreaterThan(0.95);
    const oneJob = new RegExp(`One item holds (9\\d|100)% of the data in ${key.replace(/[.]/g, '\\.')}: pg_restore runs one job, as -j2 would only wait for it`);
    // pg_dump 16+ compresses inside the archive: a plain archive in local storage is read in place, never spooled.
    const wrapped = major < 16;

    const told = await runCli(['restore', key, '-j', '2'], { cwd, env: { DATABASE_URL: dbUrl(`${db}_told`) } });
    expect(told.code, told.stderr).toBe(0);
    expect(told.stderr).toMatch(oneJob);
    expect(told.stderr).not.toContain('Spooled ');
    expect(await rows(`${db}_told`)).toEqual([{ big: 30000, small: 1 }]);

    // Without a manifest, the sizes come with the spool (or the stored file's table of contents).
    unlinkSync(`${file}.manifest.json`);
    const found = await runCli(['restore', key, '-j', '2'], { cwd, env: { DATABASE_URL: dbUrl(`${db}_found`) } });
    expect(found.code, found.stderr).toBe(0);
    expect(found.stderr).toMatch(oneJob);
    expect(found.stderr.includes('Spooled ')).toBe(wrapped);
    expect(await rows(`${db}_found`)).toEqual([{ big: 30000, small: 1 }]);
  });

  it('writes the data offsets pg_dump leaves out when writing to a pipe, exactly as pg_dump writes them to a file', async () => {
    const c = cluster();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-offsets-'));
    const env = { ...process.env, PGPASSWORD: c.password };
    const conn = ['-h', c.host, '-p', String(c.port), '-U', c.user, '-d', source];
    for (const z of ['-Z0', '-Z6']) {
      // Made within the same second, the two archives differ only in the header's timestamp and in the offsets.
      const piped = execFileSync(path.join(c.binDir, 'pg_dump'), ['-Fc', z, ...conn], { env, maxBuffer: 1 << 30 });
      const fileDump = path.join(dir, `file${z}.dump`);
      execFileSync(path.join(c.binDir, 'pg_dump'), ['-Fc', z, ...conn, '-f', fileDump], { env });
      const patchedFile = path.join(dir, `patched${z}.dump`);
      writeFileSync(patchedFile, piped);
      const result = await addDataOffsets(patchedFile);
      expect(result).toMatchObject({ patched: 3 }); // items, notes, the large objects
      // The data sizes found by walking the blocks are those the TOC of pg_dump's own file gives.
      const fromFile = await readDataSizes(fileDump);
      expect(fromFile?.sizes.size).toBe(3);
      expect('data' in result && result.data).toEqual(fromFile);
      expect(fromFile?.compressed).toBe(z !== '-Z0');
      // Restore progress counts each index and constraint as half the data of the tables it reads (a foreign key: both).
      const list = execFileSync(path.join(c.binDir, 'pg_restore'), ['-l', fileDump], { encoding: 'utf8' }).split('\n');
      const id = (item: string) => Number(list.find((l) => l.includes(` ${item} `))!.split(';')[0]);
      const half = (...tables: string[]) => Math.round(tables.reduce((sum, t) => sum + fromFile!.sizes.get(id(`TABLE DATA public ${t}`))!, 0) * 0.5);
      expect(fromFile?.builds).toEqual(
        new Map([
          [id('CONSTRAINT public items items_pkey'), half('items')],
          [id('CONSTRAINT public notes notes_pkey'), half('notes')],
          [id('INDEX public notes_note_idx'), half('notes')],
          [id('FK CONSTRAINT public notes notes_item_id_fkey'), half('notes', 'items')],
        ]),
      );
      const patched = readFileSync(patchedFile);
      const byFile = readFileSync(fileDump);
      expect(patched.length).toBe(byFile.length);
      const differing = [...patched.keys()].filter((i) => patched[i] !== byFile[i]);
      expect(differing.every((i) => i < 64), `bytes differ at ${differing.slice(0, 10).join(', ')}`).toBe(true);
      expect(await addDataOffsets(fileDump)).toMatchObject({ patched: 0 });
      // An archive written to a pipe has no data positions in its TOC: its sizes would need a full read.
      writeFileSync(path.join(dir, `piped${z}.dump`), piped);
      expect(await readDataSizes(path.join(dir, `piped${z}.dump`))).toBeUndefined();
      expect(await scanDataSizes(path.join(dir, `piped${z}.dump`))).toEqual(fromFile);
      const stopped = new AbortController();
      stopped.abort();
      expect(await scanDataSizes(path.join(dir, `piped${z}.dump`), stopped.signal)).toBeUndefined();
    }
  });

  it('pg_restore commits without waiting for WAL flushes and, with a job per core, builds without parallel workers; the restored database keeps neither setting', async () => {
    // A CHECK constraint runs for every row pg_restore loads: this one records the session's settings.
    const db = `${prefix}_commits`;
    await createDatabase(db);
    await sql(
      db,
      `CREATE TABLE commit_modes (mode text);
       CREATE FUNCTION note_commit_mode() RETURNS boolean LANGUAGE plpgsql AS $$
         BEGIN
           INSERT INTO public.commit_modes VALUES (current_setting('synchronous_commit') || ' ' || current_setting('max_parallel_maintenance_workers'));
           RETURN true;
         END $$;
       CREATE TABLE items (id int PRIMARY KEY, CHECK (note_commit_mode()));
       CREATE TABLE more_items (id int PRIMARY KEY);
       INSERT INTO items SELECT generate_series(1, 3);
       INSERT INTO more_items SELECT generate_series(1, 3);
       ALTER DATABASE ${ident(db)} SET work_mem = '5MB';`,
    );
    const [{ workers }] = await sql<{ workers: string }>('postgres', "SELECT current_setting('max_parallel_maintenance_workers') AS workers");
    expect(workers).not.toBe('0');
    // The cluster is on this machine (loopback): jobs that cover its cores leave no core for parallel index builds.
    const cores = os.availableParallelism();
    // The third run's connection asks for its own number of workers, which wins over pgclone's default. The last run's
    // dump holds one table's rows only: pg_restore runs one job, and its builds keep their workers.
    const cases = [
      { jobs: 1, options: '', expected: workers },
      { jobs: cores, options: '', expected: '0' },
      { jobs: cores, options: '?options=-c%20max_parallel_maintenance_workers%3D3', expected: '3' },
      { jobs: cores, options: '', expected: workers, exclude: ['more_items'] },
    ];
    for (const [i, { jobs, options, expected, exclude = [] }] of cases.entries()) {
      // Without the log's rows in the dump, pg_restore -j does not truncate it before loading them.
      const excluded = ['commit_modes', ...exclude].flatMap((table) => ['-e', table]);
      const dumped = await runCli(['dump', '--compression', 'none', ...excluded], { cwd, env: { DATABASE_URL: dbUrl(db) } });
      expect(dumped.code, dumped.stderr).toBe(0);
      const target = `${prefix}_commits_${i}`;
      const restored = await runCli(['restore', dumped.lines.at(-1)!, '-j', String(jobs)], { cwd, env: { DATABASE_URL: dbUrl(target) + options } });
      expect(restored.code, restored.stderr).toBe(0);
      if (exclude.length > 0 && cores > 1) expect(restored.stderr).toContain(`One item holds 100% of the data in ${dumped.lines.at(-1)}: pg_restore runs one job, as -j${cores} would only wait for it`);
      const mode = `off ${jobs === 1 && cores === 1 ? '0' : expected}`;
      expect(await sql(target, 'SELECT mode, count(*)::int AS n FROM commit_modes GROUP BY mode')).toEqual([{ mode, n: 3 }]);
      // The database's own settings came with the dump; nothing is left for pgclone's role.
      const settings = await sql<{ setrole: number; setconfig: string[] }>(
        'postgres',
        `SELECT s.setrole::int AS setrole, s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1`,
        [target],
      );
      expect(settings).toEqual([{ setrole: 0, setconfig: ['work_mem=5MB'] }]);
    }
  });

  it('offers the schema from the head of a spool still being downloaded, and restores the rest after it exactly', async () => {
    const c = cluster();
    const storageDir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-schema-head-'));
    const key = handMadeKey(7);
    writeHandMadeDump(source, storageDir, key, { pgDumpArgs: ['-Z0'] });
    // Remote-like (spooled even though plain) and slow: 64 KiB every 10 ms, about a second in all.
    const slow = slowRemote(new LocalStorage(storageDir), 10);
    const input = new DumpInput({ storage: slow, key, env: process.env, reporter: new Reporter('restore', () => {}), jobs: 2, spoolDir: storageDir });
    const db = `${prefix}_schemahead`;
    await createDatabase(db);
    try {
      await input.header();
      let spooled = false;
      const preparing = input.restoreInput(2).then((ready) => ((spooled = true), ready));
      const schema = await input.schemaSource();
      expect(schema && 'open' in schema).toBe(true);
      // Read from the spool file as pg_restore takes it, not held in memory (a schema's TOC can be tens of MB).
      const head = await (schema as { open: () => Promise<Readable> }).open();
      expect(head).toBeInstanceOf(ReadStream);
      expect(path.dirname(path.dirname((head as ReadStream).path as string))).toBe(storageDir);
      head.destroy();
      const tool = await locateTool('pg_restore', c.major);
      const env = { ...process.env, ...libpqEnv(parseConnection(dbUrl(db))) };
      const run = { tool, env, database: db, key, allowList: [] };
      await runPgRestore({ ...run, source: schema!, sections: ['pre-data'] });
      expect(spooled).toBe(false); // the tables exist before the data has arrived
      expect(await sql(db, `SELECT count(*)::int AS n FROM items`)).toEqual([{ n: 0 }]);
      const ready = await preparing;
      expect(ready.mode).toBe('spool');
      await runPgRestore({ ...run, source: ready.source, jobs: 2, sections: ['data', 'post-data'] });
      expect(await fingerprint(db)).toEqual(expected);
    } finally {
      await input.dispose();
    }
  });

  it('pg_restore does not start when the restore was interrupted before it (a Ctrl-C just before it is not lost)', async () => {
    const c = cluster();
    const storageDir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-aborted-'));
    const key = handMadeKey(8);
    const file = writeHandMadeDump(source, storageDir, key, { pgDumpArgs: ['-Z0'], pipe: ['gzip', '-1', '-c'] });
    const tool = await locateTool('pg_restore', c.major);
    const db = `${prefix}_aborted`;
    await createDatabase(db);
    const env = { ...process.env, ...libpqEnv(parseConnection(dbUrl(db))) };
    const interrupted = new AbortController();
    interrupted.abort();
    // A file, a stream and a program's pipe: each source starts pg_restore its own way.
    const sources = [
      { path: execFileSync('sh', ['-c', 'gzip -dc "$1" > "$1.plain" && echo "$1.plain"', 'sh', file], { encoding: 'utf8' }).trim() },
      { open: () => Promise.resolve(Readable.from(execFileSync('gzip', ['-dc', file], { maxBuffer: 1 << 30 }))) },
      {
        pipe: () => {
          const gunzip = spawn('gzip', ['-dc', file], { stdio: ['ignore', 'pipe', 'ignore'] });
          return Promise.resolve({ stdout: gunzip.stdout, done: new Promise<void>((resolve) => gunzip.once('close', () => resolve())) });
        },
      },
    ];
    for (const archive of sources) {
      await expect(runPgRestore({ tool, env, database: db, key, allowList: [], source: archive, signal: interrupted.signal })).rejects.toThrow();
      expect(await sql(db, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).toEqual([{ n: 0 }]);
    }
  });

  it('finds the data offsets of a spool while it is still being written, and stops when its writer fails', async () => {
    const c = cluster();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-offsets-growing-'));
    const env = { ...process.env, PGPASSWORD: c.password };
    const piped = execFileSync(path.join(c.binDir, 'pg_dump'), ['-Fc', '-Z0', '-h', c.host, '-p', String(c.port), '-U', c.user, '-d', source], {
      env,
      maxBuffer: 1 << 30,
    });
    const whole = path.join(dir, 'whole.dump');
    writeFileSync(whole, piped);
    const expected = await addDataOffsets(whole);
    expect(expected).toMatchObject({ patched: 3 });

    // Written in pieces with pauses (the header first, then the data, cut mid-chunk), the way a decompressor fills a spool.
    const writeSlowly = async (file: string, upTo: number) => {
      writeFileSync(file, ''); // exists before the walk starts, like a spool file
      const handle = await open(file, 'r+');
      const pieces = 7;
      for (let i = 0; i < pieces; i++) {
        await handle.write(piped.subarray(Math.floor((upTo * i) / pieces), Math.floor((upTo * (i + 1)) / pieces)));
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
      await handle.close();
    };
    const growing = path.join(dir, 'growing.dump');
    const writing = writeSlowly(growing, piped.length);
    const followed = await addDataOffsets(growing, { written: writing });
    expect(followed).toEqual(expected);
    expect(readFileSync(growing).equals(readFileSync(whole))).toBe(true);

    // A writer that fails midway ends the walk instead of leaving it waiting for bytes that never come.
    const failing = path.join(dir, 'failing.dump');
    const failed = writeSlowly(failing, Math.floor(piped.length / 2)).then(() => {
      throw new Error('decompression failed');
    });
    expect(await addDataOffsets(failing, { written: failed })).toEqual({ skipped: 'the writer failed' });
  });

  it.skipIf(cluster().major < 14)('reads how far a running COPY has got, for the restore progress inside a big table', async () => {
    const db = `${prefix}_copying`;
    await createDatabase(db);
    await sql(db, 'CREATE TABLE t (id int, v text)');
    const c = cluster();
    const psql = spawn(path.join(c.binDir, 'psql'), ['-X', '-q', '-h', c.host, '-p', String(c.port), '-U', c.user, '-d', db, '-c', 'COPY t FROM STDIN'], {
      env: { ...process.env, PGPASSWORD: c.password },
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    const exited = new Promise((resolve) => psql.on('exit', resolve));
    const chunk = Array.from({ length: 10_000 }, (_, i) => `${i}\t${'x'.repeat(95)}\n`).join('');
    psql.stdin.write(chunk);
    const admin = await Admin.connect(parseConnection(dbUrl('postgres')), { lockTimeout: 5000 });
    const seen: number[] = [];
    const stop = pollRestoreProgress(admin, db, { onCopyBytes: (bytes) => seen.push(bytes) });
    try {
      // psql holds back some of what was written until more input comes (~4% here): the reading gets to most of it,
      // never beyond it.
      for (let waited = 0; (seen.at(-1) ?? 0) < chunk.length / 2; waited += 100) {
        expect(waited, `readings: ${seen.join(', ')}`).toBeLessThan(15_000);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(seen.at(-1)).toBeLessThanOrEqual(chunk.length);
    } finally {
      await stop();
      psql.stdin.end();
      await exited;
      await admin.close();
    }
    expect(await sql(db, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 10_000 }]);
  });

  it('follows a running index build from the server, named by its statement', async () => {
    const db = `${prefix}_indexing`;
    await createDatabase(db);
    // Each row costs 2 ms to index, whatever the machine: the build runs for ~3 s, through several readings.
    await sql(
      db,
      `CREATE FUNCTION slow(i int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.002); RETURN i; END $$;
       CREATE TABLE t AS SELECT i, (SELECT string_agg(md5(i::text || j::text), '') FROM generate_series(1, 60) j) AS pad
         FROM generate_series(1, 1500) i`, // ~2 KB rows, stored inline: ~4 to a block, so the blocks read move along
    );
    const admin = await Admin.connect(parseConnection(dbUrl('postgres')), { lockTimeout: 5000 });
    const readings: Array<{ query: string; fraction: number }> = [];
    const stop = pollRestoreProgress(admin, db, { onBuilds: (builds) => readings.push(...builds) });
    try {
      const building = sql(db, 'CREATE INDEX t_slow_idx ON t ((slow(i)))');
      const mine = () => readings.filter((r) => r.query.includes('t_slow_idx') && r.fraction > 0);
      for (let waited = 0; mine().length < 2; waited += 100) {
        expect(waited, `readings: ${JSON.stringify(readings)}`).toBeLessThan(15_000);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await building;
      const fractions = mine().map((r) => r.fraction);
      expect(fractions).toEqual([...fractions].sort((a, b) => a - b)); // only forward
      expect(fractions[0]).toBeLessThanOrEqual(0.5); // a B-tree reading its table: the first half
      expect(fractions.every((f) => f > 0 && f < 1)).toBe(true);
    } finally {
      await stop();
      await admin.close();
    }
  });

  it.skipIf(cluster().major < 14)('follows a running pg_dump from the server, for the bar of a dump written to a file', async () => {
    const db = `${prefix}_dumping`;
    await createDatabase(db);
    await sql(db, "CREATE TABLE t AS SELECT i AS id, repeat('x', 95) AS v FROM generate_series(1, 200000) i");
    await sql(db, 'VACUUM ANALYZE t'); // reltuples, which the refined total multiplies
    const c = cluster();
    // pg_dump writes into a FIFO that is opened but not read: it stops inside the table's COPY until it is drained.
    const fifo = path.join(cwd, 'dump.fifo');
    execFileSync('mkfifo', [fifo]);
    const pgDump = spawn(path.join(c.binDir, 'pg_dump'), ['-Fc', '-Z0', '--no-sync', '-h', c.host, '-p', String(c.port), '-U', c.user, '-d', db, '-f', fifo], {
      env: { ...process.env, PGPASSWORD: c.password, PGAPPNAME: 'pgclone-test-dump' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => pgDump.on('exit', resolve));
    const reader = await open(fifo, 'r');
    const totals: number[] = [];
    const seen: number[] = [];
    const watch = watchDump(
      parseConnection(dbUrl(db)),
      [],
      'pgclone-test-dump',
      { onTotal: (t) => totals.push(t), onCopied: (b) => seen.push(b) },
      { serverMajor: c.major, rowOverhead: 0 },
    );
    // The COPY text: id, tab, 95 x, newline.
    const copyText = Array.from({ length: 200_000 }, (_, i) => String(i + 1).length + 97).reduce((a, b) => a + b, 0);
    try {
      for (let waited = 0; (seen.at(-1) ?? 0) === 0 || totals.length < 2; waited += 100) {
        expect(waited, `readings: ${seen.join(', ')}; totals: ${totals.join(', ')}`).toBeLessThan(15_000);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // First the table on disk (200 000 rows of ~130 bytes), then its rows as the COPY shows them so far, times its
      // rows: the first rows have shorter ids than the average, so a little under.
      expect(totals[0]).toBeGreaterThan(1.2 * copyText);
      expect(totals.at(-1)).toBeGreaterThan(0.97 * copyText);
      expect(totals.at(-1)).toBeLessThanOrEqual(copyText);
      let drained = 0;
      for await (const chunk of reader.createReadStream()) drained += (chunk as Buffer).length;
      expect(await exited).toBe(0);
      expect(drained).toBeGreaterThan(200_000 * 100);
      // Readings only grow, and never pass the table's COPY text.
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(seen.at(-1)).toBeLessThanOrEqual(copyText);
    } finally {
      watch.stop();
      pgDump.kill();
    }
  });

  it.skipIf(!has('zstd'))('refuses a wrapped file that is not an archive inside', async () => {
    const key = handMadeKey(99);
    const file = writeHandMadeDump(source, path.join(cwd, '.pgclone'), key, { pgDumpArgs: ['-Fp'], pipe: ['zstd', '-q', '-c'] });
    expect(magicOf(file)).toBe('zstd');
    const restored = await runCli(['restore', key], { cwd, env: { DATABASE_URL: dbUrl(`${prefix}_bad`) } });
    expect(restored.code).toBe(1);
    expect(restored.stderr).toMatch(/plain SQL script|not a pg_dump custom-format archive/);
  });
});
