import { open, type FileHandle } from 'node:fs/promises';

/**
 * Data offsets for custom-format archives written to a pipe.
 *
 * pg_dump -Fc writes each table's data as a block of length-prefixed chunks after the table of contents, and — when
 * its output is a seekable file — goes back at the end to store each block's position in the TOC. Written to a pipe
 * (how pgclone, django-pgclone and `pg_dump | zstd` all dump), the positions stay unset, and every `pg_restore -j`
 * worker has to scan the archive chunk by chunk to find its table. An uncompressed archive (`-Z0`, what pgclone's
 * `auto` wraps in zstd) has one chunk per row, so that scan made `pg_restore -j2` of the bench dataset twice as slow
 * as from a file pg_dump wrote itself (31–37 s against 14–19 s).
 *
 * {@link addDataOffsets} does for a spooled archive what pg_dump does for its own files: it walks the data blocks once
 * and writes their positions into the TOC's offset fields, which have a fixed size, in place. Anything it does not
 * understand leaves the file as it was (pg_restore then scans, as before).
 *
 * Layout (pg_backup_archiver.c WriteHead/WriteToc, pg_backup_custom.c): ints are a sign byte plus `intSize` bytes,
 * little-endian; strings are an int length (-1 for NULL) plus bytes; a TOC entry's custom-format extra is an offset
 * flag byte (1 not set, 2 set, 3 no data) plus `offSize` bytes; a data block is a type byte (1 data, 3 large
 * objects), the dump id, then chunks (int length, bytes) ending with a 0 length — for large objects, per object an
 * OID int then such chunks, ending with OID 0.
 */

const K_OFFSET_POS_NOT_SET = 1;
const K_OFFSET_POS_SET = 2;
const K_OFFSET_NO_DATA = 3;
const BLK_DATA = 1;
const BLK_BLOBS = 3;
/** Archive versions whose TOC layout this reader knows (pg_dump 10 to 17). */
const MIN_VERSION = [1, 12] as const;
const MAX_VERSION = [1, 16] as const;

/** What {@link addDataOffsets} did: how many offsets it wrote, and the data sizes it found on the way. */
export type OffsetsResult = { patched: number; data: DataSizes } | { skipped: string };

class Unsupported extends Error {}

/**
 * The archive's table of contents places a data block at or past the file's end: the file was cut short after it
 * (pg_dump, writing to the file itself, stores the offsets at its end). Its data sizes would be nonsense.
 */
export class TruncatedArchive extends Error {
  constructor(offset: number, size: number) {
    super(`its table of contents places data at byte ${offset}, past its end (${size} bytes)`);
    this.name = 'TruncatedArchive';
  }
}

/**
 * The end of writing a file that is read while it grows (a spool being decompressed): resolves when the writer is
 * done, rejects when it failed.
 */
export type Written = Promise<unknown>;

/** How long a reader that caught up with a growing file waits before looking at its size again. */
const GROWTH_POLL_MS = 5;

/**
 * Sequential reader over a file with a large buffer: millions of tiny chunk headers cost one read per MiB. Given
 * `written`, the file may still be growing: a read past its current end waits for the writer.
 */
class Reader {
  readonly #handle: FileHandle;
  #size: number;
  #buffer = Buffer.alloc(4 << 20);
  /** File position of `#buffer[0]`. */
  #base = 0;
  #length = 0;
  /** Current file position. */
  pos = 0;

  readonly #signal: AbortSignal | undefined;
  /** While the writer runs: settles (never rejects) when it is done; `#writeFailed` says how it ended. */
  #writing: Promise<void> | undefined;
  #writeFailed = false;

