import { randomBytes } from 'node:crypto';
import { createReadStream, fdatasync, fstatSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  assertSafeKey,
  ownerState,
  ownerTag,
  parseOwnerTag,
  StorageError,
  type IncompleteWrite,
  type PathWriter,
  type Storage,
  type StorageWriter,
  type StoredObject,
} from '@pgclone/core';
import { UNFINISHED_WRITE_STALE_MS } from './stale.js';

/** Prefix of in-progress files: hidden, never a valid key, cleaned by `pgclone doctor` and the next dump. */
export const PARTIAL_PREFIX = '.pgclone-partial-';

/**
 * Bytes written between two background flushes of a dump being written (see `write`). With 32 MiB, the bench
 * dataset's 27 MB zstd dump was never flushed before its commit, which then waited ~32 ms for all of it; with 8 MiB,
 * ~17 ms (4 MiB: ~7 ms). Neither slowed an uncompressed dump, which pg_dump writes at ~100 MB/s (5–6 runs each).
 */
const FLUSH_EVERY = 8 * 1024 * 1024;

/**
 * Dumps as files under a directory. A write goes to a hidden partial file beside its final path and is renamed into
 * place (atomic on one filesystem) only when complete and flushed to disk.
 */
export class LocalStorage implements Storage {
  readonly root: string;
  readonly display: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.display = this.root + path.sep;
  }

  /** The absolute path of `key`, refusing anything that would leave the root. */
  pathOf(key: string): string {
    assertSafeKey(key);
    const full = path.resolve(this.root, ...key.split('/'));
    if (full !== this.root && !full.startsWith(this.root + path.sep)) {
      throw new StorageError(`Key ${JSON.stringify(key)} resolves outside the storage location ${this.display}`);
    }
    return full;
  }

  localPath(key: string): string {
    return this.pathOf(key);
  }

  async list(prefix: string): Promise<StoredObject[]> {
    if (prefix) assertSafeKey(prefix, 'prefix');
    // Walk only the directory the prefix points into.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const start = dirKey ? this.pathOf(dirKey) : this.root;
    const out: StoredObject[] = [];
    await this.#walk(start, dirKey, prefix, out);
    return out;
  }

  async #walk(dir: string, dirKey: string, prefix: string, out: StoredObject[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A prefix that runs into a file finds nothing; a storage location that is (or lies under) a file is a mistake.
      if (code === 'ENOTDIR' && !(await stat(this.root).then((s) => s.isDirectory(), () => false))) {
        throw new StorageError(`Storage location ${this.root} is not a directory`, { cause: error });
      }
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw new StorageError(`Cannot list ${dir}: ${(error as Error).message}`, { cause: error });
    }
    for (const entry of entries) {
      if (entry.name.startsWith(PARTIAL_PREFIX)) continue;
      const key = dirKey ? `${dirKey}/${entry.name}` : entry.name;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(key + '/')) await this.#walk(full, key, prefix, out);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const s = await stat(full).catch(() => undefined);
        if (s) out.push({ key, size: s.size, modified: s.mtime });
      }
    }
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    const s = await stat(this.pathOf(key)).catch(() => undefined);
    return s?.isFile() ? { key, size: s.size, modified: s.mtime } : undefined;
  }

  async read(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const file = this.pathOf(key);
    const s = await stat(file).catch(() => undefined);
    if (!s?.isFile()) throw new StorageError(`Dump ${key} does not exist in ${this.display}`);
    return createReadStream(file, range ? { start: range.start, ...(range.end !== undefined ? { end: range.end } : {}) } : {});
  }

  async write(key: string): Promise<StorageWriter> {
    const partial = await this.#createPartial(key);
    const stream = partial.handle.createWriteStream();
    partial.flushBehind(() => stream.bytesWritten);
    stream.once('close', partial.stopFlushing);
    return {
      stream,
      async commit() {
        if (!stream.writableFinished) await finished(stream);
        await partial.commit();
      },
      async abort() {
        if (partial.settled) return;
        stream.destroy();
        await partial.abort();
      },
    };
  }

  /**
   * Like {@link write}, but a program fills the file by its path: `pg_dump -f` writes a seekable file, so it records
   * each table's data offset in the archive's table of contents, which `pg_restore -j` needs to load tables in
   * parallel without reading through the archive first.
   */
  async writeToPath(key: string): Promise<PathWriter> {
    const partial = await this.#createPartial(key);
    const { handle } = partial;
    // The program writes through its own descriptor: the file's size says how far it got.
    partial.flushBehind(() => fstatSync(handle.fd).size);
    return {
      path: partial.path,
      async commit() {
        try {
          await partial.commit();
        } finally {
          await handle.close().catch(() => {});
        }
      },
      async abort() {
        if (partial.settled) return;
        await partial.abort();
        await handle.close().catch(() => {});
      },
    };
  }

  /**
   * A new partial file beside `key`'s final path: flushed behind its writer once told how far that got, then
   * committed (flushed, then renamed into place) or discarded.
   */
  async #createPartial(key: string) {
    const final = this.pathOf(key);
    const dir = path.dirname(final);
    // `<pid>@<host>` lets a later run tell a dead writer's leftover from a dump still in progress.
    const partial = path.join(dir, `${PARTIAL_PREFIX}${ownerTag()}-${randomBytes(4).toString('hex')}-${path.basename(final)}`);
    let handle: FileHandle | undefined;
    // The folders this write made, removed again by an abort: a failed dump leaves the storage as it found it.
    let created: string[] = [];
    // Twice at most: another writer's abort may remove an empty folder between its making and the file's creation.
    for (let attempt = 1; !handle; attempt++) {
      try {
        created = [...created, ...(await makeDirectories(dir))];
      } catch (error) {
        throw new StorageError(`Cannot create ${dir}: ${(error as Error).message}`, { cause: error });
      }
      try {
        // Owner-only, whatever the umask: a dump holds the database's data (users, tokens), which the common umask 022
        // would leave readable by every account on the machine. The rename keeps the mode.
        handle = await open(partial, 'wx', 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 2) continue;
        await removeEmptyDirectories(created);
        throw new StorageError(`Cannot write ${partial}: ${(error as Error).message}`, { cause: error });
      }
    }
    let flusher: { stop(): void } | undefined;
    const state = {
      path: partial,
      handle,
      settled: false,
      flushBehind(written: () => number) {
        flusher = backgroundFlush(handle.fd, written);
      },
      stopFlushing() {
        flusher?.stop();
      },
      async commit() {
        state.stopFlushing();
        // fsync before the rename, so a crash never leaves a complete-looking but empty file under the key.
        const written = await open(partial, 'r');
        try {
          await written.sync();
        } finally {
          await written.close();
        }
        await rename(partial, final);
        state.settled = true;
      },
      async abort() {
        state.settled = true;
        state.stopFlushing();
        await unlink(partial).catch(() => {});
        await removeEmptyDirectories(created);
      },
    };
    return state;
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async listIncomplete(prefix: string): Promise<IncompleteWrite[]> {
    if (prefix) assertSafeKey(prefix, 'prefix');
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const out: IncompleteWrite[] = [];
    await this.#walkPartials(dirKey ? this.pathOf(dirKey) : this.root, dirKey, out);
    return out;
  }

  async #walkPartials(dir: string, dirKey: string, out: IncompleteWrite[]): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await this.#walkPartials(full, dirKey ? `${dirKey}/${entry.name}` : entry.name, out);
      } else if (entry.isFile() && entry.name.startsWith(PARTIAL_PREFIX)) {
        const s = await stat(full).catch(() => undefined);
        if (!s) continue;
        const rest = entry.name.slice(PARTIAL_PREFIX.length);
        const owner = parseOwnerTag(rest);
        const tagged = /^\d+@[0-9a-f]{8}-[0-9a-f]{8}-(.+)$/.exec(rest);
        const state = owner && tagged ? ownerState(owner) : 'unknown';
        const stale = state === 'dead' || (state === 'unknown' && Date.now() - s.mtimeMs > UNFINISHED_WRITE_STALE_MS);
        out.push({
          id: full,
          ...(tagged ? { key: dirKey ? `${dirKey}/${tagged[1]}` : tagged[1]! } : {}),
          size: s.size,
          modified: s.mtime,
          stale,
          display: full,
        });
      }
    }
  }

  async removeIncomplete(write: IncompleteWrite): Promise<void> {
    // Only ever a partial file inside the root, whatever the caller passes.
    const full = path.resolve(write.id);
    if (!full.startsWith(this.root + path.sep) || !path.basename(full).startsWith(PARTIAL_PREFIX)) {
      throw new StorageError(`Refusing to remove ${JSON.stringify(write.id)}: not a partial file under ${this.display}`);
    }
    await rm(full, { force: true });
  }
}

