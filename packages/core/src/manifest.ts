import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import * as z from 'zod/mini';
import { describeIssues } from './config/schema.js';
import { DumpError, StorageError } from './errors.js';
import { whenAborted } from './interrupt.js';
import type { Storage } from './storage.js';

/**
 * Dump manifests: a sidecar `<key>.manifest.json` beside each dump, written only after the dump itself committed,
 * recording what a restore checks before it swaps anything in (size and sha256 of the bytes exactly as stored).
 * A dump without a manifest (plain pg_dump, django-pgclone, or a dump whose run died between the two writes) is still
 * restorable after the archive check; a dump whose bytes disagree with its manifest never is.
 */

/** Suffix of manifest sidecars. */
export const MANIFEST_SUFFIX = '.manifest.json';

const manifestSchema = z.object({
  format: z.literal('pgclone-manifest'),
  version: z.literal(1),
  key: z.string(),
  /** Bytes as stored (after any compression stage). */
  size: z.int().check(z.nonnegative()),
  /** Hex sha256 of the stored bytes. */
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  createdAt: z.string(),
  pgDumpVersion: z.string(),
  serverVersion: z.string(),
  /** How the stored bytes are compressed, e.g. `gzip` (pg_dump -Fc's own) or an outer stage's name. */
  compression: z.string(),
  /** Tables whose rows were left out. */
  exclude: z.array(z.string()),
  /** The dumped database's name (not a secret; the connection is never recorded). */
  database: z.optional(z.string()),
  /**
   * The largest table's (or the large objects') share of the dumped tables' size on disk: lets a restore choose its
   * pg_restore jobs before it has read the data (`jobsForShare`). Absent when the sizes could not be read.
   */
  largestShare: z.optional(z.number().check(z.gte(0), z.lte(1))),
});

/** What a manifest records. */
export type DumpManifest = z.infer<typeof manifestSchema>;

/** The manifest key of dump `key`. */
export function manifestKeyOf(key: string): string {
  return `${key}${MANIFEST_SUFFIX}`;
}

/** Writes the manifest of a committed dump (same commit/abort contract as the dump). */
export async function writeManifest(storage: Storage, manifest: DumpManifest): Promise<void> {
  const writer = await storage.write(manifestKeyOf(manifest.key));
  try {
    writer.stream.end(`${JSON.stringify(manifest, null, 2)}\n`);
    await writer.commit();
  } catch (error) {
    await writer.abort(error).catch(() => {});
    throw new StorageError(`Cannot write the manifest of ${manifest.key}: ${(error as Error).message}`, { cause: error });
  }
}

/** Manifests read at the same time by `ls --long` and `doctor` (a HEAD and a GET each on S3). */
export const MANIFEST_READS_AT_ONCE = 16;

/**
 * The manifest of dump `key`, or `undefined` when there is none. A manifest that exists but cannot be parsed, or
 * names another key, is an error: it is evidence of tampering or corruption, not of an old dump.
 */
export async function readManifest(storage: Storage, key: string): Promise<DumpManifest | undefined> {
  const manifestKey = manifestKeyOf(key);
  if (!(await storage.stat(manifestKey))) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of await storage.read(manifestKey)) chunks.push(chunk as Buffer);
  let parsed: DumpManifest;
  try {
    parsed = manifestSchema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  } catch (error) {
    // A zod error's message is its issues as multi-line JSON: say them as `path: message` instead.
    const reason = error instanceof SyntaxError ? error.message : describeIssues(error as z.core.$ZodError);
    throw new DumpError('DUMP_CORRUPT', `The manifest of ${key} is not valid (${manifestKey}): ${reason}`);
  }
  if (parsed.key !== key) {
    throw new DumpError('DUMP_CORRUPT', `The manifest ${manifestKey} describes ${JSON.stringify(parsed.key)}, not ${key}`);
  }
  return parsed;
}

/** A pass-through stream that counts and hashes what flows through it. */
export class HashingStream extends Transform {
  readonly #hash: Hash = createHash('sha256');
  #bytes = 0;
  #digest: string | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#digest = this.#hash.digest('hex');
    callback();
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Hex sha256 of everything, once the stream has ended. */
  get sha256(): string | undefined {
    return this.#digest;
  }
}

