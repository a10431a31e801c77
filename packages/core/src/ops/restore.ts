import os from 'node:os';
import { libpqEnv, mergeEnv, serverOnThisMachine, withDatabase } from '../connection.js';
import { GuardError, KeyError, PgcloneError } from '../errors.js';
import type { Reporter } from '../events.js';
import { DumpVerifier } from '../dump-verifier.js';
import { assertSafeKey } from '../keys.js';
import { checkHooks, describeHook } from '../hooks.js';
import { interruptible } from '../interrupt.js';
import { ownerOfDerivedName, reservedSuffixOf, restoreNames, SYSTEM_DATABASES } from '../names.js';
import type { RestoreOptions } from '../options.js';
import { resolvePerfOptions } from '../config/perf.js';
import { assertArchiveReadable } from '../pg/archive.js';
import type { Admin } from '../pg/admin.js';
import { copyDatabase } from '../pg/copy-method.js';
import { DumpInput, type RestoreInput } from '../pg/dump-input.js';
import type { IndexBuildReading } from '../pg/index-progress.js';
import { pollRestoreProgress } from '../pg/restore-polls.js';
import type { ArchiveDatabase } from '../pg/database-script.js';
import { readArchiveDatabase, readContents, restoresInOneTransaction, restoresInParallel, runPgRestore } from '../pg/pg-restore.js';
import { usefulJobs } from '../pg/restore-jobs.js';
import { restoreDefaults } from '../pg/restore-defaults.js';
import { RestoreProgress } from '../pg/restore-progress.js';
import type { TocLines } from '../pg/toc-listing.js';
import { checkSpoolDir } from '../pg/spool.js';
import { locateTool, type Tool } from '../pg/tools.js';
import { executePlan } from '../plan/execute.js';
import { describePlan, planRestore, readMark, selectRestoreHooks, type RestorePlan, type RestoreSource } from '../plan/restore.js';
import type { Storage } from '../storage.js';
import { connectAdmin, openStorage, prepare, requireConnection, runProjectHooks, targetDatabase, type Runtime } from './prepare.js';
import { removeStaleScratch } from './leftover-files.js';
import { repairLeftovers } from './repair.js';
import { localDatabaseOf, resolveDumpKey } from './resolve-key.js';

/** What `restore` returns. */
export interface RestoreResult {
  /** The exact key restored (a prefix resolved to its newest dump), or the `:name` local key. */
  key: string;
  /** The database that was replaced. */
  database: string;
  /** The local database restored from, for `:name` keys. */
  source?: string;
  reversible: boolean;
  /** True when nothing was changed (`dryRun`). */
  dryRun: boolean;
  /** The plan, one line per action. */
  plan: string[];
  durationMs: number;
}

/**
 * Restores a dump (exact key, or newest under a prefix) or a local database (`:pre`, `:post`, `:name`) into the
 * target database, which is replaced only once everything succeeded. See `plan/restore.ts` for the steps.
 *
 * @example
 * await restore('prod/default/anon', { reversible: true }, runtime);
 * await restore(':pre', {}, runtime); // roll back
 */
export async function restore(keyOrPrefix: string | undefined, options: RestoreOptions, runtime: Runtime): Promise<RestoreResult> {
  return interruptible(options.signal, `Restore of ${keyOrPrefix ?? 'a dump'}`, () => restoreNow(keyOrPrefix, options, runtime));
}

