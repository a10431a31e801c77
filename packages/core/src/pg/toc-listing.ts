/**
 * The lines of a table of contents (`pg_restore -l`), read in order or by position: a `string[]`, or a
 * {@link TocListing}.
 */
export interface TocLines {
  readonly length: number;
  at(index: number): string | undefined;
  [Symbol.iterator](): Iterator<string>;
}

/**
 * A `pg_restore -l` listing kept as the bytes pg_restore printed plus where each kept line starts and ends. An archive
 * of 140,000 items lists 7 MB: held as that many strings sliced from one joined string, it took twice that on the heap
 * for the whole restore, and reading it (a string grown chunk by chunk, flattened, split, filtered twice) made the
 * restore's peak RSS. A line becomes a string only while a reader looks at it.
 */
export class TocListing implements TocLines {
  readonly #text: Buffer;
  readonly #starts: Uint32Array;
  readonly #ends: Uint32Array;

  private constructor(text: Buffer, starts: Uint32Array, ends: Uint32Array) {
    this.#text = text;
    this.#starts = starts;
    this.#ends = ends;
  }

  /** The non-empty lines of `text` that `keep` accepts (given the line's bytes, without its newline). */
  static of(text: Buffer, keep: (line: Buffer) => boolean): TocListing {
    let starts = new Uint32Array(1024);
    let ends = new Uint32Array(1024);
    let count = 0;
    for (let start = 0; start < text.length; ) {
      const newline = text.indexOf(0x0a, start);
      const end = newline === -1 ? text.length : newline;
      if (end > start && keep(text.subarray(start, end))) {
        if (count === starts.length) {
          starts = grow(starts);
          ends = grow(ends);
        }
        starts[count] = start;
        ends[count] = end;
        count += 1;
      }
      start = end + 1;
    }
    return new TocListing(text, starts.slice(0, count), ends.slice(0, count));
  }

  get length(): number {
    return this.#starts.length;
  }

  at(index: number): string | undefined {
    const i = index < 0 ? index + this.length : index;
    if (!Number.isInteger(i) || i < 0 || i >= this.length) return undefined;
    return this.#text.toString('utf8', this.#starts[i], this.#ends[i]);
  }

  *[Symbol.iterator](): Generator<string> {
    for (let i = 0; i < this.length; i++) yield this.#text.toString('utf8', this.#starts[i], this.#ends[i]);
  }
}

function grow(array: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  const bigger = new Uint32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}
