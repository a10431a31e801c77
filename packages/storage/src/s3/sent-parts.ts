import { createRequire } from 'node:module';
import type { Session } from 'node:inspector';

/**
 * Above this much JavaScript heap a forced collection costs more than the parts' memory is worth (it marks the whole
 * heap), so a host application with a large heap keeps V8's own schedule. The CLI's heap is ~15 MB.
 */
const SMALL_HEAP = 64 * 1024 * 1024;

let session: Session | null | undefined;

/** An in-process inspector session (no port is opened), or null where Node was built without the inspector. */
function inspectorSession(): Session | null {
  if (session !== undefined) return session;
  try {
    const { Session } = createRequire(import.meta.url)('node:inspector') as typeof import('node:inspector');
    session = new Session();
    session.connect();
  } catch {
    session = null;
  }
  return session;
}

/**
 * Returns a check to call at each part boundary of an upload: when the process's buffers grew by more than `budget`
 * bytes since the upload began, it asks V8 for a major collection (through the inspector protocol, the supported way
 * without a command-line flag: Node documents `v8.setFlagsFromString('--expose-gc')` after start-up as unsafe). V8
 * runs it after the current task.
 *
 * Why: lib-storage copies every part into a fresh buffer, and the pipe that feeds it reads into fresh 64 KiB ones, so
 * an upload allocates about twice its size in buffers. V8 frees a sent part only at a major collection, which it
 * starts by itself after ~64 MB of new buffers: uploading a 1.6 GB dump, up to 65 MB of sent parts waited, and the
 * pgclone process peaked at 137–152 MB. Collected this way: 10–15 collections, 116–120 MB (docs/storage.md).
 */
export function sentPartsCollector(budget: number): () => void {
  const base = process.memoryUsage().arrayBuffers;
  return () => {
    const usage = process.memoryUsage();
    if (usage.arrayBuffers - base <= budget || usage.heapUsed > SMALL_HEAP) return;
    inspectorSession()?.post('HeapProfiler.collectGarbage');
  };
}