async function restoreNow(keyOrPrefix: string | undefined, options: RestoreOptions, runtime: Runtime): Promise<RestoreResult> {
  const started = Date.now();
  const prepared = await prepare('restore', options, runtime);
  const { options: opts, reporter } = prepared;
  if (!opts.allowRestore) throw new GuardError('Restore is not allowed here (allowRestore is false in the pgclone config)');
  if (!keyOrPrefix) {
    throw new KeyError('KEY_MISSING', 'No dump key given: pass a key, a prefix or a :local name ("pgclone ls" lists them)');
  }
  // A hostile key is refused before anything connects or locks.
  if (!keyOrPrefix.startsWith(':')) assertSafeKey(keyOrPrefix, 'dump key');
  const conn = requireConnection(opts);
  const perf = resolvePerfOptions(options, opts);
  const target = targetDatabase(conn);
  restoreNames(target); // fails early when N__temp & co. would exceed 63 bytes
  const isLocal = keyOrPrefix.startsWith(':');
  if (!isLocal && (options.spoolDir !== undefined || opts.bundle.spoolDir !== undefined)) {
    await checkSpoolDir(perf.spoolDir, options.spoolDir !== undefined ? 'option' : 'config');
  }
  const localSource = isLocal ? localDatabaseOf(keyOrPrefix, target) : undefined;
  if (localSource === target) {
    throw new KeyError('KEY_INVALID', `Cannot restore ${target} from itself (${keyOrPrefix})`);
  }
  // A restore blocks its source's connections and ends its sessions while it copies it: never a system database's.
  if (localSource !== undefined && SYSTEM_DATABASES.includes(localSource)) {
    throw new KeyError('NAME_RESERVED', `${keyOrPrefix} is a system database; restore never copies one`);
  }
  // A spare is sealed (no connections) so that the fast reset may trust it: restoring from it would unseal it.
  if (localSource !== undefined && reservedSuffixOf(localSource) === 'spare') {
    throw new KeyError('NAME_RESERVED', `${keyOrPrefix} is a spare copy kept for fast resets (names ending in "__spare" are pgclone's); restore from its snapshot instead`);
  }
  const hooks = selectRestoreHooks(opts, localSource ? { kind: 'local', database: localSource } : { kind: 'dump' }, target);
  checkHooks([...hooks.preSwapHooks, ...hooks.postSwapHooks], prepared.adapter, opts.projectDir);
  if (hooks.skipped.length > 0) {
    reporter.info(`Restoring ${keyOrPrefix} as it is: the configured pre-swap hooks (${hooks.skipped.map(describeHook).join(', ')}) run only for dumps; pass --pre-swap-hook to run hooks on a local restore`);
  }
  const storage = isLocal ? undefined : await openStorage(prepared);

  const admin = await connectAdmin(opts, conn, prepared.env, reporter);
  // `pg_restore --version` (~35 ms) runs while the locks are taken and the key resolved; awaited where it is needed,
  // so a bad key still fails first.
  const pgRestoreFound = isLocal ? undefined : locateTool('pg_restore', admin.serverMajor, prepared.env);
  pgRestoreFound?.catch(() => {});
  let archive: DumpInput | undefined;
  let verifier: DumpVerifier | undefined;
  try {
    const family = Object.values(restoreNames(target));
    const foreignSource = localSource && !family.includes(localSource) ? localSource : undefined;
    // Another database's working database (`:app__temp`, `:app__pre`) belongs to that database's runs, which take
    // its lock, not the working name's: without it, this copy would end the sessions of a restore filling it.
    const sourceFamily = foreignSource ? (ownerOfDerivedName(foreignSource) ?? foreignSource) : undefined;
    reporter.step('lock', `Waiting for pgclone's lock on ${target}`, target);
    await admin.lock(foreignSource ? [target, foreignSource, sourceFamily!] : [target], options.signal);
    if (!options.dryRun) {
      // A leftover the user restores from (`:N__swap`, which `ls --local` lists) is the source, not something to drop.
      const keep = localSource ? { source: localSource } : {};
      await repairLeftovers(admin, target, reporter, keep);
      if (sourceFamily) await repairLeftovers(admin, sourceFamily, reporter, keep);
      await removeStaleScratch(reporter, perf.spoolDir);
      // Found at the swap, these would fail the restore only after all its work (or, once swapped, its cleanup).
      await admin.requireOwnership(localSource ? [...family, localSource] : family);
      await admin.requireReplaceable(family, { dropped: true });
      if (localSource) await admin.requireReplaceable([localSource], { dropped: false });
    }

    reporter.step('resolve', `Resolving ${keyOrPrefix}`, target);
    let source: RestoreSource;
    if (localSource) {
      if (!(await admin.exists(localSource))) {
        throw new KeyError('KEY_NOT_FOUND', `Local database ${JSON.stringify(localSource)} does not exist ("pgclone ls --local" lists them)`);
      }
      // Resuming swaps N__temp in as it is: only one that holds the whole restore (cut off at a pre-swap hook). The
      // same holds for another database's `__temp` restored into this one.
      if (reservedSuffixOf(localSource) === 'temp' && !readMark(await admin.comment(localSource)).marked) {
        const use = localSource === restoreNames(target).temp ? 'resumed' : 'restored from';
        throw new GuardError(
          `${localSource} was left by a restore that stopped before it was complete, so it cannot be ${use}: restore the dump again (that drops it; so does "pgclone doctor --fix")`,
        );
      }
      source = { kind: 'local', key: keyOrPrefix, database: localSource };
    } else {
      const resolved = await resolveDumpKey(storage!, keyOrPrefix, { validateDumpKeys: opts.validateDumpKeys });
      source = { kind: 'dump', key: resolved.key };
      archive = new DumpInput({
        storage: storage!,
        key: resolved.key,
        env: prepared.env,
        reporter,
        jobs: perf.jobs,
        spoolDir: perf.spoolDir,
        ...(options.signal ? { signal: options.signal } : {}),
        // Every complete read of the stored bytes (spool, stream) is hashed for the manifest check, before decompression.
        tapStored: (stored) => verifier?.tap(stored) ?? stored,
        readBeside: () => verifier?.checkBeside(),
        largestShare: () => verifier?.manifest?.largestShare,
      });
    }

    const pgRestore = archive ? await pgRestoreFound : undefined;
    let toc: TocLines = [];
    let databaseEntries: string[] | undefined;
    if (archive && pgRestore) {
      reporter.step('verify', `Checking ${archive.key}`, target);
      verifier = await DumpVerifier.open(storage!, archive.key, reporter);
      try {
        ({ toc, databaseEntries } = await verifyArchive(storage!, archive, pgRestore, prepared.env));
      } catch (error) {
        // A changed byte in a wrapped dump already breaks its decompression here: the checksum names the cause.
        if (verifier.manifest) await verifier.settled();
        throw error;
      }
    }

    // A wrapped or remote dump is spooled (decompressed) for pg_restore -j while the temporary database is created
    // and the settings applied: the spool is the longer wait, and neither needs the other. `pgRestore` below takes
    // the same input; a failure before then stops it (`archive.dispose()`). A dump whose manifest says one table
    // holds most of its data streams into one job instead (`DumpInput`).
    const jobs = usefulJobs(toc, perf.jobs);
    if (archive && !options.dryRun) archive.restoreInput(jobs).catch(() => {});

    const existing = new Set((await admin.listDatabases()).map((d) => d.name));
    const plan: RestorePlan = planRestore({
      target,
      source,
      reversible: opts.reversible,
      preSwapHooks: hooks.preSwapHooks,
      postSwapHooks: hooks.postSwapHooks,
      state: { existing },
    });
    const lines = describePlan(plan);
    const result = (dryRun: boolean): RestoreResult => ({
      key: source.key,
      database: target,
      ...(source.kind === 'local' ? { source: source.database } : {}),
      reversible: plan.reversible,
      dryRun,
      plan: lines,
      durationMs: Date.now() - started,
    });
    if (options.dryRun) return result(true);
    if (isLocal && opts.reversible) reporter.info('--reversible has no effect when restoring a local database');

    const toolEnv = (database: string) => mergeEnv(prepared.env, libpqEnv(withDatabase(conn, database), prepared.env));
    // Read once, when first needed: before the restore (creating N__temp for a target that does not exist yet) from
    // the stored dump, as a spool may still be being written; after it, from the spool when there is one.
    let restored = false;
    let archiveDatabase: Promise<ArchiveDatabase> | undefined;
    const readDatabase = (key: string) =>
      (archiveDatabase ??= readArchiveDatabase(pgRestore!, restored ? archive!.settingsSource() : archive!.tocSource(), toolEnv('postgres'), key, databaseEntries));
    // A new N is created with the dump's options: read them now, beside the spool, not when N__temp is due.
    if (archive && !existing.has(target)) readDatabase(archive.key).catch(() => {});
    const serverHere = serverOnThisMachine(conn, prepared.env);
    await executePlan(plan, {
      admin,
      reporter,
      ...(options.signal ? { signal: options.signal } : {}),
      copyDatabase: async (name, template) => {
        await copyDatabase(admin, name, template, perf.copyStrategy, reporter, serverHere);
      },
      // The checksum is computed while the stored bytes are read; a mismatch stops pg_restore and fails the restore
      // before the swap. The spool has served by then (data, settings): removed now, not after the post-swap hooks,
      // which may run long (and a run killed during them would leave it behind for the next run to remove).
      beforeSwap: async () => {
        await verifier?.settled();
        await archive?.dispose();
      },
      pgRestore: async (key, database) => {
        await restoreArchive({
          admin,
          archive: archive!,
          verifier: verifier!,
          toc,
          jobs,
          serverCores: serverHere ? os.availableParallelism() : undefined,
          tool: pgRestore!,
          env: toolEnv(database),
          database,
          key,
          allowList: opts.restoreErrorAllowList,
          reporter,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        restored = true;
      },
      archiveDatabase: readDatabase,
      runHooks: (phase, database, hooks) => runProjectHooks(prepared, phase, withDatabase(conn, database), hooks, options.signal),
    });
    reporter.step('done', `Restored ${source.key} into ${target}`, target);
    return result(false);
  } finally {
    await archive?.dispose();
    await admin.close();
  }
}

/** What {@link restoreArchive} needs. */
interface ArchiveRestore {
  admin: Admin;
  archive: DumpInput;
  verifier: DumpVerifier;
  /** The archive's table of contents (`pg_restore -l`). */
  toc: TocLines;
  /** The jobs planned from the table of contents (the input may take fewer: see `DumpInput`). */
  jobs: number;
  /** The server's cores, when it runs on this machine. */
  serverCores: number | undefined;
  tool: Tool;
  /** pg_restore's environment, connected to `database`. */
  env: NodeJS.ProcessEnv;
  database: string;
  key: string;
  allowList: string[];
  reporter: Reporter;
  signal?: AbortSignal;
}

/**
 * Plan step 2 for a dump: pg_restore into the working database, its sessions tuned for that (`restoreDefaults`).
 * A spooled dump's schema (the pre-data section) is restored from the spool's head while its data is still being
 * spooled; the data and what follows it, with `-j`, once the spool is complete and its checksum matched.
 */
async function restoreArchive(r: ArchiveRestore): Promise<void> {
  const { archive, verifier, reporter } = r;
  const { jobs } = r;
  const preparing = archive.restoreInput(jobs);
  preparing.catch(() => {}); // awaited below
  const base = {
    tool: r.tool,
    env: r.env,
    database: r.database,
    key: r.key,
    allowList: r.allowList,
    onStderr: (line: string) => reporter.output('pg_restore', line),
  };
  // The schema's `--verbose` lines arrive before the progress can be counted (the data sizes come with the spool).
  let progress: RestoreProgress | undefined;
  const early: string[] = [];
  const onVerbose = (line: string) => (progress ? progress.line(line) : early.push(line));
  const allowedErrors: string[] = [];
  let stopPolling: (() => Promise<void>) | undefined;
  let restoring = true;
  // Set for the jobs planned; changed for the input's, once known, before pg_restore's data sessions start.
  const defaultsFor = (n: number) => restoreDefaults({ jobs: n, serverCores: r.serverCores, serverMajor: r.admin.serverMajor });
  // The progress polls share the admin session, which resets the defaults once the work is done: they end first.
  const stopProgress = async () => {
    restoring = false;
    await stopPolling?.();
  };
  await r.admin.withRoleDefaults(r.database, defaultsFor(jobs), (changeDefaults) =>
    verifier.during(async (corrupt) => {
      const signal = r.signal ? AbortSignal.any([r.signal, corrupt]) : corrupt;
      const schema = await archive.schemaSource();
      const stopSchema = new AbortController();
      const schemaRun = schema
        ? runPgRestore({ ...base, source: schema, sections: ['pre-data'], onVerbose, signal: AbortSignal.any([signal, stopSchema.signal]) })
        : undefined;
      schemaRun?.catch(() => {}); // awaited below
      let input: RestoreInput;
      try {
        // A failed schema restore does not wait for the spool.
        input = await (schemaRun ? Promise.race([preparing, schemaRun.then(() => preparing)]) : preparing);
        // A spooled dump was read in full already: refuse a corrupt one before its data is restored.
        if (input.mode === 'spool') await verifier.settled();
        // Fewer jobs than planned (one item holds most of the data, or no room to spool): its builds may use the
        // server's parallel workers after all.
        if (input.jobs !== jobs) await changeDefaults(defaultsFor(input.jobs));
      } catch (error) {
        stopSchema.abort();
        await schemaRun?.catch(() => {});
        // A failed schema lets the spool finish first (unless interrupted): the checksum that says whether the dump
        // is damaged is then the one computed on the way, not a second read of the whole dump.
        if (!signal.aborted) await preparing.catch(() => {});
        throw error;
      }
      // The stored file itself is hashed alongside pg_restore (also when pg_restore reads a copy of it); spool and
      // stream reads are hashed by tapStored.
      const source = input.mode === 'file' || input.mode === 'copy' ? verifier.wrap(input.source) : input.source;
      const parallel = restoresInParallel({ jobs: input.jobs, source });
      const counting = new RestoreProgress(reporter, r.toc, input.data, parallel);
      for (const line of early.splice(0)) counting.line(line);
      progress = counting;
      void counting.ready.then(() => {
        if (!restoring) return;
        stopPolling = pollRestoreProgress(r.admin, r.database, {
          ...(counting.wantsCopyBytes ? { onCopyBytes: (bytes: number) => counting.setCopyBytes(bytes) } : {}),
          ...(counting.wantsBuildProgress ? { onBuilds: (builds: IndexBuildReading[]) => counting.setBuildProgress(builds) } : {}),
        });
      });
      if (schemaRun) allowedErrors.push(...(await schemaRun).allowedErrors);
      const rest = await runPgRestore({
        ...base,
        source,
        jobs: input.jobs,
        ...(schemaRun ? { sections: ['data', 'post-data'] as const } : {}),
        // Not after a schema restored on its own: the tables would not be new in the data's transaction.
        oneTransaction: !schemaRun && restoresInOneTransaction(r.toc, { parallel, allowList: r.allowList }),
        onVerbose,
        signal,
      });
      allowedErrors.push(...rest.allowedErrors);
    }, r.signal).finally(stopProgress),
  );
  progress?.finish();
  for (const e of allowedErrors) reporter.warn(`pg_restore error allowed by restoreErrorAllowList: ${e}`);
}

/**
 * Refuses a dump that is missing, empty, not an archive (plain or wrapped in gzip/zstd/lz4), unreadable by this
 * pg_restore, or truncated in its TOC. Returns the table of contents.
 */
async function verifyArchive(storage: Storage, input: DumpInput, pgRestore: Tool, env: NodeJS.ProcessEnv): Promise<{ toc: TocLines; databaseEntries: string[] }> {
  const key = input.key;
  const stat = await storage.stat(key);
  if (!stat) throw new KeyError('KEY_NOT_FOUND', `Dump ${key} does not exist in ${storage.display}`);
  if (stat.size === 0) throw new PgcloneError('DUMP_INVALID', `Dump ${key} is empty (0 bytes)`);
  await input.outerHeader();
  // The table of contents is read while the archive's own header is read from inside its wrapper: for a wrapped dump
  // each starts a decompressor (~50 ms), and neither needs the other. The header's verdict comes first.
  const toc = readContents(pgRestore, input.tocSource(), env, key);
  toc.catch(() => {}); // awaited below
  try {
    assertArchiveReadable(await input.header(), key, pgRestore);
  } catch (error) {
    await toc.catch(() => {});
    throw error;
  }
  return toc;
}
