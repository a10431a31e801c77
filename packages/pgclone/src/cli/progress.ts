import { createRequire } from 'node:module';
import type { ProgressEvent } from '@pgclone/core';
import { formatBytes } from '@pgclone/core/format';
import type { MultiBar, SingleBar } from 'cli-progress';

/**
 * Renders `progress` events: bars with bytes, rate and ETA on a terminal (cli-progress, loaded on the first event so
 * that `pgclone --help` never pays for it), one plain line per phase every few seconds otherwise.
 */
export interface ProgressRenderer {
  update(event: ProgressEvent): void;
  /** Prints a line of other output without breaking the bars. */
  log(line: string): void;
  /** Freezes the bars (they stay on screen); the next event starts new ones. */
  stop(): void;
}

/** How often a non-terminal prints a progress line per phase. */
export const LINE_INTERVAL_MS = 5000;
/** The window over which the rate (and so the ETA) is measured. */
const RATE_WINDOW_MS = 5000;

const PHASE_LABEL: Record<ProgressEvent['phase'], string> = {
  dump: 'dump',
  upload: 'upload',
  download: 'download',
  restore: 'restore',
};

/** Creates the renderer for `stream`: bars when `tty`, periodic lines otherwise. */
export function createProgressRenderer(options: {
  stream: NodeJS.WritableStream;
  tty: boolean;
  scriptName: string;
  /** Clock, for tests. */
  now?: () => number;
  intervalMs?: number;
}): ProgressRenderer {
  return options.tty ? new BarRenderer(options.stream) : new LineRenderer(options);
}

/** Rate per second over the last few seconds of samples. */
class RateMeter {
  readonly #samples: Array<[number, number]> = [];

  add(time: number, done: number): void {
    this.#samples.push([time, done]);
    while (this.#samples.length > 2 && time - this.#samples[0]![0] > RATE_WINDOW_MS) this.#samples.shift();
    // The window starts where the count began to move: a restore's bytes stand still through its schema items, and
    // that stretch in the window made the first ETA of its data many times too long (8 min for 20 s). A stall later
    // on still slows the rate down, since it comes after movement in the window.
    while (this.#samples.length > 2 && this.#samples[1]![1] === this.#samples[0]![1]) this.#samples.shift();
  }

  get rate(): number | undefined {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last[0] - first[0] < 200) return undefined;
    return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
  }
}

interface PhaseState {
  started: number;
  rate: RateMeter;
  lastLine: number;
  printed: boolean;
  final?: boolean;
  bar?: SingleBar;
}

/**
 * The numbers of one event as words: `120 MB of ~180 MB (66%), 40 MB/s, ETA 3 s`; `30 of 58 items (51%)`; a restore
 * counted in bytes of table data also says its items: `52 MB of 130 MB, 30 of 58 items`.
 */
export function describeProgress(event: ProgressEvent, rate: number | undefined): { amount: string; percent?: number; rate?: string; eta?: string } {
  const fmt = event.unit === 'bytes' ? formatBytes : (n: number) => `${Math.round(n)}`;
  const unit = event.unit === 'items' ? ' items' : '';
  const total = event.total !== undefined && event.total > 0 ? event.total : undefined;
  const items = event.unit === 'bytes' && event.items ? `, ${event.items.done} of ${event.items.total} items` : '';
  const amount = (total !== undefined ? `${fmt(event.done)} of ${event.estimated ? '~' : ''}${fmt(total)}${unit}` : `${fmt(event.done)}${unit}`) + items;
  const percent = total !== undefined ? Math.min(100, Math.floor((event.done / total) * 100)) : undefined;
  // Items differ wildly in cost (one is a whole table, the next a comment): no rate or ETA from their count.
  const byteRate = event.unit === 'bytes' && rate !== undefined && rate > 0 ? rate : undefined;
  const rateText = byteRate !== undefined ? `${formatBytes(byteRate)}/s` : undefined;
  const eta = total !== undefined && byteRate !== undefined && event.done < total ? formatDuration((total - event.done) / byteRate) : undefined;
  return { amount, ...(percent !== undefined ? { percent } : {}), ...(rateText ? { rate: rateText } : {}), ...(eta ? { eta } : {}) };
}

class LineRenderer implements ProgressRenderer {
  readonly #stream: NodeJS.WritableStream;
  readonly #scriptName: string;
  readonly #now: () => number;
  readonly #interval: number;
  readonly #phases = new Map<string, PhaseState>();

