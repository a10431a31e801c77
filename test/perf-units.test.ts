import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import {
  chooseCopyMethod,
  cloneSharing,
  decompressStage,
  FILE_COPY_MIN_BYTES,
  findProgram,
  isItemLine,
  isVerboseLine,
  ParallelGzip,
  ProgressMeter,
  Reporter,
  RestoreProgress,
  buildFraction,
  parseArchiveHeader,
  parseCompression,
  planDumpCompression,
  prefixRepairer,
  validateConfig,
  type ProgressEvent,
} from '@pgclone/core';
import { describe, expect, it, vi } from 'vitest';
import { createProgressRenderer, describeProgress, formatDuration } from '../packages/pgclone/dist/cli/progress.js';

const emptyPath = { PATH: mkdtempSync(path.join(os.tmpdir(), 'pgclone-no-tools-')) };
const hasZstd = findProgram('zstd') !== undefined;

describe('compression option', () => {
  it('parses methods and levels, and refuses the rest', () => {
    expect(parseCompression('auto')).toEqual({ method: 'auto' });
    expect(parseCompression('none')).toEqual({ method: 'none' });
    expect(parseCompression('gzip')).toEqual({ method: 'gzip' });
    expect(parseCompression('GZIP:9')).toEqual({ method: 'gzip', level: 9 });
    expect(parseCompression('zstd:19')).toEqual({ method: 'zstd', level: 19 });
    expect(parseCompression('lz4:12')).toEqual({ method: 'lz4', level: 12 });
    for (const bad of ['', 'brotli', 'gzip:0', 'gzip:10', 'zstd:20', 'lz4:13', 'auto:3', 'none:1', 'zstd:', 'zstd:-1']) {
      expect(parseCompression(bad), bad).toBeUndefined();
    }
  });

  it('is validated in config files', () => {
    expect(validateConfig({ compression: 'zstd:3', jobs: 4, copyStrategy: 'file_copy', spoolDir: '/var/tmp' }, 'x')).toMatchObject({ jobs: 4 });
    expect(() => validateConfig({ compression: 'xz' }, 'pgclone.config.json')).toThrow(/compression: expected auto, none, gzip\[:1-9\]/);
    expect(() => validateConfig({ jobs: 0 }, 'pgclone.config.json')).toThrow(/jobs/);
    expect(() => validateConfig({ copyStrategy: 'fast' }, 'pgclone.config.json')).toThrow(/copyStrategy/);
  });

  it('auto: pg_dump 16+ compresses with its own zstd, keeping the archive plain', () => {
    const { compression } = planDumpCompression({ method: 'auto' }, 16, emptyPath);
    expect(compression).toMatchObject({ pgDumpArgs: ['--compress=zstd:1'], wrapper: 'none' });
    expect(compression.outer).toBeUndefined();
  });

  it.skipIf(!hasZstd)('auto: pg_dump 15 writes -Z0 and the zstd CLI compresses outside it', () => {
    const { compression, notice } = planDumpCompression({ method: 'auto' }, 15, process.env);
    expect(compression.pgDumpArgs).toEqual(['-Z0']);
    expect(compression.outer).toMatchObject({ kind: 'cli', wrapper: 'zstd' });
    expect(compression.outer?.kind === 'cli' && compression.outer.args[0]).toBe('-1');
    expect(notice).toBeUndefined();
  });

  it('auto without zstd falls back to gzip in the zlib thread pool, saying so', () => {
    const { compression, notice } = planDumpCompression({ method: 'auto' }, 15, emptyPath);
    expect(compression).toMatchObject({ pgDumpArgs: ['-Z0'], wrapper: 'gzip', outer: { kind: 'zlib', wrapper: 'gzip' } });
    expect(notice).toMatch(/zstd not found on PATH/);
  });

  it('explicit methods', () => {
    expect(planDumpCompression({ method: 'none' }, 15, emptyPath).compression.pgDumpArgs).toEqual(['-Z0']);
    expect(planDumpCompression({ method: 'gzip' }, 15, emptyPath).compression).toMatchObject({ pgDumpArgs: ['-Z6'], wrapper: 'none' });
    expect(planDumpCompression({ method: 'gzip', level: 1 }, 17, emptyPath).compression.pgDumpArgs).toEqual(['-Z1']);
    expect(planDumpCompression({ method: 'lz4', level: 3 }, 16, emptyPath).compression.pgDumpArgs).toEqual(['--compress=lz4:3']);
    expect(() => planDumpCompression({ method: 'lz4' }, 15, emptyPath)).toThrow(/install lz4/);
    expect(() => planDumpCompression({ method: 'zstd' }, 15, emptyPath)).toThrow(/needs pg_dump 16 or newer, or the zstd program/);
  });
});

