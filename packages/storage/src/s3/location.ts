import { hideUserInfo, StorageError } from '@pgclone/core';

/** A parsed `s3://bucket/prefix/` storage location. */
export interface S3Location {
  bucket: string;
  /** Key prefix inside the bucket: empty, or ending with `/`. */
  prefix: string;
}

// Loose on purpose: AWS's rules (3–63 lowercase characters) do not hold for legacy buckets and other providers.
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/**
 * Parses `s3://bucket/prefix/`. The prefix is taken literally (no URL decoding) and always treated as a folder, so
 * `s3://b/dumps` and `s3://b/dumps/` are the same location, as directories are for local storage.
 */
export function parseS3Location(location: string): S3Location {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(location);
  const bad = (why: string): never => {
    throw new StorageError(`Invalid storage location ${JSON.stringify(hideUserInfo(location))}: ${why} (expected s3://bucket/prefix/)`);
  };
  if (!m) return bad('not an s3:// URL');
  const bucket = m[1]!;
  if (!bucket) bad('no bucket name');
  if (bucket.includes('@')) bad('user info before "@" does not belong in it (credentials come from the environment or a profile)');
  if (!BUCKET.test(bucket)) bad(`${JSON.stringify(bucket)} is not a bucket name`);
  let prefix = m[2] ?? '';
  if (prefix && !prefix.endsWith('/')) prefix += '/';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(prefix)) bad('the prefix contains a control character or a backslash');
  const segments = prefix.split('/').slice(0, -1);
  if (segments.some((s) => s === '' || s === '.' || s === '..')) bad('the prefix has an empty, "." or ".." segment');
  return { bucket, prefix };
}

/** The location as shown in messages: `s3://bucket/prefix/`. */
export function formatS3Location(location: S3Location): string {
  return `s3://${location.bucket}/${location.prefix}`;
}
