import { KeyError } from './errors.js';
import { isDumpKey, isSidecarKey } from './keys.js';
import { MANIFEST_SUFFIX } from './manifest.js';
import type { Storage, StoredObject } from './storage.js';

/**
 * Pins: a sidecar `<key>.pin.json` that keeps a dump from `prune` and `rm`. A sidecar rather than a list so that it
 * lives and dies with the dump in any storage backend, and survives copying the storage elsewhere.
 */

/** Suffix of pin sidecars. */
export const PIN_SUFFIX = '.pin.json';

/** The pin key of dump `key`. */
export function pinKeyOf(key: string): string {
  return `${key}${PIN_SUFFIX}`;
}

/** The dump a sidecar key belongs to (`x.dump.manifest.json` → `x.dump`), or `undefined` for other keys. */
export function dumpKeyOfSidecar(key: string): string | undefined {
  for (const suffix of [MANIFEST_SUFFIX, PIN_SUFFIX]) if (key.endsWith(suffix)) return key.slice(0, -suffix.length);
  return undefined;
}

/** Keys of `objects` that are pinned dumps. */
export function pinnedKeys(objects: readonly StoredObject[]): Set<string> {
  const pinned = new Set<string>();
  for (const o of objects) if (o.key.endsWith(PIN_SUFFIX)) pinned.add(o.key.slice(0, -PIN_SUFFIX.length));
  return pinned;
}

/** Checks that `key` names an existing dump (not a prefix, not a sidecar); returns its listing. */
export async function requireDump(storage: Storage, key: string, validateDumpKeys: boolean): Promise<StoredObject> {
  if (isSidecarKey(key)) throw new KeyError('KEY_INVALID', `${JSON.stringify(key)} is not a dump key (it is a manifest, pin or hidden file)`);
  if (validateDumpKeys && !isDumpKey(key)) {
    throw new KeyError('KEY_INVALID', `${JSON.stringify(key)} is not a dump key (<instance>/<database>/<config>/<timestamp>.dump); give an exact key ("pgclone ls" lists them)`);
  }
  const stat = await storage.stat(key);
  if (!stat) throw new KeyError('KEY_NOT_FOUND', `Dump ${key} does not exist in ${storage.display} ("pgclone ls" lists the keys)`);
  return stat;
}

/** True when dump `key` is pinned. */
export async function isPinned(storage: Storage, key: string): Promise<boolean> {
  return (await storage.stat(pinKeyOf(key))) !== undefined;
}
