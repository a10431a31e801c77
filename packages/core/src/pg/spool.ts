import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatBytes } from '../bytes.js';

/**
 * Spooling: `pg_restore -j` needs a seekable, plain archive file. A dump that is remote or wrapped in an outer
 * compressor is written (decompressed) to a temporary file while it downloads, then restored in parallel — when the
 * disk has room for it. Otherwise the restore streams into a single-job pg_restore.
 */

/** Expected archive bytes per stored byte of a wrapped dump (measured: 2.5× for numeric data, 4.7× for app data). */
export const WRAPPED_EXPANSION = 5;
/** Free space kept on the spool's filesystem: 5% of it, at most 1 GiB (the database may live on the same disk). */
export function spoolReserve(filesystemBytes: number): number {
  return Math.min(1 << 30, Math.floor(filesystemBytes * 0.05));
}

/** Free and total bytes of the filesystem holding `dir`. */
export async function diskSpace(dir: string): Promise<{ free: number; size: number }> {
  const s = await statfs(dir);
  return { free: s.bavail * s.bsize, size: s.blocks * s.bsize };
}

/** Whether a spool of about `needed` bytes fits into `dir`, and the numbers for the message when not. */
export async function spoolFits(dir: string, needed: number): Promise<{ fits: boolean; free: number; needed: number; reserve: number }> {
  const { free, size } = await diskSpace(dir);
  const reserve = spoolReserve(size);
  return { fits: free - reserve >= needed, free, needed, reserve };
}

/** The spool ran out of room (ENOSPC, or the free space fell below the reserve while writing). */
export class SpoolSpaceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SpoolSpaceError';
  }
}

/** A spooled archive: its path, and `dispose()` to remove it. */
export interface Spool {
  path: string;
  bytes: number;
  dispose(): Promise<void>;
}

/** How often the free space is checked while spooling. */
const CHECK_EVERY_BYTES = 64 << 20;

/**
 * Writes `input` (the archive, already decompressed) to a new file in a fresh directory under `dir`, checking the
 * free space as it goes. On any failure the directory is removed; running out of room throws {@link SpoolSpaceError}.
 */
export async function spoolToFile(input: Readable, dir: string, options: { signal?: AbortSignal } = {}): Promise<Spool> {
  const spoolDir = await mkdtemp(path.join(dir, `pgclone-${process.pid}@${os.hostname()}-spool-`));
  const file = path.join(spoolDir, 'archive.dump');
  const dispose = () => rm(spoolDir, { recursive: true, force: true });
  let bytes = 0;
  let sinceCheck = 0;
  let reserve: number | undefined;
  const guard = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      bytes += chunk.length;
      sinceCheck += chunk.length;
      if (sinceCheck < CHECK_EVERY_BYTES) return callback(null, chunk);
      sinceCheck = 0;
      diskSpace(spoolDir).then(({ free, size }) => {
        reserve ??= spoolReserve(size);
        if (free < reserve) callback(new SpoolSpaceError(`free space in ${dir} fell below ${formatBytes(reserve)}`));
        else callback(null, chunk);
      }, callback);
    },
  });
  try {
    await pipeline(input, guard, createWriteStream(file, { flags: 'wx' }), options.signal ? { signal: options.signal } : {});
  } catch (error) {
    await dispose();
    if (error instanceof SpoolSpaceError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw new SpoolSpaceError(`${dir} is full`, { cause: error });
    throw error;
  }
  return { path: file, bytes, dispose };
}
