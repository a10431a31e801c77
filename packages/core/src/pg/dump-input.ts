import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatBytes } from '../format.js';
import { DumpError } from '../errors.js';
import type { Reporter } from '../events.js';
import { followBytesRead, isReaderGone } from '../proc-io.js';
import { meterStream, ProgressMeter } from '../progress.js';
import type { Storage } from '../storage.js';
import { HEADER_BYTES, parseArchiveHeader, type ArchiveHeader } from './archive.js';
import { addDataOffsets, indexArchive, readDataSizes, scanDataSizes, TruncatedArchive, writeDataOffsets, type DataSizes, type OffsetsResult } from './archive-offsets.js';
import { decompressorProgram, decompressStage, lz4Missing, startProgram, type Program, type Stage, type Wrapper } from './compression.js';
import type { ArchivePipe, ArchiveSource } from './pg-restore.js';
import { jobsForShare, largestShare, oneJobMessage } from './restore-jobs.js';
import { copyToSpool, SpoolSpaceError, spoolFits, spoolThroughProgram, spoolToFile, WRAPPED_EXPANSION, type Spool, type SpoolOptions } from './spool.js';

/** Options of a {@link DumpInput}. */
export interface DumpInputOptions {
  storage: Storage;
  key: string;
  env: NodeJS.ProcessEnv;
  reporter: Reporter;
  /** pg_restore jobs wanted (1: single job, no spool). */
  jobs: number;
  /** Where spool files go. */
  spoolDir: string;
  signal?: AbortSignal;
  /**
   * A pass-through applied to every complete read of the stored bytes, right after the storage reader and before
   * decompression (the place for a checksum of the stored bytes).
   */
  tapStored?: (stored: Readable) => Readable;
  /**
   * Called when a program reads a local stored file in full by itself, past {@link tapStored} (a decompressor given
   * the file as its stdin): the checksum must then be read beside it.
   */
  readBeside?: () => void;
  /**
   * The largest table's share of the data, as the dump's manifest records it (`largestShare`), when there is one:
   * read as the input is prepared, so it decides the jobs before anything is spooled.
   */
  largestShare?: () => number | undefined;
}

/** The archive as pg_restore gets it, and how many jobs it can use on it. */
export interface RestoreInput {
  source: ArchiveSource;
  /** The jobs asked for; one for a stream, or when the data sizes show a single item holding most of the data. */
  jobs: number;
  /**
   * How the input was prepared: the stored file itself, a copy of it with the data offsets added (whose stored file is
   * checksummed beside pg_restore, like `file`), a spooled (downloaded, decompressed) copy, or a stream.
   */
  mode: 'file' | 'copy' | 'spool' | 'stream';
  /**
   * The archive's data sizes (for progress in bytes): known for a spool; for a stored file, found while pg_restore
   * starts (from the TOC, or by reading the file when pg_dump wrote it to a pipe); none for a stream.
   */
  data?: DataSizes | Promise<DataSizes | undefined>;
}

/** A promise and the function that settles it; later calls do nothing. */
function settleOnce<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A stored dump on its way into pg_restore. The pipeline, per read:
 *
 *     storage.read → [tapStored] → [download meter] → [decompress] → spool file | pg_restore stdin
 *
 * A decompressor program (zstd, lz4) writes to the spool file or pg_restore's stdin itself, so the uncompressed bytes
 * never pass through Node.
 *
 * A plain archive in local storage is handed to pg_restore as its own file (seekable: `-j`), or as a copy with the
 * data offsets its TOC lacks when `jobs` > 1. Anything else is spooled (decompressed, offsets added) to a temporary
 * file for `-j` when `jobs` > 1 and the disk has room, else streamed into a single-job pg_restore. The wrapper (gzip,
 * zstd, lz4 around the archive) is recognised by its magic bytes.
 */
export class DumpInput {
  readonly #o: DumpInputOptions;
  #outer: ArchiveHeader | undefined;
  #restoreInput: Promise<RestoreInput> | undefined;
  readonly #schema = settleOnce<ArchiveSource | undefined>();
  #spool: Spool | undefined;
  // Stops a spool still being written when the restore ends early (it may start before the temporary database).
  readonly #disposing = new AbortController();

  constructor(options: DumpInputOptions) {
    this.#o = options;
  }

  get key(): string {
    return this.#o.key;
  }

  /** What wraps the archive in storage (after {@link header}). */
  get wrapper(): Wrapper {
    return this.#outer?.wrapper ?? 'none';
  }

