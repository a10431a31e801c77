import type { Readable } from 'node:stream';
import { AbortMultipartUploadCommand, DeleteObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { assertSafeKey, describeIssues, isPgcloneError, s3SettingsSchema, StorageError, type IncompleteWrite, type S3Settings, type Storage, type StorageContext, type StorageWriter, type StoredObject, type WriteHints } from '@pgclone/core';
import { createS3Connection, type S3Connection } from './client.js';
import { openDownload } from './download.js';
import { describeS3Error, isAccessDenied, isBodilessRefusal, isNotFound } from './errors.js';
import { formatS3Location, parseS3Location, type S3Location } from './location.js';
import { choosePartSize, DEFAULT_QUEUE_SIZE } from './part-size.js';
import { openUpload } from './upload.js';
import { UNFINISHED_WRITE_STALE_MS } from '../stale.js';

/**
 * Dumps as objects under `s3://bucket/prefix/` on AWS S3 or any S3-compatible service. Keys given to this class are
 * relative to the prefix; the backend lists raw keys and leaves filtering and sorting to core.
 */
export class S3Storage implements Storage {
  readonly display: string;
  readonly bucket: string;
  /** Key prefix inside the bucket (empty or ending with `/`). */
  readonly prefix: string;
  /** The SDK client (shared by every operation of this storage). */
  readonly client: S3Client;
  /** The service for messages (`AWS S3` or the endpoint without user info). */
  readonly endpoint: string;
  readonly #settings: S3Settings;
  readonly #region: string | undefined;
  readonly #profile: string | undefined;
  readonly #credentialProcessFailure: () => string | undefined;
  /** Set once the bucket answered: a later HEAD 404 then means no such object, without asking again. */
  #bucketSeen = false;

  constructor(location: S3Location, connection: S3Connection, settings: S3Settings) {
    this.bucket = location.bucket;
    this.prefix = location.prefix;
    this.display = formatS3Location(location);
    this.client = connection.client;
    this.endpoint = connection.endpoint;
    this.#region = connection.region;
    this.#profile = connection.profile;
    this.#credentialProcessFailure = connection.credentialProcessFailure;
    this.#settings = settings;
  }

  async list(prefix: string): Promise<StoredObject[]> {
    if (prefix) assertSafeKey(prefix, 'prefix');
    const out: StoredObject[] = [];
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: this.prefix + prefix })) {
        this.#bucketSeen = true;
        for (const object of page.Contents ?? []) {
          const key = object.Key?.slice(this.prefix.length);
          // Folder markers and keys pgclone could never have written (`a//b`, `../x`) are not listed.
          if (!key || key.endsWith('/') || !isSafeKey(key)) continue;
          out.push({ key, size: object.Size ?? 0, modified: object.LastModified ?? new Date(0) });
        }
      }
    } catch (error) {
      throw this.#describe(error, 'ListObjectsV2', this.prefix + prefix);
    }
    return out;
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    const full = this.#key(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: full }));
      this.#bucketSeen = true;
      return { key, size: head.ContentLength ?? 0, modified: head.LastModified ?? new Date(0) };
    } catch (error) {
      if (isBodilessRefusal(error) && !(this.#bucketSeen && isNotFound(error))) return this.#diagnoseHead(error, key, full);
      if (isNotFound(error)) return undefined;
      throw this.#describe(error, 'HeadObject', full);
    }
  }

  /**
   * A HEAD answer has no body, so a 403 or 404 does not say why: a missing bucket, a rejected or expired key, a
   * missing permission, or just no such object (a prefix, when restoring by prefix). A one-key listing of the same
   * name answers with an error code (the messages `ls` gives) or shows whether the object exists.
   */
  async #diagnoseHead(headError: unknown, key: string, full: string): Promise<StoredObject | undefined> {
    let listed;
    try {
      listed = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, MaxKeys: 1 }));
    } catch (error) {
      // Not allowed to list either: the HEAD's own answer is all there is.
      if (!isAccessDenied(error)) throw this.#describe(error, 'ListObjectsV2', full);
      if (isNotFound(headError)) return undefined;
      throw this.#describe(headError, 'HeadObject', full);
    }
    this.#bucketSeen = true;
    const object = listed.Contents?.[0];
    if (object?.Key !== full) return undefined;
    // The object exists but HEAD was refused: GetObject is not allowed on it.
    if (!isNotFound(headError)) throw this.#describe(headError, 'HeadObject', full);
    return { key, size: object.Size ?? 0, modified: object.LastModified ?? new Date(0) };
  }

  async read(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const full = this.#key(key);
    try {
      return await openDownload({
        client: this.client,
        bucket: this.bucket,
        key: full,
        start: range?.start ?? 0,
        ...(range?.end !== undefined ? { end: range.end } : {}),
        describe: (error, operation) => this.#describe(error, operation, full),
      });
    } catch (error) {
      if (isPgcloneError(error) && isNotFound(error.cause)) throw new StorageError(`Dump ${key} does not exist in ${this.display}`, { cause: error.cause });
      throw error;
    }
  }

  async write(key: string, hints: WriteHints = {}): Promise<StorageWriter> {
    const full = this.#key(key);
    return openUpload({
      client: this.client,
      bucket: this.bucket,
      key: full,
      partSize: choosePartSize(hints.expectedBytes, this.#settings.partSize),
      queueSize: this.#settings.queueSize ?? DEFAULT_QUEUE_SIZE,
      describe: (error, operation) => this.#describe(error, operation, full),
    });
  }

  async delete(key: string): Promise<void> {
    const full = this.#key(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: full }));
    } catch (error) {
      if (isNotFound(error)) return;
      throw this.#describe(error, 'DeleteObject', full);
    }
  }

  /**
   * Multipart uploads under `prefix` that were never completed or aborted (a dump killed with the whole machine, so
   * nobody sent AbortMultipartUpload). Their parts cost storage but are never visible as objects. One started more
   * than a day ago is stale; a younger one may be a dump still running elsewhere, so it is only reported. A service
   * that does not implement ListMultipartUploads has none to show (the lifecycle rule in docs/storage.md covers it).
   */
  async listIncomplete(prefix: string): Promise<IncompleteWrite[]> {
    if (prefix) assertSafeKey(prefix, 'prefix');
    const out: IncompleteWrite[] = [];
    let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
    try {
      for (;;) {
        const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix + prefix, ...markers }));
        for (const upload of page.Uploads ?? []) {
          const key = upload.Key?.slice(this.prefix.length);
          if (!key || !upload.UploadId || !isSafeKey(key)) continue;
          const started = upload.Initiated;
          out.push({
            id: upload.UploadId,
            key,
            ...(started ? { modified: started } : {}),
            stale: started !== undefined && Date.now() - started.getTime() > UNFINISHED_WRITE_STALE_MS,
            display: `${this.display}${key} (multipart upload started ${started?.toISOString() ?? 'at an unknown time'})`,
          });
        }
        if (!page.IsTruncated) return out;
        markers = { ...(page.NextKeyMarker ? { KeyMarker: page.NextKeyMarker } : {}), ...(page.NextUploadIdMarker ? { UploadIdMarker: page.NextUploadIdMarker } : {}) };
      }
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 501 || status === 405) return out;
      throw this.#describe(error, 'ListMultipartUploads', this.prefix + prefix);
    }
  }

  /** Aborts an incomplete multipart upload found by {@link listIncomplete}, which deletes its parts. */
  async removeIncomplete(write: IncompleteWrite): Promise<void> {
    const full = this.#key(write.key!);
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: full, UploadId: write.id }));
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchUpload') return;
      throw this.#describe(error, 'AbortMultipartUpload', full);
    }
  }

  /** The part size a write with these hints would use (for progress reporting and docs). */
  partSizeFor(hints: WriteHints = {}): number {
    return choosePartSize(hints.expectedBytes, this.#settings.partSize);
  }

  /** Closes the client's connections (the process exits without it too). */
  close(): void {
    this.client.destroy();
  }

  #key(key: string): string {
    assertSafeKey(key);
    return this.prefix + key;
  }

  #describe(error: unknown, operation: string, key: string) {
    return describeS3Error(error, {
      operation,
      bucket: this.bucket,
      key,
      endpoint: this.endpoint,
      ...(this.#region ? { region: this.#region } : {}),
      ...(this.#profile ? { profile: this.#profile } : {}),
      ...(this.#credentialProcessFailure() ? { credentialProcessFailure: this.#credentialProcessFailure()! } : {}),
    });
  }
}

/** Opens `s3://bucket/prefix/` with the `s3` settings of the pgclone config (validated again here for API callers). */
export async function openS3Storage(location: string, settings: unknown, context: StorageContext = {}): Promise<S3Storage> {
  const parsed = parseS3Location(location);
  const checked = s3SettingsSchema.safeParse(settings ?? {});
  if (!checked.success) {
    throw new StorageError(`Invalid "s3" settings: ${describeIssues(checked.error, settings ?? {})}`);
  }
  return new S3Storage(parsed, await createS3Connection(checked.data, context.warn), checked.data);
}

function isSafeKey(key: string): boolean {
  try {
    assertSafeKey(key);
    return true;
  } catch {
    return false;
  }
}
