import { KeyError, PgcloneError } from '../errors.js';
import { assertSafeKey } from '../keys.js';
import { interruptible } from '../interrupt.js';
import { manifestKeyOf } from '../manifest.js';
import { ownerOfDerivedName, reservedSuffixOf, restoreNames, SYSTEM_DATABASES } from '../names.js';
import type { RmOptions } from '../options.js';
import { isPinned, requireDump } from '../pins.js';
import { connectAdmin, openStorage, prepare, requireConnection, targetDatabase, type Runtime } from './prepare.js';
import { localDatabaseOf } from './resolve-key.js';

/** What `rm` returns. */
export interface RmResult {
  /** The key as given (`:name` for local databases). */
  key: string;
  kind: 'dump' | 'local';
  /** The dropped database, for local keys. */
  database?: string;
  /** Storage keys deleted (the dump and its manifest). */
  deleted: string[];
}

/**
 * Deletes one dump (exact key, with its manifest; never a pinned one) or drops one local database (`:name`, `:pre`,
 * `:post`; never the target database, a system database, or a `__swap` that is the only copy of its database).
 * A local database with open sessions is refused unless `force`: it may be some application's live database.
 *
 * @example
 * await rm('dev/default/none/2026-11-25-14-03-59-123456.dump', {}, runtime);
 * await rm(':before', {}, runtime);
 */
export async function rm(key: string, options: RmOptions, runtime: Runtime): Promise<RmResult> {
  return interruptible(options.signal, `Removal of ${key}`, () => rmNow(key, options, runtime));
}

async function rmNow(key: string, options: RmOptions, runtime: Runtime): Promise<RmResult> {
  const prepared = await prepare('rm', options, runtime);
  const { reporter } = prepared;
  if (!key.startsWith(':')) {
    assertSafeKey(key, 'dump key');
    const storage = await openStorage(prepared);
    await requireDump(storage, key, prepared.options.validateDumpKeys);
    if (await isPinned(storage, key)) {
      throw new PgcloneError('KEY_PINNED', `Dump ${key} is pinned; "pgclone unpin ${key}" first if you really want to delete it`);
    }
    await storage.delete(key);
    await storage.delete(manifestKeyOf(key));
    reporter.info(`Deleted ${key}`);
    return { key, kind: 'dump', deleted: [key, manifestKeyOf(key)] };
  }

  const conn = requireConnection(prepared.options);
  const target = targetDatabase(conn);
  const name = localDatabaseOf(key, target);
  if (name === target) throw new KeyError('NAME_RESERVED', `${key} is the database pgclone works on (${target}); rm never drops it`);
  if (SYSTEM_DATABASES.includes(name)) throw new KeyError('NAME_RESERVED', `${key} is a system database; rm never drops it`);
  const owner = ownerOfDerivedName(name);
  const admin = await connectAdmin(prepared.options, conn, prepared.env, reporter);
  try {
    // The same lock as a restore into the family it belongs to, so rm never drops what a running restore uses.
    await admin.lock(owner ? [owner] : [name], options.signal);
    const info = await admin.database(name);
    if (!info) throw new KeyError('KEY_NOT_FOUND', `Local database ${JSON.stringify(name)} does not exist ("pgclone ls --local" lists them)`);
    if (info.isTemplate) throw new KeyError('NAME_RESERVED', `${key} is a template database; rm never drops it`);
    if (owner && reservedSuffixOf(name) === 'swap' && !(await admin.exists(restoreNames(owner).live))) {
      throw new PgcloneError(
        'NAME_RESERVED',
        `${name} is the only copy of ${owner} after an interrupted swap; "pgclone doctor --fix" puts it back`,
      );
    }
    const sessions = await admin.sessions(name);
    if (sessions.length > 0 && !options.force) {
      const who = [...new Set(sessions.map((s) => s.applicationName || s.backendType || 'unknown'))].join(', ');
      throw new PgcloneError(
        'DATABASE_BUSY',
        `${name} has ${sessions.length} open session(s) (${who}): it looks in use; pass --force to drop it anyway`,
      );
    }
    const bytes = await admin.databaseSize(name);
    await admin.drop(name);
    reporter.info(`Dropped ${name} (${bytes} bytes)`);
    return { key, kind: 'local', database: name, deleted: [] };
  } finally {
    await admin.close();
  }
}
