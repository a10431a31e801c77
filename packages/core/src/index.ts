/**
 * `@pgclone/core`: key format, config loading and merge, safety guards, the hook pipeline, PostgreSQL admin
 * operations and the `ls`, `dump`, `restore` and `copy` operations. Storage backends and ORM adapters are injected
 * through a {@link Runtime}; the `pgclone` package wires the defaults.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './events.js';
export * from './options.js';
export { checkOptionKeys, checkOptionTypes, checkTestOptions, checkTextArgument, OPTION_KEYS, TEST_OPTION_KEYS } from './options-schema.js';
export * from './keys.js';
export * from './names.js';
export * from './redact.js';
export * from './connection.js';
export { applyService } from './service-file.js';
export * from './storage.js';
export * from './adapter.js';
export * from './hooks.js';
export { abortError, interruptible, whenAborted } from './interrupt.js';
export { stopProcessTree, stopTreeOnAbort } from './process-tree.js';
export { lineSplitter } from './lines.js';
export { configSchema, describeIssues, s3SettingsSchema, type S3Settings, type ConfigBundle, type Hook, type HookContext, type PgcloneConfig } from './config/schema.js';
export { loadConfig, validateConfig, importModule, CONFIG_SEARCH_PLACES, type LoadedConfig } from './config/load.js';
export { transpileCacheDir } from './transpile-cache.js';
export { importNative } from './native-import.js';
export { inWorkingDir, workingDirectory } from './work-dir.js';
export { resolveOptions, DEFAULTS, type AdapterContribution, type ResolvedOptions } from './config/resolve.js';
export { connectClient } from './pg/connect.js';
export { Admin, pgMessage, ADMIN_APPLICATION_PREFIX, type DatabaseInfo, type RemainingSession, type AdminTimeouts, type LockHolder } from './pg/admin.js';
export { quoteIdent, quoteLiteral, quoteConninfo } from './pg/ident.js';
export { locateTool, locateToolForServer, prefixRepairer, spawnTool, type Tool, type ToolName } from './pg/tools.js';
export { parseArchiveHeader, assertArchiveReadable, maxArchiveVersion, databaseSettingsFromScript, HEADER_BYTES, type ArchiveHeader } from './pg/archive.js';
export { alterDatabaseSetting, splitList } from './pg/settings.js';
export { databaseFromScript, type ArchiveDatabase } from './pg/database-script.js';
export type { CreateOptions, DatabaseProperties, PrivilegeChange } from './pg/database-properties.js';
export { readContents, readArchiveDatabase, runPgRestore, type ArchivePipe, type ArchiveSource } from './pg/pg-restore.js';
export { planRestore, selectRestoreHooks, describePlan, describeAction, type RestorePlan, type PlanStep, type PlanAction, type RestoreSource, type ObservedState } from './plan/restore.js';
export { executePlan, type ExecuteIo } from './plan/execute.js';
export { prepare, requireConnection, targetDatabase, connectAdmin, type Runtime, type Prepared } from './ops/prepare.js';
export { parseCompression, formatCompression, COMPRESSION_HELP, COMPRESSION_LEVELS, type CompressionSpec, type CompressionMethod } from './compression-spec.js';
export {
  planDumpCompression,
  compressStage,
  decompressStage,
  findProgram,
  ParallelGzip,
  ZSTD_DEFAULT_LEVEL,
  FALLBACK_GZIP_LEVEL,
  type DumpCompression,
  type OuterCompressor,
  type Stage,
  type Wrapper,
} from './pg/compression.js';
export { addDataOffsets, readDataSizes, scanDataSizes, type DataSizes, type OffsetsResult } from './pg/archive-offsets.js';
export { DumpInput, type DumpInputOptions, type RestoreInput } from './pg/dump-input.js';
export { spoolToFile, spoolFits, spoolReserve, SpoolSpaceError, WRAPPED_EXPANSION, type Spool } from './pg/spool.js';
export { chooseCopyMethod, cloneSharing, copyDatabase, serverCanClone, FILE_COPY_MIN_BYTES, type CloneSharing, type CopyMethod, type CopyStrategyOption } from './pg/copy-method.js';
export { isItemLine, isVerboseLine, RestoreProgress } from './pg/restore-progress.js';
export { resolvePerfOptions, type PerfOptions } from './config/perf.js';
export { ProgressMeter, meterStream } from './progress.js';
export { ls, localPrefixError } from './ops/ls.js';
export { dump, type DumpResult } from './ops/dump.js';
export { restore, type RestoreResult } from './ops/restore.js';
export { copy, copyTargetName, type CopyResult } from './ops/copy.js';
export { repairLeftovers } from './ops/repair.js';
export { loadProject, type ProjectQuery, type ProjectContext } from './ops/prepare.js';
export { SnapshotResetter, SPARE_MAX_BYTES, type CopyStrategy, type SnapshotResetOptions, type SnapshotResetOutcome, type ResetTimings, type SparePolicy } from './ops/reset.js';
export { endSessionsQuickly } from './pg/end-sessions.js';
export { buildFraction, type IndexBuildReading, type IndexBuildRow } from './pg/index-progress.js';
export { pollRestoreProgress, type RestorePollHandlers } from './pg/restore-polls.js';
export { watchDump, type DumpWatchHandlers, type DumpWatchOptions } from './pg/dump-size.js';
export { localDatabaseOf, resolveDumpKey } from './ops/resolve-key.js';
export { inspectLeftovers, repairLeftover, type Leftover } from './ops/repair.js';
export { removeStaleWrites, removeStaleScratch } from './ops/leftover-files.js';
export {
  MANIFEST_SUFFIX,
  manifestKeyOf,
  readManifest,
  writeManifest,
  hashObject,
  HashingStream,
  assertMatchesManifest,
  serverVersionString,
  type DumpManifest,
} from './manifest.js';
export { DumpVerifier } from './dump-verifier.js';
export { hostTag, ownerTag, parseOwnerTag, ownerState } from './owner.js';
export { makeScratchDir, findScratchLeftovers, removeScratch, type ScratchLeftover } from './scratch.js';
export { prune, decidePrune, type PruneResult, type PruneEntry } from './ops/prune.js';
export { pin, type PinResult } from './ops/pin.js';
export { rm, type RmResult } from './ops/rm.js';
export { lsLong, lsLocalLong, type DumpListing, type LocalListing } from './ops/ls-long.js';
export { doctor, describeFinding, type DoctorReport, type Finding } from './ops/doctor.js';
export { parseDuration } from './duration.js';
export { formatAge, formatBytes } from './format.js';
export { PIN_SUFFIX, pinKeyOf, pinnedKeys, isPinned, dumpKeyOfSidecar } from './pins.js';