describe('compressors', () => {
  const data = Buffer.concat([
    Buffer.from('PGDMP'),
    randomBytes(300_000),
    Buffer.from('row\tof\ttext\n'.repeat(250_000)),
    randomBytes(123),
  ]);

  it('ParallelGzip writes independent members that gunzip reads back exactly', async () => {
    const out = await buffer(Readable.from(chunks(data, 65536)).pipe(new ParallelGzip(2, 3)));
    expect(out[0]).toBe(0x1f);
    expect(gunzipSync(out).equals(data)).toBe(true);
    expect(execFileSync('gzip', ['-dc'], { input: out, maxBuffer: 1 << 28 }).equals(data)).toBe(true);
    // 1 MiB blocks: more than one member.
    expect(countGzipMembers(out)).toBeGreaterThan(2);
  });

  it.skipIf(!hasZstd)('decodes zstd with the pure-JS decoder when no zstd binary is on PATH', async () => {
    const compressed = execFileSync('zstd', ['-1', '-q', '-c'], { input: data, maxBuffer: 1 << 28 });
    const stage = await decompressStage('zstd', emptyPath, 'k.dump');
    const out: Buffer[] = [];
    await pipeline(Readable.from(chunks(compressed, 7000)), stage.stream, async function* (source) {
      for await (const chunk of source) out.push(chunk as Buffer);
    });
    await stage.done;
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });

  it.skipIf(!hasZstd)('decodes zstd with the zstd binary, and reports corrupt input as DUMP_INVALID', async () => {
    const compressed = execFileSync('zstd', ['-1', '-q', '-c'], { input: data, maxBuffer: 1 << 28 });
    const stage = await decompressStage('zstd', process.env, 'k.dump');
    const out = await buffer(Readable.from([compressed]).pipe(stage.stream));
    await stage.done;
    expect(out.equals(data)).toBe(true);

    const corrupt = Buffer.from(compressed);
    corrupt.fill(0x55, 100, 400);
    const bad = await decompressStage('zstd', process.env, 'dev/default/none/k.dump');
    await buffer(Readable.from([corrupt]).pipe(bad.stream)).catch(() => {});
    // Named by its key: a restore's error must say which dump is damaged.
    await expect(bad.done).rejects.toMatchObject({ code: 'DUMP_INVALID', message: expect.stringContaining('zstd decompression of dev/default/none/k.dump (zstd) failed') });
  });

  it('recognises wrappers by their magic bytes', () => {
    expect(parseArchiveHeader(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), 'k').wrapper).toBe('gzip');
    expect(parseArchiveHeader(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), 'k').wrapper).toBe('zstd');
    expect(parseArchiveHeader(Buffer.from([0x04, 0x22, 0x4d, 0x18, 0, 0, 0, 0]), 'k').wrapper).toBe('lz4');
    expect(parseArchiveHeader(Buffer.from('PGDMP\x01\x0e\x00\x04\x08\x01\x01'), 'k')).toMatchObject({ wrapper: 'none', version: [1, 14, 0] });
  });
});

