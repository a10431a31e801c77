import { UsageError } from '../errors.js';
import { interruptible } from '../interrupt.js';
import { assertSafeKey, selectDumpKeys, uniqueKeyParts } from '../keys.js';
import type { LsOptions } from '../options.js';
import { listedLocally } from './ls-long.js';
import { connectAdmin, openStorage, prepare, requireConnection, type Runtime } from './prepare.js';

/**
 * Lists dump keys under `prefix`, newest first by the key's timestamp; or, with one of the modes, the sorted unique
 * instances / databases / configs, or the local databases usable as `:name` keys.
 *
 * @example
 * const keys = await ls('prod/default', {}, runtime); // ['prod/default/none/2026-11-25-14-03-59-123456.dump', …]
 */
export async function ls(prefix: string | undefined, options: LsOptions, runtime: Runtime): Promise<string[]> {
  return interruptible(options.signal, 'Listing', () => lsNow(prefix, options, runtime));
}

async function lsNow(prefix: string | undefined, options: LsOptions, runtime: Runtime): Promise<string[]> {
  const modes = (['instances', 'databases', 'configs', 'local'] as const).filter((m) => options[m]);
  if (modes.length > 1) {
    throw new UsageError(`Use only one of --instances, --databases, --configs and --local (got ${modes.map((m) => `--${m}`).join(', ')})`);
  }
  if (options.local && prefix) throw localPrefixError(prefix);
  const prepared = await prepare('ls', options, runtime);
  if (options.local) {
    const conn = requireConnection(prepared.options);
    const admin = await connectAdmin(prepared.options, conn, prepared.env);
    try {
      const databases = await admin.listDatabases();
      return databases.filter((d) => listedLocally(d, conn.database)).map((d) => `:${d.name}`);
    } finally {
      await admin.close();
    }
  }
  if (prefix) assertSafeKey(prefix, 'prefix');
  const storage = await openStorage(prepared);
  const objects = await storage.list(prefix ?? '');
  const keys = selectDumpKeys(objects, {
    ...(prefix ? { prefix } : {}),
    validateDumpKeys: prepared.options.validateDumpKeys,
  }).map((o) => o.key);
  if (options.instances) return uniqueKeyParts(keys, 'instance');
  if (options.databases) return uniqueKeyParts(keys, 'database');
  if (options.configs) return uniqueKeyParts(keys, 'config');
  return keys;
}

/** `ls --local PREFIX`: local names are not keys with segments, and a prefix silently ignored would list them all. */
export function localPrefixError(prefix: string): UsageError {
  return new UsageError(`--local lists every local database; it takes no prefix (got ${JSON.stringify(prefix)})`);
}
