import { open } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatBytes } from '../format.js';
import { resolvePerfOptions, type PerfOptions } from '../config/perf.js';
import { excludeDataArgs } from '../pg/exclude-data.js';
import { libpqEnv, mergeEnv, type Connection } from '../connection.js';
import { DumpError, GuardError, PgcloneError } from '../errors.js';
import { interruptible, whenAborted } from '../interrupt.js';
import { formatDumpKey } from '../keys.js';
import { assertDatabaseName } from '../names.js';
import { hashFile, HashingStream, serverVersionString, writeManifest } from '../manifest.js';
import type { DumpOptions } from '../options.js';
import { compressStage, planDumpCompression, startProgram, type DumpCompression, type Program } from '../pg/compression.js';
import { followBytesRead } from '../proc-io.js';
import { ARCHIVE_ROW_OVERHEAD, watchDump } from '../pg/dump-size.js';
import { recalledServerMajor, rememberServerMajor } from '../pg/server-majors.js';
import { locateToolForServer, spawnTool, type Tool } from '../pg/tools.js';
import { meterStream, ProgressMeter } from '../progress.js';
import { redact } from '../redact.js';
import type { PathWriter, Storage } from '../storage.js';
import type { Reporter } from '../events.js';
import { connectAdmin, openStorage, prepare, requireConnection, runProjectHooks, type Prepared, type Runtime } from './prepare.js';
import { removeStaleWrites } from './leftover-files.js';

/** What `dump` returns. */
export interface DumpResult {
  /** The new key, e.g. `dev/default/none/2026-11-25-14-03-59-123456.dump`. */
  key: string;
  /** The database that was dumped. */
  database: string;
  /** Where the dump went (secrets removed). */
  storageLocation: string;
  /** Size of the stored dump in bytes. */
  bytes: number;
  /** How it was compressed, e.g. `zstd:1 (zstd CLI)` or `gzip:6 (pg_dump)`. */
  compression: string;
  durationMs: number;
}

/**
 * Runs the pre-dump hooks, then streams `pg_dump -Fc --no-owner --no-acl` into storage, compressed as the
 * `compression` option says (see `pg/compression.ts`). The key becomes visible only
 * when the dump completed; a failed or interrupted dump leaves nothing that `ls` or a restore would pick up.
 *
 * Steps: 1. check (guards, server, pg_dump version — before anything is stored); 2. pre-dump-hooks; 3. dump.
 * Without hooks, and where an earlier run saw the server's major version, pg_dump starts while step 1 still runs:
 * step 1 then decides whether the dump is committed, and a server that changed since is dumped again.
 *
 * @example
 * const { key } = await dump({ exclude: ['audit_log'] }, runtime);
 */
export async function dump(options: DumpOptions, runtime: Runtime): Promise<DumpResult> {
  return interruptible(options.signal, 'Dump', () => dumpNow(options, runtime));
}

async function dumpNow(options: DumpOptions, runtime: Runtime): Promise<DumpResult> {
  const started = Date.now();
  const prepared = await prepare('dump', options, runtime);
  const { options: opts, reporter } = prepared;
  if (!opts.allowDump) throw new GuardError('Dump is not allowed here (allowDump is false in the pgclone config)');
  for (const table of opts.exclude) {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f]/.test(table)) throw new PgcloneError('NAME_INVALID', `Invalid table name ${JSON.stringify(table)} in exclude`);
  }
  const conn = requireConnection(opts);
  // Named before pg_dump or the check sees it: PostgreSQL's own error for a NUL byte or a long name does not.
  assertDatabaseName(conn.database);
  // Checked before anything starts (a bad --compression is a usage error, whatever the server says).
  const perf = resolvePerfOptions(options, opts);
  reporter.step('check', `Checking ${conn.database} and pg_dump`, conn.database);
  const check = startOnce(() => checkSource(prepared, conn));
  // The check's session costs ~60 ms before pg_dump could start; pg_dump needs only the server's major version to be
  // chosen, and logs in and reads the catalog itself before it writes a byte. So the check starts once pg_dump has.
  const guess = opts.preDumpHooks.length ? undefined : await recalledServerMajor(conn, prepared.env);
  let attempt: DumpAttempt = guess === undefined ? { major: (await check()).serverMajor, check } : { major: guess, check, guess };
  for (;;) {
    try {
      return await dumpAttempt({ prepared, conn, options, perf, started }, attempt);
    } catch (error) {
      if (!(error instanceof ServerChanged)) throw error;
      attempt = { major: error.source.serverMajor, check };
    }
  }
}

