import type { Reporter } from '../events.js';
import { ProgressMeter } from '../progress.js';
import type { DataSizes } from './archive-offsets.js';
import type { IndexBuildReading } from './index-progress.js';
import type { TocLines } from './toc-listing.js';

/**
 * Restore progress from `pg_restore --verbose`: one `creating …`, `processing data for table …` or `executing …`
 * line per table-of-contents item restored, in single-job and parallel mode alike (measured on the bench dataset:
 * 58 such lines for 58 listed items with -j1 and -j2). The item total is the count of `pg_restore -l`.
 *
 * When the archive's data sizes are known (a file whose TOC has the data positions: one pg_dump wrote, or a spool
 * pgclone indexed), progress is counted in bytes of table data, which is what takes the time: an item's bytes when
 * it finishes — `finished item N` with `-j`; without `-j`, data items run one after the other in TOC order, each
 * `processing data …` line ending the one before — plus the bytes the server's COPYs of unfinished items have read so
 * far, when pgclone can ask for them ({@link RestoreProgress.setCopyBytes}). Each index and constraint on a table with
 * data counts too, as an estimate of its cost in bytes of that table (`BUILD_COST`): building them takes longer than
 * loading the data (the total is then marked an estimate). A build counts in full when it finishes, and before that
 * for the part the server reports done ({@link RestoreProgress.setBuildProgress}).
 */

const ITEM_LINE = /^pg_restore: (creating |processing data for table |executing |restoring large objects|processing BLOBS)/;
/**
 * Messages that pg_restore prints because of `--verbose` only. Errors, warnings and the `from TOC entry …` line that
 * says where an error happened are not among them.
 */
const VERBOSE_LINE = /^pg_restore: (?!(error|warning|detail|hint|fatal): |from TOC entry )/;
/** A data item starting, in both modes (with `-j`, after its `launching item` line). */
const DATA_LINE = /^pg_restore: processing (data for table |BLOBS|LARGE OBJECTS)/;
/** An index or constraint starting without `-j` (with `-j`, after its `launching item` line). */
const BUILD_LINE = /^pg_restore: creating (INDEX|CONSTRAINT|FK CONSTRAINT|INDEX ATTACH) /;
const LAUNCHED = /^pg_restore: launching item (\d+) /;
const FINISHED = /^pg_restore: finished item (\d+) /;
/** The dump id that starts a `pg_restore -l` line. */
const TOC_ID = /^(\d+);/;

/** True for a line that marks one restored item. */
export function isItemLine(line: string): boolean {
  return ITEM_LINE.test(line);
}

/** True for a line that only `--verbose` prints: counted for progress, never shown as output. */
export function isVerboseLine(line: string): boolean {
  return VERBOSE_LINE.test(line);
}

/** Counts a running pg_restore's progress from its `--verbose` lines and emits `restore` progress events. */
export class RestoreProgress {
  readonly #reporter: Reporter;
  readonly #toc: TocLines;
  readonly #parallel: boolean;
  /** Set once the sizes are known (or known to be unknown); until then lines wait in `#early`. */
  #meter: ProgressMeter | undefined;
  #early: string[] = [];
  #sizes: Map<number, number> | undefined;
  /** The estimated cost of each index and constraint build, counted when it finishes (see `BUILD_COST`). */
  #builds = new Map<number, number>();
  #compressed = true;
  /** Data items in TOC order: the order a single-job pg_restore loads them in. */
  #dataOrder: number[] = [];
  #nextData = 0;
  /** Builds in TOC order: the order a single-job pg_restore runs them in. */
  #buildOrder: number[] = [];
  #nextBuild = 0;
  /** How far each running index build has got (0 to 1), from the server. */
  readonly #building = new Map<number, number>();
  /** The index's or constraint's name of each build, as its statement spells it. */
  readonly #names = new Map<number, string>();
  readonly #running = new Set<number>();
  /** Item lines seen: each marks an item's start. */
  #items = 0;
  /** Items launched with `-j` and not finished yet, whatever their kind. */
  readonly #launched = new Set<number>();
  #itemsShown = 0;
  #finishedBytes = 0;
  /** The bytes of table data plus the builds' cost, once the sizes are known. */
  #total: number | undefined;
  #copyBytes = 0;
  #shown = 0;
  /** Resolves once progress is counted, in bytes or in items. */
  readonly ready: Promise<void>;