/** Throws `DUMP_CORRUPT` when `actual` differs from the manifest. */
export function assertMatchesManifest(manifest: DumpManifest, actual: { size: number; sha256?: string }, key: string): void {
  if (actual.size !== manifest.size) {
    throw new DumpError(
      'DUMP_CORRUPT',
      `Dump ${key} is ${actual.size} bytes but its manifest says ${manifest.size}: it is truncated or was changed after it was written; refusing to restore it`,
    );
  }
  if (actual.sha256 !== undefined && actual.sha256 !== manifest.sha256) {
    throw new DumpError(
      'DUMP_CORRUPT',
      `Dump ${key} does not match its manifest's sha256 (${actual.sha256.slice(0, 12)}… instead of ${manifest.sha256.slice(0, 12)}…): it was changed after it was written; refusing to restore it`,
    );
  }
}

/** Reads the whole object and returns its size and sha256. */
export async function hashObject(storage: Storage, key: string, signal?: AbortSignal): Promise<{ size: number; sha256: string }> {
  const file = storage.localPath?.(key);
  if (file) return hashFile(file, signal);
  return hashStream(await storage.read(key), `Checking ${key}`, signal);
}

/**
 * Reads a local file (a dump about to be committed, or one about to be restored), by path or through a handle the
 * caller keeps open, and returns its size and sha256.
 * One buffer is read into again and again: hashing the fresh 1 MiB buffers a read stream hands out (each first
 * touched, page by page, in a process that just started) took 170–200 ms for 27 MB on this project's 2-core machines,
 * against ~40 ms for one buffer that stays mapped and in the CPU's cache (130 MB: 0.36–0.53 s against 0.17–0.18 s).
 *
 * Given `written`, the file is still being written from start to end (a compressor program writing a dump): the hash
 * follows the writer and ends with it, so that the dump's end does not wait for a read of the whole file (0.33 s
 * for the 339 MB dump of the bench's numeric table). A writer that fails ends the hash too; its caller reports why.
 */
export async function hashFile(
  file: string | FileHandle,
  signal?: AbortSignal,
  written?: Promise<unknown>,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(HASH_READ_BYTES);
  let size = 0;
  let writing = written !== undefined;
  const writerDone = written?.then(
    () => {
      writing = false;
    },
    () => {
      writing = false;
    },
  );
  const handle = typeof file === 'string' ? await open(file, 'r') : file;
  try {
    for (;;) {
      if (signal?.aborted) throw new DumpError('INTERRUPTED', `Checksumming ${typeof file === 'string' ? file : 'a dump'} was interrupted`);
      // Read before looking again: an empty read after the writer was seen done is the file's end.
      const final = !writing;
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, size);
      if (bytesRead > 0) {
        size += bytesRead;
        hash.update(buffer.subarray(0, bytesRead));
      } else if (final) {
        break;
      } else {
        // Unreferenced: the writer keeps the process alive, a wait that lost the race does not.
        await Promise.race([writerDone, sleep(FOLLOW_POLL_MS, undefined, { ref: false })]);
      }
    }
  } finally {
    if (handle !== file) await handle.close();
  }
  return { size, sha256: hash.digest('hex') };
}

/** How long {@link hashFile} waits for a writer it caught up with: a dump grows by ~1 MiB in that time. */
const FOLLOW_POLL_MS = 20;

/** Read size of {@link hashFile}: small enough to stay in a core's cache, large enough to need few reads. */
const HASH_READ_BYTES = 1 << 20;

async function hashStream(stream: Readable, what: string, signal?: AbortSignal): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  const onAbort = () => stream.destroy(new DumpError('INTERRUPTED', `${what} was interrupted`));
  const stopListening = whenAborted(signal, onAbort);
  try {
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      hash.update(chunk as Buffer);
    }
  } finally {
    stopListening();
  }
  return { size, sha256: hash.digest('hex') };
}

/** `server_version_num` as a version string: 150018 → `15.18`, 90624 → `9.6.24`. */
export function serverVersionString(num: number): string {
  if (num >= 100000) return `${Math.floor(num / 10000)}.${num % 10000}`;
  return `${Math.floor(num / 10000)}.${Math.floor(num / 100) % 100}.${num % 100}`;
}