  constructor(handle: FileHandle, size: number, options: { signal?: AbortSignal; written?: Written } = {}) {
    this.#handle = handle;
    this.#size = size;
    this.#signal = options.signal;
    if (options.written) {
      this.#writing = options.written.then(
        () => {
          this.#writing = undefined;
        },
        () => {
          this.#writing = undefined;
          this.#writeFailed = true;
        },
      );
    }
  }

  /** The file's size (final once the writer is done). */
  get size(): number {
    return this.#size;
  }

  async atEnd(): Promise<boolean> {
    return this.pos >= this.#size && !(await this.#grow(this.pos + 1));
  }

  /** Whether the file has (or, while it is written, reaches) `needed` bytes. */
  async #grow(needed: number): Promise<boolean> {
    while (this.#size < needed) {
      const writing = this.#writing;
      if (this.#signal?.aborted) throw new Unsupported('stopped');
      this.#size = (await this.#handle.stat()).size;
      if (this.#writeFailed) throw new Unsupported('the writer failed');
      if (!writing) return this.#size >= needed; // done: that size is final
      if (this.#size >= needed) break;
      await Promise.race([writing, new Promise((resolve) => setTimeout(resolve, GROWTH_POLL_MS))]);
    }
    return true;
  }

  async #ensure(n: number): Promise<void> {
    if (this.pos >= this.#base && this.pos + n <= this.#base + this.#length) return;
    if (!(await this.#grow(this.pos + n))) throw new Unsupported('truncated archive');
    if (this.#signal?.aborted) throw new Unsupported('stopped');
    if (n > this.#buffer.length) this.#buffer = Buffer.alloc(n);
    const { bytesRead } = await this.#handle.read(this.#buffer, 0, this.#buffer.length, this.pos);
    this.#base = this.pos;
    this.#length = bytesRead;
    if (bytesRead < n) throw new Unsupported('short read');
  }

  async byte(): Promise<number> {
    await this.#ensure(1);
    return this.#buffer[this.pos++ - this.#base]!;
  }

  async int(intSize: number): Promise<number> {
    await this.#ensure(1 + intSize);
    const at = this.pos - this.#base;
    const negative = this.#buffer[at] !== 0;
    let value = 0;
    for (let i = intSize - 1; i >= 0; i--) value = value * 256 + this.#buffer[at + 1 + i]!;
    this.pos += 1 + intSize;
    return negative ? -value : value;
  }

  /** Reads a string (or `null`); only short ones are decoded (the others are skipped). */
  async str(intSize: number): Promise<string | null> {
    const length = await this.int(intSize);
    if (length < 0) return null;
    if (length > 256) {
      this.skip(length);
      return '';
    }
    await this.#ensure(length);
    const at = this.pos - this.#base;
    this.pos += length;
    return this.#buffer.toString('utf8', at, at + length);
  }

  skip(n: number): void {
    this.pos += n;
  }

  /**
   * Skips a sequence of chunks (int length, bytes) up to its 0 length. Chunk headers already in the buffer are read
   * synchronously: an uncompressed archive has one chunk per row, millions of them.
   */
  async skipChunks(intSize: number): Promise<void> {
    const header = 1 + intSize;
    for (;;) {
      await this.#ensure(header);
      const end = this.#base + this.#length;
      const buffer = this.#buffer;
      while (this.pos + header <= end) {
        const at = this.pos - this.#base;
        let length = 0;
        for (let i = intSize - 1; i >= 0; i--) length = length * 256 + buffer[at + 1 + i]!;
        if (buffer[at] !== 0) throw new Unsupported('bad chunk length');
        this.pos += header;
        if (length === 0) return;
        this.pos += length;
      }
    }
  }
}

interface TocEntry {
  dumpId: number;
  /** The kind of item: `TABLE`, `TABLE DATA`, `INDEX`, `FK CONSTRAINT`… */
  desc: string;
  /** Dump ids of the items it depends on (an index: its table's). */
  deps: number[];
  /** File position of the offset flag byte. */
  flagAt: number;
  flag: number;
  /** The data block's position, when the TOC has it. */
  offset?: number;
}

/** The header and table of contents of a custom-format archive. */
export interface Layout {
  intSize: number;
  offSize: number;
  /** Whether pg_dump compressed the data blocks itself (then their sizes are not the COPY data's). */
  compressed: boolean;
  entries: TocEntry[];
}

/** Reads the header and the TOC; `r` is left at the first data block. Throws {@link Unsupported}. */
async function readLayout(r: Reader): Promise<Layout> {
  const magic = [await r.byte(), await r.byte(), await r.byte(), await r.byte(), await r.byte()];
  if (Buffer.from(magic).toString('latin1') !== 'PGDMP') throw new Unsupported('not a pg_dump archive');
  const [vmaj, vmin] = [await r.byte(), await r.byte(), await r.byte()] as const;
  if (vmaj !== 1 || vmin < MIN_VERSION[1] || vmin > MAX_VERSION[1]) throw new Unsupported(`archive version ${vmaj}.${vmin}`);
  const intSize = await r.byte();
  const offSize = await r.byte();
  const format = await r.byte();
  if (format !== 1) throw new Unsupported(`archive format ${format}`);
  if (intSize < 1 || intSize > 8 || offSize < 1 || offSize > 8) throw new Unsupported('unusual integer sizes');
  // 1.15 names the algorithm (0 none); before, a zlib level (0 none, -1 default).
  const compression = vmin >= 15 ? await r.byte() : await r.int(intSize);
  for (let i = 0; i < 7; i++) await r.int(intSize); // creation time
  await r.str(intSize); // database name
  await r.str(intSize); // server version
  await r.str(intSize); // pg_dump version

  const count = await r.int(intSize);
  if (count < 0) throw new Unsupported('bad TOC count');
  const entries: TocEntry[] = [];
  for (let i = 0; i < count; i++) {
    const dumpId = await r.int(intSize);
    if (dumpId <= 0) throw new Unsupported('bad TOC entry');
    await r.int(intSize); // had dumper
    await r.str(intSize); // table oid
    await r.str(intSize); // oid
    await r.str(intSize); // tag
    const desc = (await r.str(intSize)) ?? '';
    await r.int(intSize); // section
    for (let s = 0; s < 5; s++) await r.str(intSize); // defn, dropStmt, copyStmt, namespace, tablespace
    if (vmin >= 14) await r.str(intSize); // table access method
    if (vmin >= 16) await r.int(intSize); // relkind
    await r.str(intSize); // owner
    await r.str(intSize); // with oids
    const deps: number[] = [];
    for (let dep = await r.str(intSize); dep !== null; dep = await r.str(intSize)) deps.push(Number(dep)); // NULL-terminated
    const flagAt = r.pos;
    const flag = await r.byte();
    let offset = 0;
    for (let b = 0, scale = 1; b < offSize; b++, scale *= 256) offset += (await r.byte()) * scale;
    entries.push({ dumpId, desc, deps, flagAt, flag, ...(flag === K_OFFSET_POS_SET ? { offset } : {}) });
  }
  return { intSize, offSize, compressed: compression !== 0, entries };
}

/** Walks the data blocks from `r`'s position to the end: each block's dump id and position. */
async function walkBlocks(r: Reader, intSize: number): Promise<Map<number, number>> {
  const blocks = new Map<number, number>();
  const skipChunks = () => r.skipChunks(intSize);
  while (!(await r.atEnd())) {
    const at = r.pos;
    const type = await r.byte();
    const id = await r.int(intSize);
    if (type === BLK_DATA) await skipChunks();
    else if (type === BLK_BLOBS) while ((await r.int(intSize)) !== 0) await skipChunks();
    else throw new Unsupported(`unknown block type ${type}`);
    blocks.set(id, at);
  }
  if (r.pos !== r.size) throw new Unsupported('trailing bytes');
  return blocks;
}

/**
 * The stored size of each item's data, by dump id: the data blocks follow one another to the end of the file, so a
 * block ends where the next one starts.
 */
function blockSizes(starts: Map<number, number>, fileSize: number): Map<number, number> {
  const sorted = [...starts].sort((a, b) => a[1] - b[1]);
  return new Map(sorted.map(([id, at], i) => [id, (sorted[i + 1]?.[1] ?? fileSize) - at]));
}

/** How much data each table-of-contents item of an archive carries. */
export interface DataSizes {
  /** Bytes of each item's data block in the archive, by dump id (items without data are absent). */
  sizes: Map<number, number>;
  /**
   * The estimated cost of each index and constraint, by dump id, in bytes of the data blocks of the tables it reads (0
   * for tables without data): what restore progress counts for building it (see {@link BUILD_COST}).
   */
  builds?: Map<number, number>;
  /** Whether pg_dump compressed the blocks itself; when not, a block is about the size of its COPY data. */
  compressed: boolean;
}

/** Where an archive's data blocks are: what {@link writeDataOffsets} writes into its TOC. */
export interface ArchiveIndex {
  layout: Layout;
  /** Each data block's position, by dump id. */
  blocks: Map<number, number>;
  size: number;
}

/** Options of {@link indexArchive} and {@link addDataOffsets}. */
export interface IndexOptions {
  /** The end of the file's writing, when it is still being written (see {@link Written}). */
  written?: Written;
  signal?: AbortSignal;
  /**
   * Called once the header and the table of contents have been read, with the position of the first data block:
   * the bytes before it, all in the file by then, hold everything a schema-only (pre-data) restore reads.
   */
  onLayout?: (dataStart: number) => void;
}

/**
 * Reads the layout of the archive `file` and walks its data blocks; only reads. Given `written`, the file is still
 * being written (a spool): the walk follows it and ends when the writer is done, so it costs no time after the spool.
 * `skipped` says why an archive cannot be indexed (not one this reader knows, or the writer failed).
 */
export async function indexArchive(file: string, options: IndexOptions = {}): Promise<ArchiveIndex | { skipped: string }> {
  const handle = await open(file, 'r');
  try {
    const r = new Reader(handle, (await handle.stat()).size, options);
    const layout = await readLayout(r);
    options.onLayout?.(r.pos);
    const blocks = await walkBlocks(r, layout.intSize);
    return { layout, blocks, size: r.size };
  } catch (error) {
    if (error instanceof Unsupported) return { skipped: error.message };
    throw error;
  } finally {
    await handle.close();
  }
}

/**
 * Writes the positions found by {@link indexArchive} into the TOC of `file` — the indexed archive, or a byte-for-byte
 * copy of it (fixed-size fields: the TOC keeps its length).
 */
export async function writeDataOffsets(file: string, index: ArchiveIndex): Promise<{ patched: number; data: DataSizes }> {
  const { layout, blocks, size } = index;
  const handle = await open(file, 'r+');
  try {
    let patched = 0;
    for (const entry of layout.entries) {
      const at = blocks.get(entry.dumpId);
      if (at === undefined || entry.flag !== K_OFFSET_POS_NOT_SET) continue;
      const field = Buffer.alloc(1 + layout.offSize);
      field[0] = K_OFFSET_POS_SET;
      let rest = at;
      for (let i = 0; i < layout.offSize; i++) {
        field[1 + i] = rest % 256;
        rest = Math.floor(rest / 256);
      }
      await handle.write(field, 0, field.length, entry.flagAt);
      patched++;
    }
    return { patched, data: withBuilds(layout, blockSizes(blocks, size)) };
  } finally {
    await handle.close();
  }
}

/**
 * Writes the positions of the data blocks into the TOC of the custom-format archive `file` (see above); with
 * `written`, while the file is still being written (the offsets are written once it is complete).
 */
export async function addDataOffsets(file: string, options: IndexOptions = {}): Promise<OffsetsResult> {
  const index = await indexArchive(file, options);
  return 'skipped' in index ? index : writeDataOffsets(file, index);
}

/**
 * The data sizes of any custom-format archive `file`: from its TOC when that has the positions, else by walking its
 * data blocks (a read of the whole file, for an archive pg_dump wrote to a pipe); `undefined` when the archive is not
 * one this reader knows, or when `signal` stops the walk.
 */
export function scanDataSizes(file: string, signal?: AbortSignal): Promise<DataSizes | undefined> {
  return dataSizes(file, true, signal);
}

/**
 * The data sizes of an archive whose TOC has every data position (one pg_dump wrote to a file, or one
 * {@link addDataOffsets} patched), from the TOC alone; `undefined` for any other archive, which would have to be
 * read to its end. Throws {@link TruncatedArchive} when a position lies past the file's end.
 */
export function readDataSizes(file: string): Promise<DataSizes | undefined> {
  return dataSizes(file, false);
}

async function dataSizes(file: string, walk: boolean, signal?: AbortSignal): Promise<DataSizes | undefined> {
  const handle = await open(file, 'r');
  try {
    const r = new Reader(handle, (await handle.stat()).size, signal ? { signal } : {});
    const layout = await readLayout(r);
    const sizes = tocSizes(layout, r.size) ?? (walk ? blockSizes(await walkBlocks(r, layout.intSize), r.size) : undefined);
    return sizes && withBuilds(layout, sizes);
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  } finally {
    await handle.close();
  }
}

/** The data sizes from the TOC's positions, when it has every one. Throws {@link TruncatedArchive}. */
function tocSizes(layout: Layout, fileSize: number): Map<number, number> | undefined {
  const starts = new Map<number, number>();
  for (const entry of layout.entries) {
    if (entry.flag === K_OFFSET_NO_DATA) continue;
    if (entry.offset === undefined) return undefined;
    if (entry.offset >= fileSize) throw new TruncatedArchive(entry.offset, fileSize);
    starts.set(entry.dumpId, entry.offset);
  }
  return blockSizes(starts, fileSize);
}

/**
 * What building an index or a constraint costs, in bytes of its table's data block. A parallel restore of the bench
 * dataset spent ~2.9 s of its workers' time loading data and ~10 s on its 19 indexes and constraints; measured one by
 * one, against the load of their table, from 0.16× (a primary key on a wide table) to 3.4× (a GIN index on jsonb),
 * 0.6× on average. Without a cost, the bar reached 99% with a third of the restore still to go.
 */
export const BUILD_COST = 0.5;

/** The items that read a whole table when they are restored. */
const BUILDS = new Set(['INDEX', 'CONSTRAINT', 'FK CONSTRAINT', 'INDEX ATTACH']);

/** {@link DataSizes} of `layout`, with the cost of the builds that read each table with data. */
function withBuilds(layout: Layout, sizes: Map<number, number>): DataSizes {
  const tables = new Set(layout.entries.filter((e) => e.desc === 'TABLE').map((e) => e.dumpId));
  // A table's data item depends on its table (among other things): the table's id names its data size.
  const tableBytes = new Map<number, number>();
  for (const entry of layout.entries) {
    const bytes = sizes.get(entry.dumpId);
    if (bytes === undefined || entry.desc !== 'TABLE DATA') continue;
    for (const dep of entry.deps) if (tables.has(dep)) tableBytes.set(dep, (tableBytes.get(dep) ?? 0) + bytes);
  }
  const builds = new Map<number, number>();
  for (const entry of layout.entries) {
    if (!BUILDS.has(entry.desc)) continue;
    // An index reads its table; a foreign key its table and the referenced one's index (counted as that table).
    // Every build is listed, 0 on a table without data: a single-job restore is followed through them in TOC order.
    const bytes = [...new Set(entry.deps)].reduce((sum, dep) => sum + (tableBytes.get(dep) ?? 0), 0);
    builds.set(entry.dumpId, Math.round(bytes * BUILD_COST));
  }
  return { sizes, compressed: layout.compressed, ...(builds.size > 0 ? { builds } : {}) };
}
