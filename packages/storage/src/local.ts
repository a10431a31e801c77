import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { assertSafeKey, StorageError, type Storage, type StorageWriter, type StoredObject } from '@pgclone/core';

/** Prefix of in-progress files: hidden, never a valid key, cleaned by `pgclone doctor`. */
export const PARTIAL_PREFIX = '.pgclone-partial-';

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
    const final = this.pathOf(key);
    const dir = path.dirname(final);
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw new StorageError(`Cannot create ${dir}: ${(error as Error).message}`, { cause: error });
    }
    const partial = path.join(dir, `${PARTIAL_PREFIX}${path.basename(final)}-${randomBytes(4).toString('hex')}`);
    const stream = createWriteStream(partial, { flags: 'wx' });
    let settled = false;
    return {
      stream,
      async commit() {
        if (!stream.writableFinished) await finished(stream);
        // fsync before the rename, so a crash never leaves a complete-looking but empty file under the key.
        const handle = await open(partial, 'r');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(partial, final);
        settled = true;
      },
      async abort() {
        if (settled) return;
        settled = true;
        stream.destroy();
        await unlink(partial).catch(() => {});
      },
    };
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}
