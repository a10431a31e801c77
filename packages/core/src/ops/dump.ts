import { pipeline } from 'node:stream/promises';
import { libpqEnv, mergeEnv } from '../connection.js';
import { DumpError, GuardError, PgcloneError } from '../errors.js';
import { runHooks } from '../hooks.js';
import { formatDumpKey } from '../keys.js';
import { HashingStream, serverVersionString, writeManifest } from '../manifest.js';
import type { DumpOptions } from '../options.js';
import { locateToolForServer, spawnTool } from '../pg/tools.js';
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
  durationMs: number;
}

/**
 * Runs the pre-dump hooks, then streams `pg_dump -Fc --no-owner --no-acl` into storage. The key becomes visible only
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

  reporter.step('check', `Checking ${conn.database} and pg_dump`, conn.database);
  const admin = await connectAdmin(opts, conn);
  let databaseBytes: number;
  let serverMajor: number;
  let serverVersion: number;
  try {
    if (!(await admin.exists(conn.database))) {
      throw new PgcloneError('DATABASE_NOT_FOUND', `Database ${JSON.stringify(conn.database)} does not exist; nothing to dump`);
    }
    databaseBytes = await admin.databaseSize(conn.database);
    serverMajor = admin.serverMajor;
    serverVersion = admin.serverVersion;
  } finally {
    await admin.close();
  }
  const pgDump = await locateToolForServer('pg_dump', serverMajor, prepared.env);
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
  reporter.step('dump', `Dumping ${conn.database} to ${key}`, conn.database);
  const args = ['-Fc', '--no-owner', '--no-acl', ...opts.exclude.map((t) => `--exclude-table-data=${t}`)];
  const compression = 'gzip'; // pg_dump -Fc's own; recorded in the manifest
  const writer = await storage.write(key, { expectedBytes: databaseBytes });
  // Hashes exactly the bytes the storage receives: keep it the last stage before the writer.
  const hashing = new HashingStream();
  const tool = spawnTool(pgDump, args, {
    env: mergeEnv(prepared.env, libpqEnv(conn)),
    stdout: 'pipe',
    onStderr: (line) => reporter.output('pg_dump', line),
  });
  const onAbort = () => tool.child.kill('SIGTERM');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let bytes = 0;
  tool.child.stdout!.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  try {
    const [, exit] = await Promise.all([pipeline(tool.child.stdout!, hashing, writer.stream), tool.done]);
    if (exit.code !== 0) {
      const detail = exit.stderr.filter((l) => /error|fatal/i.test(l)).at(-1) ?? exit.stderr.at(-1) ?? '';
      throw new DumpError(
        'DUMP_FAILED',
        `pg_dump of ${conn.database} failed (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`})${detail ? `: ${redact(detail)}` : ''}`,
      );
    }
    if (bytes === 0) throw new DumpError('DUMP_FAILED', `pg_dump of ${conn.database} wrote nothing`);
    options.signal?.throwIfAborted();
    await writer.commit();
  } catch (error) {
    tool.child.kill('SIGTERM');
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
      compression,
      exclude: opts.exclude,
      database: conn.database,
    });
  } catch (error) {
    reporter.warn(`${(error as Error).message}; the dump is stored but restores will check it as an archive only`);
  }
  reporter.info(`Dumped ${conn.database} to ${key} (${bytes} bytes)`);
  return { key, database: conn.database, storageLocation: storage.display, bytes, durationMs: Date.now() - started };
}
