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