describe('copy method', () => {
  const shares = { shares: true, why: 'xfs shares the blocks' };
  const copies = { shares: false, why: 'not cloned, as ext4 would copy the blocks anyway' };
  const auto = (size: number, serverMajor = 15, canClone = false, sharing?: { shares: boolean; why: string }) =>
    chooseCopyMethod({ option: 'auto', size, serverMajor, canClone, ...(sharing ? { sharing } : {}) }).method;
  it('auto: WAL_LOG below the threshold, FILE_COPY above, clone where the server has it and the blocks are shared', () => {
    expect(auto(FILE_COPY_MIN_BYTES - 1)).toEqual({ strategy: 'WAL_LOG', clone: false });
    expect(auto(FILE_COPY_MIN_BYTES)).toEqual({ strategy: 'FILE_COPY', clone: false });
    expect(auto(10 * FILE_COPY_MIN_BYTES, 18, true, shares)).toEqual({ strategy: 'FILE_COPY', clone: true });
    expect(auto(10 * FILE_COPY_MIN_BYTES, 18, true, copies)).toEqual({ strategy: 'FILE_COPY', clone: false });
    expect(auto(10 * FILE_COPY_MIN_BYTES, 18, true)).toEqual({ strategy: 'FILE_COPY', clone: false });
    expect(auto(10 * FILE_COPY_MIN_BYTES, 18, false, shares)).toEqual({ strategy: 'FILE_COPY', clone: false });
    expect(auto(FILE_COPY_MIN_BYTES - 1, 18, true, shares)).toEqual({ strategy: 'WAL_LOG', clone: false });
    expect(auto(10 * FILE_COPY_MIN_BYTES, 14)).toEqual({ clone: false });
  });
  it('a clone shares blocks on a macOS server, and on Btrfs, XFS or bcachefs seen from this machine', () => {
    const linux = 'PostgreSQL 18.4 on x86_64-pc-linux-gnu, compiled by gcc 12.2.0, 64-bit';
    const mac = 'PostgreSQL 18.1 (Homebrew) on aarch64-apple-darwin24.6.0, compiled by Apple clang version 17.0.0, 64-bit';
    expect(cloneSharing({ serverVersion: mac, local: false, fsType: undefined })).toEqual({ shares: true, why: 'macOS shares the blocks' });
    expect(cloneSharing({ serverVersion: linux, local: true, fsType: 0x58465342 })).toEqual({ shares: true, why: 'xfs shares the blocks' });
    expect(cloneSharing({ serverVersion: linux, local: true, fsType: 0x9123683e }).shares).toBe(true);
    expect(cloneSharing({ serverVersion: linux, local: true, fsType: 0xca451a4e }).shares).toBe(true);
    expect(cloneSharing({ serverVersion: linux, local: true, fsType: 0xef53 })).toEqual(copies);
    expect(cloneSharing({ serverVersion: linux, local: true, fsType: 0x1234 })).toEqual({ shares: false, why: 'not cloned, as filesystem 0x1234 would copy the blocks anyway' });
    expect(cloneSharing({ serverVersion: linux, local: true, fsType: undefined }).why).toMatch(/filesystem is unknown/);
    // Elsewhere, what this machine sees at the data directory's path is not the server's filesystem.
    expect(cloneSharing({ serverVersion: linux, local: false, fsType: 0x58465342 })).toMatchObject({ shares: false, why: expect.stringMatching(/server is elsewhere/) });
  });
  it('forced methods, and clone degrading to a file copy where unavailable', () => {
    expect(chooseCopyMethod({ option: 'wal_log', size: 1 << 40, serverMajor: 15, canClone: false }).method.strategy).toBe('WAL_LOG');
    expect(chooseCopyMethod({ option: 'file_copy', size: 0, serverMajor: 15, canClone: false }).method.strategy).toBe('FILE_COPY');
    const clone = chooseCopyMethod({ option: 'clone', size: 0, serverMajor: 15, canClone: false });
    expect(clone.method).toEqual({ strategy: 'FILE_COPY', clone: false });
    expect(clone.notice).toMatch(/needs PostgreSQL 18/);
    expect(chooseCopyMethod({ option: 'wal_log', size: 0, serverMajor: 14, canClone: false }).notice).toMatch(/needs PostgreSQL 15/);
  });
});

