import os from 'node:os';
import path from 'node:path';
import { COMPRESSION_HELP, parseCompression, type CompressionSpec } from '../compression-spec.js';
import { UsageError } from '../errors.js';
import { MAX_JOBS } from '../limits.js';
import type { AnyOptions } from '../options.js';
import type { CopyStrategyOption } from '../pg/copy-method.js';
import type { ResolvedOptions } from './resolve.js';

/** The default `jobs` is the number of cores, at most this many (each job is a server connection). */
export const DEFAULT_MAX_JOBS = 8;
export { MAX_JOBS };

/** The performance options of an operation, after flag > config > default. */
export interface PerfOptions {
  /** How dumps are compressed (`compression`, default `auto`). */
  compression: CompressionSpec;
  /** pg_restore jobs (`jobs`, default: the number of cores, at most {@link DEFAULT_MAX_JOBS}). */
  jobs: number;
  /** How template copies are made (`copyStrategy`, default `auto`). */
  copyStrategy: CopyStrategyOption;
  /** Where restores spool dumps for `pg_restore -j` (`spoolDir`, default: the OS temp directory). */
  spoolDir: string;
}

/** Reads the performance options from the operation's own options (flags) and the merged config bundle. */
export function resolvePerfOptions(options: AnyOptions, resolved: ResolvedOptions): PerfOptions {
  const bundle = resolved.bundle;
  const compressionText = options.compression ?? bundle.compression ?? 'auto';
  const compression = parseCompression(compressionText);
  if (!compression) throw new UsageError(`Invalid compression ${JSON.stringify(compressionText)}: expected ${COMPRESSION_HELP}`);
  const jobs = options.jobs ?? bundle.jobs ?? Math.min(os.availableParallelism(), DEFAULT_MAX_JOBS);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > MAX_JOBS) {
    throw new UsageError(`Invalid jobs ${typeof jobs === 'number' ? String(jobs) : JSON.stringify(jobs)}: expected a whole number from 1 to ${MAX_JOBS}`);
  }
  const copyStrategy = options.copyStrategy ?? bundle.copyStrategy ?? 'auto';
  if (!['auto', 'wal_log', 'file_copy', 'clone'].includes(copyStrategy)) {
    throw new UsageError(`Invalid copyStrategy ${JSON.stringify(copyStrategy)}: expected auto, wal_log, file_copy or clone`);
  }
  // A flag is relative to the working directory, a config value to the config file's directory.
  const spoolDir =
    options.spoolDir !== undefined
      ? path.resolve(resolved.cwd, options.spoolDir)
      : bundle.spoolDir !== undefined
        ? path.resolve(resolved.projectDir, bundle.spoolDir)
        : os.tmpdir();
  return { compression, jobs, copyStrategy, spoolDir };
}
