/**
 * `@pgclone/storage`: where dumps live. {@link openStorage} picks the backend from the location.
 *
 * @packageDocumentation
 */
import { StorageError, type Storage, type StorageContext } from '@pgclone/core';
import { LocalStorage } from './local.js';

export type { Storage, StorageContext, StorageWriter, StoredObject, WriteHints } from '@pgclone/core';
export { LocalStorage, PARTIAL_PREFIX } from './local.js';
export type { S3Storage } from './s3/storage.js';
export { parseS3Location, formatS3Location, type S3Location } from './s3/location.js';
export { choosePartSize, DEFAULT_QUEUE_SIZE, S3_MAX_PARTS } from './s3/part-size.js';
export { describeS3Error, isTransientS3Error, type S3ErrorContext } from './s3/errors.js';

/**
 * Opens the storage for a location: an absolute directory, or `s3://bucket/prefix/` (configured by the `s3` key of
 * the settings; the AWS SDK is loaded only then).
 *
 * @example
 * const storage = await openStorage('/var/backups/pgclone/', {});
 * const s3 = await openStorage('s3://company-dumps/pg/', { s3: { region: 'eu-west-1' } });
 */
export async function openStorage(location: string, settings: Record<string, unknown> = {}, context: StorageContext = {}): Promise<Storage> {
  // Any s3: (a slash short, `s3:bucket`) is meant for S3: never a local directory named `s3:…`.
  if (/^s3:/i.test(location)) {
    const { openS3Storage } = await import('./s3/index.js');
    return openS3Storage(location, settings.s3, context);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new StorageError(`Unsupported storage location ${JSON.stringify(location)}: use a directory or s3://bucket/prefix/`);
  }
  return new LocalStorage(location);
}