describe('restore progress lines', () => {
  it('counts one line per restored item, in single-job and parallel output alike', () => {
    const lines = [
      'pg_restore: connecting to database for restore',
      'pg_restore: processing item 7 SCHEMA billing',
      'pg_restore: creating SCHEMA "billing"',
      'pg_restore: launching item 3505 TABLE DATA organizations',
      'pg_restore: processing data for table "public.organizations"',
      'pg_restore: finished item 3505 TABLE DATA organizations',
      'pg_restore: executing SEQUENCE SET invoice_numbers',
      'pg_restore: error: could not execute query: ERROR:  relation "x" already exists',
      'pg_restore: from TOC entry 215; 1259 16386 TABLE x postgres',
      'pg_restore: warning: errors ignored on restore: 1',
      'Command was: CREATE TABLE x ();',
    ];
    expect(lines.filter(isItemLine)).toHaveLength(3);
    expect(lines.filter((l) => !isVerboseLine(l))).toEqual(lines.slice(7));
  });

  it('mends the lines of parallel workers whose prefix, space and message were written apart', () => {
    // PostgreSQL's logging writes `pg_restore:`, then ` `, then the message: with -j the workers' writes interleave.
    // These are lines of a real pg_restore -j2 of 8,000 tables and 50,000 large objects (PostgreSQL 15).
    const raw = [
      'pg_restore:pg_restore: finished item 35193 CONSTRAINT t1 t1_pkey',
      ' finished item 35197 CONSTRAINT t3 t3_pkey',
      'pg_restore:pg_restore:  launching item 35199 CONSTRAINT t4 t4_pkey',
      'processing data for table "public.t20"',
      'pg_restore:restoring large object with OID 73667',
      'pg_restore:  finished item 51338 TABLE DATA t5',
      'pg_restore: error: could not execute query: ERROR:  syntax error at or near "x"',
      'LINE 1: x',
      '        ^',
      'Command was: x',
    ];
    const repair = prefixRepairer('pg_restore');
    const lines = raw.map(repair);
    expect(lines.slice(0, 6)).toEqual([
      'pg_restore: finished item 35193 CONSTRAINT t1 t1_pkey',
      'pg_restore: finished item 35197 CONSTRAINT t3 t3_pkey',
      'pg_restore: launching item 35199 CONSTRAINT t4 t4_pkey',
      'pg_restore: processing data for table "public.t20"',
      'pg_restore: restoring large object with OID 73667',
      'pg_restore: finished item 51338 TABLE DATA t5',
    ]);
    expect(lines.slice(0, 6).every(isVerboseLine)).toBe(true);
    // An error's own lines stay as they are, and are not taken for chatter.
    expect(lines.slice(6)).toEqual(raw.slice(6));
    expect(lines.slice(6).some(isVerboseLine)).toBe(false);
    expect(prefixRepairer('psql')('psql:/tmp/x.sql:3: ERROR:  syntax error')).toBe('psql:/tmp/x.sql:3: ERROR:  syntax error');
  });
});

describe('progress meter', () => {
  it('emits nothing after its final event, whatever count arrives late', () => {
    const seen: ProgressEvent[] = [];
    const meter = new ProgressMeter(new Reporter('restore', (e) => e.event === 'progress' && seen.push(e)), 'download', 'bytes', 100);
    let now = 1_000_000;
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => (now += 300)); // past the throttle at every call
    try {
      meter.set(40);
      meter.finish();
      meter.set(60); // a poll that was under way when the phase ended
      meter.add(10);
    } finally {
      clock.mockRestore();
    }
    expect(seen.map((e) => [e.done, e.final ?? false])).toEqual([
      [40, false],
      [100, true],
    ]);
    expect(meter.done).toBe(100);
  });
});

