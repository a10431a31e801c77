import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DumpError, PgcloneError } from '../errors.js';
import { whenAborted } from '../interrupt.js';
import { isReaderGone } from '../proc-io.js';
import { redact } from '../redact.js';
import { makeScratchDir } from '../scratch.js';
import { databaseFromScript, type ArchiveDatabase } from './database-script.js';
import { quoteConninfo } from './ident.js';
import { isVerboseLine } from './restore-progress.js';
import { TocListing, type TocLines } from './toc-listing.js';
import { spawnTool, type Tool } from './tools.js';

/**
 * Where pg_restore reads an archive from: a seekable file, a stream opened on demand, or the output of a program
 * started on demand (a decompressor), which pg_restore reads directly.
 */
export type ArchiveSource = { path: string } | { open: () => Promise<Readable> } | { pipe: () => Promise<ArchivePipe> };

/** A running program whose stdout becomes pg_restore's stdin, so that its output never passes through Node. */
export interface ArchivePipe {
  /**
   * The program's stdout. pg_restore takes it over; this process's end is closed once pg_restore has it. Node starts
   * reading a child's stdout pipe at the next turn of its event loop, and what it reads never reaches pg_restore (the
   * archive's header first): so between starting the program and pg_restore's start nothing may wait on I/O or a
   * timer — the producer returns right after starting the program, and the runner starts pg_restore right after.
   */
  stdout: Readable;
  /** Settles once the program and whatever feeds it are done; rejects with the first failure. */
  done: Promise<void>;
}

interface ToolRun {
  tool: Tool;
  args: string[];
  source: ArchiveSource;
  env: NodeJS.ProcessEnv;
  onStderr?: (line: string) => void;
  keepStderr?: (line: string) => boolean;
  /** Stop feeding stdin once the tool exits (pg_restore -l only reads the table of contents). */
  partialRead?: boolean;
  captureStdout?: boolean;
  signal?: AbortSignal | undefined;
}

async function runWithArchive(run: ToolRun): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string[]; stdout: Buffer }> {
  const fromFile = 'path' in run.source;
  const piped = 'pipe' in run.source ? await run.source.pipe() : undefined;
  const running = spawnTool(run.tool, fromFile ? [...run.args, (run.source as { path: string }).path] : run.args, {
    env: run.env,
    stdin: fromFile ? 'ignore' : (piped?.stdout ?? 'pipe'),
    stdout: run.captureStdout ? 'pipe' : 'ignore',
    ...(run.onStderr ? { onStderr: run.onStderr } : {}),
    ...(run.keepStderr ? { keepStderr: run.keepStderr } : {}),
  });
  piped?.stdout.destroy(); // pg_restore holds the read end now: the program sees its reader go when pg_restore exits
  const onAbort = () => running.child.kill('SIGTERM');
  // Also an interrupt that came before (while the caller prepared the input, or the decompressor started): pg_restore
  // would otherwise run the whole restore before the interrupt is noticed.
  const stopListening = whenAborted(run.signal, onAbort);
  // A program failing while pg_restore still reads it (a corrupt dump, a broken download) is the cause: pg_restore, cut
  // off, would only report a truncated archive. One failing after pg_restore has gone has only lost its reader.
  let pipeFailure: unknown;
  let toolExited = false;
  running.child.once('exit', () => (toolExited = true));
  piped?.done.catch((error: unknown) => {
    if (toolExited) return;
    pipeFailure = error;
    running.child.kill('SIGTERM');
  });
  // Bytes, not a string grown chunk by chunk: a listing of many items is megabytes (see TocListing).
  const stdout: Buffer[] = [];
  running.child.stdout?.on('data', (d: Buffer) => stdout.push(d));
  let feed: Promise<void> = Promise.resolve();
  let input: Readable | undefined;
  if ('open' in run.source) {
    try {
      input = await run.source.open();
    } catch (error) {
      // Nothing will feed pg_restore (an lz4 dump without the lz4 program): end it rather than leave it waiting on
      // its stdin, which would also keep pgclone from exiting.
      running.child.kill('SIGTERM');
      await running.done.catch(() => {});
      stopListening();
      throw error;
    }
    const stdin = running.child.stdin!;
    stdin.on('error', () => {}); // EPIPE when the tool stops reading early
    feed = pipeline(input, stdin).catch((error: unknown) => {
      if (run.partialRead) return;
      if (isReaderGone(error)) return; // the tool's own error says more
      running.child.kill('SIGTERM');
      throw error;
    });
    feed.catch(() => {}); // awaited below, after the tool exits; it may fail first
  }
  try {
    const exit = await running.done;
    input?.destroy();
    await feed;
    if (piped) {
      const failure = await piped.done.then(
        () => undefined,
        (error: unknown) => error,
      );
      if (pipeFailure !== undefined) throw pipeFailure;
      // pg_restore read a whole archive, yet the program failed at its end (a zstd frame checksum): still a failure.
      if (failure !== undefined && exit.code === 0) throw failure;
    }
    return { ...exit, stdout: Buffer.concat(stdout) };
  } finally {
    stopListening();
  }
}

