import { NoSuchBucket, NoSuchKey, NotFound, S3ServiceException } from '@aws-sdk/client-s3';
import { configSchema, redact, StorageError } from '@pgclone/core';
import { choosePartSize, describeS3Error, isTransientS3Error, parseS3Location, type S3ErrorContext } from '@pgclone/storage';
import { describe, expect, it } from 'vitest';

const MIB = 1024 * 1024;
const context: S3ErrorContext = { operation: 'ListObjectsV2', bucket: 'company-dumps', key: 'pg/', endpoint: 'AWS S3', region: 'us-east-1' };

/** An error shaped as the SDK deserializes an S3 error response. */
function serviceError(name: string, status: number, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const error = new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status, attempts: 1 }, message: `${name} message` });
  Object.assign(error, extra);
  Object.defineProperty(error, '$response', { value: { statusCode: status, headers }, enumerable: false });
  return error;
}

function message(error: unknown, ctx: S3ErrorContext = context): string {
  const described = describeS3Error(error, ctx);
  expect(described).toBeInstanceOf(StorageError);
  expect(described.code).toMatch(/^STORAGE(_DENIED)?$/);
  expect(described.message).not.toContain('\n');
  return described.message;
}

describe('describeS3Error', () => {
  it('names a missing bucket and the endpoint', () => {
    const error = new NoSuchBucket({ $metadata: { httpStatusCode: 404 }, message: 'The specified bucket does not exist' });
    expect(message(error, { ...context, endpoint: 'https://minio.example.com:9000' })).toBe(
      'Bucket "company-dumps" does not exist at https://minio.example.com:9000',
    );
  });

  it('tells a rejected access key from a rejected secret, without printing either', () => {
    const badKey = serviceError('InvalidAccessKeyId', 403, { AWSAccessKeyId: 'AKIAEXAMPLEKEY123' });
    expect(message(badKey)).toMatch(/access key ID was rejected at AWS S3 for bucket "company-dumps" \(InvalidAccessKeyId\)/);
    expect(message(badKey)).not.toContain('AKIAEXAMPLEKEY123');
    const badSecret = serviceError('SignatureDoesNotMatch', 403, { StringToSign: 'AWS4-HMAC-SHA256\n20261125T000000Z' });
    expect(message(badSecret)).toMatch(/secret access key was rejected at AWS S3 for bucket "company-dumps" \(SignatureDoesNotMatch\)/);
    expect(message(badSecret)).not.toContain('AWS4-HMAC');
    expect(message(serviceError('ExpiredToken', 400))).toMatch(/credentials for bucket "company-dumps" have expired/);
  });

  it('says which region a bucket is in when S3 tells', () => {
    const redirect = serviceError('PermanentRedirect', 301, { Endpoint: 'company-dumps.s3.eu-west-1.amazonaws.com' }, { 'x-amz-bucket-region': 'eu-west-1' });
    expect(message(redirect)).toBe(
      'Bucket "company-dumps" is not in region us-east-1 at AWS S3 (PermanentRedirect): set "s3.region" to "eu-west-1" in the pgclone config',
    );
    const malformed = serviceError('AuthorizationHeaderMalformed', 400, { Region: 'ap-southeast-2' });
    expect(message(malformed)).toMatch(/not in region us-east-1 .*set "s3.region" to "ap-southeast-2"/);
    // A HEAD answer has no body: only the status and the header.
    const head = serviceError('Unknown', 301, {}, {});
    expect(message(head)).toMatch(/not in region us-east-1 .*to the bucket's region/);
  });

  it('explains access denied with the operation (the IAM action to allow)', () => {
    expect(message(serviceError('AccessDenied', 403), { ...context, operation: 'PutObject', key: 'pg/dev/x.dump' })).toBe(
      'Access denied to s3://company-dumps/pg/dev/x.dump at AWS S3 (PutObject, AccessDenied): check the credentials and that the IAM policy allows it (docs/storage.md)',
    );
    expect(message(serviceError('Unknown', 403))).toMatch(/\(ListObjectsV2, HTTP 403\)/);
    // Its own code: a look pgclone can do without (ListMultipartUploads before a dump) only warns about it.
    expect(describeS3Error(serviceError('AccessDenied', 403), context).code).toBe('STORAGE_DENIED');
    expect(describeS3Error(serviceError('InvalidAccessKeyId', 403), context).code).toBe('STORAGE');
  });

  it('reports network failures as an unreachable endpoint with the attempt count', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED', $metadata: { attempts: 3 } });
    expect(message(refused, { ...context, endpoint: 'http://127.0.0.1:9' })).toBe(
      'Cannot reach the S3 endpoint http://127.0.0.1:9 for bucket "company-dumps" (ECONNREFUSED after 3 attempts)',
    );
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND s3.nowhere.invalid'), { code: 'ENOTFOUND', $metadata: { attempts: 1 } });
    expect(message(dns, { ...context, endpoint: 'https://s3.nowhere.invalid' })).toMatch(/^Cannot reach the S3 endpoint https:\/\/s3\.nowhere\.invalid .*\(ENOTFOUND\)$/);
    const timeout = Object.assign(new Error('socket timed out'), { name: 'TimeoutError' });
    expect(message(timeout)).toMatch(/Cannot reach the S3 endpoint AWS S3 .*TimeoutError/);
  });

  it('reports missing credentials and region with what to set', () => {
    const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    expect(message(noCredentials)).toMatch(/^No usable AWS credentials for bucket "company-dumps" .*AWS_PROFILE or "s3.profile"/);
    expect(message(new Error('Region is missing'))).toMatch(/^No AWS region for bucket "company-dumps": set "s3.region"/);
  });

  it('falls back to the operation, the S3 code, the status and the first line of the message', () => {
    const error = serviceError('InternalError', 500, { $metadata: { httpStatusCode: 500, attempts: 3 }, message: 'We encountered an internal error.\nPlease try again.' });
    expect(message(error)).toBe('S3 ListObjectsV2 on s3://company-dumps/pg/ at AWS S3 failed after 3 attempts (InternalError, HTTP 500): We encountered an internal error.');
    expect(message(serviceError('MethodNotAllowed', 405), { ...context, operation: 'AbortMultipartUpload' })).toMatch(
      /^AWS S3 does not support AbortMultipartUpload on s3:\/\/company-dumps\/pg\/ \(MethodNotAllowed\)$/,
    );
    expect(message(new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'gone' }), { ...context, key: 'pg/a.dump' })).toBe(
      's3://company-dumps/pg/a.dump does not exist at AWS S3',
    );
    // A 404 without a code is "no such object" only for reads; for a PUT it is some other server answering.
    expect(message(serviceError('Unknown', 404, { message: 'UnknownError' }), { ...context, operation: 'PutObject', key: 'pg/a.dump' })).toBe(
      'S3 PutObject on s3://company-dumps/pg/a.dump at AWS S3 failed (HTTP 404)',
    );
  });

  it('classifies transient errors for resumed downloads', () => {
    expect(isTransientS3Error(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransientS3Error(serviceError('SlowDown', 503))).toBe(true);
    expect(isTransientS3Error(new NotFound({ $metadata: { httpStatusCode: 404 }, message: '' }))).toBe(false);
    expect(isTransientS3Error(serviceError('AccessDenied', 403))).toBe(false);
  });
});

