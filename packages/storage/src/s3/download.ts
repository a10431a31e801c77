import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import type { PgcloneError } from '@pgclone/core';
import { isTransientS3Error } from './errors.js';

/** Attempts to resume one download in a row without receiving a byte in between. */
const MAX_RESUMES = 5;

/** What one download needs. */
export interface DownloadSource {
  client: S3Client;
  bucket: string;
  /** The full object key (storage prefix included). */
  key: string;
  /** First byte (inclusive). */
  start: number;
  /** Last byte (inclusive); to the end of the object when absent. */
  end?: number;
  describe: (error: unknown, operation: string) => PgcloneError;
}

/**
 * Streams an object. The SDK retries requests, but not a response body cut off half-way, and restoring a large dump
 * means one long response. So when the body fails with a network error or stops short of its Content-Length, the
 * download continues from the next byte with a ranged GET pinned to the same version (`If-Match` on the ETag), up to
 * {@link MAX_RESUMES} times in a row. The first request is made before this resolves, so a missing object, bucket or
 * bad credentials fail the call itself.
 */
export async function openDownload(source: DownloadSource): Promise<Readable> {
  const { client, bucket, key } = source;
  const get = (from: number, etag?: string) =>
    client.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ...(from > 0 || source.end !== undefined ? { Range: `bytes=${from}-${source.end ?? ''}` } : {}),
        ...(etag ? { IfMatch: etag } : {}),
      }),
    );
  let first: GetObjectCommandOutput;
  try {
    first = await get(source.start);
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416) return Readable.from([]);
    throw source.describe(error, 'GetObject');
  }
  const etag = first.ETag;
  const last = first.ContentLength !== undefined ? source.start + first.ContentLength - 1 : undefined;

  async function* chunks(): AsyncGenerator<Buffer> {
    let position = source.start;
    let response = first;
    let failures = 0;
    for (;;) {
      try {
        for await (const chunk of response.Body as Readable) {
          position += (chunk as Buffer).length;
          failures = 0;
          yield chunk as Buffer;
        }
        if (last === undefined || position > last) return;
        throw Object.assign(new Error(`response ended ${last + 1 - position} bytes early`), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
      } catch (error) {
        if (!isTransientS3Error(error) || ++failures > MAX_RESUMES) throw source.describe(error, 'GetObject');
        await sleep(Math.min(100 * 2 ** failures, 5_000));
        try {
          response = await get(position, etag);
        } catch (retryError) {
          throw source.describe(retryError, 'GetObject');
        }
      }
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