/** The entries about the database itself, which `pg_restore -l` lists only with `--create`. */
const DATABASE_ENTRY = /^\d+; \d+ \d+ (DATABASE|DATABASE PROPERTIES|COMMENT - DATABASE|ACL - DATABASE) /;
/** The words a listing line starts with when it is one of {@link DATABASE_ENTRY}'s (its ids and type). */
const ENTRY_HEAD = 64;
/** The comment lines of a listing (its header) start with this. */
const SEMICOLON = 0x3b;

/**
 * The archive's table of contents (`pg_restore -l`, comments left out) and, from the same read, its entries about the
 * database itself (for {@link readArchiveDatabase}): one pg_restore, and one decompression of the head of a wrapped
 * dump, fewer. Fails when the archive is not readable.
 */
export async function readContents(
  tool: Tool,
  source: ArchiveSource,
  env: NodeJS.ProcessEnv,
  key: string,
): Promise<{ toc: TocListing; databaseEntries: string[] }> {
  const exit = await runWithArchive({ tool, args: ['-l', '--create'], source, env, captureStdout: true, partialRead: true });
  if (exit.code !== 0) {
    const detail = exit.stderr.find((l) => /error/i.test(l)) ?? exit.stderr[0] ?? `exit code ${exit.code}`;
    throw new DumpError('DUMP_INVALID', `Dump ${key} is not a readable archive: ${detail.replace(/^pg_restore: (error: )?/, '')}`);
  }
  const databaseEntries: string[] = [];
  const toc = TocListing.of(exit.stdout, (line) => {
    if (line[0] === SEMICOLON) return false;
    // Only a line's head decides, so that an item's line becomes no string here.
    if (!DATABASE_ENTRY.test(line.toString('latin1', 0, ENTRY_HEAD))) return true;
    databaseEntries.push(line.toString());
    return false;
  });
  return { toc, databaseEntries };
}

/**
 * Tables of contents longer than this are not restored in one transaction: each object it creates holds its lock until
 * the commit, and thousands (a schema of many tables, or one large object per entry) would exhaust the server's lock
 * table (`max_locks_per_transaction` × connections, 6,400 by default, fewer on small managed servers).
 */
const ONE_TRANSACTION_MAX_ENTRIES = 256;

/**
 * Whether a single-job pg_restore runs as one transaction (`--single-transaction`): each table is then created and
 * loaded in the same transaction, which is what `pg_restore -j` arranges for every table it created (a `TRUNCATE`
 * before the `COPY`), and lets the server skip work for a table new in its transaction (free-space map lookups; all of
 * the table's WAL with `wal_level = minimal`). Measured with a bare single-job pg_restore of the 1 GB numeric table's
 * archives, alternating with and without: faster in 7 pairs of 8, by 0.2–0.5 s (2–4%) in the steady ones; pgclone's
 * own restore of that table, 3 pairs of 4. Not with an allow list: the first error would undo everything, where the
 * allow list means to go on past it.
 */
export function restoresInOneTransaction(toc: TocLines, run: { parallel: boolean; allowList: readonly string[] }): boolean {
  return !run.parallel && run.allowList.length === 0 && toc.length <= ONE_TRANSACTION_MAX_ENTRIES;
}

/**
 * What the archive says about its database: its `CREATE DATABASE` options, owner, comment, privileges, connection
 * limit, settings and per-role settings. pg_restore prints the database's entries only with `--create`; a list file
 * (`-L`) naming just those (from `pg_restore -l --create`) keeps every other entry out.
 */
