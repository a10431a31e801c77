import { PgcloneError, redact, StorageDeniedError, StorageError } from '@pgclone/core';

/** What an S3 error message names. */
export interface S3ErrorContext {
  /** The S3 operation (`ListObjectsV2`, `GetObject`, `PutObject`…): also the IAM action to check. */
  operation: string;
  bucket: string;
  /** The full object key or prefix inside the bucket, when the operation concerns one. */
  key?: string;
  /** The service for messages, secrets removed: `https://minio.example.com:9000` or `AWS S3`. */
  endpoint: string;
  /** The configured region, if known. */
  region?: string;
  /** The shared-config profile credentials come from, if one is set. */
  profile?: string;
  /** Why the profile's `credential_process` failed, if it did (the SDK's own error does not say). */
  credentialProcessFailure?: string;
}

/** The fields of SDK errors (`S3ServiceException`, Node network errors, credential errors) this module reads. */
interface SdkErrorLike {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  Region?: string;
  Endpoint?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $response?: { headers?: Record<string, string | undefined> };
  cause?: unknown;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const WRONG_REGION = new Set([
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
  'IllegalLocationConstraintException',
  'IncorrectEndpoint',
  'MovedPermanently',
  'Redirect',
  'TemporaryRedirect',
]);
const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired', 'InvalidToken', 'RequestExpired']);
const DENIED = new Set(['AccessDenied', 'Forbidden', 'AllAccessDisabled', 'AccountProblem', 'InvalidPayer']);

/**
 * Turns whatever the AWS SDK threw into a one-line {@link StorageError} that names the bucket and the endpoint and
 * says what to check. Never includes credentials (SDK errors do not carry the secret key; the access key ID is
 * left out as well).
 */
export function describeS3Error(error: unknown, context: S3ErrorContext): PgcloneError {
  if (error instanceof PgcloneError) return error;
  const e = (error ?? {}) as SdkErrorLike;
  const name = e.name ?? '';
  const code = e.code ?? networkCodeOf(e.cause) ?? '';
  const status = e.$metadata?.httpStatusCode;
  const attempts = e.$metadata?.attempts ?? 1;
  const where = `s3://${context.bucket}/${context.key ?? ''}`;
  const at = `at ${context.endpoint}`;
  const bucket = JSON.stringify(context.bucket);
  const detail = oneLine(e.message);
  const fail = (message: string) => new StorageError(message, { cause: error });

  if (name === 'CredentialsProviderError' || (!status && /could not load credentials|credential/i.test(detail))) {
    // With a profile the SDK never looks at AWS_ACCESS_KEY_ID, so the profile is what to check.
    if (context.profile && context.credentialProcessFailure) {
      return fail(
        `No usable AWS credentials for bucket ${bucket} from profile ${JSON.stringify(context.profile)} ` +
          `(${redact(context.credentialProcessFailure)}): check the profile's credential_process`,
      );
    }
    if (context.profile) {
      return fail(
        `No usable AWS credentials for bucket ${bucket} from profile ${JSON.stringify(context.profile)} (${detail || name}): ` +
          'check that the profile exists in the shared AWS config or credentials file (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE) and has credentials',
      );
    }
    return fail(
      `No usable AWS credentials for bucket ${bucket} (${detail || name}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ` +
        'AWS_PROFILE or "s3.profile" in the pgclone config',
    );
  }
  if (/region is missing/i.test(detail)) {
    return fail(`No AWS region for bucket ${bucket}: set "s3.region" in the pgclone config or AWS_REGION`);
  }
  if (NETWORK_CODES.has(code) || name === 'TimeoutError' || (!status && /socket hang up|timed out/i.test(detail))) {
    const virtualHost = virtualHostOf(e, context);
    return fail(
      `Cannot reach the S3 endpoint ${context.endpoint} for bucket ${bucket}${virtualHost ? ` at ${virtualHost}` : ''} ` +
        `(${code || name}${attempts > 1 ? ` after ${attempts} attempts` : ''})` +
        (virtualHost
          ? ': virtual-hosted-style URLs put the bucket in the host name; set "s3.forcePathStyle": true in the pgclone config ' +
            'for a service that wants path-style URLs (MinIO and most self-hosted ones)'
          : ''),
    );
  }
  const errorCode = e.Code ?? name;
  if (errorCode === 'NoSuchBucket') return fail(`Bucket ${bucket} does not exist ${at}`);
  if (errorCode === 'InvalidBucketName') return fail(`Invalid bucket name ${bucket} ${at} (${detail || errorCode})`);
  if (errorCode === 'InvalidAccessKeyId') {
    return fail(`The AWS access key ID was rejected ${at} for bucket ${bucket} (InvalidAccessKeyId): check AWS_ACCESS_KEY_ID or the profile`);
  }
  if (errorCode === 'SignatureDoesNotMatch') {
    return fail(`The AWS secret access key was rejected ${at} for bucket ${bucket} (SignatureDoesNotMatch): check AWS_SECRET_ACCESS_KEY or the profile`);
  }
  if (EXPIRED.has(errorCode)) {
    return fail(`The AWS credentials for bucket ${bucket} have expired or are invalid (${errorCode}): renew the session (aws sso login, new token)`);
  }
  if (WRONG_REGION.has(errorCode) || status === 301 || status === 307) {
    const actual = e.Region ?? e.$response?.headers?.['x-amz-bucket-region'];
    return fail(
      `Bucket ${bucket} is not in region ${context.region ?? '(default)'} ${at} (${errorCode || status})` +
        `: set "s3.region"${actual ? ` to ${JSON.stringify(actual)}` : ' to the bucket\'s region'} in the pgclone config`,
    );
  }
  if (DENIED.has(errorCode) || status === 403) {
    return new StorageDeniedError(
      `Access denied to ${where} ${at} (${context.operation}, ${errorCode && errorCode !== 'Unknown' ? errorCode : 'HTTP 403'}): ` +
        'check the credentials and that the IAM policy allows it (docs/storage.md)',
      { cause: error },
    );
  }
  // A 404 without a code says nothing about the key for other operations (a PUT to a catch-all web server).
  if (errorCode === 'NoSuchKey' || (status === 404 && /^(HeadObject|GetObject)$/.test(context.operation))) return fail(`${where} does not exist ${at}`);
  if (errorCode === 'NoSuchUpload') return fail(`The multipart upload of ${where} no longer exists ${at} (NoSuchUpload)`);
  if (errorCode === 'MethodNotAllowed' || errorCode === 'NotImplemented' || status === 405 || status === 501) {
    return fail(`${context.endpoint} does not support ${context.operation} on ${where} (${errorCode || `HTTP ${status}`})`);
  }
  const what = [errorCode && errorCode !== 'Unknown' ? errorCode : undefined, status ? `HTTP ${status}` : undefined]
    .filter(Boolean)
    .join(', ');
  return fail(
    `S3 ${context.operation} on ${where} ${at} failed${attempts > 1 ? ` after ${attempts} attempts` : ''}` +
      `${what ? ` (${what})` : ''}${detail && detail !== 'UnknownError' && detail !== errorCode ? `: ${detail}` : ''}`,
  );
}

/** True for errors a retry may fix: network failures, timeouts, throttling and 5xx answers. */
export function isTransientS3Error(error: unknown): boolean {
  const e = (error ?? {}) as SdkErrorLike;
  const code = e.code ?? networkCodeOf(e.cause) ?? '';
  if (NETWORK_CODES.has(code) || code === 'ERR_STREAM_PREMATURE_CLOSE') return true;
  if (e.name === 'TimeoutError' || /^(aborted|socket hang up)$/i.test(e.message ?? '')) return true;
  const status = e.$metadata?.httpStatusCode;
  return status === 429 || (status !== undefined && status >= 500) || ['SlowDown', 'RequestTimeout', 'InternalError'].includes(e.Code ?? e.name ?? '');
}

/** True when the SDK error is a 404 for an object (or its bucket: HEAD answers do not say which). */
export function isNotFound(error: unknown): boolean {
  const e = (error ?? {}) as SdkErrorLike;
  if ((e.Code ?? e.name) === 'NoSuchBucket') return false;
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}

/** True for a 403 or 404 that carries no S3 error code (a HEAD answer, which has no body to carry one). */
export function isBodilessRefusal(error: unknown): boolean {
  const e = (error ?? {}) as SdkErrorLike;
  const status = e.$metadata?.httpStatusCode;
  return (status === 403 || status === 404) && !e.Code && ['NotFound', 'Forbidden', 'Unknown', 'UnknownError', undefined].includes(e.name);
}

/** True when the service refused the operation itself (a missing IAM permission), not the credentials or the bucket. */
export function isAccessDenied(error: unknown): boolean {
  const e = (error ?? {}) as SdkErrorLike;
  return DENIED.has(e.Code ?? e.name ?? '');
}

/**
 * The host a request failed to reach when it is the bucket's name prepended to a configured endpoint's host
 * (virtual-hosted-style addressing): the endpoint itself may be fine, only the bucket's subdomain is not (no DNS
 * name, or not in the TLS certificate). Undefined for AWS S3 and for path-style requests.
 */
function virtualHostOf(e: SdkErrorLike, context: S3ErrorContext): string | undefined {
  if (!URL.canParse(context.endpoint)) return undefined; // `AWS S3`
  const endpointHost = new URL(context.endpoint).hostname.toLowerCase();
  const failed = e as { hostname?: unknown; host?: unknown; cause?: { hostname?: unknown; host?: unknown } };
  const host = [failed.hostname, failed.host, failed.cause?.hostname, failed.cause?.host].find((h): h is string => typeof h === 'string');
  return host?.toLowerCase() === `${context.bucket.toLowerCase()}.${endpointHost}` ? host : undefined;
}

function networkCodeOf(cause: unknown): string | undefined {
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function oneLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0]!.trim();
}