describe('restore progress', () => {
  // pg_restore 15's own lines for an archive of three tables, large objects, an index, a constraint and a
  // materialized view (recorded with -j1 and -j2).
  const toc = [
    '6; 2615 16395 SCHEMA - s2 postgres',
    '215; 1259 16385 TABLE public a postgres',
    '218; 1259 16401 MATERIALIZED VIEW public mv postgres',
    '216; 1259 16392 TABLE public we.ird "x" postgres',
    '217; 1259 16396 TABLE s2 b postgres',
    '3359; 2613 16400 BLOB - 16400 postgres',
    '3355; 0 16385 TABLE DATA public a postgres',
    '3356; 0 16392 TABLE DATA public we.ird "x" postgres',
    '3357; 0 16396 TABLE DATA s2 b postgres',
    '3360; 0 0 BLOBS - BLOBS ',
    '3210; 2606 16391 CONSTRAINT public a a_pkey postgres',
    '3211; 1259 16399 INDEX s2 b_v_idx postgres',
    '3358; 0 16401 MATERIALIZED VIEW DATA public mv postgres',
  ];
  const data = { sizes: new Map([[3355, 1000], [3356, 10], [3357, 500], [3360, 90]]), compressed: false };
  const events = () => {
    const seen: ProgressEvent[] = [];
    return { seen, reporter: new Reporter('restore', (e) => e.event === 'progress' && seen.push(e)) };
  };

  it('counts the bytes of finished items with -j, and what the running COPYs have read', () => {
    const { seen, reporter } = events();
    const progress = new RestoreProgress(reporter, toc, data, true);
    expect(progress.wantsCopyBytes).toBe(true);
    const at: number[] = [];
    const feed = (line: string) => {
      progress.line(`pg_restore: ${line}`);
      at.push(progress.done);
    };
    for (const line of ['creating SCHEMA "s2"', 'creating TABLE "public.a"', 'executing BLOB 16400', 'entering main parallel loop']) feed(line);
    feed('launching item 3355 TABLE DATA a');
    feed('launching item 3357 TABLE DATA b');
    progress.setCopyBytes(1400); // both COPYs running
    at.push(progress.done);
    feed('finished item 3357 TABLE DATA b');
    feed('launching item 3211 INDEX b_v_idx');
    feed('finished item 3211 INDEX b_v_idx');
    progress.setCopyBytes(2000); // a stale reading, beyond the one COPY still running: capped at its size
    at.push(progress.done);
    feed('launching item 3360 BLOBS BLOBS');
    feed('finished item 3360 BLOBS BLOBS');
    feed('finished item 3355 TABLE DATA a');
    expect(at).toEqual([0, 0, 0, 0, 0, 0, 1400, 1400, 1400, 1400, 1500, 1500, 1500, 1590]);
    progress.finish();
    expect(seen.at(-1)).toMatchObject({ phase: 'restore', unit: 'bytes', done: 1600, total: 1600, final: true, items: { done: 13, total: 13 } });
  });

  it('counts data items in TOC order without -j, each ending at the next item', () => {
    const { reporter } = events();
    const progress = new RestoreProgress(reporter, toc, data, false);
    const at: number[] = [];
    for (const line of [
      'creating TABLE "s2.b"',
      'processing data for table "public.a"',
      'processing data for table "public.we.ird "x""',
      'processing data for table "s2.b"',
      'processing BLOBS',
      'restoring large object with OID 16400',
      'creating CONSTRAINT "public.a a_pkey"',
    ]) {
      progress.line(`pg_restore: ${line}`);
      at.push(progress.done);
    }
    expect(at).toEqual([0, 0, 1000, 1010, 1510, 1510, 1600]);
  });

  it('counts each index and constraint build at its estimated cost, with -j and without', () => {
    const withBuilds = { ...data, builds: new Map([[3210, 500], [3211, 250]]) };
    const parallel = events();
    const j2 = new RestoreProgress(parallel.reporter, toc, withBuilds, true);
    for (const line of ['launching item 3357 TABLE DATA b', 'finished item 3357 TABLE DATA b', 'launching item 3211 INDEX b_v_idx']) j2.line(`pg_restore: ${line}`);
    expect(j2.done).toBe(500);
    j2.line('pg_restore: finished item 3211 INDEX b_v_idx');
    expect(j2.done).toBe(750);
    expect(parallel.seen[0]).toMatchObject({ total: 2350, estimated: true }); // the builds' cost is a guess
    j2.finish();
    expect(parallel.seen.at(-1)).toMatchObject({ done: 2350, total: 2350, final: true });

    const single = new RestoreProgress(events().reporter, toc, withBuilds, false);
    const at: number[] = [];
    for (const line of [
      'processing data for table "public.a"',
      'processing data for table "public.we.ird "x""',
      'processing data for table "s2.b"',
      'processing BLOBS',
      'creating CONSTRAINT "public.a a_pkey"', // the blobs are done; the constraint starts
      'creating INDEX "s2.b_v_idx"', // the constraint is done
      'creating FK CONSTRAINT "s2.b b_a_fkey"', // not among the builds: only ends the index
    ]) {
      single.line(`pg_restore: ${line}`);
      at.push(single.done);
    }
    expect(at).toEqual([0, 1000, 1010, 1510, 1600, 2100, 2350]);
  });

  it('counts the part of a running index build that the server reports, until pg_restore says it finished', () => {
    const withBuilds = { ...data, builds: new Map([[3210, 500], [3211, 250]]) };
    const { reporter } = events();
    const progress = new RestoreProgress(reporter, toc, withBuilds, true);
    expect(progress.wantsBuildProgress).toBe(true);
    progress.line('pg_restore: launching item 3211 INDEX b_v_idx');
    progress.line('pg_restore: launching item 3210 CONSTRAINT a a_pkey');
    progress.setBuildProgress([
      { query: 'CREATE INDEX b_v_idx ON s2.b USING btree (v);', fraction: 0.4 },
      { query: 'ALTER TABLE ONLY public.a\n    ADD CONSTRAINT a_pkey PRIMARY KEY (id);', fraction: 0.5 },
      { query: 'CREATE INDEX b_v_idx_2 ON s2.b USING btree (w);', fraction: 0.9 }, // another index: not b_v_idx
    ]);
    expect(progress.done).toBe(100 + 250);
    progress.line('pg_restore: finished item 3211 INDEX b_v_idx'); // its whole cost, its partial reading dropped
    expect(progress.done).toBe(250 + 250);
    progress.setBuildProgress([]); // the constraint's build is between readings: never back
    expect(progress.done).toBe(500);
    expect(new RestoreProgress(reporter, toc, data, true).wantsBuildProgress).toBe(false);
  });

  it("reads an index build's progress from its phase", () => {
    const row = (phase: string, blocks: [number, number], tuples: [number, number]) =>
      buildFraction({ phase, blocksDone: blocks[0], blocksTotal: blocks[1], tuplesDone: tuples[0], tuplesTotal: tuples[1] });
    expect(row('initializing', [0, 0], [0, 0])).toBe(0);
    expect(row('building index: scanning table', [25, 100], [0, 0])).toBe(0.125);
    expect(row('building index: sorting live tuples', [100, 100], [0, 0])).toBe(0.5);
    expect(row('building index: loading tuples in tree', [0, 0], [3, 4])).toBe(0.875);
    expect(row('building index', [50, 100], [0, 0])).toBe(0.475); // GIN: blocks only, never quite done
    expect(row('building index: scanning table', [5, 0], [0, 0])).toBe(0);
  });

  it('holds the lines while the sizes are being found, then counts them in bytes', async () => {
    const { seen, reporter } = events();
    let found!: (d: typeof data) => void;
    const progress = new RestoreProgress(reporter, toc, new Promise((resolve) => (found = resolve)), true);
    progress.line('pg_restore: launching item 3357 TABLE DATA b');
    progress.line('pg_restore: processing data for table "s2.b"');
    progress.line('pg_restore: finished item 3357 TABLE DATA b');
    expect(seen).toEqual([]);
    found(data);
    await progress.ready;
    expect(progress.done).toBe(500);
    expect(seen[0]).toMatchObject({ unit: 'bytes', total: 1600, items: { total: 13 } });
  });

  it('counts an item among those done once it finished, not when it started', () => {
    const itemsAt = (parallel: boolean, lines: string[]) => {
      const { seen, reporter } = events();
      const progress = new RestoreProgress(reporter, toc, data, parallel);
      const done: number[] = [];
      let now = 1_000_000;
      const clock = vi.spyOn(Date, 'now').mockImplementation(() => (now += 300)); // past the throttle at every call
      try {
        for (const line of lines) {
          progress.line(`pg_restore: ${line}`);
          done.push(seen.at(-1)?.items?.done ?? 0);
        }
      } finally {
        clock.mockRestore();
      }
      return done;
    };
    expect(
      itemsAt(true, [
        'launching item 3355 TABLE DATA a',
        'processing data for table "public.a"',
        'launching item 3357 TABLE DATA b',
        'processing data for table "s2.b"',
        'finished item 3357 TABLE DATA b',
        'finished item 3355 TABLE DATA a',
      ]),
    ).toEqual([0, 0, 0, 0, 1, 2]);
    expect(
      itemsAt(false, [
        'processing data for table "public.a"',
        'processing data for table "public.we.ird "x""',
        'processing data for table "s2.b"',
        'processing BLOBS',
      ]),
    ).toEqual([0, 1, 2, 3]);
  });

  it('counts items when the sizes are not known', () => {
    const { seen, reporter } = events();
    const progress = new RestoreProgress(reporter, toc, undefined, true);
    expect(progress.wantsCopyBytes).toBe(false);
    progress.line('pg_restore: creating TABLE "public.a"');
    progress.line('pg_restore: launching item 3355 TABLE DATA a');
    progress.line('pg_restore: processing data for table "public.a"');
    expect(progress.done).toBe(1); // the table's data is still loading
    progress.line('pg_restore: finished item 3355 TABLE DATA a');
    expect(progress.done).toBe(2);
    progress.finish();
    expect(seen.at(-1)).toMatchObject({ unit: 'items', done: 13, total: 13, final: true });
    expect(seen.at(-1)).not.toHaveProperty('items');
  });
});

