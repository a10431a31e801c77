import {
  interruptible,
  localDatabaseOf,
  PgcloneError,
  prepare,
  resolvePerfOptions,
  reservedSuffixOf,
  restoreNames,
  selectRestoreHooks,
  SYSTEM_DATABASES,
  targetDatabase,
  type CopyStrategy,
  type ResetTimings,
  type RestoreOptions,
  type RestoreResult,
  type Runtime,
  type SnapshotResetOutcome,
  type SparePolicy,
} from '@pgclone/core';
import { resetThrough } from './session.js';

/** Options of `restore` that only the fast path of local snapshots reads. */
export interface FastResetOptions {
  /**
   * Take the fast path when it applies (default). `false` always runs the general restore plan, with its step
   * events; the CLI does, so that `pgclone restore :name` behaves the same whether or not it is eligible.
   */
  fast?: boolean;
  /**
   * Keep a spare copy of the snapshot (`N__spare`) so that the next reset is a rename: `auto` (default) when the
   * snapshot is at most 64 MiB, `true` always, `false` never.
   */
  spare?: SparePolicy;
  /**
   * `CREATE DATABASE … STRATEGY` for the copies; default: what `copyStrategy` (option or config) says, and under its
   * `auto` the one measured fastest for small databases.
   */
  strategy?: CopyStrategy;
}

/** What `restore(':name')` returns when it took the fast path. */
export interface ResetResult extends RestoreResult {
  /** The snapshot the database was reset to. */
  source: string;
  /** True when the spare copy was renamed into place (the reset copied nothing). */
  usedSpare: boolean;
  /** Sessions on the database that were ended (a pool's idle connections among them). */
  endedSessions: number;
  /** Milliseconds per phase. */
  timings: ResetTimings;
}

/**
 * `restore(':snapshot')` without hooks, dry run or restore points: reset through the process's
 * `SnapshotResetter` (a spare rename, or one `CREATE DATABASE … TEMPLATE` and a rename). Returns `undefined` when the
 * general restore has to run instead (hooks configured, a `:pre`/`:post`/`N__temp` source, a guard to report).
 */
export async function fastRestore(
  key: string | undefined,
  options: RestoreOptions & FastResetOptions,
  runtime: Runtime,
): Promise<ResetResult | undefined> {
  if (!key?.startsWith(':') || options.dryRun || options.fast === false) return undefined;
  return interruptible(options.signal, `Restore of ${key}`, () => fastReset(key, options, runtime));
}

async function fastReset(key: string, options: RestoreOptions & FastResetOptions, runtime: Runtime): Promise<ResetResult | undefined> {
  const prepared = await prepare('restore', options, runtime);
  const opts = prepared.options;
  if (!opts.allowRestore || opts.connection instanceof PgcloneError) return undefined;
  const conn = opts.connection;
  const target = targetDatabase(conn);
  const source = localDatabaseOf(key, target);
  const hooks = selectRestoreHooks(opts, { kind: 'local', database: source }, target);
  if (hooks.preSwapHooks.length > 0 || hooks.postSwapHooks.length > 0) return undefined;
  // The general restore refuses these, with the error that says why.
  if (source === target || reservedSuffixOf(source) === 'spare' || Object.values(restoreNames(target)).includes(source) || SYSTEM_DATABASES.includes(source)) {
    return undefined;
  }
  if (opts.reversible) prepared.reporter.info('--reversible has no effect when restoring a local database');
  const outcome = await resetThrough(opts, conn, target, prepared.env, source, {
    reporter: prepared.reporter,
    spare: options.spare ?? 'auto',
    ...(options.strategy ? { strategy: options.strategy } : {}),
    copyStrategy: resolvePerfOptions(options, opts).copyStrategy,
    timeoutMs: opts.lockTimeout,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return fastRestoreResult(key, outcome);
}

/** A resetter's outcome as the result of `restore`. */
export function fastRestoreResult(key: string, outcome: SnapshotResetOutcome): ResetResult {
  return {
    key,
    database: outcome.database,
    source: outcome.source,
    reversible: false,
    dryRun: false,
    plan: outcome.plan,
    durationMs: Math.round(outcome.timings.totalMs),
    usedSpare: outcome.usedSpare,
    endedSessions: outcome.endedSessions,
    timings: outcome.timings,
  };
}