/** `start` on the first call only, later calls get its promise; marked handled, since every path awaits it. */
function startOnce<T>(start: () => Promise<T>): () => Promise<T> {
  let started: Promise<T> | undefined;
  return () => {
    if (!started) {
      started = start();
      started.catch(() => {});
    }
    return started;
  };
}

/** What the check found out about the server and the database. */
interface Source {
  serverMajor: number;
  serverVersion: number;
  databaseBytes: number;
}

/** Step 1's server part: the database exists, and how big it is (one session, closed right after). */
async function checkSource(prepared: Prepared, conn: Connection): Promise<Source> {
  const admin = await connectAdmin(prepared.options, conn, prepared.env);
  try {
    const rows = await admin.query<{ size: string }>(`SELECT pg_database_size(datname)::text AS size FROM pg_database WHERE datname = $1`, [conn.database]);
    if (!rows.length) throw new PgcloneError('DATABASE_NOT_FOUND', `Database ${JSON.stringify(conn.database)} does not exist; nothing to dump`);
    return { serverMajor: admin.serverMajor, serverVersion: admin.serverVersion, databaseBytes: Number(rows[0]!.size) };
  } finally {
    // Not awaited: the server takes ~10 ms to end the session, and nothing below depends on it.
    void admin.close();
  }
}

/** One try at the dump: with the pg_dump for `major`, which `guess` says is not yet confirmed by the check. */
interface DumpAttempt {
  major: number;
  /** Starts the check, or returns the one started. */
  check: () => Promise<Source>;
  guess?: number;
}

/** The check found another major version than an earlier run had seen: the dump starts again with its pg_dump. */
class ServerChanged extends Error {
  constructor(readonly source: Source) {
    super(`the server is PostgreSQL ${source.serverMajor} now`);
  }
}

/** What every attempt of one dump shares: its settings, checked once before the first. */
interface DumpJob {
  prepared: Prepared;
  conn: Connection;
  options: DumpOptions;
  perf: PerfOptions;
  /** When the dump started (`Date.now()`). */
  started: number;
}