  /**
   * @param toc the lines of `pg_restore -l`
   * @param data the archive's data sizes, or their promise (lines are held until it settles): progress is then
   *   counted in bytes, else in items
   * @param parallel whether pg_restore runs with `-j` (it then names the items it launches and finishes)
   */
  constructor(
    reporter: Reporter,
    toc: TocLines,
    data: DataSizes | Promise<DataSizes | undefined> | undefined,
    parallel: boolean,
  ) {
    this.#reporter = reporter;
    this.#toc = toc;
    this.#parallel = parallel;
    if (data instanceof Promise) {
      this.ready = data.then(
        (sizes) => this.#start(sizes),
        () => this.#start(undefined),
      );
    } else {
      this.#start(data);
      this.ready = Promise.resolve();
    }
  }

  /**
   * True when progress is counted in bytes of uncompressed data blocks, which the bytes the server's COPYs have read
   * measure: worth asking for while big tables load.
   */
  get wantsCopyBytes(): boolean {
    return this.#sizes !== undefined && !this.#compressed;
  }

  /** True when index builds count for progress: worth asking the server how far the running ones are. */
  get wantsBuildProgress(): boolean {
    return this.#sizes !== undefined && [...this.#builds.values()].some((cost) => cost > 0);
  }

  /** The count so far: bytes, or items when the sizes are not known. */
  get done(): number {
    return this.#meter?.done ?? 0;
  }

