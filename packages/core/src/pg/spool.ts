import { constants, createWriteStream } from 'node:fs';
import { access, copyFile, open, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigError, UsageError } from '../errors.js';
import { whenAborted } from '../interrupt.js';
import { formatBytes } from '../format.js';
import { makeScratchDir } from '../scratch.js';
import type { Program } from './compression.js';

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

/**
 * Refuses a chosen spool directory that is not a writable directory before a restore starts: whether a spool is
 * needed is known only later (by the dump's compression and size), and a bad value must not depend on that.
 */
export async function checkSpoolDir(dir: string, from: 'option' | 'config'): Promise<void> {
  // A bad flag is a usage error (exit 2); a bad config value a config error (exit 1), like every other one.
  const fail = (problem: string) =>
    from === 'option'
      ? new UsageError(`Spool directory ${JSON.stringify(dir)} ${problem}`)
      : new ConfigError('CONFIG_INVALID', `Spool directory ${JSON.stringify(dir)} (spoolDir in the pgclone config) ${problem}`);
  const found = await stat(dir).catch(() => undefined);
  if (!found?.isDirectory()) throw fail(found ? 'is not a directory' : 'does not exist');
  await access(dir, constants.W_OK | constants.X_OK).catch(() => {
    throw fail('is not writable');
  });
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

/** Options of the spool writers. */
export interface SpoolOptions {
  signal?: AbortSignal;
  /**
   * Called once the file exists, as the writing starts, with its promise (settled when the writing ends, rejected
   * when it failed): a reader can follow the file while it grows. What it returns is awaited before a failed spool
   * is removed.
   */
  follow?: (file: string, written: Promise<void>) => Promise<unknown>;
}

/** Runs `write` with `options.follow` beside it; a failure is thrown once the follower has stopped. */
async function writeFollowed(file: string, options: SpoolOptions, write: () => Promise<void>): Promise<void> {
  const writing = write();
  const following = options.follow?.(file, writing).catch(() => {});
  try {
    await writing;
  } catch (error) {
    await following;
    throw error;
  }
}

/**
 * Writes `input` (the archive, already decompressed) to a new file in a fresh directory under `dir`, checking the
 * free space as it goes. On any failure the directory is removed; running out of room throws {@link SpoolSpaceError}.
 */
export async function spoolToFile(input: Readable, dir: string, options: SpoolOptions = {}): Promise<Spool> {
  const spoolDir = await makeScratchDir('spool', dir);
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
    // Created before the writer starts, so that a follower can open it at once.
    await (await open(file, 'wx')).close();
    await writeFollowed(file, options, () =>
      pipeline(input, guard, createWriteStream(file, { flags: 'r+' }), options.signal ? { signal: options.signal } : {}),
    );
  } catch (error) {
    await dispose();
    if (error instanceof SpoolSpaceError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw new SpoolSpaceError(`${dir} is full`, { cause: error });
    throw error;
  }
  return { path: file, bytes, dispose };
}

/** How often the free space is checked while a program writes the spool. */
const CHECK_EVERY_MS = 500;

/**
 * Like {@link spoolToFile}, but a decompressor program writes the file itself: `start(fd)` spawns it with its stdout on
 * the new file, and `input` (the stored, compressed bytes) is piped into its stdin — or is its stdin already (a
 * stored file, `start` opened it), when `input` is `'stdin'`. The archive's bytes never pass through Node.
 */
export async function spoolThroughProgram(
  input: Readable | 'stdin',
  dir: string,
  start: (fd: number) => Program,
  options: SpoolOptions = {},
): Promise<Spool> {
  const spoolDir = await makeScratchDir('spool', dir);
  const file = path.join(spoolDir, 'archive.dump');
  const dispose = () => rm(spoolDir, { recursive: true, force: true });
  let program: Program | undefined;
  let full: SpoolSpaceError | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const handle = await open(file, 'wx');
    try {
      program = start(handle.fd);
    } finally {
      await handle.close(); // the program has its own copy of the descriptor
    }
    const running = program;
    const { size } = await diskSpace(spoolDir);
    const reserve = spoolReserve(size);
    timer = setInterval(() => {
      diskSpace(spoolDir).then(({ free }) => {
        if (free >= reserve || full) return;
        full = new SpoolSpaceError(`free space in ${dir} fell below ${formatBytes(reserve)}`);
        running.stop();
        if (input !== 'stdin') input.destroy();
      }, () => {});
    }, CHECK_EVERY_MS);
    const onAbort = () => running.stop();
    const stopListening = whenAborted(options.signal, onAbort);
    await writeFollowed(file, options, async () => {
      const [fed, exited] = await Promise.allSettled([input === 'stdin' ? undefined : pipeline(input, running.child.stdin!), running.done]);
      stopListening();
      options.signal?.throwIfAborted();
      if (full) throw full;
      if (exited.status === 'rejected') {
        if (/no space left/i.test(running.stderr())) throw new SpoolSpaceError(`${dir} is full`, { cause: exited.reason });
        throw exited.reason;
      }
      if (fed.status === 'rejected') throw fed.reason;
    });
  } catch (error) {
    program?.stop();
    await dispose();
    throw error;
  } finally {
    clearInterval(timer);
  }
  return { path: file, bytes: (await stat(file)).size, dispose };
}

/**
 * Copies a local file into a new spool directory under `dir`: the kernel copies it (a reflink where the filesystem
 * shares blocks), nothing passes through Node. The space was checked by the caller; a full disk throws
 * {@link SpoolSpaceError}.
 */
export async function copyToSpool(file: string, dir: string): Promise<Spool> {
  const spoolDir = await makeScratchDir('spool', dir);
  const copy = path.join(spoolDir, 'archive.dump');
  const dispose = () => rm(spoolDir, { recursive: true, force: true });
  try {
    await copyFile(file, copy, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  } catch (error) {
    await dispose();
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw new SpoolSpaceError(`${dir} is full`, { cause: error });
    throw error;
  }
  return { path: copy, bytes: (await stat(copy)).size, dispose };
}
