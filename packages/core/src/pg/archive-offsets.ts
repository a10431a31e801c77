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

  /** Whether the next `n` bytes are in the buffer (then the synchronous reads below may take them). */
  has(n: number): boolean {
    return this.pos >= this.#base && this.pos + n <= this.#base + this.#length;
  }

  /** Makes the next `n` bytes available to the synchronous reads. */
  fill(n: number): Promise<void> {
    return this.#ensure(n);
  }

  /** The byte `i` bytes ahead; the caller checked {@link has}. */
  peek(i: number): number {
    return this.#buffer[this.pos + i - this.#base]!;
  }

  /** An int already in the buffer (see {@link has}). */
  intNow(intSize: number): number {
    const at = this.pos - this.#base;
    const negative = this.#buffer[at] !== 0;
    let value = 0;
    for (let i = intSize - 1; i >= 0; i--) value = value * 256 + this.#buffer[at + 1 + i]!;
    this.pos += 1 + intSize;
    return negative ? -value : value;
  }

  async #ensure(n: number): Promise<void> {
    if (this.has(n)) return;
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
    return this.intNow(intSize);
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

/** What data sizes and build costs tell apart among the kinds of TOC items (`TABLE`, `INDEX`, `COMMENT`…). */
const OTHER = 0;
const TABLE = 1;
const TABLE_DATA = 2;
/** The items that read a whole table when they are restored: an index, a constraint, a foreign key. */
const BUILD = 3;
const KINDS = new Map<string, number>([
  ['TABLE', TABLE],
  ['TABLE DATA', TABLE_DATA],
  ['INDEX', BUILD],
  ['CONSTRAINT', BUILD],
  ['FK CONSTRAINT', BUILD],
  ['INDEX ATTACH', BUILD],
]);
/** Longer descriptions, and longer dependencies (decimal dump ids), are none the reader needs: skipped unread. */
const SHORT = 32;

/**
 * The table of contents' entries, as much of each as the callers use, in typed arrays: as an object per entry (with
 * its description and dependencies) a TOC of 120,000 items held 30 MB, and a restore's RSS grew with the schema.
 */
export class TocEntries {
  length = 0;
  dumpIds = new Int32Array(1024);
  kinds = new Uint8Array(1024);
  /** The offset flag (1 not set, 2 set, 3 no data) and its file position. */
  flags = new Uint8Array(1024);
  flagAts = new Float64Array(1024);
  /** The data block's position, where the flag says it is set. */
  offsets = new Float64Array(1024);
  /** Entry i's dependencies, kept for table data and builds only: `depIds[depStarts[i]]` to `depIds[depStarts[i + 1]]`. */
  depStarts = new Int32Array(1025);
  depIds = new Int32Array(1024);

  begin(dumpId: number): void {
    const i = this.length;
    if (i === this.dumpIds.length) {
      const n = i * 2;
      this.dumpIds = grown(this.dumpIds, new Int32Array(n));
      this.kinds = grown(this.kinds, new Uint8Array(n));
      this.flags = grown(this.flags, new Uint8Array(n));
      this.flagAts = grown(this.flagAts, new Float64Array(n));
      this.offsets = grown(this.offsets, new Float64Array(n));
      this.depStarts = grown(this.depStarts, new Int32Array(n + 1));
    }
    this.dumpIds[i] = dumpId;
    this.kinds[i] = OTHER;
    this.depStarts[i + 1] = this.depStarts[i]!;
  }

  addDep(dumpId: number): void {
    const end = this.depStarts[this.length + 1]!;
    if (end === this.depIds.length) this.depIds = grown(this.depIds, new Int32Array(end * 2));
    this.depIds[end] = dumpId;
    this.depStarts[this.length + 1] = end + 1;
  }

  end(flag: number, flagAt: number, offset: number): void {
    const i = this.length++;
    this.flags[i] = flag;
    this.flagAts[i] = flagAt;
    this.offsets[i] = offset;
  }

  /** The distinct dependencies of entry `i`. */
  deps(i: number): Set<number> {
    return new Set(this.depIds.subarray(this.depStarts[i], this.depStarts[i + 1]));
  }
}

function grown<T extends Int32Array | Uint8Array | Float64Array>(from: T, to: T): T {
  to.set(from as ArrayLike<number>);
  return to;
}

/** The header and table of contents of a custom-format archive. */
export interface Layout {
  intSize: number;
  offSize: number;
  /** Whether pg_dump compressed the data blocks itself (then their sizes are not the COPY data's). */
  compressed: boolean;
  entries: TocEntries;
}

/** Fields of a TOC entry, in the order WriteToc writes them. */
const DUMP_ID = 0;
const INT = 1;
const STR = 2;
const DESC = 3;
const DEPS = 4;
const OFFSET = 5;

/**
 * Reads the TOC's entries one field at a time from what the reader holds, and asks for more only for the field it is
 * on: a string it does not need (a view's definition, a function's body of many MB) is skipped by its length, never
 * held, and a field cut by the buffer's end is resumed, not its entry. A field took an await each before, 20 per
 * entry: the restore of a large schema spent seconds and tens of MB on them.
 */
class TocReader {
  readonly #fields: number[];
  readonly #intSize: number;
  readonly #offSize: number;
  readonly #count: number;
  readonly entries = new TocEntries();
  /** The field being read, and the length of a string whose bytes are awaited (-1: its length is not read yet). */
  #field = 0;
  #pending = -1;