  constructor(options: { stream: NodeJS.WritableStream; scriptName: string; now?: () => number; intervalMs?: number }) {
    this.#stream = options.stream;
    this.#scriptName = options.scriptName;
    this.#now = options.now ?? Date.now;
    this.#interval = options.intervalMs ?? LINE_INTERVAL_MS;
  }

  update(event: ProgressEvent): void {
    const now = this.#now();
    let state = this.#phases.get(event.phase);
    if (!state) {
      state = { started: now, rate: new RateMeter(), lastLine: now, printed: false };
      this.#phases.set(event.phase, state);
    }
    state.rate.add(now, event.done);
    if (event.final) {
      // A closing line only for phases long enough to have shown progress.
      if (state.printed) {
        const seconds = (now - state.started) / 1000;
        const { total: _total, items: _items, ...amount } = event;
        const d = describeProgress(amount, seconds > 0 ? event.done / seconds : undefined);
        this.#write(`${PHASE_LABEL[event.phase]} done: ${d.amount} in ${formatDuration(seconds)}${d.rate ? ` (${d.rate})` : ''}`);
      }
      this.#phases.delete(event.phase);
      return;
    }
    if (now - state.lastLine < this.#interval) return;
    state.lastLine = now;
    state.printed = true;
    const d = describeProgress(event, state.rate.rate);
    const parts = [`${d.amount}${d.percent !== undefined ? ` (${d.percent}%)` : ''}`, d.rate, d.eta ? `ETA ${d.eta}` : undefined];
    this.#write(`${PHASE_LABEL[event.phase]} ${parts.filter(Boolean).join(', ')}`);
  }

  log(line: string): void {
    this.#stream.write(`${line}\n`);
  }

  stop(): void {
    this.#phases.clear();
  }

  #write(text: string): void {
    this.#stream.write(`${this.#scriptName}: ${text}\n`);
  }
}

class BarRenderer implements ProgressRenderer {
  readonly #stream: NodeJS.WritableStream;
  #multi: MultiBar | undefined;
  readonly #phases = new Map<string, PhaseState>();

  constructor(stream: NodeJS.WritableStream) {
    this.#stream = stream;
  }

  update(event: ProgressEvent): void {
    const now = Date.now();
    let state = this.#phases.get(event.phase);
    if (!state) {
      state = { started: now, rate: new RateMeter(), lastLine: now, printed: false };
      this.#phases.set(event.phase, state);
    }
    state.rate.add(now, event.done);
    const d = describeProgress(event, event.final ? undefined : state.rate.rate);
    // Payload names must not collide with cli-progress's own tokens (eta, percentage, value, total, …).
    const payload = {
      phaseLabel: PHASE_LABEL[event.phase].padEnd(8),
      amountText: d.amount,
      percentText: d.percent !== undefined ? `${String(d.percent).padStart(3)}%` : '    ',
      rateText: d.rate ?? '',
      etaText: event.final ? `done in ${formatDuration((now - state.started) / 1000)}` : d.eta ? `ETA ${d.eta}` : '',
    };
    const total = event.total !== undefined && event.total > 0 ? Math.max(event.total, event.done) : Math.max(event.done, 1);
    const value = event.total !== undefined && event.total > 0 ? event.done : 0;
    if (!state.bar) {
      this.#multi ??= this.#createMulti();
      state.bar = this.#multi.create(total, value, payload);
    } else {
      state.bar.setTotal(total);
      state.bar.update(value, payload);
    }
    if (event.final) {
      state.bar.update(event.total !== undefined && event.total > 0 ? total : 0, payload);
      state.final = true;
      // Once every bar is complete, stop redrawing: later lines print below the bars.
      if ([...this.#phases.values()].every((p) => p.final)) this.stop();
    }
  }

  log(line: string): void {
    if (this.#multi) this.#multi.log(`${line}\n`);
    else this.#stream.write(`${line}\n`);
  }

  stop(): void {
    this.#multi?.stop();
    this.#multi = undefined;
    this.#phases.clear();
  }

  #createMulti(): MultiBar {
    // cli-progress is CommonJS; loading it here keeps it off the startup path.
    const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
    return new cliProgress.MultiBar({
      stream: this.#stream,
      format: '{phaseLabel} [{bar}] {percentText} {amountText}  {rateText}  {etaText}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 8,
      autopadding: false,
      barCompleteChar: '#',
      barIncompleteChar: '-',
    });
  }
}


/** `45 s`, `3 min 05 s`, `1 h 02 min`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return seconds < 10 && seconds > 0 && s < 10 ? `${seconds.toFixed(1)} s` : `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
