/**
 * Where the frames of a zstd stream end, and the content checksum each one carries: the pure-JS decoder (fzstd) skips
 * the checksum, and a damaged dump then decodes into a different archive that pg_restore may load without an error.
 *
 * Layout (RFC 8878, 3.1): a frame is a 4-byte magic number, a header descriptor byte whose flags give the length of
 * the rest of the header, blocks (a 3-byte header: last-block bit, type, size; an RLE block's body is one byte), and,
 * when the descriptor's checksum flag is set, 4 bytes: the low 32 bits of the XXH64 (seed 0) of the frame's content,
 * little-endian. A skippable frame is a magic number of 0x184D2A5?, a 4-byte length, and that many bytes.
 */

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC = 0x184d2a5; // the top 28 bits
const DICTIONARY_ID_BYTES = [0, 1, 2, 4];

/** A piece of the stream that lies in one frame (skippable frames included); `end` when the frame ends with it. */
export interface FramePiece {
  bytes: Uint8Array;
  /** The frame ends with this piece: its content checksum, when it has one. */
  end?: { checksum: number | undefined };
}

type State = 'magic' | 'descriptor' | 'block' | 'checksum' | 'skippable-length' | 'skip';

/** Splits a zstd stream, chunk by chunk, into pieces that each lie within one frame. */
export class ZstdFrames {
  #state: State = 'magic';
  /** Bytes of the field being read (`#need` of them). */
  #field: number[] = [];
  #need = 4;
  /** Bytes left to pass over in state `skip`, and the state after them. */
  #skip = 0;
  #after: State = 'magic';
  #hasChecksum = false;
  #lastBlock = false;

  /** Whether the stream stopped inside a frame (it is truncated). */
  get inFrame(): boolean {
    return this.#state !== 'magic' || this.#field.length > 0;
  }

  /** The pieces of `chunk`, in order; throws on bytes that are not a zstd frame. */
  split(chunk: Uint8Array): FramePiece[] {
    const pieces: FramePiece[] = [];
    let start = 0;
    let at = 0;
    while (at < chunk.length) {
      if (this.#state === 'skip') {
        const n = Math.min(this.#skip, chunk.length - at);
        at += n;
        this.#skip -= n;
        if (this.#skip > 0) break;
        this.#state = this.#after;
        if (this.#state === 'magic') {
          pieces.push({ bytes: chunk.subarray(start, at), end: { checksum: undefined } });
          start = at;
        }
        continue;
      }
      this.#field.push(chunk[at++]!);
      if (this.#field.length < this.#need) continue;
      const field = this.#field;
      this.#field = [];
      const checksum = this.#read(field);
      if (checksum !== undefined) {
        pieces.push({ bytes: chunk.subarray(start, at), end: { checksum: checksum.value } });
        start = at;
      }
    }
    if (start < chunk.length) pieces.push({ bytes: chunk.subarray(start) });
    return pieces;
  }

  /** Reads a complete field; returns the frame's checksum (undefined without one) when the field ends its frame. */
  #read(field: number[]): { value: number | undefined } | undefined {
    const le = (from: number, length: number) => field.slice(from, from + length).reduce((sum, b, i) => sum + b * 2 ** (8 * i), 0);
    switch (this.#state) {
      case 'magic': {
        const magic = le(0, 4);
        if (magic >>> 4 === SKIPPABLE_MAGIC) return this.#expect('skippable-length', 4);
        if (magic !== ZSTD_MAGIC) throw new Error('not a zstd frame (bad magic number)');
        return this.#expect('descriptor', 1);
      }
      case 'descriptor': {
        const flags = field[0]!;
        const singleSegment = (flags >> 5) & 1;
        const sizeFlag = flags >> 6;
        this.#hasChecksum = ((flags >> 2) & 1) === 1;
        const contentSizeBytes = sizeFlag === 0 ? singleSegment : 1 << sizeFlag;
        const rest = (singleSegment ? 0 : 1) + DICTIONARY_ID_BYTES[flags & 3]! + contentSizeBytes;
        return this.#pass(rest, 'block');
      }
      case 'block': {
        const header = le(0, 3);
        this.#lastBlock = (header & 1) === 1;
        const type = (header >> 1) & 3;
        if (type === 3) throw new Error('reserved zstd block type');
        const body = type === 1 ? 1 : header >>> 3;
        const next: State = !this.#lastBlock ? 'block' : this.#hasChecksum ? 'checksum' : 'magic';
        if (body === 0 && next === 'magic') return this.#endFrame(undefined);
        this.#pass(body, next);
        return undefined;
      }
      case 'checksum':
        return this.#endFrame(le(0, 4));
      case 'skippable-length':
        this.#pass(le(0, 4), 'magic');
        return undefined;
      default:
        throw new Error(`zstd frame reader in state ${this.#state}`);
    }
  }

  #expect(state: State, bytes: number): undefined {
    this.#state = state;
    this.#need = bytes;
    return undefined;
  }

  /** Passes over `bytes` bytes, then reads the field of `state`. */
  #pass(bytes: number, state: State): undefined {
    const need = state === 'block' ? 3 : 4;
    if (bytes === 0) return this.#expect(state, need);
    this.#state = 'skip';
    this.#skip = bytes;
    this.#after = state;
    this.#need = need;
    return undefined;
  }

  #endFrame(checksum: number | undefined): { value: number | undefined } {
    this.#expect('magic', 4);
    return { value: checksum };
  }
}