describe('parseS3Location', () => {
  it('splits bucket and prefix, treating the prefix as a folder', () => {
    expect(parseS3Location('s3://company-dumps/pg/')).toEqual({ bucket: 'company-dumps', prefix: 'pg/' });
    expect(parseS3Location('s3://company-dumps/pg')).toEqual({ bucket: 'company-dumps', prefix: 'pg/' });
    expect(parseS3Location('S3://company-dumps')).toEqual({ bucket: 'company-dumps', prefix: '' });
    expect(parseS3Location('s3://b.x/team dumps+1/é=@/')).toEqual({ bucket: 'b.x', prefix: 'team dumps+1/é=@/' });
  });

  it('refuses what cannot be a location', () => {
    expect(() => parseS3Location('s3:///pg/')).toThrow(/no bucket name/);
    expect(() => parseS3Location('s3://bad bucket/')).toThrow(/not a bucket name/);
    expect(() => parseS3Location('s3://b/a//c/')).toThrow(/empty, "\." or "\.\." segment/);
    expect(() => parseS3Location('s3://b/../c/')).toThrow(StorageError);
    expect(() => parseS3Location('s3:dumps')).toThrow(/^Invalid storage location "s3:dumps": not an s3:\/\/ URL/);
  });

  it('never shows user info written into a location', () => {
    expect(() => parseS3Location('s3://user:pw-in-location@dumps/pg/')).toThrow(/^Invalid storage location "s3:\/\/\*\*\*@dumps\/pg\/": user info/);
    try {
      parseS3Location('s3:/user:pw-in-location@dumps/pg/');
    } catch (error) {
      expect((error as Error).message).not.toContain('pw-in-location');
      expect(redact('backup:pw-in-location')).not.toContain('pw-in-location');
    }
  });
});

