import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { hideUserInfo, rememberSecret, type S3Settings } from '@pgclone/core';

/** Fail fast when an endpoint does not answer, instead of waiting for the operating system's TCP timeout. */
const CONNECTION_TIMEOUT_MS = 10_000;
/**
 * A socket silent this long is dead. Downloads resume where they stopped (see `download.ts`), so a consumer that
 * pauses longer than this (pg_restore building an index) costs one more request, not the restore.
 */
const SOCKET_TIMEOUT_MS = 120_000;
/** What S3-compatible services accept when the SDK has no region from anywhere (MinIO's and R2's default too). */
const FALLBACK_REGION = 'us-east-1';

/** The AWS SDK's own switch for the notice below; a user's setting of it wins. */
const NODE_NOTICE_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/**
 * A client built with the SDK's Node-version notice switched off for the moment of building. The SDK warns once per
 * process, on the first client it builds, that its releases from 2027 on need Node 22: a process warning that the
 * CLI's users and the API's callers cannot act on (and the API prints nothing). Built with the switch set, that
 * first client marks the notice as given; the switch is then put back, so the program's environment, and its
 * children's, stay as they were.
 */
function quietClient(config: S3ClientConfig): S3Client {
  if (process.env[NODE_NOTICE_SWITCH] !== undefined) return new S3Client(config);
  process.env[NODE_NOTICE_SWITCH] = 'true';
  try {
    return new S3Client(config);
  } finally {
    delete process.env[NODE_NOTICE_SWITCH];
  }
}

/** An S3 client and how to name its service in messages. */
export interface S3Connection {
  client: S3Client;
  /** `https://minio.example.com:9000` (user info removed) or `AWS S3`. */
  endpoint: string;
  /** The region from the settings or the SDK's own sources, when known. */
  region?: string;
  /** The shared-config profile credentials come from (`s3.profile` or AWS_PROFILE), when one is set. */
  profile?: string;
  /** Why the profile's `credential_process` failed, when it did: the SDK's error says only that no provider worked. */
  credentialProcessFailure: () => string | undefined;
}

/**
 * Creates the client from the `s3` settings. Credentials come only from the SDK's default chain (environment,
 * shared config/credentials files, the `profile`, SSO, web identity, container and instance roles).
 */
export async function createS3Connection(settings: S3Settings, warn: (message: string) => void = () => {}): Promise<S3Connection> {
  const found = await sdkDefaults(settings.profile);
  // The SDK's own AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / endpoint_url, when the config sets none.
  const endpoint = settings.endpoint ?? found.endpoint;
  const region = settings.region ?? found.region ?? (endpoint ? FALLBACK_REGION : undefined);
  const profile = settings.profile ?? (process.env.AWS_PROFILE || undefined);
  const config: S3ClientConfig = {
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(region ? { region } : {}),
    ...(settings.forcePathStyle !== undefined ? { forcePathStyle: settings.forcePathStyle } : {}),
    ...(settings.profile ? { profile: settings.profile } : {}),
    // The SDK's newer default (WHEN_SUPPORTED) adds CRC trailers that many S3-compatible services reject or, worse,
    // store inside the object; WHEN_REQUIRED is what they all understand. The SDK's environment variables still win.
    requestChecksumCalculation:
      settings.requestChecksumCalculation ?? (process.env.AWS_REQUEST_CHECKSUM_CALCULATION ? undefined : 'WHEN_REQUIRED'),
    responseChecksumValidation:
      settings.responseChecksumValidation ?? (process.env.AWS_RESPONSE_CHECKSUM_VALIDATION ? undefined : 'WHEN_REQUIRED'),
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, socketTimeout: SOCKET_TIMEOUT_MS },
    logger: sdkLogger(profile, warn, (failure) => (credentialProcessFailure = failure)),
  };
  let credentialProcessFailure: string | undefined;
  // Defence in depth: redact() hides these wherever they might show up later.
  rememberSecret(process.env.AWS_SECRET_ACCESS_KEY);
  rememberSecret(process.env.AWS_SESSION_TOKEN);
  return {
    client: quietClient(config),
    endpoint: endpointLabel(endpoint),
    ...(region ? { region } : {}),
    ...(profile ? { profile } : {}),
    credentialProcessFailure: () => credentialProcessFailure,
  };
}

