import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import type { S3Info } from './s3-global-setup.js';

/** The run's s3rver. */
export function s3(): S3Info {
  return inject('s3');
}

/**
 * Environment for a CLI run against s3rver: its key pair, and nothing from the machine's own AWS setup (no shared
 * files, no instance metadata lookups).
 */
export function s3Env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const info = s3();
  return {
    AWS_ACCESS_KEY_ID: info.accessKeyId,
    AWS_SECRET_ACCESS_KEY: info.secretAccessKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_REGION: undefined,
    AWS_DEFAULT_REGION: undefined,
    AWS_CONFIG_FILE: '/nonexistent/pgclone-test/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/pgclone-test/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL: undefined,
    AWS_ENDPOINT_URL_S3: undefined,
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: undefined,
    // pgclone silences the SDK's Node 22 notice by itself; the test run's own setting must not hide that.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined,
    ...extra,
  };
}

/** The `s3` config section for s3rver (or for a proxy in front of it). */
export function s3Settings(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { endpoint: s3().endpoint, forcePathStyle: true, ...extra };
}

/** An SDK client for s3rver, for arranging and inspecting buckets directly. */
export function s3Client(endpoint = s3().endpoint): S3Client {
  const info = s3();
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A unique bucket name (S3 rules: lowercase, 3–63 characters). */
export function uniqueBucket(prefix = 'pgc'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Creates a new, uniquely named bucket and returns its name. */
export async function createBucket(prefix = 'pgc'): Promise<string> {
  const bucket = uniqueBucket(prefix);
  const client = s3Client();
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return bucket;
}

/**
 * Creates objects (body `x`) by writing them into s3rver's data folder, where an object is a `<key>._S3rver_object`
 * file (s3rver 3.7.1's filesystem store; it computes ETags and metadata on demand). For bulk arrangements only:
 * thousands of PutObject requests through s3rver take tens of seconds on two cores.
 */
export function seedObjects(bucket: string, keys: readonly string[]): void {
  for (const key of keys) {
    const file = path.join(s3().directory, bucket, ...key.split('/'));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(`${file}._S3rver_object`, 'x');
  }
}

/** A TCP proxy in front of s3rver that sees each HTTP request line and can stall or break connections. */
export interface S3Proxy {
  /** `http://127.0.0.1:<port>`: use as `s3.endpoint`. */
  endpoint: string;
  /** Request lines seen so far (`PUT /bucket/key?partNumber=1&uploadId=…`). */
  requests: string[];
  /** Stops forwarding the first request matching `pattern` (and its connection) until {@link release}; resolves when it happened. */
  hold(pattern: RegExp): Promise<string>;
  release(): void;
  /** Resets the connection of the next `times` requests matching `pattern` before they reach the server. */
  reset(pattern: RegExp, times?: number): void;
  /** Cuts the response of the next `times` requests matching `pattern` after `bytes` bytes. */
  cut(pattern: RegExp, bytes: number, times?: number): void;
  /** Forwards every request matching `pattern` `ms` milliseconds late (a slow round trip). */
  delay(pattern: RegExp, ms: number): void;
  /** The most requests that were being delayed at one time: above 1 only for requests sent side by side. */
  readonly mostDelayedAtOnce: number;
  close(): Promise<void>;
}

const REQUEST_LINE = /(GET|PUT|POST|DELETE|HEAD) (\/\S*) HTTP\/1\.1\r\n/g;

/** Starts an {@link S3Proxy} to `target` (s3rver by default). */
export async function startS3Proxy(target = s3().endpoint): Promise<S3Proxy> {
  const { hostname, port } = new URL(target);
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  let holdRule: { pattern: RegExp; resolve: (line: string) => void } | undefined;
  const held: Array<() => void> = [];
  const resets: Array<{ pattern: RegExp; times: number }> = [];
  const cuts: Array<{ pattern: RegExp; bytes: number; times: number }> = [];
  const delays: Array<{ pattern: RegExp; ms: number }> = [];
  let delayedNow = 0;
  let mostDelayedAtOnce = 0;

  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    let cutAfter: number | undefined;
    let sent = 0;
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => upstream.destroy()).on('error', () => {});
    upstream.on('close', () => client.destroy()).on('error', () => {});
    client.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(REQUEST_LINE)) {
        const line = `${m[1]} ${m[2]}`;
        requests.push(line);
        const reset = resets.find((r) => r.times > 0 && r.pattern.test(line));
        if (reset) {
          reset.times -= 1;
          client.resetAndDestroy();
          upstream.destroy();
          return;
        }
        const cut = cuts.find((c) => c.times > 0 && c.pattern.test(line));
        if (cut) {
          cut.times -= 1;
          cutAfter = cut.bytes;
          sent = 0;
        }
        const delay = delays.find((d) => d.pattern.test(line));
        if (delay) {
          client.pause();
          mostDelayedAtOnce = Math.max(mostDelayedAtOnce, ++delayedNow);
          setTimeout(() => {
            delayedNow--;
            upstream.write(chunk);
            client.resume();
          }, delay.ms);
          return;
        }
        if (holdRule?.pattern.test(line)) {
          const { resolve } = holdRule;
          holdRule = undefined;
          client.pause();
          held.push(() => {
            upstream.write(chunk);
            client.resume();
          });
          resolve(line);
          return;
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cutAfter !== undefined && sent + chunk.length > cutAfter) {
        client.write(chunk.subarray(0, Math.max(0, cutAfter - sent)), closeBoth);
        cutAfter = undefined;
        return;
      }
      sent += chunk.length;
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    requests,
    hold: (pattern) => new Promise((resolve) => (holdRule = { pattern, resolve })),
    release: () => {
      for (const go of held.splice(0)) go();
    },
    reset: (pattern, times = Infinity) => void resets.push({ pattern, times }),
    cut: (pattern, bytes, times = 1) => void cuts.push({ pattern, bytes, times }),
    delay: (pattern, ms) => void delays.push({ pattern, ms }),
    get mostDelayedAtOnce() {
      return mostDelayedAtOnce;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
