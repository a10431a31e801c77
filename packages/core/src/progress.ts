import { Transform, type TransformCallback } from 'node:stream';
import type { ProgressEvent, Reporter } from './events.js';

/** Progress events per phase are emitted at most this often (plus the final one). */
const INTERVAL_MS = 250;

/**
 * Counts the work of one phase (bytes dumped, downloaded, items restored) and emits throttled `progress` events
 * through the reporter: often enough for a live bar, rarely enough that `--json` stays readable.
 */
export class ProgressMeter {
  readonly #reporter: Reporter;
  readonly #phase: ProgressEvent['phase'];
  readonly #unit: ProgressEvent['unit'];
  #total: number | undefined;
  readonly #estimated: boolean;
  #done = 0;
  #last = 0;
  #finished = false;
  /** Items done and in all, sent along with a count in bytes (a restore's). */
  items: { done: number; total: number } | undefined;

  constructor(
    reporter: Reporter,
    phase: ProgressEvent['phase'],
    unit: ProgressEvent['unit'],
    total?: number,
    options: { estimated?: boolean } = {},
  ) {
    this.#reporter = reporter;
    this.#phase = phase;
    this.#unit = unit;
    this.#total = total;
    this.#estimated = options.estimated ?? false;
  }

  get done(): number {
    return this.#done;
  }

  /** Sets the total once it is known (a phase may start before its size is). */
  setTotal(total: number): void {
    if (!this.#finished) this.#total = total;
  }

  /** Adds `n` to the count. */
  add(n: number): void {
    this.set(this.#done + n);
  }

  /**
   * Sets the count (never beyond a known, exact total). After {@link finish} it does nothing: a reading that arrives
   * late (a poll of a program's read bytes still under way) must not follow the final event.
   */
  set(done: number): void {
    if (this.#finished) return;
    this.#done = this.#total !== undefined && !this.#estimated ? Math.min(done, this.#total) : done;
    const now = Date.now();
    if (now - this.#last >= INTERVAL_MS) {
      this.#last = now;
      this.#emit();
    }
  }

  /** Emits the final count (the total, when the phase completed). */
  finish(completed = true): void {
    if (this.#finished) return;
    this.#finished = true;
    if (completed && this.#total !== undefined && !this.#estimated) this.#done = this.#total;
    if (completed && this.#estimated) this.#total = this.#done;
    this.#emit(completed);
  }

  #emit(final = false): void {
    this.#reporter.progress(this.#phase, this.#done, this.#total, this.#unit, {
      ...(this.#estimated && !final ? { estimated: true } : {}),
      ...(final ? { final: true } : {}),
      ...(this.items ? { items: { ...this.items } } : {}),
    });
  }
}

/** A pass-through stage that counts the bytes flowing through it into `meter`. */
export function meterStream(meter: ProgressMeter): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      meter.add(chunk.length);
      callback(null, chunk);
    },
  });
}
