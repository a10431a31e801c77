import type { Readable, Writable } from 'node:stream';

/**
 * Where dumps live. Implemented by `@pgclone/storage` (local filesystem, S3); core only sees this interface.
 * Keys are relative, `/`-separated and already checked with `assertSafeKey`.
 */
export interface Storage {
  /** The location for messages, secrets removed (`/home/me/app/.pgclone/`, `s3://bucket/prefix/`). */
  readonly display: string;
  /** Every object whose key starts with `prefix` (a plain string prefix; segment matching is core's job). */
  list(prefix: string): Promise<StoredObject[]>;
  /** The object under `key`, or `undefined` when there is none. */
  stat(key: string): Promise<StoredObject | undefined>;
  /** Reads an object, or the inclusive byte range `start`..`end` of it. */
  read(key: string, range?: { start: number; end?: number }): Promise<Readable>;
  /**
   * Opens a write that becomes visible under `key` only when `commit()` resolves; `abort()` (or a crash) leaves
   * nothing under `key`.
   */
  write(key: string, hints?: WriteHints): Promise<StorageWriter>;
  /**
   * Optional, for a filesystem backend: a write that a program fills by path instead of through a stream (`pg_dump
   * -f`, whose seekable output records each table's data offset), with the same visibility rules as {@link write}.
   */
  writeToPath?(key: string): Promise<PathWriter>;
  /** Deletes an object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** A local file path for `key` when the backend is a filesystem (lets pg_restore seek), else `undefined`. */
  localPath?(key: string): string | undefined;
  /**
   * Writes under `prefix` that never committed and are not visible as keys (partial files, unfinished multipart
   * uploads), for `pgclone doctor` and the next dump to clean up. Optional: a backend without it has none to show.
   */
  listIncomplete?(prefix: string): Promise<IncompleteWrite[]>;
  /** Removes one incomplete write found by {@link listIncomplete}. */
  removeIncomplete?(write: IncompleteWrite): Promise<void>;
}

/** A write that never committed. */
export interface IncompleteWrite {
  /** Backend handle (a file path, an upload id). */
  id: string;
  /** The key it was meant for, when known. */
  key?: string;
  size?: number;
  /** When it was started or last written. */
  modified?: Date;
  /**
   * `true` when its writer is known to be gone (a dead process on this host) or it has not changed for long; `false`
   * when a running pgclone may still be writing it (then it is only reported).
   */
  stale: boolean;
  /** For messages: where it is (secrets removed). */
  display: string;
}

/** What a backend may use to size a write (S3 part size). */
export interface WriteHints {
  /** Expected size in bytes (for a dump: the database size). */
  expectedBytes?: number;
}

/** A listed object. */
export interface StoredObject {
  key: string;
  size: number;
  modified: Date;
}

/** An open write: pipe data into `stream`, then `commit()` or `abort()`. */
export interface StorageWriter {
  readonly stream: Writable;
  /** Waits for all data to be stored and makes it visible under the key. */
  commit(): Promise<void>;
  /** Discards everything written; nothing remains under the key. */
  abort(reason?: unknown): Promise<void>;
}

/** An open write to a local file: let a program write `path`, then `commit()` or `abort()`. */
export interface PathWriter {
  /** The file to write (hidden until the commit; never the key's own path). */
  readonly path: string;
  /** Flushes the file to disk and makes it visible under the key. */
  commit(): Promise<void>;
  /** Discards the file; nothing remains under the key. */
  abort(reason?: unknown): Promise<void>;
}

/** What a backend may tell the user outside its results: warnings of the libraries it uses, as one line each. */
export interface StorageContext {
  warn?: (message: string) => void;
}

/** Creates the storage for a location (`openStorage` from `@pgclone/storage`). */
export type StorageFactory = (location: string, settings: Record<string, unknown>, context?: StorageContext) => Storage | Promise<Storage>;