  constructor(vmin: number, intSize: number, offSize: number, count: number) {
    this.#intSize = intSize;
    this.#offSize = offSize;
    this.#count = count;
    // had dumper, table oid, oid, tag, desc, section, defn, dropStmt, copyStmt, namespace, tablespace, [table access
    // method from 1.14], [relkind from 1.16], owner, with oids, the NULL-terminated dependencies, the offset.
    this.#fields = [DUMP_ID, INT, STR, STR, STR, DESC, INT, STR, STR, STR, STR, STR];
    if (vmin >= 14) this.#fields.push(STR);
    if (vmin >= 16) this.#fields.push(INT);
    this.#fields.push(STR, STR, DEPS, OFFSET);
  }

  /** Reads what it can from `r`: returns how many bytes the next field needs in the buffer, or 0 once done. */
  read(r: Reader): number {
    const intSize = this.#intSize;
    const entries = this.entries;
    while (entries.length < this.#count) {
      const field = this.#fields[this.#field]!;
      if (field === OFFSET) {
        const need = 1 + this.#offSize;
        if (!r.has(need)) return need;
        const flagAt = r.pos;
        const flag = r.peek(0);
        let offset = 0;
        for (let b = this.#offSize; b >= 1; b--) offset = offset * 256 + r.peek(b);
        r.skip(need);
        entries.end(flag, flagAt, offset);
        this.#field = 0;
        continue;
      }
      if (this.#pending < 0) {
        if (!r.has(1 + intSize)) return 1 + intSize;
        const value = r.intNow(intSize);
        if (field === DUMP_ID) {
          if (value <= 0) throw new Unsupported('bad TOC entry');
          entries.begin(value);
        }
        if (field === DUMP_ID || field === INT) {
          this.#field++;
          continue;
        }
        // A string's length: NULL is -1 (and ends the dependencies).
        if (value < 0 || field === STR || value > SHORT || (field === DEPS && !needsDeps(entries))) {
          if (value > 0) r.skip(value);
          if (field !== DEPS || value < 0) this.#field++;
          continue;
        }
        this.#pending = value;
      }
      const length = this.#pending;
      if (!r.has(length)) return length;
      if (field === DESC) entries.kinds[entries.length] = kindOf(r, length);
      else entries.addDep(decimal(r, length));
      r.skip(length);
      this.#pending = -1;
      if (field === DESC) this.#field++;
    }
    return 0;
  }
}

function needsDeps(entries: TocEntries): boolean {
  const kind = entries.kinds[entries.length];
  return kind === TABLE_DATA || kind === BUILD;
}

/** The kind of the description of `length` bytes at `r`'s position (short: see {@link SHORT}). */
function kindOf(r: Reader, length: number): number {
  let desc = '';
  for (let i = 0; i < length; i++) desc += String.fromCharCode(r.peek(i));
  return KINDS.get(desc) ?? OTHER;
}

/** The decimal dump id of `length` bytes at `r`'s position; 0 (no item's) when it is not one. */
function decimal(r: Reader, length: number): number {
  let value = 0;
  for (let i = 0; i < length; i++) {
    const digit = r.peek(i) - 48;
    if (digit < 0 || digit > 9) return 0;
    value = value * 10 + digit;
  }
  return value > 0x7fffffff ? 0 : value;
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
  const toc = new TocReader(vmin, intSize, offSize, count);
  for (let need = toc.read(r); need > 0; need = toc.read(r)) await r.fill(need);
  return { intSize, offSize, compressed: compression !== 0, entries: toc.entries };
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
    const entries = layout.entries;
    for (let i = 0; i < entries.length; i++) {
      const at = blocks.get(entries.dumpIds[i]!);
      if (at === undefined || entries.flags[i] !== K_OFFSET_POS_NOT_SET) continue;
      const field = Buffer.alloc(1 + layout.offSize);
      field[0] = K_OFFSET_POS_SET;
      let rest = at;
      for (let i = 0; i < layout.offSize; i++) {
        field[1 + i] = rest % 256;
        rest = Math.floor(rest / 256);
      }
      await handle.write(field, 0, field.length, entries.flagAts[i]);
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
  const { dumpIds, flags, offsets, length } = layout.entries;
  for (let i = 0; i < length; i++) {
    if (flags[i] === K_OFFSET_NO_DATA) continue;
    if (flags[i] !== K_OFFSET_POS_SET) return undefined;
    const offset = offsets[i]!;
    if (offset >= fileSize) throw new TruncatedArchive(offset, fileSize);
    starts.set(dumpIds[i]!, offset);
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

/** {@link DataSizes} of `layout`, with the cost of the builds that read each table with data. */
function withBuilds(layout: Layout, sizes: Map<number, number>): DataSizes {
  const entries = layout.entries;
  const { dumpIds, kinds, length } = entries;
  const tables = new Set<number>();
  for (let i = 0; i < length; i++) if (kinds[i] === TABLE) tables.add(dumpIds[i]!);
  // A table's data item depends on its table (among other things): the table's id names its data size.
  const tableBytes = new Map<number, number>();
  for (let i = 0; i < length; i++) {
    const bytes = sizes.get(dumpIds[i]!);
    if (bytes === undefined || kinds[i] !== TABLE_DATA) continue;
    for (const dep of entries.deps(i)) if (tables.has(dep)) tableBytes.set(dep, (tableBytes.get(dep) ?? 0) + bytes);
  }
  const builds = new Map<number, number>();
  for (let i = 0; i < length; i++) {
    if (kinds[i] !== BUILD) continue;
    // An index reads its table; a foreign key its table and the referenced one's index (counted as that table).
    // Every build is listed, 0 on a table without data: a single-job restore is followed through them in TOC order.
    let bytes = 0;
    for (const dep of entries.deps(i)) bytes += tableBytes.get(dep) ?? 0;
    builds.set(dumpIds[i]!, Math.round(bytes * BUILD_COST));
  }
  return { sizes, compressed: layout.compressed, ...(builds.size > 0 ? { builds } : {}) };
}