describe('part size', () => {
  it('is max(5 MiB, 1.5 × size / 10,000) in whole MiB, capped at 5 GiB', () => {
    expect(choosePartSize(undefined)).toBe(5 * MIB);
    expect(choosePartSize(5 * 1024 * MIB)).toBe(5 * MIB);
    expect(choosePartSize(30 * 1024 * MIB)).toBe(5 * MIB); // 4.6 MiB: S3's minimum
    expect(choosePartSize(50 * 1024 * MIB)).toBe(8 * MIB); // 7.68 MiB rounded up
    expect(choosePartSize(100 * 1024 * MIB)).toBe(16 * MIB);
    const tib = 1024 ** 4;
    expect(choosePartSize(tib)).toBe(158 * MIB); // 157.3 MiB rounded up
    expect(choosePartSize(tib) * 10_000).toBeGreaterThan(1.5 * tib);
    expect(choosePartSize(100 * tib)).toBe(5 * 1024 * MIB);
  });

  it('uses s3.partSize when set, within S3 limits', () => {
    expect(choosePartSize(1024 ** 4, 8 * MIB)).toBe(8 * MIB);
    expect(choosePartSize(undefined, 1)).toBe(5 * MIB);
  });
});

describe('s3 config key', () => {
  it('accepts sizes in bytes or with units and checks the limits', () => {
    const parsed = configSchema.parse({ s3: { partSize: '64MiB', queueSize: 2, region: 'eu-west-1', forcePathStyle: true } });
    expect(parsed.s3).toEqual({ partSize: 64 * MIB, queueSize: 2, region: 'eu-west-1', forcePathStyle: true });
    expect(configSchema.parse({ configs: { prod: { s3: { partSize: 5 * MIB } } } }).configs?.prod?.s3?.partSize).toBe(5 * MIB);
    expect(configSchema.parse({ s3: { partSize: '1.5 GiB' } }).s3?.partSize).toBe(1.5 * 1024 * MIB);
    expect(configSchema.safeParse({ s3: { partSize: '1MiB' } }).success).toBe(false);
    expect(configSchema.safeParse({ s3: { partSize: '6 GiB' } }).success).toBe(false);
    expect(configSchema.safeParse({ s3: { partSize: 'lots' } }).success).toBe(false);
    expect(configSchema.safeParse({ s3: { queueSize: 0 } }).success).toBe(false);
    expect(configSchema.safeParse({ s3: { requestChecksumCalculation: 'ALWAYS' } }).success).toBe(false);
    expect(configSchema.safeParse({ s3: { accessKeyId: 'AKIA' } }).success).toBe(false);
    expect(configSchema.safeParse({ s3: { endpoint: 'not a url' } }).success).toBe(false);
    expect(configSchema.safeParse({ s3: { endpoint: 'http://minio.internal:9000' } }).success).toBe(true);
    for (const endpoint of ['backup:pw@minio.internal:9000', 'http//backup:pw@minio:9000', 'ftp://minio.internal', 's3://minio']) {
      expect(configSchema.safeParse({ s3: { endpoint } }).success, endpoint).toBe(false);
    }
  });

  it('keeps endpoint passwords out of printed text', () => {
    expect(redact('at https://user:s3cr3t-pw@minio.example.com:9000')).not.toContain('s3cr3t-pw');
  });
});
