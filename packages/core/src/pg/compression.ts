import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Duplex, Transform, type Readable, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { CompressionSpec } from '../compression-spec.js';
import { PgcloneError, type ErrorCode } from '../errors.js';
import { redact } from '../redact.js';
import type { ArchiveHeader } from './archive.js';
import { ZstdFrames } from './zstd-frames.js';

/**
 * Where a dump's bytes are compressed, and how they are read back.
 *
 * pg_dump 15 compresses custom archives only with gzip, inside its own process: on two cores that is the dump's
 * bottleneck (a 1 GB table: 45–64 s with the default level 6, 9 s uncompressed). So `auto` has pg_dump write an
 * uncompressed archive (`-Z0`) and compresses it in another process — the zstd CLI at level 1 with one thread per
 * core — which costs about nothing in wall time and stores fewer bytes than gzip-6 (bench/README.md has the numbers).
 * pg_dump 16+ compresses with zstd itself, which keeps the archive plain (seekable, `pg_restore -j`, any pg_restore
 * ≥ 16). Without a zstd binary, `auto` falls back to gzip in Node's zlib thread pool, in independent 1 MiB members
 * compressed in parallel (a valid multi-member gzip stream that `gunzip` reads too).
 *
 * Wrapped dumps keep the `.dump` key ending; restores recognise the wrapper by its magic bytes.
 */

/** What wraps the archive in storage (`none`: a plain custom-format archive, possibly compressed inside). */
export type Wrapper = ArchiveHeader['wrapper'];

/** zstd level for `auto` and for `zstd` without a level: level 1 was both faster and smaller than 3 on our data. */
export const ZSTD_DEFAULT_LEVEL = 1;
/** lz4 level without an explicit one. */
export const LZ4_DEFAULT_LEVEL = 1;
/** pg_dump's own default (`-Fc` alone). */
export const GZIP_DEFAULT_LEVEL = 6;
/** gzip level of the fallback without a zstd binary: the fastest level within 5% of gzip-6's size on our data. */
export const FALLBACK_GZIP_LEVEL = 2;
/** Size of one independently compressed gzip member. */
const GZIP_BLOCK_BYTES = 1 << 20;

/** How a dump is compressed: pg_dump's own `-Z`, plus an optional compressor outside pg_dump. */
export interface DumpCompression {
  /** pg_dump arguments (`-Z…`). */
  pgDumpArgs: string[];
  /** A compressor run on pg_dump's output, if any. */
  outer?: OuterCompressor;
  /** What the stored bytes are. */
  wrapper: Wrapper;
  /** For messages and the manifest: `zstd:1 (zstd CLI)`, `gzip:6 (pg_dump)`. */
  description: string;
}

/** A compressor outside pg_dump's process. */
export type OuterCompressor =
  | { kind: 'cli'; wrapper: 'zstd' | 'lz4'; program: string; args: string[] }
  | { kind: 'zlib'; wrapper: 'gzip'; level: number };