  /**
   * The stored bytes' header: the archive's, or the wrapper's (gzip, zstd, lz4) without looking inside it. Throws
   * {@link DumpError} when it is neither.
   */
  async outerHeader(): Promise<ArchiveHeader> {
    const { storage, key } = this.#o;
    this.#outer ??= parseArchiveHeader(await readHead(await storage.read(key, { start: 0, end: HEADER_BYTES - 1 })), key);
    return this.#outer;
  }

  /** The archive's own header, looking inside the wrapper; throws {@link DumpError} when it is not an archive. */
  async header(): Promise<ArchiveHeader> {
    const { key } = this.#o;
    const outer = await this.outerHeader();
    if (outer.wrapper === 'none') return outer;
    const inner = parseArchiveHeader(await readHead(await this.#open({ full: false })), key);
    if (inner.wrapper !== 'none') throw new DumpError('DUMP_INVALID', `Dump ${key} is wrapped twice (${outer.wrapper}, then ${inner.wrapper})`);
    return inner;
  }

  /**
   * A source for reading the table of contents (`pg_restore -l`): reads only the start of the dump. Call after
   * {@link outerHeader}.
   */
  tocSource(): ArchiveSource {
    const local = this.#localPlainPath();
    return local ? { path: local } : { open: () => this.#open({ full: false }) };
  }

  /** A source for reading the database settings: the spool when there is one, else like {@link tocSource}. */
  settingsSource(): ArchiveSource {
    return this.#spool ? { path: this.#spool.path } : this.tocSource();
  }

  /**
   * Prepares the input of the restore itself (once): the file, a spool, or a stream. `jobs` (default: the option)
   * below 2 never spools: a spool is only worth its disk writes to a parallel pg_restore.
   */
  restoreInput(jobs = this.#o.jobs): Promise<RestoreInput> {
    if (!this.#restoreInput) {
      this.#restoreInput = this.#prepare(jobs);
      const noSchema = () => this.#schema.resolve(undefined);
      this.#restoreInput.then(noSchema, noSchema);
    }
    return this.#restoreInput;
  }

  /**
   * The archive's head (its header and table of contents) as soon as a spool holds it, while the data is still being
   * spooled: all that a schema-only restore (`pg_restore --section=pre-data`, which reads it from stdin) needs. Resolves
   * to `undefined` when the restore reads no spool, or the head could not be taken. Call after {@link restoreInput}.
   */
  schemaSource(): Promise<ArchiveSource | undefined> {
    return this.#schema.promise;
  }

  /**
   * Offers the spool's head (see {@link schemaSource}), read from the file as pg_restore takes it: held in memory, a
   * table of contents grows with the schema (12 MB for 8,000 tables and 50,000 large objects), where the restore's
   * memory must not. The data offsets written into it once the spool is complete may change under a schema restore
   * still reading it: pg_restore reads them there, but uses them only for data (a torn field is still a valid one).
   */
  async #offerSchema(file: string, dataStart: number): Promise<void> {
    const { size } = await stat(file);
    this.#schema.resolve(size >= dataStart ? { open: () => Promise.resolve(createReadStream(file, { start: 0, end: dataStart - 1 })) } : undefined);
  }

  /** Stops a spool being written and removes the spool, if any. */
  async dispose(): Promise<void> {
    this.#disposing.abort();
    await this.#restoreInput?.catch(() => {});
    const spool = this.#spool;
    this.#spool = undefined;
    await spool?.dispose();
  }

  async #prepare(planned: number): Promise<RestoreInput> {
    const { storage, key, reporter, spoolDir } = this.#o;
    if (!this.#outer) await this.header();
    const jobs = this.#jobsFor(this.#o.largestShare?.(), planned);
    const local = this.#localPlainPath();
    const inPlace = (indexed?: DataSizes): RestoreInput => ({
      source: { path: local! },
      jobs: this.#jobsFor(shareOf(indexed), jobs),
      mode: 'file',
      // Else read beside pg_restore, not before it; stopped by dispose() if the restore ends first.
      data: indexed ?? scanDataSizes(local!, this.#disposing.signal).catch(() => undefined),
    });
    if (local) {
      const indexed = jobs > 1 ? await readDataSizes(local).catch((error: unknown) => refuseTruncated(error, key)) : undefined;
      if (jobs <= 1 || indexed) return inPlace(indexed);
      return this.#copyWithOffsets(local, jobs, inPlace);
    }
    const stored = (await storage.stat(key))?.size;
    const wrapper = this.wrapper;
    // A decompressor program writes the spool file or pg_restore's stdin itself; otherwise (gzip, zstd without its
    // program) the bytes pass through Node.
    const cli = wrapper !== 'none' ? decompressorProgram(wrapper, this.#o.env) : undefined;
    const stream = (): RestoreInput => {
      const meter = new ProgressMeter(reporter, 'download', 'bytes', stored);
      const source: ArchiveSource = cli ? { pipe: () => this.#pipe(cli, meter) } : { open: () => this.#open({ full: true, meter }) };
      return { source, jobs: 1, mode: 'stream' };
    };
    if (jobs <= 1) return stream();

    const estimate = (stored ?? 0) * (wrapper === 'none' ? 1 : WRAPPED_EXPANSION);
    const space = await spoolFits(spoolDir, estimate).catch((error: unknown) => ({ error }));
    if ('error' in space) {
      reporter.info(`Cannot check the free space in ${spoolDir} (${(space.error as Error).message}): restoring ${key} from the stream with one job`);
      return stream();
    }
    if (!space.fits) {
      reporter.info(
        `Not enough free space in ${spoolDir} to spool ${key} for pg_restore -j${jobs} ` +
          `(needs about ${formatBytes(space.needed)} plus ${formatBytes(space.reserve)} kept free, ${formatBytes(space.free)} free): ` +
          'restoring from the stream with one job (set spoolDir to a larger disk for a parallel restore)',
      );
      return stream();
    }
    const meter = new ProgressMeter(reporter, 'download', 'bytes', stored);
    const signal = { signal: this.#o.signal ? AbortSignal.any([this.#o.signal, this.#disposing.signal]) : this.#disposing.signal };
    if (wrapper === 'lz4' && !cli) throw lz4Missing();
    // Written through a pipe, the archive lacks its data offsets; without them each -j worker scans for its table.
    // They are found while the spool is written (the walk follows the file), and written in once it is complete.
    let indexing: Promise<OffsetsResult> | undefined;
    const follow = (file: string, written: Promise<void>) =>
      (indexing = addDataOffsets(file, {
        written,
        onLayout: (dataStart) => void this.#offerSchema(file, dataStart).catch(() => this.#schema.resolve(undefined)),
      }).catch((error: unknown) => ({ skipped: (error as Error).message })));
    try {
      this.#spool = cli
        ? await this.#spoolThroughProgram(cli, meter, { ...signal, follow })
        : await spoolToFile(await this.#open({ full: true, meter }), spoolDir, { ...signal, follow });
      meter.finish();
      const offsets = await (indexing ?? addDataOffsets(this.#spool.path)).catch((error: unknown) => ({ skipped: (error as Error).message }));
      reporter.info(
        `Spooled ${key} to ${spoolDir} (${formatBytes(this.#spool.bytes)}${'patched' in offsets ? `, ${offsets.patched} data offsets indexed` : ''}) for pg_restore -j${jobs}`,
      );
      const data = 'data' in offsets ? offsets.data : undefined;
      return { source: { path: this.#spool.path }, jobs: this.#jobsFor(shareOf(data), jobs), mode: 'spool', ...(data ? { data } : {}) };
    } catch (error) {
      meter.finish(false);
      if (!(error instanceof SpoolSpaceError)) throw error;
      reporter.info(`Spooling ${key} stopped: ${error.message}; restoring from the stream with one job`);
      return stream();
    }
  }

  /**
   * A local plain archive that pg_dump wrote to a pipe (django-pgclone's, `pg_dump -Fc | …`) lacks its data offsets,
   * and each -j worker would read through it to find its table: a copy with the offsets written in costs less (the
   * bench dataset with -j2: uncompressed, 9.2–9.5 s in place vs 7.2–7.7 s with offsets; the copy and the offsets take
   * ~0.3 s). The copy is restored like the stored file, whose checksum is still computed beside pg_restore. Without the
   * space for a copy, the archive is restored in place.
   */
  async #copyWithOffsets(local: string, jobs: number, inPlace: () => RestoreInput): Promise<RestoreInput> {
    const { key, reporter, spoolDir } = this.#o;
    const size = (await this.#o.storage.stat(key))?.size ?? 0;
    const space = await spoolFits(spoolDir, size).catch(() => undefined);
    const why = `${key} has no data offsets in its table of contents (pg_dump wrote it to a pipe)`;
    if (!space?.fits) {
      reporter.info(`${why}, and ${spoolDir} has no room for a copy with them: restoring it in place with pg_restore -j${jobs}`);
      return inPlace();
    }
    // The stored file is walked while the kernel copies it; the offsets found are written into the copy.
    const indexing = indexArchive(local, { signal: this.#disposing.signal }).catch((error: unknown) => ({ skipped: (error as Error).message }));
    try {
      this.#spool = await copyToSpool(local, spoolDir);
    } catch (error) {
      await indexing;
      if (!(error instanceof SpoolSpaceError)) throw error;
      reporter.info(`${why}; copying it stopped (${error.message}): restoring it in place with pg_restore -j${jobs}`);
      return inPlace();
    }
    const index = await indexing;
    const offsets = 'skipped' in index ? index : await writeDataOffsets(this.#spool.path, index).catch((error: unknown) => ({ skipped: (error as Error).message }));
    if (!('patched' in offsets)) {
      await this.#spool.dispose();
      this.#spool = undefined;
      return inPlace();
    }
    reporter.info(`${why}: copied it to ${spoolDir} with ${offsets.patched} data offsets indexed, for pg_restore -j${jobs}`);
    return { source: { path: this.#spool.path }, jobs: this.#jobsFor(shareOf(offsets.data), jobs), mode: 'copy', data: offsets.data };
  }

  /**
   * The jobs for pg_restore once the largest item's share of the data is known (the manifest's, or from the data
   * sizes: `jobsForShare`): one, said so, when that item holds most of the data.
   */
  #jobsFor(share: number | undefined, jobs: number): number {
    if (share === undefined || jobs <= 1) return jobs;
    const chosen = jobsForShare(share, jobs);
    if (chosen < jobs) this.#o.reporter.info(oneJobMessage(share, this.#o.key, jobs));
    return chosen;
  }

  /**
   * Spools through the decompressor program. A stored file on a local disk is the program's stdin itself (see
   * {@link #startOnStored}; on the dataset, Node's reading, hashing and piping of 27 MB slowed the decompression of the
   * spool from ~0.2 s to ~0.7 s, on two cores shared with the schema's restore). Other stored bytes are piped in
   * through {@link DumpInputOptions.tapStored}.
   */
  async #spoolThroughProgram(cli: { program: string; args: string[] }, meter: ProgressMeter, options: SpoolOptions): Promise<Spool> {
    const { storage, key, spoolDir } = this.#o;
    const file = storage.localPath?.(key);
    if (!file) {
      const input = await this.#openStored({ full: true, meter });
      return spoolThroughProgram(input, spoolDir, (fd) => this.#startDecompressor(cli, { stdout: fd }), options);
    }
    const stored = await open(file, 'r');
    let stopFollowing: (() => void) | undefined;
    try {
      return await spoolThroughProgram(
        'stdin',
        spoolDir,
        (fd) => {
          const started = this.#startOnStored(stored.fd, cli, meter, fd);
          stopFollowing = started.stopFollowing;
          return started.program;
        },
        options,
      );
    } finally {
      stopFollowing?.();
      await stored.close();
    }
  }

  /**
   * Starts the decompressor program with a stored file on a local disk as its stdin, so none of its bytes pass through
   * Node: its checksum is read beside ({@link DumpInputOptions.readBeside}), and the download bar follows what the
   * program has read. `stdout`: a spool file's descriptor; without it, a pipe.
   */
  #startOnStored(stored: number, cli: { program: string; args: string[] }, meter: ProgressMeter, stdout?: number): { program: Program; stopFollowing: () => void } {
    this.#o.readBeside?.();
    const program = this.#startDecompressor(cli, { stdin: stored, ...(stdout === undefined ? {} : { stdout }) });
    // No last reading at its exit (that is for a writer feeding the reader): by then the program is reaped, and its
    // meter's finish() counts the whole file anyway.
    return { program, stopFollowing: followBytesRead(program.child.pid, meter) };
  }

  /** Starts the decompressor program; its stdin and stdout are pipes unless given (a stored file, a spool file). */
  #startDecompressor(cli: { program: string; args: string[] }, stdio: { stdin?: number; stdout?: number } = {}): Program {
    return startProgram(cli.program, cli.args, this.#o.env, { code: 'DUMP_INVALID', what: `${this.wrapper} decompression of ${this.#o.key}`, ...stdio });
  }

  #localPlainPath(): string | undefined {
    return this.wrapper === 'none' ? this.#o.storage.localPath?.(this.#o.key) : undefined;
  }

  /** Opens the stored bytes: `storage.read` → [tapStored, on complete reads] → [meter]. */
  async #openStored(options: { full: boolean; meter?: ProgressMeter }): Promise<Readable> {
    const { storage, key, tapStored } = this.#o;
    let stored = await storage.read(key);
    if (options.full && tapStored) stored = tapStored(stored);
    if (!options.meter) return stored;
    const meter = options.meter;
    const metered = meterStream(meter);
    pipeline(stored, metered).then(
      () => meter.finish(),
      (error: unknown) => {
        meter.finish(false);
        metered.destroy(error as Error);
      },
    );
    metered.on('close', () => stored.destroy());
    return metered;
  }

  /**
   * Starts the decompressor program on the stored bytes; its stdout is left for pg_restore to read directly. A stored
   * file on a local disk is the program's stdin itself, as for a spool: piping it through Node cost the 1 GB numeric
   * table's restore ~1 s of Node's CPU, on two cores shared with the server's COPY.
   */
  async #pipe(cli: { program: string; args: string[] }, meter: ProgressMeter): Promise<ArchivePipe> {
    // Nothing may wait between starting the program and returning its stdout (see ArchivePipe): the stored file is
    // closed once the program is done, not before returning.
    const file = this.#o.storage.localPath?.(this.#o.key);
    if (file) {
      const stored = await open(file, 'r');
      let started: { program: Program; stopFollowing: () => void };
      try {
        started = this.#startOnStored(stored.fd, cli, meter);
      } catch (error) {
        await stored.close();
        throw error;
      }
      const done = started.program.done
        .then(
          () => meter.finish(),
          (error: unknown) => {
            meter.finish(false);
            throw error;
          },
        )
        .finally(() => {
          started.stopFollowing();
          return stored.close();
        });
      done.catch(() => {}); // observed by pg_restore's runner
      return { stdout: started.program.child.stdout!, done };
    }
    const stored = await this.#openStored({ full: true, meter });
    const program = this.#startDecompressor(cli);
    const fed = pipeline(stored, program.child.stdin!).catch((error: unknown) => {
      // The program stopped reading (it failed, or pg_restore went away): its exit status says why.
      if (isReaderGone(error)) return;
      program.stop();
      throw error;
    });
    const done = Promise.all([program.done, fed]).then(() => undefined);
    done.catch(() => {}); // observed by pg_restore's runner
    return { stdout: program.child.stdout!, done };
  }

  /**
   * Opens the archive bytes: the stored bytes, decompressed when wrapped. The returned stream ends only after the
   * decompressor exited cleanly, so a corrupt dump fails with the decompressor's error, not as a short archive.
   */
  async #open(options: { full: boolean; meter?: ProgressMeter }): Promise<Readable> {
    const { env } = this.#o;
    const stored = await this.#openStored({ full: options.full });
    const streams: NodeJS.ReadWriteStream[] = [];
    if (options.meter) streams.push(meterStream(options.meter));
    let stage: Stage | undefined;
    if (this.wrapper !== 'none') {
      stage = await decompressStage(this.wrapper, env, this.#o.key);
      streams.push(stage.stream);
    }
    if (streams.length === 0) return stored;
    // `out` ends only once the decompressor has also exited cleanly.
    const out = new PassThrough({
      flush(callback) {
        (stage?.done ?? Promise.resolve()).then(() => {
          options.meter?.finish();
          callback();
        }, callback);
      },
    });
    out.on('close', () => {
      if (out.readableEnded) return;
      stored.destroy();
      stage?.stop();
    });
    // `out` stays outside the pipeline: the pipeline destroys every stream in it with its first error, and a failing
    // decompressor's first error is the raw zlib or decoder message ("unexpected end of file"), where the reader must
    // get the stage's typed error, which names the dump.
    let storedFailed = false;
    stored.once('error', () => (storedFailed = true));
    (pipeline as unknown as (...args: unknown[]) => Promise<void>)(stored, ...streams).catch(async (error: unknown) => {
      options.meter?.finish(false);
      const own = stage && !storedFailed ? await stage.done.then(() => error, (typed: unknown) => typed) : error;
      out.destroy(own as Error);
    });
    (streams.at(-1) as unknown as Readable).pipe(out);
    stage?.done.catch((error: unknown) => out.destroy(error as Error));
    return out;
  }
}

/** A plain archive cut short is refused in one line naming it; any other failure to read its data sizes is ignored. */
function refuseTruncated(error: unknown, key: string): undefined {
  if (error instanceof TruncatedArchive) throw new DumpError('DUMP_INVALID', `Dump ${key} is truncated: ${error.message}`);
  return undefined;
}

/** The largest data item's share of the archive's data, when its sizes are known. */
function shareOf(data: DataSizes | undefined): number | undefined {
  return data && largestShare(data.sizes.values());
}

async function readHead(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (length >= HEADER_BYTES) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, HEADER_BYTES);
}
