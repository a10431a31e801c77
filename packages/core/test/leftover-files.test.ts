import { describe, expect, it } from 'vitest';
import { StorageDeniedError, StorageError } from '../src/errors.js';
import { Reporter, type PgcloneEvent } from '../src/events.js';
import { removeStaleWrites } from '../src/ops/leftover-files.js';
import type { IncompleteWrite, Storage } from '../src/storage.js';

/** A storage whose only working part is the look for incomplete writes. */
function storage(listIncomplete: () => Promise<IncompleteWrite[]>, removeIncomplete: () => Promise<void> = async () => {}): Storage {
  const unused = () => Promise.reject(new Error('not used'));
  return { display: 's3://dumps/pg/', list: unused, stat: unused, read: unused, write: unused, delete: unused, listIncomplete, removeIncomplete };
}

function recorder() {
  const events: PgcloneEvent[] = [];
  return { reporter: new Reporter('dump', (e) => events.push(e)), warnings: () => events.flatMap((e) => (e.event === 'message' && e.level === 'warn' ? [e.message] : [])) };
}

describe('removeStaleWrites', () => {
  it('fails the caller when the storage cannot be used at all (missing bucket, credentials, network)', async () => {
    const { reporter, warnings } = recorder();
    const failing = storage(() => Promise.reject(new StorageError('Bucket "nobucket" does not exist at AWS S3')));
    await expect(removeStaleWrites(failing, 'dev/', reporter)).rejects.toThrow(/^Bucket "nobucket" does not exist/);
    expect(warnings()).toEqual([]);
  });

  it('only warns when the look itself is not permitted, or a removal fails', async () => {
    const denied = recorder();
    const refusing = storage(() => Promise.reject(new StorageDeniedError('Access denied to s3://dumps/pg/dev/ (ListMultipartUploads, AccessDenied)')));
    expect(await removeStaleWrites(refusing, 'dev/', denied.reporter)).toEqual([]);
    expect(denied.warnings()).toEqual(['Could not clean up incomplete writes in s3://dumps/pg/: Access denied to s3://dumps/pg/dev/ (ListMultipartUploads, AccessDenied)']);

    const stuck = recorder();
    const write: IncompleteWrite = { id: 'u1', key: 'dev/x.dump', stale: true, display: 's3://dumps/pg/dev/x.dump (multipart upload)' };
    const unremovable = storage(async () => [write], () => Promise.reject(new StorageError('AWS S3 does not support AbortMultipartUpload')));
    expect(await removeStaleWrites(unremovable, 'dev/', stuck.reporter)).toEqual([]);
    expect(stuck.warnings()).toEqual(['Could not clean up incomplete writes in s3://dumps/pg/: AWS S3 does not support AbortMultipartUpload']);
  });
});