export async function readArchiveDatabase(
  tool: Tool,
  source: ArchiveSource,
  env: NodeJS.ProcessEnv,
  key: string,
  /** The database's entries when the table of contents was read already ({@link readContents}). */
  known?: readonly string[],
): Promise<ArchiveDatabase> {
  const dir = await makeScratchDir('settings');
  try {
    let entries = known;
    if (!entries) {
      const toc = await runWithArchive({ tool, args: ['-l', '--create'], source, env, captureStdout: true, partialRead: true });
      if (toc.code !== 0) throw unreadable(key, toc.stderr, toc.code);
      entries = toc.stdout.toString().split('\n').filter((l) => DATABASE_ENTRY.test(l));
    }
    const list = path.join(dir, 'database.list');
    await writeFile(list, entries.join('\n') + '\n');
    const exit = await runWithArchive({
      tool,
      args: ['--create', '--schema-only', '-L', list, '-f', '-'],
      source,
      env,
      captureStdout: true,
      partialRead: true,
    });
    if (exit.code !== 0) throw unreadable(key, exit.stderr, exit.code);
    return databaseFromScript(exit.stdout.toString());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function unreadable(key: string, stderr: string[], code: number | null): DumpError {
  const detail = stderr.find((l) => /error/i.test(l)) ?? stderr[0] ?? `exit code ${code}`;
  return new DumpError('DUMP_INVALID', `Cannot read the database entries of ${key}: ${redact(detail.replace(/^pg_restore: (error: )?/, ''))}`);
}

/** Options of {@link runPgRestore}. */
export interface PgRestoreRun {
  tool: Tool;
  source: ArchiveSource;
  /** Environment with the target server's libpq variables. */
  env: NodeJS.ProcessEnv;
  database: string;
  key: string;
  /** Patterns (regular expressions) of pg_restore errors that do not fail the restore. */
  allowList: string[];
  /** Parallel jobs (needs a file source). */
  jobs?: number;
  /** Runs as one transaction, as {@link restoresInOneTransaction} decides (ignored with jobs). */
  oneTransaction?: boolean;
  /** Only these sections of the archive (`--section`); all by default. */
  sections?: ReadonlyArray<'pre-data' | 'data' | 'post-data'>;
  onStderr?: (line: string) => void;
  /**
   * Takes the lines that only `--verbose` prints, for progress (runs pg_restore with `--verbose`; these lines are
   * neither passed to `onStderr` nor kept for errors).
   */
  onVerbose?: (line: string) => void;
  signal?: AbortSignal;
}

/** Whether {@link runPgRestore} runs pg_restore with `--jobs` (it needs a file). */
export function restoresInParallel(run: Pick<PgRestoreRun, 'jobs' | 'source'>): boolean {
  return run.jobs !== undefined && run.jobs > 1 && 'path' in run.source;
}

/**
 * Restores an archive into `database` with `--no-owner --no-acl`. Any error fails the restore unless every error
 * matches the allow list (then pg_restore runs to the end and the allowed errors are returned as warnings).
 */
export async function runPgRestore(run: PgRestoreRun): Promise<{ allowedErrors: string[] }> {
  const allow = run.allowList.map((p) => new RegExp(p));
  const args = ['--no-owner', '--no-acl', '-d', `dbname=${quoteConninfo(run.database)}`];
  if (allow.length === 0) args.push('--exit-on-error');
  if (restoresInParallel(run)) args.push(`--jobs=${run.jobs}`);
  else if (run.oneTransaction) args.push('--single-transaction');
  for (const section of run.sections ?? []) args.push(`--section=${section}`);
  if (run.onVerbose) args.push('--verbose');
  const onVerbose = run.onVerbose;
  // With --exit-on-error the one error ends pg_restore and is the failure's own message: not printed twice.
  const forward = run.onStderr && allow.length === 0 ? (line: string) => /^pg_restore: error:/.test(line) || run.onStderr!(line) : run.onStderr;
  const onStderr = onVerbose
    ? (line: string) => {
        if (isVerboseLine(line)) onVerbose(line);
        else forward?.(line);
      }
    : forward;
  const exit = await runWithArchive({
    tool: run.tool,
    args,
    source: run.source,
    env: run.env,
    ...(onStderr ? { onStderr } : {}),
    ...(onVerbose ? { keepStderr: (line: string) => !isVerboseLine(line) } : {}),
    signal: run.signal,
  });
  const errors = exit.stderr.filter((l) => /^pg_restore: error:/.test(l)).map((l) => l.replace(/^pg_restore: error: /, ''));
  const disallowed = errors.filter((e) => !allow.some((re) => re.test(e)));
  const ignoredSummary = exit.stderr.some((l) => /errors ignored on restore/.test(l));
  if (exit.code !== 0 && (disallowed.length > 0 || !ignoredSummary || errors.length === 0)) {
    const detail = disallowed[0] ?? exit.stderr.filter((l) => !/^pg_restore: warning/.test(l)).at(-1) ?? `exit code ${exit.code}`;
    throw new PgcloneError(
      'RESTORE_FAILED',
      `pg_restore of ${run.key} into ${run.database} failed${exit.signal ? ` (signal ${exit.signal})` : ''}: ${redact(detail)}`,
    );
  }
  return { allowedErrors: errors };
}