/**
 * `mkdir -p`, one directory at a time from the deepest that exists: Node 20's own recursive `mkdir` never returns
 * where the kernel answers ENOENT for a directory whose parent exists (a storage location under `/proc`). Returns
 * the directories it made, outermost first.
 */
async function makeDirectories(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let at = dir; ; at = path.dirname(at)) {
    const found = await stat(at).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (found || path.dirname(at) === at) break;
    missing.unshift(at);
  }
  const made: string[] = [];
  for (const at of missing) {
    const ours = await mkdir(at).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
        return false; // another writer's: not ours to remove
      },
    );
    if (ours) made.push(at);
  }
  return made;
}

/**
 * Removes `dirs` (outermost first, as {@link makeDirectories} made them), innermost first, while they are empty: one
 * that another writer has used since (a dump of its own) stays, and so do the folders around it.
 */
async function removeEmptyDirectories(dirs: readonly string[]): Promise<void> {
  for (const dir of [...dirs].reverse()) {
    if (!(await rmdir(dir).then(() => true, () => false))) return;
  }
}

/**
 * The commit's fsync must not wait for the whole dump: left alone, the kernel starts writing it back only ~30 s
 * later, so a 1 GB dump would spend its last second in fsync. One fdatasync at a time, every FLUSH_EVERY bytes,
 * writes back behind the dump while it runs; the commit then flushes only the last stretch.
 */
function backgroundFlush(fd: number, written: () => number): { stop(): void } {
  let flushedUpTo = 0;
  let flushing = false;
  const timer = setInterval(() => {
    if (flushing) return;
    let upTo: number;
    try {
      upTo = written();
    } catch {
      return; // the descriptor is closing: the commit or abort takes over
    }
    if (upTo - flushedUpTo < FLUSH_EVERY) return;
    flushing = true;
    fdatasync(fd, () => {
      flushing = false;
      flushedUpTo = upTo;
    });
  }, 100);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
