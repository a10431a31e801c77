import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatBytes } from '../format.js';
import { resolvePerfOptions } from '../config/perf.js';
import { libpqEnv, mergeEnv } from '../connection.js';
import { DumpError, GuardError, PgcloneError } from '../errors.js';
import { runHooks } from '../hooks.js';
import { formatDumpKey } from '../keys.js';
import { HashingStream, serverVersionString, writeManifest } from '../manifest.js';
import type { DumpOptions } from '../options.js';
import { compressStage, planDumpCompression, startProgram } from '../pg/compression.js';
import { bytesReadBy } from '../proc-io.js';
import { estimateDumpBytes } from '../pg/dump-size.js';
import { locateToolForServer, spawnTool } from '../pg/tools.js';
import { meterStream, ProgressMeter } from '../progress.js';
import { redact } from '../redact.js';
import { connectAdmin, openStorage, prepare, requireConnection, type Runtime } from './prepare.js';
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
 * Steps: 1. check (guards, server, pg_dump version — before anything is written); 2. pre-dump-hooks; 3. dump.
 *
 * @example
 * const { key } = await dump({ exclude: ['audit_log'] }, runtime);
 */
export async function dump(options: DumpOptions, runtime: Runtime): Promise<DumpResult> {
  const started = Date.now();
  const prepared = await prepare('dump', options, runtime);
  const { options: opts, reporter } = prepared;
  if (!opts.allowDump) throw new GuardError('Dump is not allowed here (allowDump is false in the pgclone config)');
  for (const table of opts.exclude) {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f]/.test(table)) throw new PgcloneError('NAME_INVALID', `Invalid table name ${JSON.stringify(table)} in exclude`);
  }
  const conn = requireConnection(opts);
  const perf = resolvePerfOptions(options, opts);

  reporter.step('check', `Checking ${conn.database} and pg_dump`, conn.database);
  const admin = await connectAdmin(opts, conn);
  const serverMajor = admin.serverMajor;
  const serverVersion = admin.serverVersion;
  // `pg_dump --version` (a process start) runs while the server answers; its failure is awaited below.
  const locating = locateToolForServer('pg_dump', serverMajor, prepared.env);
  locating.catch(() => {});
  let databaseBytes: number;
  try {
    if (!(await admin.exists(conn.database))) {
      throw new PgcloneError('DATABASE_NOT_FOUND', `Database ${JSON.stringify(conn.database)} does not exist; nothing to dump`);
    }
    databaseBytes = await admin.databaseSize(conn.database);
  } finally {
    // Not awaited: the server takes ~10 ms to end the session, and nothing below depends on it.
    void admin.close();
  }
  const pgDump = await locating;
  const { compression, notice } = planDumpCompression(perf.compression, pgDump.major, prepared.env);
  if (notice) reporter.warn(notice);
  const storage = await openStorage(prepared);

  if (opts.preDumpHooks.length) {
    reporter.step('pre-dump-hooks', `Running pre-dump hooks on ${conn.database}`, conn.database);
    await runHooks(opts.preDumpHooks, {
      phase: 'pre-dump',
      connection: conn,
      cwd: opts.projectDir,
      env: prepared.env,
      ...(prepared.adapter ? { adapter: prepared.adapter } : {}),
      reporter,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  const key = formatDumpKey(
    { instance: opts.instance, database: opts.databaseAlias, config: opts.keyConfig },
    new Date(),
    Number(process.hrtime.bigint() / 1000n % 1000n),
  );
  await removeStaleWrites(storage, key.slice(0, key.lastIndexOf('/') + 1), reporter);
  reporter.step('dump', `Dumping ${conn.database} to ${key} (compression ${compression.description})`, conn.database);
  const args = ['-Fc', ...compression.pgDumpArgs, '--no-owner', '--no-acl', ...opts.exclude.map((t) => `--exclude-table-data=${t}`)];
  const writer = await storage.write(key, { expectedBytes: databaseBytes });
  // Hashes exactly the bytes the storage receives: keep it the last stage before the writer.
  const hashing = new HashingStream();
  const dumpMeter = new ProgressMeter(reporter, 'dump', 'bytes', undefined, { estimated: true });
  // The bar's total arrives while pg_dump already runs: the estimate costs a connection, the dump should not wait.
  void estimateDumpBytes(conn, opts.exclude).then((bytes) => bytes !== undefined && dumpMeter.setTotal(bytes));
  const outer = compression.outer;
  // A compressor program reads pg_dump's output straight from a pipe between the two processes: the uncompressed
  // bytes never pass through Node (on two cores that costs the dump ~0.6 s of CPU per 100 MB).
  const program = outer?.kind === 'cli' ? startProgram(outer.program, outer.args, prepared.env, { code: 'DUMP_FAILED', what: `${outer.wrapper} compression` }) : undefined;
  const tool = spawnTool(pgDump, args, {
    env: mergeEnv(prepared.env, libpqEnv(conn)),
    stdout: program ? program.child.stdin! : 'pipe',
    onStderr: (line) => reporter.output('pg_dump', line),
  });
  program?.child.stdin!.destroy(); // pg_dump holds the write end now; the compressor sees EOF when pg_dump exits
  const onAbort = () => tool.child.kill('SIGTERM');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // The pipeline: pg_dump stdout → [dump meter] → [compressor] → [stored-bytes counter] → [sha256] → storage writer.
  const inProcess = outer?.kind === 'zlib' ? compressStage(outer, prepared.env) : undefined;
  const compressor: { done: Promise<void>; stop(): void } | undefined = program ?? inProcess;
  const source = program ? program.child.stdout! : tool.child.stdout!;
  const polling = program ? setInterval(() => void bytesReadBy(program.child.pid).then((n) => n !== undefined && dumpMeter.set(n)), 250) : undefined;
  const uploadMeter = typeof storage.localPath === 'function' ? undefined : new ProgressMeter(reporter, 'upload', 'bytes');
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      uploadMeter?.add(chunk.length);
      callback(null, chunk);
    },
  });
  const stages = [...(program ? [] : [meterStream(dumpMeter)]), ...(inProcess ? [inProcess.stream] : []), counter, hashing];
  try {
    const [piped, exit, compressed] = await Promise.allSettled([
      (pipeline as unknown as (...streams: unknown[]) => Promise<void>)(source, ...stages, writer.stream),
      tool.done,
      compressor?.done,
    ]);
    clearInterval(polling);
    // Causes before consequences: a dead compressor or a failing storage write also breaks pg_dump's pipe.
    if (exit.status === 'rejected') throw exit.reason;
    const brokenPipe = compressed.status === 'rejected' && (compressed.reason as { brokenPipe?: boolean }).brokenPipe === true;
    if (compressed.status === 'rejected' && !brokenPipe) throw compressed.reason;
    if (piped.status === 'rejected') throw piped.reason;
    if (compressed.status === 'rejected') throw compressed.reason;
    if (exit.value.code !== 0) {
      const detail = exit.value.stderr.filter((l) => /error|fatal/i.test(l)).at(-1) ?? exit.value.stderr.at(-1) ?? '';
      throw new DumpError(
        'DUMP_FAILED',
        `pg_dump of ${conn.database} failed (${exit.value.signal ? `signal ${exit.value.signal}` : `exit code ${exit.value.code}`})${detail ? `: ${redact(detail)}` : ''}`,
      );
    }
    if (program ? bytes === 0 : dumpMeter.done === 0) throw new DumpError('DUMP_FAILED', `pg_dump of ${conn.database} wrote nothing`);
    options.signal?.throwIfAborted();
    await writer.commit();
    dumpMeter.finish();
    uploadMeter?.finish();
  } catch (error) {
    clearInterval(polling);
    tool.child.kill('SIGTERM');
    compressor?.stop();
    // Nothing is stored either way; a failed abort (S3 parts left behind) is worth a warning, not a second error.
    await writer.abort(error).catch((abortError: unknown) => reporter.warn(redact(String((abortError as Error)?.message ?? abortError))));
    if (options.signal?.aborted) throw new PgcloneError('INTERRUPTED', `Dump of ${conn.database} interrupted; nothing was stored`);
    if (error instanceof PgcloneError) throw error;
    throw new DumpError('DUMP_FAILED', `Dump of ${conn.database} failed: ${redact(String((error as Error).message))}`, { cause: error });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  // Only after the commit: a manifest always describes a complete dump.
  try {
    await writeManifest(storage, {
      format: 'pgclone-manifest',
      version: 1,
      key,
      size: hashing.bytes,
      sha256: hashing.sha256!,
      createdAt: new Date().toISOString(),
      pgDumpVersion: pgDump.version,
      serverVersion: serverVersionString(serverVersion),
      compression: compression.description,
      exclude: opts.exclude,
      database: conn.database,
    });
  } catch (error) {
    reporter.warn(`${(error as Error).message}; the dump is stored but restores will check it as an archive only`);
  }
  reporter.info(`Dumped ${conn.database} to ${key} (${formatBytes(bytes)}, ${compression.description})`);
  return {
    key,
    database: conn.database,
    storageLocation: storage.display,
    bytes,
    compression: compression.description,
    durationMs: Date.now() - started,
  };
}

