import { PassThrough, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { AbortMultipartUploadCommand, DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { StorageError, type PgcloneError, type StorageWriter } from '@pgclone/core';
import { formatBytes } from '@pgclone/core';
import { S3_MAX_PARTS } from './part-size.js';
import { sentPartsCollector } from './sent-parts.js';

/** What one upload needs. */
export interface UploadTarget {
  client: S3Client;
  bucket: string;
  /** The full object key (storage prefix included). */
  key: string;
  partSize: number;
  queueSize: number;
  /** Maps SDK errors to one-line messages naming the bucket and endpoint. */
  describe: (error: unknown, operation: string) => PgcloneError;
}

/**
 * A streaming multipart upload that becomes an object only in `commit()`.
 *
 * `Upload` from lib-storage completes the upload (or sends a single PutObject) as soon as its body ends. The end of
 * pg_dump's output does not mean the dump succeeded (pg_dump may exit non-zero after closing stdout), so the body
 * here ends only when `commit()` is called; until then the last, partial part is never sent and nothing can appear
 * under the key.
 *
 * lib-storage with its default `leavePartsOnError: false` sends AbortMultipartUpload itself, but when that fails it
 * throws the abort's error instead of the upload's, and `Upload.abort()` rejects `done()` before the abort request
 * is even sent. So it runs with `leavePartsOnError: true` and this writer aborts the multipart upload itself, after
 * every in-flight part has settled, and reports when the abort failed (parts then stay until a lifecycle rule
 * removes them). A part that fails after the SDK's retries ends lib-storage's shared part feed, so the other
 * uploaders stop; the failure then fails the write at once, which stops pg_dump.
 */
export function openUpload(target: UploadTarget): StorageWriter {
  const { client, bucket, key } = target;
  const maxBytes = target.partSize * S3_MAX_PARTS;
  const body = new PassThrough();
  body.on('error', () => {}); // surfaced through the upload's outcome
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: body, ContentType: 'application/octet-stream' },
    partSize: target.partSize,
    queueSize: target.queueSize,
    leavePartsOnError: true,
  });

  let failure: Error | undefined;
  let state: 'open' | 'committing' | 'committed' | 'aborting' = 'open';
  let bytes = 0;
  // Live at most: the parts in flight, and the next one both as the chunks read and as lib-storage's copy of them.
  // One sent part more is let wait (collecting at the first one asked for ten times as many collections, for 3 MB).
  const collectSentParts = sentPartsCollector((target.queueSize + 3) * target.partSize);
  let nextCheck = target.partSize;

  const fail = (error: Error) => {
    failure ??= error;
    if (!body.destroyed) body.destroy(failure);
  };

  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (failure) return callback(failure);
      bytes += chunk.length;
      if (bytes >= nextCheck) {
        nextCheck = bytes + target.partSize;
        collectSentParts();
      }
      if (bytes > maxBytes) {
        fail(
          new StorageError(
            `s3://${bucket}/${key} outgrew ${S3_MAX_PARTS} parts of ${formatBytes(target.partSize)} (S3's limit): ` +
              `set "s3.partSize" above ${formatBytes(target.partSize)} in the pgclone config`,
          ),
        );
        return callback(failure);
      }
      if (body.write(chunk)) return callback();
      const onDrain = () => {
        body.off('close', onClose);
        callback();
      };
      // A destroyed body never drains: the upload's failure (or abort) destroys this stream instead.
      const onClose = () => body.off('drain', onDrain);
      body.once('drain', onDrain);
      body.once('close', onClose);
    },
    // The end of the input is not the end of the object: commit() decides.
    final(callback) {
      callback();
    },
    destroy(error, callback) {
      // autoDestroy after a normal finish is not a cancellation.
      if (state === 'open' && (error || !stream.writableFinished)) {
        fail(error ?? new StorageError(`Upload of s3://${bucket}/${key} was cancelled`));
      }
      callback(error);
    },
  });

  let abortOutcome: Promise<PgcloneError | undefined> | undefined;
  /** Aborts the multipart upload once; resolves to the error when the service refused or could not be reached. */
  const abortMultipart = () =>
    (abortOutcome ??= (async () => {
      if (!upload.uploadId) return undefined;
      try {
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.uploadId }));
        return undefined;
      } catch (error) {
        const described = target.describe(error, 'AbortMultipartUpload');
        return new StorageError(
          `${described.message}; its parts stay in the bucket until an AbortIncompleteMultipartUpload lifecycle rule removes them`,
          { cause: error },
        );
      }
    })());

  const uploaded = upload.done();
  const outcome: Promise<void> = uploaded.then(
    () => undefined,
    async (error: unknown) => {
      // Our own failure (pg_dump failed, abort(), too big) explains more than the echo lib-storage rethrows.
      const reason = failure ?? target.describe(error, 'PutObject');
      failure = reason;
      if (state === 'open') stream.destroy(reason);
      await abortMultipart();
      throw reason;
    },
  );
  outcome.catch(() => {});

  return {
    stream,
    async commit() {
      if (failure) throw failure;
      if (state !== 'open') throw new StorageError(`Upload of s3://${bucket}/${key} was already ${state}`);
      state = 'committing';
      if (!stream.writableFinished) await finished(stream);
      body.end();
      await outcome;
      if ((state as string) === 'aborting') throw new StorageError(`Upload of s3://${bucket}/${key} was aborted while it completed`);
      state = 'committed';
    },
    async abort(reason?: unknown) {
      if (state === 'committed' || state === 'aborting') return;
      if (state === 'committing') {
        // Too late to stop lib-storage: let it finish, then remove what it made.
        state = 'aborting';
        const made = await outcome.then(() => true, () => false);
        if (made) {
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => {});
          return;
        }
      } else {
        state = 'aborting';
        fail(reason instanceof Error ? reason : new StorageError(`Upload of s3://${bucket}/${key} aborted`));
        stream.destroy();
        await outcome.catch(() => {});
      }
      const refused = await abortMultipart();
      if (refused) throw refused;
    },
  };
}