  /** Takes one `--verbose` line of pg_restore. */
  line(line: string): void {
    if (!this.#meter) {
      this.#early.push(line);
      return;
    }
    const launched = LAUNCHED.exec(line);
    const finished = FINISHED.exec(line);
    if (launched) this.#launched.add(Number(launched[1]));
    else if (finished) this.#launched.delete(Number(finished[1]));
    let changed = false;
    if (isItemLine(line)) {
      this.#items += 1;
      changed = true;
    }
    if (!this.#sizes) {
      if (changed || finished) this.#meter.set(this.#itemsDone());
      return;
    }
    if (launched && (this.#sizes.has(Number(launched[1])) || this.#builds.has(Number(launched[1])))) this.#running.add(Number(launched[1]));
    else if (finished) changed = this.#finish(Number(finished[1])) || changed;
    else if (!this.#parallel && isItemLine(line)) {
      // One job: whatever item comes next, the data item before it is done.
      for (const id of this.#running) this.#finish(id);
      const next = DATA_LINE.test(line)
        ? this.#dataOrder[this.#nextData++]
        : BUILD_LINE.test(line)
          ? this.#buildOrder[this.#nextBuild++]
          : undefined;
      if (next !== undefined) this.#running.add(next);
    }
    if (changed) this.#update();
  }

  /** The bytes the server's COPYs into the target have read so far (`pg_stat_progress_copy`). */
  setCopyBytes(bytes: number): void {
    this.#copyBytes = bytes;
    this.#update();
  }

  /**
   * The index builds running on the server (`pollIndexBuilds`): each running build item whose name its statement
   * holds counts for the part it has done.
   */
  setBuildProgress(readings: readonly IndexBuildReading[]): void {
    this.#building.clear();
    for (const id of this.#running) {
      const name = this.#names.get(id);
      if (!name || !this.#builds.has(id)) continue;
      const named = new RegExp(`(^|[\\s."])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([\\s"(]|$)`);
      const fraction = Math.max(0, ...readings.filter((r) => named.test(r.query)).map((r) => r.fraction));
      if (fraction > 0) this.#building.set(id, fraction);
    }
    this.#update();
  }

  /** Emits the final event (everything done, when `completed`). Sizes still being found are given up on. */
  finish(completed = true): void {
    if (!this.#meter) this.#start(undefined);
    const meter = this.#meter!;
    if (completed && meter.items) meter.items = { done: this.#toc.length, total: this.#toc.length };
    if (completed && this.#total !== undefined) meter.set(this.#total); // whatever the lines said: all of it is done
    meter.finish(completed);
  }

  #start(data: DataSizes | undefined): void {
    if (this.#meter) return;
    // One pass over the listing, a line at a time: it may hold hundreds of thousands (see TocListing).
    const builds = data?.builds ?? new Map<number, number>();
    const dataOrder: number[] = [];
    const buildOrder: number[] = [];
    let numbered = data !== undefined;
    if (data) {
      for (const line of this.#toc) {
        const id = Number(TOC_ID.exec(line)?.[1] ?? NaN);
        if (Number.isNaN(id)) {
          numbered = false;
          break;
        }
        if (data.sizes.has(id)) dataOrder.push(id);
        if (!builds.has(id)) continue;
        buildOrder.push(id);
        // `3211; 1259 16399 INDEX s2 b_v_idx postgres`: the name before the owner is the index's or the constraint's.
        this.#names.set(id, line.trim().split(/\s+/).at(-2) ?? '');
      }
    }
    const sizes = numbered ? data!.sizes : undefined;
    if (sizes) {
      this.#sizes = sizes;
      this.#compressed = data!.compressed;
      this.#dataOrder = dataOrder;
      this.#builds = builds;
      this.#buildOrder = buildOrder;
      const buildCost = this.#buildOrder.reduce((sum, id) => sum + this.#builds.get(id)!, 0);
      const total = this.#dataOrder.reduce((sum, id) => sum + sizes.get(id)!, 0) + buildCost;
      this.#total = total;
      // With builds the total is an estimate: their cost is a guess from their tables' size.
      this.#meter = new ProgressMeter(this.#reporter, 'restore', 'bytes', total, { estimated: buildCost > 0 });
      this.#meter.items = { done: 0, total: this.#toc.length };
    } else {
      this.#meter = new ProgressMeter(this.#reporter, 'restore', 'items', this.#toc.length);
    }
    const early = this.#early;
    this.#early = [];
    for (const line of early) this.line(line);
  }

  #finish(id: number): boolean {
    if (!this.#running.delete(id)) return false;
    this.#building.delete(id);
    this.#finishedBytes += this.#sizes!.get(id) ?? this.#builds.get(id) ?? 0;
    // The last reading of the COPYs may include this item's: wait for the next one.
    this.#copyBytes = 0;
    return true;
  }

  #update(): void {
    if (!this.#sizes || !this.#meter) return;
    let running = 0;
    for (const id of this.#running) running += this.#sizes.get(id) ?? 0;
    let building = 0;
    for (const [id, fraction] of this.#building) building += Math.round((this.#builds.get(id) ?? 0) * fraction);
    // A COPY reads a bit less than its data block (the archive adds a header per chunk): never more than the block.
    const done = this.#finishedBytes + Math.min(this.#copyBytes, running) + building;
    // Readings lag behind the lines: never step back.
    this.#shown = Math.max(this.#shown, done);
    this.#meter.items = { done: this.#itemsDone(), total: this.#toc.length };
    this.#meter.set(this.#shown);
  }

  /**
   * Items finished: an item line marks a start, so the items still running are not counted — with `-j` those launched
   * and not finished, without it the last one started (it ends at the next line). Counting starts made a restore show
   * "4 of 4 items" from its first percent on, while its tables' data loaded. Never steps back.
   */
  #itemsDone(): number {
    const running = this.#parallel ? this.#launched.size : Math.min(this.#items, 1);
    this.#itemsShown = Math.max(this.#itemsShown, Math.min(this.#items - running, this.#toc.length));
    return this.#itemsShown;
  }
}
