/**
 * Everything an operation reports goes through one event stream. The CLI prints events as human lines (or NDJSON
 * with `--json`); the API prints nothing and hands them to `onEvent`. Step events are what `--json` consumers and
 * the crash tests follow.
 */
import { redact } from './redact.js';

/** The operation an event belongs to. */
export type Operation = 'dump' | 'restore' | 'copy' | 'ls' | 'doctor' | 'prune' | 'pin' | 'rm';

/** A step of an operation has started. */
export interface StepEvent {
  event: 'step';
  operation: Operation;
  /** Stable step name, e.g. `create-temp`, `restore`, `swap`. */
  step: string;
  /** Database the step works on, when there is one. */
  database?: string;
  /** Human description of the step. */
  message: string;
  /** Milliseconds since the operation started. */
  elapsedMs: number;
}

/** A message for the user (what pgclone did or noticed). */
export interface MessageEvent {
  event: 'message';
  level: 'info' | 'warn';
  message: string;
}

/** A line of output from a hook or a PostgreSQL tool. */
export interface OutputEvent {
  event: 'output';
  source: string;
  line: string;
}

/** Progress of a long step. */
export interface ProgressEvent {
  event: 'progress';
  operation: Operation;
  phase: 'dump' | 'upload' | 'download' | 'restore';
  /** Bytes (or items) done so far. */
  done: number;
  /** Total, when known. */
  total?: number;
  /** True when `total` is an estimate (a dump's size before it is made). */
  estimated?: boolean;
  /** True on the phase's last event. */
  final?: boolean;
  unit: 'bytes' | 'items';
  /**
   * A restore measured in bytes (of the archive's table data, plus each index and constraint build at an estimated
   * cost of half its tables' bytes) also counts its table-of-contents items: schema, data, indexes, constraints.
   */
  items?: { done: number; total: number };
}

/** Any event. */
export type PgcloneEvent = StepEvent | MessageEvent | OutputEvent | ProgressEvent;

/** Emits events of one operation, stamping step events with the elapsed time. */
export class Reporter {
  readonly #emit: (event: PgcloneEvent) => void;
  readonly #started = Date.now();
  readonly operation: Operation;

  constructor(operation: Operation, emit?: (event: PgcloneEvent) => void) {
    this.operation = operation;
    // A listener that throws must not stop the operation between two of its steps (after the swap, before the
    // replaced database is dropped): what it throws is its own business, and is ignored.
    this.#emit = emit
      ? (event) => {
          try {
            emit(event);
          } catch {
            // ignored, see above
          }
        }
      : () => {};
  }

  step(step: string, message: string, database?: string): void {
    this.#emit({
      event: 'step',
      operation: this.operation,
      step,
      ...(database !== undefined ? { database } : {}),
      message: redact(message),
      elapsedMs: Date.now() - this.#started,
    });
  }

  info(message: string): void {
    this.#emit({ event: 'message', level: 'info', message: redact(message) });
  }

  warn(message: string): void {
    this.#emit({ event: 'message', level: 'warn', message: redact(message) });
  }

  // Masked here, not only where the CLI prints: an API caller's onEvent often goes straight to a log, and a hook
  // that prints its DATABASE_URL would put the password there.
  output(source: string, line: string): void {
    this.#emit({ event: 'output', source, line: redact(line) });
  }

  progress(
    phase: ProgressEvent['phase'],
    done: number,
    total: number | undefined,
    unit: ProgressEvent['unit'],
    flags: { estimated?: boolean; final?: boolean; items?: { done: number; total: number } } = {},
  ): void {
    this.#emit({ event: 'progress', operation: this.operation, phase, done, ...(total !== undefined ? { total } : {}), ...flags, unit });
  }

  get elapsedMs(): number {
    return Date.now() - this.#started;
  }
}
