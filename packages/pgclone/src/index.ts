/**
 * pgclone's programmatic API: the same operations as the CLI, without printing. Options are the CLI's flags in
 * camelCase plus `cwd`; results are typed objects; failures throw {@link PgcloneError}s with a stable `code`.
 *
 * @example
 * import pgclone from 'pgclone';
 * const { key } = await pgclone.dump();
 * await pgclone.restore(key, { reversible: true });
 * await pgclone.restore(':pre');
 *
 * @packageDocumentation
 */
import * as core from '@pgclone/core';
import type {
  CommonOptions,
  CopyOptions,
  CopyResult,
  DoctorOptions,
  DoctorReport,
  DumpListing,
  DumpOptions,
  DumpResult,
  LocalListing,
  LsLongOptions,
  LsOptions,
  PinResult,
  PruneOptions,
  PruneResult,
  RestoreOptions,
  RestoreResult,
  RmOptions,
  RmResult,
  Runtime,
} from '@pgclone/core';
import type { KnexConfig, KnexInstanceLike } from '@pgclone/knex';
import { fastRestore, type FastResetOptions, type ResetResult } from './fast-restore.js';
import { defaultRuntime } from './runtime.js';
import { cachedLoadProject, closeSession, settleSession } from './session.js';
import { ensureTemplate, startTestRun, testDatabase } from './testing/index.js';

export {
  PgcloneError,
  UsageError,
  ConfigError,
  KeyError,
  GuardError,
  DumpError,
  PostgresError,
  HookError,
  StorageError,
  AdapterError,
  isPgcloneError,
  type ErrorCode,
  type CopyOptions,
  type CopyResult,
  type DumpOptions,
  type DumpResult,
  type LsOptions,
  type RestoreOptions,
  type RestoreResult,
  type PgcloneConfig,
  type PgcloneEvent,
  type Hook,
  type HookContext,
  type Runtime,
  type Adapter,
  type AdapterFactory,
  type Storage,
  type DoctorOptions,
  type DoctorReport,
  type Finding,
  type DumpListing,
  type LocalListing,
  type LsLongOptions,
  type PinResult,
  type PruneOptions,
  type PruneResult,
  type PruneEntry,
  type RmOptions,
  type RmResult,
  type DumpManifest,
} from '@pgclone/core';
export type { KnexConfig, KnexInstanceLike } from '@pgclone/knex';
export { defaultRuntime } from './runtime.js';
export type { FastResetOptions, ResetResult } from './fast-restore.js';
export type { CopyStrategy, SparePolicy, ResetTimings } from '@pgclone/core';
export {
  testDatabase,
  startTestRun,
  ensureTemplate,
  type TestDatabase,
  type TestDatabaseOptions,
  type TestRun,
  type TestTemplate,
  type TestTemplateOptions,
} from './testing/index.js';

/** Options of every API call: the operation's own, plus an optional runtime (storage and adapters). */
type WithRuntime<T> = T & {
  runtime?: Partial<Runtime>;
  /**
   * A Knex instance (or the config it was made from) to use instead of searching for a knexfile: its connection
   * for alias `default`, its `pgclone` key, and its migrations (`migrate` hook, run in this process with the
   * project's knex) and seeds. For a knexfile, spread `fromKnexfile()` from `@pgclone/knex` into the options.
   *
   * @example
   * await restore(':fixture', { knex: db });
   */
  knex?: KnexInstanceLike | KnexConfig;
};

/** The API's own option keys, beside each operation's. */
const API_KEYS = ['runtime', 'knex'];

/**
 * What a JavaScript caller passed, checked as TypeScript would have: the options' types (a usage error naming the
 * option) and their keys (a misspelt one is an error, not ignored). Core checks the types again as the operation
 * starts, for the CLI and internal callers too.
 */
function checked<T extends object>(options: T, fn: string, keys: readonly string[]): T {
  core.checkOptionTypes(options);
  core.checkOptionKeys(options, [...keys, ...API_KEYS], fn);
  return options;
}

// The API caches config and ORM detection between calls (see session.ts); a runtime given by the caller may replace it.
async function runtimeOf(options: { runtime?: Partial<Runtime>; knex?: KnexInstanceLike | KnexConfig }): Promise<Runtime> {
  if (options.knex !== undefined) {
    const { knexInstanceAdapterFactory } = await import('@pgclone/knex');
    return defaultRuntime({ loadProject: cachedLoadProject, ...options.runtime, adapters: [knexInstanceAdapterFactory(options.knex)] });
  }
  return defaultRuntime({ loadProject: cachedLoadProject, ...options.runtime });
}

/**
 * Dumps the target database into the storage location and resolves to the new key.
 *
 * @example
 * const { key } = await dump({ exclude: ['audit_log'] });
 */
export async function dump(options: WithRuntime<DumpOptions> = {}): Promise<DumpResult> {
  checked(options, 'dump', core.OPTION_KEYS.dump);
  return core.dump(options, await runtimeOf(options));
}

/**
 * Restores a dump key, the newest dump under a prefix, or a local database (`:pre`, `:post`, `:name`) into the
 * target database, swapping it in only when everything succeeded.
 *
 * A local snapshot (`:name`) with no hooks to run takes the fast path made for test setup: sessions on the target
 * (your pool's included) are ended, and a spare copy of the snapshot kept since the previous reset is renamed into
 * place; the next spare is prepared in the background. The result then also says whether the spare was used and how
 * long each phase took ({@link ResetResult}). Call {@link close} when done so that the process can exit at once.
 *
 * @example
 * await restore('prod/default/anon', { reversible: true });
 * await restore(':fixture'); // reset a test database to a snapshot
 */