/** Finds an executable on `env.PATH` (the zstd and lz4 CLIs are optional packages). */
export function findProgram(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Decides how to compress a dump made by a pg_dump of major `pgDumpMajor`. `notice` says what was chosen instead of
 * the best choice when a compressor is missing.
 */
export function planDumpCompression(
  spec: CompressionSpec,
  pgDumpMajor: number,
  env: NodeJS.ProcessEnv = process.env,
): { compression: DumpCompression; notice?: string } {
  const cores = Math.max(1, os.availableParallelism());
  const zstdCli = (level: number): DumpCompression | undefined => {
    const program = findProgram('zstd', env);
    return program
      ? {
          pgDumpArgs: ['-Z0'],
          outer: { kind: 'cli', wrapper: 'zstd', program, args: [`-${level}`, `-T${cores}`, '-q', '-c'] },
          wrapper: 'zstd',
          description: `zstd:${level} (zstd CLI)`,
        }
      : undefined;
  };
  switch (spec.method) {
    case 'none':
      return { compression: { pgDumpArgs: ['-Z0'], wrapper: 'none', description: 'none' } };
    case 'gzip': {
      const level = spec.level ?? GZIP_DEFAULT_LEVEL;
      return { compression: { pgDumpArgs: [`-Z${level}`], wrapper: 'none', description: `gzip:${level} (pg_dump)` } };
    }
    case 'zstd':
    case 'lz4': {
      const level = spec.level ?? (spec.method === 'zstd' ? ZSTD_DEFAULT_LEVEL : LZ4_DEFAULT_LEVEL);
      if (pgDumpMajor >= 16) {
        return {
          compression: { pgDumpArgs: [`--compress=${spec.method}:${level}`], wrapper: 'none', description: `${spec.method}:${level} (pg_dump)` },
        };
      }
      if (spec.method === 'zstd') {
        const cli = zstdCli(level);
        if (cli) return { compression: cli };
      } else {
        const program = findProgram('lz4', env);
        if (program) {
          return {
            compression: {
              pgDumpArgs: ['-Z0'],
              outer: { kind: 'cli', wrapper: 'lz4', program, args: [`-${level}`, '-q', '-c'] },
              wrapper: 'lz4',
              description: `lz4:${level} (lz4 CLI)`,
            },
          };
        }
      }
      throw new PgcloneError(
        'TOOL_MISSING',
        `compression ${spec.method} needs pg_dump 16 or newer, or the ${spec.method} program on PATH (pg_dump here is ${pgDumpMajor}): ` +
          `install ${spec.method} (apt-get install ${spec.method}; brew install ${spec.method}) or use compression auto`,
      );
    }
    case 'auto': {
      if (pgDumpMajor >= 16) {
        return {
          compression: {
            pgDumpArgs: [`--compress=zstd:${ZSTD_DEFAULT_LEVEL}`],
            wrapper: 'none',
            description: `zstd:${ZSTD_DEFAULT_LEVEL} (pg_dump)`,
          },
        };
      }
      const cli = zstdCli(ZSTD_DEFAULT_LEVEL);
      if (cli) return { compression: cli };
      return {
        compression: {
          pgDumpArgs: ['-Z0'],
          outer: { kind: 'zlib', wrapper: 'gzip', level: FALLBACK_GZIP_LEVEL },
          wrapper: 'gzip',
          description: `gzip:${FALLBACK_GZIP_LEVEL} (zlib threads)`,
        },
        notice:
          `zstd not found on PATH: compressing with gzip:${FALLBACK_GZIP_LEVEL} in pgclone's thread pool instead ` +
          '(install zstd for faster dumps)',
      };
    }
  }
}

/** A stream stage between a producer and a consumer. */
export interface Stage {
  readonly stream: Duplex;
  /** Settles when the stage's work is over: rejects with a {@link PgcloneError} when it failed. */
  readonly done: Promise<void>;
  /** Stops the stage early (its consumer stopped reading); `done` then resolves. */
  stop(): void;
}

/**
 * The stage that compresses pg_dump's output for `outer` inside this process's pipeline. For a compressor program,
 * {@link startProgram} with pg_dump writing straight into its stdin keeps the uncompressed bytes out of Node entirely.
 */
export function compressStage(outer: OuterCompressor, env: NodeJS.ProcessEnv): Stage {
  if (outer.kind === 'zlib') return streamStage(new ParallelGzip(outer.level), 'DUMP_FAILED', 'gzip compression');
  return programDuplex(startProgram(outer.program, outer.args, env, { code: 'DUMP_FAILED', what: `${outer.wrapper} compression` }));
}

/** The program (and arguments) that decompresses `wrapper` to stdout, when it is installed. */
export function decompressorProgram(wrapper: Exclude<Wrapper, 'none'>, env: NodeJS.ProcessEnv): { program: string; args: string[] } | undefined {
  if (wrapper === 'gzip') return undefined; // Node's zlib does it on the thread pool
  const program = findProgram(wrapper, env);
  if (!program) return undefined;
  return { program, args: wrapper === 'zstd' ? ['-d', '-q', '-c', '--long=31'] : ['-d', '-q', '-c'] };
}

/**
 * The stage that turns a wrapped dump back into the archive: the zstd/lz4 CLI when installed, Node's zlib for gzip,
 * and a pure-JS zstd decoder when no zstd binary is there (so every install restores every pgclone dump).
 */
export async function decompressStage(wrapper: Exclude<Wrapper, 'none'>, env: NodeJS.ProcessEnv, key: string): Promise<Stage> {
  const what = `${wrapper} decompression of ${key}`;
  if (wrapper === 'gzip') return streamStage(zlib.createGunzip(), 'DUMP_INVALID', what);
  const cli = decompressorProgram(wrapper, env);
  if (cli) return programDuplex(startProgram(cli.program, cli.args, env, { code: 'DUMP_INVALID', what }));
  if (wrapper === 'zstd') return streamStage(await fzstdTransform(), 'DUMP_INVALID', what);
  throw lz4Missing();
}

/** The error for an lz4 dump without the lz4 program. */
export function lz4Missing(): PgcloneError {
  return new PgcloneError(
    'TOOL_MISSING',
    'This dump is wrapped in lz4 and the lz4 program is not on PATH: install lz4 (apt-get install lz4; brew install lz4)',
  );
}

function streamStage(stream: Duplex, code: ErrorCode, what: string): Stage {
  let stopped = false;
  const done = new Promise<void>((resolve, reject) => {
    stream.once('error', (error) => {
      if (stopped) resolve();
      else reject(new PgcloneError(code, `${what} failed: ${redact(error.message)}`, { cause: error }));
    });
    stream.once('close', () => resolve());
  });
  done.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  return {
    stream,
    done,
    stop() {
      stopped = true;
      stream.destroy();
    },
  };
}

/** A running compressor or decompressor program. */
export interface Program {
  readonly child: ChildProcess;
  /** Settles when it exited: rejects with a {@link PgcloneError} (naming `what`) unless it exited 0 or was stopped. */
  readonly done: Promise<void>;
  /** The last lines it wrote to stderr. */
  stderr(): string;
  /** Kills it; `done` then resolves. */
  stop(): void;
}

/**
 * Starts a compressor/decompressor program. Its stdin and stdout are pipes, or file descriptors (`stdin`, `stdout`;
 * `stdin` may also be another process's stdout pipe): wiring it straight to pg_dump, to a stored file or to a spool
 * file keeps those bytes out of Node.
 */
export function startProgram(
  program: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { code: ErrorCode; what: string; stdin?: number | Readable; stdout?: number },
): Program {
  const child = spawn(program, args, { env, stdio: [options.stdin ?? 'pipe', options.stdout ?? 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let stopped = false;
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (error) =>
      reject(new PgcloneError('TOOL_MISSING', `Cannot run ${program}: ${error.message}`, { cause: error })),
    );
    child.once('close', (exitCode, signal) => {
      if (exitCode === 0 || stopped) return resolve();
      const detail = stderr.trim().split('\n').at(-1) ?? '';
      const error = new PgcloneError(
        options.code,
        `${options.what} (${path.basename(program)}) failed (${signal ? `signal ${signal}` : `exit code ${exitCode}`})${detail ? `: ${redact(detail)}` : ''}`,
      );
      // Killed by a broken pipe, or failing to write because its reader closed the pipe early (Node's stdio pipes are
      // sockets: the write fails with ECONNRESET rather than SIGPIPE): the reader failed first, and that failure is the
      // one to report.
      const readerGone = child.stdout !== null && child.stdout.destroyed && !child.stdout.readableEnded;
      if (signal === 'SIGPIPE' || readerGone) Object.assign(error, { brokenPipe: true });
      reject(error);
    });
  });
  done.catch(() => {});
  // A program that exits early breaks its pipe; the exit status in `done` says why.
  child.stdin?.on('error', () => {});
  return {
    child,
    done,
    stderr: () => stderr,
    stop() {
      stopped = true;
      child.kill('SIGTERM');
    },
  };
}

function programDuplex(program: Program): Stage {
  const stream = Duplex.from({ writable: program.child.stdin!, readable: program.child.stdout! });
  return {
    stream,
    done: program.done,
    stop() {
      stream.destroy();
      program.stop();
    },
  };
}

const gzipAsync = promisify(zlib.gzip);

/**
 * gzip on every core: the input is cut into 1 MiB blocks, each compressed as its own gzip member on libuv's thread
 * pool (never on the main thread), and the members are emitted in order. At most `concurrency` blocks are in
 * flight, so memory stays at a few MiB whatever the dump's size.
 */
export class ParallelGzip extends Transform {
  readonly #level: number;
  readonly #concurrency: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  readonly #inFlight: Array<Promise<Buffer>> = [];

  constructor(level: number, concurrency = Math.max(2, os.availableParallelism())) {
    super();
    this.#level = level;
    this.#concurrency = concurrency;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    this.#drainBlocks(false).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#drainBlocks(true).then(() => callback(), callback);
  }

  async #drainBlocks(final: boolean): Promise<void> {
    while (this.#pendingBytes >= GZIP_BLOCK_BYTES || (final && this.#pendingBytes > 0)) {
      const all = Buffer.concat(this.#pending, this.#pendingBytes);
      const block = all.subarray(0, GZIP_BLOCK_BYTES);
      const rest = all.subarray(block.length);
      this.#pending = rest.length ? [rest] : [];
      this.#pendingBytes = rest.length;
      const compressed = gzipAsync(block, { level: this.#level });
      compressed.catch(() => {}); // awaited in order below
      this.#inFlight.push(compressed);
      while (this.#inFlight.length >= this.#concurrency) this.push(await this.#inFlight.shift()!);
    }
    if (final) while (this.#inFlight.length) this.push(await this.#inFlight.shift()!);
  }
}

/**
 * zstd decoded in JavaScript, for a machine without the zstd program. fzstd does not check a frame's content
 * checksum, so each frame is decoded on its own (ZstdFrames finds where it ends) and its content's XXH64 compared with
 * the checksum, as the zstd program does: a damaged dump otherwise decodes into an archive with changed rows.
 */
async function fzstdTransform(): Promise<Transform> {
  const [{ Decompress }, { default: xxhash }] = await Promise.all([import('fzstd'), import('xxhash-wasm')]);
  const { create64 } = await xxhash();
  const frames = new ZstdFrames();
  let push: (chunk: Buffer) => void = () => {};
  let hash = create64();
  const newDecoder = () =>
    new Decompress((data) => {
      if (!data.length) return;
      hash.update(data);
      push(Buffer.from(data)); // copy: the decoder may reuse its window
    });
  let decoder: InstanceType<typeof Decompress> | undefined;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        for (const piece of frames.split(chunk)) {
          decoder ??= newDecoder();
          decoder.push(piece.bytes);
          if (!piece.end) continue;
          decoder.push(new Uint8Array(0), true);
          const { checksum } = piece.end;
          if (checksum !== undefined && Number(hash.digest() & 0xffffffffn) !== checksum) {
            throw new Error('the content checksum of a zstd frame does not match: the dump is damaged');
          }
          decoder = undefined;
          hash = create64();
        }
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback) {
      callback(frames.inFrame ? new Error('unexpected end of the zstd stream: the dump is truncated') : null);
    },
  });
  push = (chunk) => transform.push(chunk);
  return transform;
}