async function dumpAttempt(job: DumpJob, attempt: DumpAttempt): Promise<DumpResult> {
  const { prepared, conn, options, perf, started } = job;
  const { options: opts, reporter } = prepared;
  const confirm = startOnce(() =>
    attempt.check().then((source) => {
      if (attempt.guess !== undefined && source.serverMajor !== attempt.guess) throw new ServerChanged(source);
      return source;
    }),
  );
  // A guess that fails here (another pg_dump, no storage) is not the error to report until the check has spoken.
  const unlessUnconfirmed = async (error: unknown): Promise<never> => {
    await confirm();
    throw error;
  };
  const pgDump = await locateToolForServer('pg_dump', attempt.major, prepared.env).catch(unlessUnconfirmed);
  const { compression, notice } = planDumpCompression(perf.compression, pgDump.major, prepared.env);
  const storage = await openStorage(prepared).catch(unlessUnconfirmed);

  if (opts.preDumpHooks.length) {
    await confirm();
    reporter.step('pre-dump-hooks', `Running pre-dump hooks on ${conn.database}`, conn.database);
    await runProjectHooks(prepared, 'pre-dump', conn, opts.preDumpHooks, options.signal);
  }

  const key = formatDumpKey(
    { instance: opts.instance, database: opts.databaseAlias, config: opts.keyConfig },
    new Date(),
    Number(process.hrtime.bigint() / 1000n % 1000n),
  );
  await removeStaleWrites(storage, key.slice(0, key.lastIndexOf('/') + 1), reporter);
  // Excluding rows may need the server's partitions (pg_dump < 16): only then does pg_dump wait for the check.
  const excluded = opts.exclude.length > 0 ? await confirm().then(() => excludeDataArgs(opts.exclude, pgDump.major, conn, prepared.env)) : [];
  const args = ['-Fc', ...compression.pgDumpArgs, '--no-owner', '--no-acl', ...excluded];
  const meter = new ProgressMeter(reporter, 'dump', 'bytes', undefined, { estimated: true });
  const env = mergeEnv(prepared.env, libpqEnv(conn, prepared.env));
  // A plain archive bound for a local disk is written by pg_dump itself: only a seekable output gets each table's
  // data offset into the archive's table of contents, without which `pg_restore -j` reads through the archive to
  // find every table (measured on the dataset: 9.2–9.5 s instead of 7.2–7.7 s uncompressed, 8.3–8.7 s instead of
  // 7.2–7.9 s with gzip). A wrapped dump is spooled, and its offsets added, when it is restored; its compressor
  // program writes the local file, so that Node does not carry the dump's bytes (half of pgclone's CPU on the
  // dataset). Only Node's own gzip fallback streams through Node to a local disk.
  const toPath = compression.outer?.kind !== 'zlib' && storage.writeToPath ? storage.writeToPath.bind(storage) : undefined;
  // Only pg_dump writing a local file starts before the check has answered: a stream needs the database's size first
  // (an upload's part size).
  if (!toPath) await confirm();
  // The bar counts the archive before any compression, like its total (an estimate from the table sizes, which
  // arrives while pg_dump already runs: it costs a connection, the dump should not wait; on PostgreSQL 14+ it is
  // refined from what pg_dump's COPYs show). pgclone sees those bytes only when it compresses outside pg_dump; a
  // pg_dump that compresses itself or writes the file is followed by its COPYs on the server (PostgreSQL 14+;
  // before, a streamed dump counts what pg_dump writes).
  let followCopies = false;
  let watch: ReturnType<typeof watchDump> | undefined;
  let settled = false;
  // pg_dump's lines wait for the check: a dump it refuses (no such database) gets its error, not pg_dump's as well.
  let held: string[] | undefined = [];
  const output = (line: string) => (held ? held.push(line) : reporter.output('pg_dump', line));
  const begin = startOnce(() => confirm().then((source) => {
    if (!settled) {
      if (source.serverMajor !== attempt.guess) void rememberServerMajor(conn, prepared.env, source.serverMajor);
      if (notice) reporter.warn(notice);
      reporter.step('dump', `Dumping ${conn.database} to ${key} (compression ${compression.description})`, conn.database);
      followCopies = !compression.outer && source.serverMajor >= 14;
      watch = watchDump(
        conn,
        opts.exclude,
        env.PGAPPNAME || 'pg_dump',
        {
          onTotal: (bytes) => meter.setTotal(bytes),
          ...(followCopies ? { onCopied: (bytes: number) => meter.set(bytes) } : {}),
        },
        // Wrapped outside pg_dump, the archive is uncompressed inside: a chunk per row.
        { serverMajor: source.serverMajor, rowOverhead: compression.outer ? ARCHIVE_ROW_OVERHEAD : 0, env: prepared.env },
      );
    }
    for (const line of held ?? []) reporter.output('pg_dump', line);
    held = undefined;
    return source;
  }));
  const run: DumpRun = {
    pgDump,
    args,
    env,
    programEnv: prepared.env,
    key,
    database: conn.database,
    compression,
    reporter,
    output,
    meter,
    check: begin,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  let stored: StoredDump;
  let source: Source;
  try {
    stored = toPath
      ? await dumpToPath(toPath, run)
      : await dumpToStream(storage, run, { expectedBytes: (await begin()).databaseBytes, meterStream: !followCopies });
    source = await begin();
    settled = true;
    watch?.stop();
    // A table that finished between two readings counts only as far as it was last seen: the archive pg_dump wrote
    // is the better count for the end (exact when uncompressed, and never nothing for a dump too short to be seen).
    if (followCopies) meter.set(Math.max(meter.done, stored.bytes));
    meter.finish();
  } catch (error) {
    settled = true;
    watch?.stop();
    if (error instanceof ServerChanged) throw error;
    if (options.signal?.aborted) throw new PgcloneError('INTERRUPTED', `Dump of ${conn.database} interrupted; nothing was stored`);
    // A dump started on a guess reports the check's verdict first (no such database, another server version).
    if (attempt.guess !== undefined) await confirm();
    if (error instanceof PgcloneError) throw error;
    throw new DumpError('DUMP_FAILED', `Dump of ${conn.database} failed: ${redact(String((error as Error).message))}`, { cause: error });
  }
  const bytes = stored.bytes;
  // Only after the commit: a manifest always describes a complete dump.
  const share = watch?.largestShare();
  try {
    await writeManifest(storage, {
      format: 'pgclone-manifest',
      version: 1,
      key,
      size: stored.bytes,
      sha256: stored.sha256,
      createdAt: new Date().toISOString(),
      pgDumpVersion: pgDump.version,
      serverVersion: serverVersionString(source.serverVersion),
      compression: compression.description,
      exclude: opts.exclude,
      database: conn.database,
      ...(share === undefined ? {} : { largestShare: share }),
    });
  } catch (error) {
    reporter.warn(`${(error as Error).message}; the dump is stored but restores will check it as an archive only`);
  }
  reporter.info(`Dumped ${conn.database} to ${key} (${formatBytes(bytes)}, ${compression.description})`);
  // Stopped once the storage was completing the dump (S3's CompleteMultipartUpload, a file's rename): that cannot be
  // taken back, and the user who asked to stop must not be left to guess whether the key is there.
  if (options.signal?.aborted) reporter.warn(`Interrupted too late to stop: the dump was already being stored, and ${key} is complete`);
  return {
    key,
    database: conn.database,
    storageLocation: storage.display,
    bytes,
    compression: compression.description,
    durationMs: Date.now() - started,
  };
}

/** One dump's settings, for the two ways of storing it. */
interface DumpRun {
  pgDump: Tool;
  args: string[];
  /** pg_dump's environment (the connection included). */
  env: NodeJS.ProcessEnv;
  /** A compressor's environment (no connection). */
  programEnv: NodeJS.ProcessEnv;
  key: string;
  database: string;
  compression: DumpCompression;
  reporter: Reporter;
  meter: ProgressMeter;
  /** Shows a line pg_dump printed. */
  output: (line: string) => void;
  /** Starts the check (step 1), or returns the one started: pg_dump may start first, but nothing is committed unless it passes. */
  check: () => Promise<unknown>;
  signal?: AbortSignal;
}

/** What was committed: the stored bytes' size and sha256. */
interface StoredDump {
  bytes: number;
  sha256: string;
}

/**
 * The storage's partial file is written by a program, never by Node: pg_dump itself (`-f`) for a plain archive, or
 * the compressor program that reads pg_dump's output from a pipe. The finished file is checksummed, then committed.
 */
async function dumpToPath(writeToPath: (key: string) => Promise<PathWriter>, run: DumpRun): Promise<StoredDump> {
  const file = await writeToPath(run.key);
  const outer = run.compression.outer?.kind === 'cli' ? run.compression.outer : undefined;
  // `--no-sync`: pg_dump's own fsync would write the whole archive back at its end; the storage flushes it behind
  // pg_dump while it runs, and the commit flushes the rest.
  const args = outer ? run.args : [...run.args, ...(run.pgDump.major >= 10 ? ['--no-sync'] : []), '-f', file.path];
  const out = outer ? await open(file.path, 'w') : undefined;
  // pg_dump starts first: a process start blocks Node for 10–20 ms here, and pg_dump has its login and catalog
  // queries to do before it writes a byte, while the compressor has nothing to do until then. From pg_dump's start to
  // the compressor's, nothing may wait: Node's end of the pipe is read only once the event loop runs again, and by
  // then the compressor holds it alone.
  let tool: ReturnType<typeof spawnTool>;
  try {
    tool = spawnTool(run.pgDump, args, {
      env: run.env,
      ...(outer ? { stdout: 'pipe' as const } : {}),
      onStderr: run.output,
    });
  } catch (error) {
    // A process that cannot start (a value the environment cannot hold, no such program) leaves no partial file.
    await out?.close();
    await file.abort(error).catch(() => {});
    throw error;
  }
  let program: Program | undefined;
  if (outer && out) {
    try {
      program = startProgram(outer.program, outer.args, run.programEnv, {
        code: 'DUMP_FAILED',
        what: `${outer.wrapper} compression`,
        stdin: tool.child.stdout!,
        stdout: out.fd,
      });
    } catch (error) {
      tool.child.kill('SIGTERM');
      await file.abort(error).catch(() => {});
      throw error;
    } finally {
      tool.child.stdout!.destroy();
      await out.close();
    }
  }
  const stopFollowing = program ? followBytesRead(program.child.pid, run.meter, tool.child) : undefined;
  // The compressor writes the file from start to end: the checksum follows it. pg_dump writing the file itself goes
  // back to its start at the end (the data offsets), so its file is checksummed once finished.
  const hashing = program ? followHash(file.path, program.done, run.signal) : undefined;
  const onAbort = () => tool.child.kill('SIGTERM');
  // Also an interrupt while the file or the compressor was being set up: pg_dump would run the whole dump.
  const stopListening = whenAborted(run.signal, onAbort);
  // A failed check ends pg_dump at once, and is what gets reported: pg_dump's own failure (no such database) follows from it.
  const checked = run.check();
  checked.catch(onAbort);
  try {
    const [exit, compressed] = await Promise.allSettled([tool.done, program?.done]);
    stopFollowing?.();
    await checked;
    if (exit.status === 'rejected') throw exit.reason;
    if (compressed.status === 'rejected') throw compressed.reason;
    assertDumped(exit.value, run.database);
    const reading = await open(file.path, 'r');
    let stored: { size: number; sha256: string };
    try {
      // The file's bytes go to disk while the checksum ends (one waits on the disk, the other on a core), so the
      // commit's fsync finds nothing left to write.
      [stored] = await Promise.all([hashing ?? hashFile(reading, run.signal), reading.datasync()]);
    } finally {
      await reading.close();
    }
    if (stored.size === 0) throw new DumpError('DUMP_FAILED', `pg_dump of ${run.database} wrote nothing`);
    run.signal?.throwIfAborted();
    await file.commit();
    return { bytes: stored.size, sha256: stored.sha256 };
  } catch (error) {
    stopFollowing?.();
    tool.child.kill('SIGTERM');
    program?.stop();
    await hashing?.catch(() => {});
    await file.abort(error).catch((abortError: unknown) => run.reporter.warn(redact(String((abortError as Error)?.message ?? abortError))));
    throw error;
  } finally {
    stopListening();
  }
}

/** {@link hashFile} behind a program writing `file`; it ends when the program does (a failure is the caller's to report). */
function followHash(file: string, written: Promise<unknown>, signal?: AbortSignal): Promise<{ size: number; sha256: string }> {
  const hashing = hashFile(file, signal, written);
  hashing.catch(() => {}); // awaited on every path; not unhandled while the dump runs
  return hashing;
}

/**
 * pg_dump's output is streamed into the storage's writer, through a compressor where the compression has one, and
 * checksummed on the way.
 */
async function dumpToStream(
  storage: Storage,
  run: DumpRun,
  stream: {
    expectedBytes: number;
    /** Whether the meter counts pg_dump's output as it passes (else it is set from elsewhere). */
    meterStream: boolean;
  },
): Promise<StoredDump> {
  const { compression, reporter } = run;
  const writer = await storage.write(run.key, { expectedBytes: stream.expectedBytes });
  // Hashes exactly the bytes the storage receives: keep it the last stage before the writer.
  const hashing = new HashingStream();
  const outer = compression.outer;
  // A compressor program reads pg_dump's output straight from a pipe between the two processes: the uncompressed
  // bytes never pass through Node (on two cores that costs the dump ~0.6 s of CPU per 100 MB).
  let program: Program | undefined;
  let tool: ReturnType<typeof spawnTool>;
  try {
    program = outer?.kind === 'cli' ? startProgram(outer.program, outer.args, run.programEnv, { code: 'DUMP_FAILED', what: `${outer.wrapper} compression` }) : undefined;
    tool = spawnTool(run.pgDump, run.args, {
      env: run.env,
      stdout: program ? program.child.stdin! : 'pipe',
      onStderr: run.output,
    });
  } catch (error) {
    // A process that cannot start leaves nothing behind in the storage either.
    program?.stop();
    await writer.abort(error).catch(() => {});
    throw error;
  }
  program?.child.stdin!.destroy(); // pg_dump holds the write end now; the compressor sees EOF when pg_dump exits
  const onAbort = () => tool.child.kill('SIGTERM');
  // Also an interrupt while the writer was being opened: pg_dump would run the whole dump.
  const stopListening = whenAborted(run.signal, onAbort);
  // The pipeline: pg_dump stdout → [dump meter] → [compressor] → [stored-bytes counter] → [sha256] → storage writer.
  const inProcess = outer?.kind === 'zlib' ? compressStage(outer, run.programEnv) : undefined;
  const compressor: { done: Promise<void>; stop(): void } | undefined = program ?? inProcess;
  const source = program ? program.child.stdout! : tool.child.stdout!;
  const stopFollowing = program ? followBytesRead(program.child.pid, run.meter, tool.child) : undefined;
  const uploadMeter = typeof storage.localPath === 'function' ? undefined : new ProgressMeter(reporter, 'upload', 'bytes');
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      uploadMeter?.add(chunk.length);
      callback(null, chunk);
    },
  });
  const stages = [
    ...(program || !stream.meterStream ? [] : [meterStream(run.meter)]),
    ...(inProcess ? [inProcess.stream] : []),
    ...(uploadMeter ? [counter] : []),
    hashing,
  ];
  try {
    const [piped, exit, compressed] = await Promise.allSettled([
      (pipeline as unknown as (...streams: unknown[]) => Promise<void>)(source, ...stages, writer.stream),
      tool.done,
      compressor?.done,
    ]);
    stopFollowing?.();
    // Causes before consequences: a dead compressor or a failing storage write also breaks pg_dump's pipe.
    if (exit.status === 'rejected') throw exit.reason;
    const brokenPipe = compressed.status === 'rejected' && (compressed.reason as { brokenPipe?: boolean }).brokenPipe === true;
    if (compressed.status === 'rejected' && !brokenPipe) throw compressed.reason;
    if (piped.status === 'rejected') throw piped.reason;
    if (compressed.status === 'rejected') throw compressed.reason;
    assertDumped(exit.value, run.database);
    // Without a compressor, the stored bytes are pg_dump's; zlib in Node is counted before it by the meter.
    if (inProcess ? run.meter.done === 0 : hashing.bytes === 0) throw new DumpError('DUMP_FAILED', `pg_dump of ${run.database} wrote nothing`);
    run.signal?.throwIfAborted();
    await run.check();
    await writer.commit();
    uploadMeter?.finish();
    return { bytes: hashing.bytes, sha256: hashing.sha256! };
  } catch (error) {
    stopFollowing?.();
    tool.child.kill('SIGTERM');
    compressor?.stop();
    // Nothing is stored either way; a failed abort (S3 parts left behind) is worth a warning, not a second error.
    await writer.abort(error).catch((abortError: unknown) => reporter.warn(redact(String((abortError as Error)?.message ?? abortError))));
    throw error;
  } finally {
    stopListening();
  }
}

/** Throws `DUMP_FAILED` with pg_dump's last error line unless it exited with 0. */
function assertDumped(exit: { code: number | null; signal: NodeJS.Signals | null; stderr: string[] }, database: string): void {
  if (exit.code === 0) return;
  const detail = exit.stderr.filter((l) => /error|fatal/i.test(l)).at(-1) ?? exit.stderr.at(-1) ?? '';
  throw new DumpError(
    'DUMP_FAILED',
    `pg_dump of ${database} failed (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`})${detail ? `: ${redact(detail)}` : ''}`,
  );
}
