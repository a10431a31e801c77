import { libpqEnv, mergeEnv, withDatabase } from '../connection.js';
import { GuardError, KeyError, PgcloneError } from '../errors.js';
import { DumpVerifier } from '../dump-verifier.js';
import { assertSafeKey } from '../keys.js';
import { checkHooks, describeHook, runHooks } from '../hooks.js';
import { restoreNames } from '../names.js';
import type { RestoreOptions } from '../options.js';
import { assertArchiveReadable, HEADER_BYTES, parseArchiveHeader } from '../pg/archive.js';
import { readArchiveSettings, readToc, runPgRestore, type ArchiveSource } from '../pg/pg-restore.js';
import { locateTool } from '../pg/tools.js';
import { executePlan } from '../plan/execute.js';
import { describePlan, planRestore, selectRestoreHooks, type RestorePlan, type RestoreSource } from '../plan/restore.js';
import type { Storage } from '../storage.js';
import { connectAdmin, openStorage, prepare, requireConnection, targetDatabase, type Runtime } from './prepare.js';
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
  const target = targetDatabase(conn);
  restoreNames(target); // fails early when N__temp & co. would exceed 63 bytes
  const isLocal = keyOrPrefix.startsWith(':');
  const localSource = isLocal ? localDatabaseOf(keyOrPrefix, target) : undefined;
  if (localSource === target) {
    throw new KeyError('KEY_INVALID', `Cannot restore ${target} from itself (${keyOrPrefix})`);
  }
  const hooks = selectRestoreHooks(opts, localSource ? { kind: 'local', database: localSource } : { kind: 'dump' }, target);
  checkHooks([...hooks.preSwapHooks, ...hooks.postSwapHooks], prepared.adapter, opts.projectDir);
  if (hooks.skipped.length > 0) {
    reporter.info(`Restoring ${keyOrPrefix} as it is: the configured pre-swap hooks (${hooks.skipped.map(describeHook).join(', ')}) run only for dumps; pass --pre-swap-hook to run hooks on a local restore`);
  }
  const storage = isLocal ? undefined : await openStorage(prepared);

  const admin = await connectAdmin(opts, conn, reporter);
  try {
    const family = Object.values(restoreNames(target));
    const foreignSource = localSource && !family.includes(localSource) ? localSource : undefined;
    reporter.step('lock', `Waiting for pgclone's lock on ${target}`, target);
    await admin.lock(foreignSource ? [target, foreignSource] : [target]);
    if (!options.dryRun) {
      await repairLeftovers(admin, target, reporter);
      if (foreignSource) await repairLeftovers(admin, foreignSource, reporter);
      await removeStaleScratch(reporter);
    }

    reporter.step('resolve', `Resolving ${keyOrPrefix}`, target);
    let source: RestoreSource;
    let archive: { source: () => ArchiveSource; key: string } | undefined;
    if (localSource) {
      if (!(await admin.exists(localSource))) {
        throw new KeyError('KEY_NOT_FOUND', `Local database ${JSON.stringify(localSource)} does not exist ("pgclone ls --local" lists them)`);
      }
      source = { kind: 'local', key: keyOrPrefix, database: localSource };
    } else {
      const resolved = await resolveDumpKey(storage!, keyOrPrefix, { validateDumpKeys: opts.validateDumpKeys });
      source = { kind: 'dump', key: resolved.key };
      archive = { key: resolved.key, source: () => archiveSource(storage!, resolved.key) };
    }

    const pgRestore = archive ? await locateTool('pg_restore', admin.serverMajor, prepared.env) : undefined;
    let verifier: DumpVerifier | undefined;
    if (archive && pgRestore) {
      reporter.step('verify', `Checking ${archive.key}`, target);
      verifier = await DumpVerifier.open(storage!, archive.key, reporter);
      await verifyArchive(storage!, archive.key, pgRestore, prepared.env);
    }

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

    const toolEnv = (database: string) => mergeEnv(prepared.env, libpqEnv(withDatabase(conn, database)));
    await executePlan(plan, {
      admin,
      reporter,
      ...(options.signal ? { signal: options.signal } : {}),
      // The checksum is computed while pg_restore reads; a mismatch stops it and fails the restore before the swap.
      beforeSwap: () => verifier?.settled() ?? Promise.resolve(),
      pgRestore: async (key, database) => {
        const outcome = await verifier!.during((corrupt) =>
          runPgRestore({
            tool: pgRestore!,
            source: verifier!.wrap(archive!.source()),
            env: toolEnv(database),
            database,
            key,
            allowList: opts.restoreErrorAllowList,
            onStderr: (line) => reporter.output('pg_restore', line),
            signal: options.signal ? AbortSignal.any([options.signal, corrupt]) : corrupt,
          }),
        );
        for (const e of outcome.allowedErrors) reporter.warn(`pg_restore error allowed by restoreErrorAllowList: ${e}`);
      },
      archiveSettings: () => readArchiveSettings(pgRestore!, archive!.source(), toolEnv('postgres')),
      runHooks: (phase, database, hooks) =>
        runHooks(hooks, {
          phase,
          connection: withDatabase(conn, database),
          cwd: opts.projectDir,
          env: prepared.env,
          ...(prepared.adapter ? { adapter: prepared.adapter } : {}),
          reporter,
          ...(options.signal ? { signal: options.signal } : {}),
        }),
    });
    reporter.step('done', `Restored ${source.key} into ${target}`, target);
    return result(false);
  } finally {
    await admin.close();
  }
}

function archiveSource(storage: Storage, key: string): ArchiveSource {
  const local = storage.localPath?.(key);
  return local ? { path: local } : { open: () => storage.read(key) };
}

/** Refuses a dump that is missing, empty, not an archive, unreadable by this pg_restore, or truncated in its TOC. */
async function verifyArchive(storage: Storage, key: string, pgRestore: Awaited<ReturnType<typeof locateTool>>, env: NodeJS.ProcessEnv): Promise<void> {
  const stat = await storage.stat(key);
  if (!stat) throw new KeyError('KEY_NOT_FOUND', `Dump ${key} does not exist in ${storage.display}`);
  if (stat.size === 0) throw new PgcloneError('DUMP_INVALID', `Dump ${key} is empty (0 bytes)`);
  const head = await readHead(storage, key);
  const header = parseArchiveHeader(head, key);
  if (header.wrapper !== 'none') {
    throw new PgcloneError('DUMP_INVALID', `Dump ${key} is wrapped in ${header.wrapper}; this pgclone restores plain custom-format archives`);
  }
  assertArchiveReadable(header, key, pgRestore);
  await readToc(pgRestore, archiveSource(storage, key), env, key);
}

async function readHead(storage: Storage, key: string): Promise<Buffer> {
  const stream = await storage.read(key, { start: 0, end: HEADER_BYTES - 1 });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).subarray(0, HEADER_BYTES);
}