export async function restore(key?: string, options: WithRuntime<RestoreOptions & FastResetOptions> = {}): Promise<RestoreResult | ResetResult> {
  core.checkTextArgument(key, 'dump key', true);
  checked(options, 'restore', [...core.OPTION_KEYS.restore, ...core.OPTION_KEYS.fastReset]);
  const runtime = await runtimeOf(options);
  return (await fastRestore(key, options, runtime)) ?? core.restore(key, options, runtime);
}

/**
 * Copies the target database into the local database `target` (`:name`), replacing an earlier copy of that name
 * (one that someone is connected to is refused with `DATABASE_BUSY`: it looks in use).
 *
 * @example
 * await copy(':fixture');
 */
export async function copy(target: string, options: WithRuntime<CopyOptions> = {}): Promise<CopyResult> {
  core.checkTextArgument(target, 'copy target');
  checked(options, 'copy', core.OPTION_KEYS.copy);
  return core.copy(target, options, await runtimeOf(options));
}

/**
 * Lists dump keys under `prefix`, newest first (or instances, databases, configs or local keys).
 *
 * @example
 * const [newest] = await ls('prod/default');
 */
export async function ls(prefix?: string, options: WithRuntime<LsOptions> = {}): Promise<string[]> {
  core.checkTextArgument(prefix, 'prefix', true);
  checked(options, 'ls', core.OPTION_KEYS.ls);
  return core.ls(prefix, options, await runtimeOf(options));
}

/**
 * Ends what the API keeps between calls in this process: waits for spares being prepared, closes the admin sessions
 * kept for fast resets, drops the databases of test runs this process started, and forgets the cached config.
 * Idle sessions never keep the process alive, so this is tidiness rather than a must. `dropSpares` also drops the
 * spare copies (`N__spare`), which otherwise stay for the next process.
 *
 * @example
 * afterAll(() => pgclone.close());
 */
export async function close(options: { dropSpares?: boolean } = {}): Promise<void> {
  await closeSession(options);
}

/** Resolves when the spares being prepared in the background are ready (benchmarks and tests use it). */
export async function settled(): Promise<void> {
  await settleSession();
}

/**
 * Dumps under `prefix` with size, creation time, whether a manifest vouches for them, and pins (`ls --long`).
 *
 * @example
 * const [newest] = await lsLong('prod/default');
 */
export async function lsLong(prefix?: string, options: WithRuntime<LsLongOptions> = {}): Promise<DumpListing[]> {
  core.checkTextArgument(prefix, 'prefix', true);
  checked(options, 'lsLong', core.OPTION_KEYS.lsLong);
  return core.lsLong(prefix, options, await runtimeOf(options));
}

/** Local databases (`:name` keys) with their sizes (`ls --local --long`). */
export async function lsLocal(options: WithRuntime<LsLongOptions> = {}): Promise<LocalListing[]> {
  checked(options, 'lsLocal', core.OPTION_KEYS.lsLong);
  return core.lsLocalLong(options, await runtimeOf(options));
}

/**
 * Deletes old dumps per instance/database/config group, never the newest of a group or a pinned one. Reports only,
 * unless `yes`.
 *
 * @example
 * await prune('prod', { keep: 7, olderThan: '30d', yes: true });
 */
export async function prune(prefix?: string, options: WithRuntime<PruneOptions> = {}): Promise<PruneResult> {
  core.checkTextArgument(prefix, 'prefix', true);
  checked(options, 'prune', core.OPTION_KEYS.prune);
  return core.prune(prefix, options, await runtimeOf(options));
}

/**
 * Pins a dump: `prune` and `rm` keep it.
 *
 * @example
 * await pin('prod/default/none/2026-11-25-14-03-59-123456.dump');
 */
export async function pin(key: string, options: WithRuntime<CommonOptions> = {}): Promise<PinResult> {
  core.checkTextArgument(key, 'dump key');
  checked(options, 'pin', core.OPTION_KEYS.pin);
  return core.pin(key, options, await runtimeOf(options));
}

/** Removes a dump's pin. */
export async function unpin(key: string, options: WithRuntime<CommonOptions> = {}): Promise<PinResult> {
  core.checkTextArgument(key, 'dump key');
  checked(options, 'unpin', core.OPTION_KEYS.pin);
  return core.pin(key, { ...options, unpin: true }, await runtimeOf(options));
}

/**
 * Deletes a dump (exact key, not pinned) or drops a local database (`:name`).
 *
 * @example
 * await rm(':before');
 */
export async function rm(key: string, options: WithRuntime<RmOptions> = {}): Promise<RmResult> {
  core.checkTextArgument(key, 'key');
  checked(options, 'rm', core.OPTION_KEYS.rm);
  return core.rm(key, options, await runtimeOf(options));
}

/**
 * Finds what interrupted runs left behind (working databases, blocked databases, stale locks, partial files,
 * orphan sidecars, temporary files) and, with `fix`, repairs it.
 *
 * @example
 * const { remaining } = await doctor({ fix: true });
 */
export async function doctor(options: WithRuntime<DoctorOptions> = {}): Promise<DoctorReport> {
  checked(options, 'doctor', core.OPTION_KEYS.doctor);
  return core.doctor(options, await runtimeOf(options));
}

/** The API as one object: `import pgclone from 'pgclone'`. */
const pgclone = { dump, restore, copy, ls, lsLong, lsLocal, prune, pin, unpin, rm, doctor, close, settled, testDatabase, startTestRun, ensureTemplate };
export default pgclone;