/**
 * The endpoint for messages: without user info, query or trailing slash. One that is not an http(s) URL (from the
 * SDK's variables, which pgclone's config does not check) is shown with whatever precedes its `@` masked.
 */
export function endpointLabel(endpoint: string | undefined): string {
  if (!endpoint) return 'AWS S3';
  const url = URL.canParse(endpoint) ? new URL(endpoint) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') return hideUserInfo(endpoint);
  if (url.password) rememberSecret(decodeURIComponent(url.password));
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

/**
 * What the SDK would find by itself: the region (AWS_REGION, the shared config file) and the configured endpoint
 * (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the `endpoint_url` of the AWS_PROFILE profile; the SDK's own lookup, so
 * messages name the service its requests go to).
 */
async function sdkDefaults(profile: string | undefined): Promise<{ region?: string; endpoint?: string }> {
  const probe = quietClient(profile ? { profile } : {});
  try {
    const [region, endpoint] = await Promise.all([
      probe.config.region().catch(() => undefined),
      probe.config.ignoreConfiguredEndpointUrls ? undefined : probe.config.serviceConfiguredEndpoint?.().catch(() => undefined),
    ]);
    return { ...(region ? { region } : {}), ...(endpoint ? { endpoint } : {}) };
  } finally {
    probe.destroy();
  }
}

/**
 * The SDK's logger: without one it writes its warnings to the console, several lines each, through `--json` and
 * `-q`. Its warnings become one-line warning events; the rest (debug chatter) is dropped.
 */
function sdkLogger(
  profile: string | undefined,
  warn: (message: string) => void,
  onCredentialProcessFailure: (failure: string) => void,
): NonNullable<S3ClientConfig['logger']> {
  const ignore = () => {};
  // The credential chain swallows each provider's error and throws its own generic one; only its debug log says what
  // the `credential_process` reported: the provider error logged right after the process provider starts.
  let inProcessProvider = false;
  return {
    trace: ignore,
    debug: (...content: unknown[]) => {
      const text = content.map(String).join(' ');
      if (text.startsWith('@aws-sdk/credential-provider-process')) inProcessProvider = true;
      else if (inProcessProvider && text.startsWith('@smithy/property-provider')) {
        onCredentialProcessFailure(describeProcessFailure(text.replace(/^@smithy\/property-provider\s+\S+\s+/, '')));
        inProcessProvider = false;
      } else if (text.startsWith('@aws-sdk/')) inProcessProvider = false;
    },
    info: ignore,
    error: ignore,
    warn: (...content: unknown[]) => {
      const text = content.map(String).join(' ');
      // The credential chain's notice (nine lines): what it means for this run.
      if (/Multiple credential sources detected/.test(text)) {
        warn(
          `Both the profile ${JSON.stringify(profile ?? '')} and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are set: the AWS SDK uses the profile; ` +
            'unset one of them',
        );
        return;
      }
      const line = text.split('\n').map((l) => l.trim()).find(Boolean);
      if (line) warn(`AWS SDK: ${line}`);
    },
  };
}

/**
 * One line for what `credential_process` reported. Node's "Command failed: <command>" is followed by what the program
 * wrote to stderr: that is kept (its last line), the command is not (it may hold a token or a secret argument).
 */
function describeProcessFailure(message: string): string {
  const lines = message.split('\n').map((line) => line.trim()).filter(Boolean);
  const failed = lines[0]?.startsWith('Command failed:');
  const said = failed ? lines.slice(1).at(-1) : lines[0];
  const text = failed ? `credential_process failed${said ? `: ${said}` : ''}` : (said ?? 'credential_process failed');
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
