import { readFile } from 'node:fs/promises';

/**
 * Bytes a process has read so far (`rchar` in Linux's `/proc/<pid>/io`), or `undefined` where there is no such file.
 * Used for the progress of a compressor that reads pg_dump's output straight from a pipe, past Node.
 */
export async function bytesReadBy(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    const m = /^rchar:\s+(\d+)$/m.exec(await readFile(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sets `meter` to the bytes process `pid` has read, every 250 ms: the bar of a program that reads pg_dump's output or
 * a stored file past Node. Returns the function that stops it.
 */
export function followBytesRead(pid: number | undefined, meter: { set(bytes: number): void }): () => void {
  let stopped = false;
  const timer = setInterval(() => void bytesReadBy(pid).then((n) => n !== undefined && !stopped && meter.set(n)), 250);
  return () => {
    stopped = true; // a reading still under way is dropped
    clearInterval(timer);
  };
}

/**
 * True for the errors a write into a child's stdin fails with once the child stopped reading: EPIPE, ECONNRESET
 * (Node's stdio pipes are sockets) or a premature close. The child's own exit status then says why.
 */
export function isReaderGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}
