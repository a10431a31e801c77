import { PgcloneError } from '../errors.js';
import { assertSafeKey, parseDumpKey, selectDumpKeys } from '../keys.js';
import { interruptible } from '../interrupt.js';
import { MANIFEST_READS_AT_ONCE, manifestKeyOf, readManifest } from '../manifest.js';
import { ownerOfDerivedName, reservedSuffixOf } from '../names.js';
import type { LsLongOptions } from '../options.js';
import type { DatabaseInfo } from '../pg/admin.js';
import { mapAtOnce } from '../at-once.js';
import { pinnedKeys } from '../pins.js';
import { connectAdmin, openStorage, prepare, requireConnection, type Runtime } from './prepare.js';


/** A dump as `ls --long` shows it. */
export interface DumpListing {
  key: string;
  /** Bytes as stored. */
  size: number;
  /** When the dump was taken: the key's timestamp, else the object's modification time. */
  created: Date;
  /**
   * `manifest`: a manifest exists and its size matches (restore also checks the sha256); `no-manifest`: restorable
   * after the archive check only; `size-mismatch` / `bad-manifest`: restore will refuse it.
   */
  verified: 'manifest' | 'no-manifest' | 'size-mismatch' | 'bad-manifest';
  pinned: boolean;
}

/** A local database as `ls --local --long` shows it. */
export interface LocalListing {
  /** `:name`. */
  key: string;
  database: string;
  bytes: number;
  /**
   * `restore-point` (`__pre`/`__post`), `leftover` (`__temp`/`__swap`/`__stage`), `spare` (`__spare`: the next fast
   * reset's copy, kept blocked on purpose), or `database`.
   */
  kind: 'restore-point' | 'leftover' | 'spare' | 'database';
  /** The database it belongs to, for restore points, leftovers and spares. */
  of?: string;
  allowConnections: boolean;
}

/**
 * The databases `ls --local` lists, with or without `--long`: all but the system databases, the one connected to,
 * and templates (pgclone's test templates; `IS_TEMPLATE` databases are copied from, not restored from by name).
 */
export function listedLocally(db: DatabaseInfo, connected: string): boolean {
  return db.name !== connected && !db.isTemplate;
}

function kindOf(name: string): LocalListing['kind'] {
  const suffix = reservedSuffixOf(name);
  if (suffix === 'pre' || suffix === 'post') return 'restore-point';
  if (suffix === 'temp' || suffix === 'swap' || suffix === 'stage') return 'leftover';
  return suffix === 'spare' ? 'spare' : 'database';
}

/**
 * `ls --long`: the dumps under `prefix`, newest first, with size, creation time, verification state and pin.
 *
 * @example
 * for (const d of await lsLong('prod', {}, runtime)) console.log(d.key, d.size, d.verified);
 */
export async function lsLong(prefix: string | undefined, options: LsLongOptions, runtime: Runtime): Promise<DumpListing[]> {
  return interruptible(options.signal, 'Listing', () => lsLongNow(prefix, options, runtime));
}

async function lsLongNow(prefix: string | undefined, options: LsLongOptions, runtime: Runtime): Promise<DumpListing[]> {
  const prepared = await prepare('ls', options, runtime);
  if (prefix) assertSafeKey(prefix, 'prefix');
  const storage = await openStorage(prepared);
  const objects = await storage.list(prefix ?? '');
  const keys = new Set(objects.map((o) => o.key));
  const pinned = pinnedKeys(objects);
  const dumps = selectDumpKeys(objects, {
    ...(prefix ? { prefix } : {}),
    validateDumpKeys: prepared.options.validateDumpKeys,
  });
  const listingOf = async (dump: (typeof dumps)[number]): Promise<DumpListing> => {
    let verified: DumpListing['verified'] = 'no-manifest';
    if (keys.has(manifestKeyOf(dump.key))) {
      try {
        const manifest = await readManifest(storage, dump.key);
        verified = manifest && manifest.size === dump.size ? 'manifest' : 'size-mismatch';
      } catch (error) {
        // Only a manifest that was read and is wrong makes the dump corrupt; a read that failed (network, access
        // denied) says nothing about the dump, and restore would not refuse it for that.
        if (!(error instanceof PgcloneError && error.code === 'DUMP_CORRUPT')) throw error;
        verified = 'bad-manifest';
      }
    }
    return { key: dump.key, size: dump.size, created: createdOf(dump.key, dump.modified), verified, pinned: pinned.has(dump.key) };
  };
  // Each manifest is a round trip or two (HEAD and GET on S3).
  return mapAtOnce(dumps, MANIFEST_READS_AT_ONCE, listingOf);
}

/** `ls --local --long`: local databases with their sizes. */
export async function lsLocalLong(options: LsLongOptions, runtime: Runtime): Promise<LocalListing[]> {
  return interruptible(options.signal, 'Listing', () => lsLocalLongNow(options, runtime));
}

async function lsLocalLongNow(options: LsLongOptions, runtime: Runtime): Promise<LocalListing[]> {
  const prepared = await prepare('ls', options, runtime);
  const conn = requireConnection(prepared.options);
  const admin = await connectAdmin(prepared.options, conn, prepared.env);
  try {
    const out: LocalListing[] = [];
    for (const db of await admin.listDatabases()) {
      if (!listedLocally(db, conn.database)) continue;
      const of = ownerOfDerivedName(db.name);
      out.push({
        key: `:${db.name}`,
        database: db.name,
        bytes: await admin.databaseSize(db.name).catch(() => 0),
        // Only the names an interrupted run leaves are leftovers; restore points and spares are kept on purpose.
        kind: kindOf(db.name),
        ...(of ? { of } : {}),
        allowConnections: db.allowConnections,
      });
    }
    return out;
  } finally {
    await admin.close();
  }
}

function createdOf(key: string, modified: Date): Date {
  const parts = parseDumpKey(key);
  if (!parts) return modified;
  const [y, mo, d, h, mi, s, micros] = parts.timestamp.split('-').map(Number);
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, Math.floor((micros ?? 0) / 1000)));
}

