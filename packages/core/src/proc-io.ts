import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/**
 * Bytes a process has read so far (`rchar` in Linux's `/proc/<pid>/io`), or `undefined` where there is no such file.
 * Used for the progress of a compressor that reads pg_dump's output straight from a pipe, past Node.
 */
export async function bytesReadBy(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    return rchar(await readFile(`/proc/${pid}/io`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** {@link bytesReadBy} at once (~20 µs), for a reading that must not wait for the thread pool: the process may be gone by then. */
export function bytesReadByNow(pid: number | undefined): number | undefined {
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    return rchar(readFileSync(`/proc/${pid}/io`, 'utf8'));
  } catch {
    return undefined;
  }
}

function rchar(io: string): number | undefined {
  const m = /^rchar:\s+(\d+)$/m.exec(io);
  return m ? Number(m[1]) : undefined;
}

/**
 * Sets `meter` to the bytes process `pid` has read, every 250 ms: the bar of a program that reads pg_dump's output or
 * a stored file past Node. With `writer` (the process that feeds it through a pipe), one last reading is taken, at
 * once, as the writer's exit is seen, and the readings stop there: the pipe then holds at most 64 KiB, so the bar ends
 * at the input's size within that, where the quarter-second readings could end ~20 MB short of it (the dataset's
 * dump: 108 of 130 MB). If the reader finished before that, the bar keeps its last reading. Returns the function that
 * stops the readings.
 */
export function followBytesRead(pid: number | undefined, meter: { set(bytes: number): void }, writer?: Pick<ChildProcess, 'once'>): () => void {
  let stopped = false;
  const timer = setInterval(() => void bytesReadBy(pid).then((n) => n !== undefined && !stopped && meter.set(n)), 250);
  const stop = () => {
    stopped = true; // a reading still under way is dropped
    clearInterval(timer);
  };
  writer?.once('exit', () => {
    if (stopped) return;
    const bytes = bytesReadByNow(pid);
    stop();
    if (bytes !== undefined) meter.set(bytes);
  });
  return stop;
}

/**
 * True for the errors a write into a child's stdin fails with once the child stopped reading: EPIPE, ECONNRESET
 * (Node's stdio pipes are sockets) or a premature close. The child's own exit status then says why.
 */
export function isReaderGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}