describe('progress rendering', () => {
  const event = (done: number, extra: Partial<ProgressEvent> = {}): ProgressEvent => ({
    event: 'progress',
    operation: 'dump',
    phase: 'dump',
    done,
    total: 200_000_000,
    estimated: true,
    unit: 'bytes',
    ...extra,
  });
  /** A line renderer (stderr not a terminal) on a clock the test sets, and the lines it wrote. */
  const lineRenderer = () => {
    const clock = { now: 0 };
    const written: string[] = [];
    const stream = { write: (s: string) => written.push(s) } as unknown as NodeJS.WritableStream;
    const renderer = createProgressRenderer({ stream, tty: false, scriptName: 'pgclone', now: () => clock.now, intervalMs: 5000 });
    return { clock, written, renderer };
  };

  it('describes bytes with rate and ETA, items without', () => {
    expect(describeProgress(event(50_000_000), 10_000_000)).toEqual({ amount: '50.0 MB of ~200 MB', percent: 25, rate: '10.0 MB/s', eta: '15 s' });
    expect(describeProgress({ ...event(3), unit: 'items', total: 58, estimated: false, phase: 'restore' }, 2)).toEqual({ amount: '3 of 58 items', percent: 5 });
    expect(formatDuration(185)).toBe('3 min 05 s');
    const restore = { ...event(52_000_000), phase: 'restore' as const, total: 130_000_000, estimated: false, items: { done: 30, total: 58 } };
    expect(describeProgress(restore, 13_000_000)).toEqual({ amount: '52.0 MB of 130 MB, 30 of 58 items', percent: 40, rate: '13.0 MB/s', eta: '6.0 s' });
  });

  it('prints a plain line per phase every interval when stderr is not a terminal, and a closing line', () => {
    const { clock, written, renderer } = lineRenderer();
    for (let t = 0; t <= 12_000; t += 250) {
      clock.now = t;
      renderer.update(event(t * 10_000));
    }
    clock.now = 12_500;
    renderer.update(event(125_000_000, { final: true, total: 125_000_000, estimated: false }));
    expect(written).toEqual([
      'pgclone: dump 50.0 MB of ~200 MB (25%), 10.0 MB/s, ETA 15 s\n',
      'pgclone: dump 100 MB of ~200 MB (50%), 10.0 MB/s, ETA 10 s\n',
      'pgclone: dump done: 125 MB in 13 s (10.0 MB/s)\n',
    ]);
  });

  it('measures the rate from when the count started to move: a restore reaches its table data after a stretch of schema items', () => {
    const { clock, written, renderer } = lineRenderer();
    // 19.8 s without a byte (the schema), then 10 MB/s; the line at 20 s comes 0.2 s into the data.
    for (let t = 0; t <= 20_000; t += 250) {
      clock.now = t;
      renderer.update(event(Math.max(0, t - 19_800) * 10_000, { phase: 'restore', estimated: false }));
    }
    // The rate over the last 0.25 s (8 MB/s: the data began between two readings), not over the whole window with
    // its flat start (0.4 MB/s, which showed an ETA of 8 minutes).
    expect(written.at(-1)).toBe('pgclone: restore 2.0 MB of 200 MB (1%), 8.0 MB/s, ETA 25 s\n');
  });

  it('prints nothing for a phase shorter than the interval', () => {
    const { clock, written, renderer } = lineRenderer();
    renderer.update(event(1));
    clock.now = 1000;
    renderer.update(event(2, { final: true }));
    expect(written).toEqual([]);
  });
});

function* chunks(data: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

function countGzipMembers(data: Buffer): number {
  let count = 0;
  for (let i = 0; i + 2 < data.length; i++) if (data[i] === 0x1f && data[i + 1] === 0x8b && data[i + 2] === 8) count++;
  return count;
}
