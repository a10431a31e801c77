import type { Readable } from 'node:stream';
import { DumpError, PgcloneError } from './errors.js';
import type { Reporter } from './events.js';
import { assertMatchesManifest, HashingStream, hashObject, readManifest, type DumpManifest } from './manifest.js';
import type { ArchiveSource } from './pg/pg-restore.js';
import type { Storage } from './storage.js';

/**
 * Checks a dump's stored bytes against its manifest during the restore, so that a mismatch is refused before the
 * swap. The size is compared up front (a truncated dump fails before any database is created); the sha256 is
 * computed from the very bytes pg_restore reads when it reads a stream, or by reading the file alongside pg_restore
 * when it reads a local path. {@link settled} must resolve before the swap.
 */
export class DumpVerifier {
  readonly key: string;
  readonly manifest: DumpManifest | undefined;
  readonly #storage: Storage;
  readonly #abort = new AbortController();
  #result: Promise<void> | undefined;
  #streamed: HashingStream | undefined;

  private constructor(storage: Storage, key: string, manifest: DumpManifest | undefined) {
    this.#storage = storage;
    this.key = key;
    this.manifest = manifest;
  }

  /** Loads the manifest and checks the stored size; reports what will be checked. */
  static async open(storage: Storage, key: string, reporter: Reporter): Promise<DumpVerifier> {
    const manifest = await readManifest(storage, key);
    if (!manifest) {
      reporter.info(`Dump ${key} has no manifest: it is checked as an archive (pg_restore -l) only, without a checksum of its bytes`);
      return new DumpVerifier(storage, key, undefined);
    }
    const stat = await storage.stat(key);
    assertMatchesManifest(manifest, { size: stat?.size ?? 0 }, key);
    return new DumpVerifier(storage, key, manifest);
  }

  /** Aborted when the checksum fails, so that a pg_restore still reading can be stopped at once. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * The archive source pg_restore should read: a stream source is wrapped so that its bytes are hashed on the way;
   * for a path source, the file is hashed concurrently.
   */
  wrap(source: ArchiveSource): ArchiveSource {
    const manifest = this.manifest;
    if (!manifest) return source;
    if ('path' in source) {
      this.checkBeside();
      return source;
    }
    if (!('open' in source)) return source; // a program's pipe: its stored bytes are hashed as they are read (tap)
    return {
      open: async (): Promise<Readable> => {
        const input = await source.open();
        const hashing = new HashingStream();
        this.#streamed = hashing;
        input.on('error', (error) => hashing.destroy(error));
        return input.pipe(hashing);
      },
    };
  }

  /**
   * Starts reading the stored dump for its checksum now, beside whatever else reads it: a pg_restore given the stored
   * file, or a decompressor given it as its stdin, which both read it past Node.
   */
  checkBeside(): void {
    if (!this.manifest || this.#result) return;
    this.#result = this.#check(hashObject(this.#storage, this.key, this.#abort.signal));
    this.#result.catch(() => {}); // awaited by settled(); until then a mismatch only stops pg_restore
  }

  /**
   * Hashes stored bytes read in full (a restore's spool or stream), before any decompression: pass-through for the
   * reader right after `storage.read`.
   */
  tap(stored: Readable): Readable {
    if (!this.manifest) return stored;
    const hashing = new HashingStream();
    this.#streamed = hashing;
    stored.on('error', (error) => hashing.destroy(error));
    return stored.pipe(hashing);
  }

  /**
   * Resolves once the stored bytes were found to match the manifest (at once when there is no manifest); rejects
   * with `DUMP_CORRUPT` otherwise. When pg_restore stopped reading a stream before its end, the rest is checked by
   * reading the object again.
   */
  settled(): Promise<void> {
    const manifest = this.manifest;
    if (!manifest) return Promise.resolve();
    if (this.#result) return this.#result;
    const streamed = this.#streamed;
    if (streamed?.sha256 !== undefined) {
      this.#result = this.#check(Promise.resolve({ size: streamed.bytes, sha256: streamed.sha256 }));
    } else {
      this.#result = this.#check(hashObject(this.#storage, this.key, this.#abort.signal));
    }
    return this.#result;
  }

  /**
   * Runs `restore` (pg_restore reading the wrapped source), then requires the checksum. When both fail, the checksum's
   * `DUMP_CORRUPT` wins — unless `interrupted` says the run was stopped, which needs no checksum (it could mean
   * reading the whole dump again).
   */
  async during<T>(restore: (signal: AbortSignal) => Promise<T>, interrupted?: AbortSignal): Promise<T> {
    let result: T;
    try {
      result = await restore(this.#abort.signal);
    } catch (error) {
      // A damaged dump often makes pg_restore fail first; the checksum names the real cause.
      if (this.manifest && !interrupted?.aborted) await this.settled();
      throw error;
    }
    await this.settled();
    return result;
  }

  async #check(actual: Promise<{ size: number; sha256: string }>): Promise<void> {
    try {
      assertMatchesManifest(this.manifest!, await actual, this.key);
    } catch (error) {
      if (!this.#abort.signal.aborted) this.#abort.abort(error);
      if (error instanceof PgcloneError) throw error;
      throw new DumpError('DUMP_CORRUPT', `Cannot read ${this.key} to check it: ${(error as Error).message}`, { cause: error });
    }
  }
}
