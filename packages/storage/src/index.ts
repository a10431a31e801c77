/**
 * `@pgclone/storage`: where dumps live. {@link openStorage} picks the backend from the location.
 *
 * @packageDocumentation
 */
import { StorageError, type Storage } from '@pgclone/core';
import { LocalStorage } from './local.js';

export type { Storage, StorageWriter, StoredObject, WriteHints } from '@pgclone/core';
export { LocalStorage, PARTIAL_PREFIX } from './local.js';

/**
 * Opens the storage for a location: an absolute directory, or `s3://bucket/prefix/`.
 *
 * @example
 * const storage = await openStorage('/var/backups/pgclone/', {});
 */
export async function openStorage(location: string, _settings: Record<string, unknown> = {}): Promise<Storage> {
  if (/^s3:\/\//i.test(location)) {
    throw new StorageError(`S3 storage (${location}) is not available in this build`);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new StorageError(`Unsupported storage location ${JSON.stringify(location)}: use a directory or s3://bucket/prefix/`);
  }
  return new LocalStorage(location);
}
