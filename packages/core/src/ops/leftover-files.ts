import os from 'node:os';
import path from 'node:path';
import type { Reporter } from '../events.js';
import { findScratchLeftovers, removeScratch } from '../scratch.js';
import { isPgcloneError } from '../errors.js';
import type { IncompleteWrite, Storage } from '../storage.js';

/**
 * Removes the incomplete writes under `prefix` whose writer is gone (partial files of a killed dump, unfinished
 * uploads), telling the user. Writes that a running pgclone may still own are left alone. The look doubles as the
 * dump's first contact with the storage: a missing bucket, rejected credentials or an unreachable service fail the
 * caller here, before pg_dump starts, with the error the upload would give. Only a look the storage does not permit
 * (a policy without s3:ListBucketMultipartUploads), or a removal that fails after it, is a warning.
 */
export async function removeStaleWrites(storage: Storage, prefix: string, reporter: Reporter): Promise<string[]> {
  if (!storage.listIncomplete || !storage.removeIncomplete) return [];
  const done: string[] = [];
  let writes: IncompleteWrite[];
  try {
    writes = await storage.listIncomplete(prefix);
  } catch (error) {
    if (!isPgcloneError(error) || error.code !== 'STORAGE_DENIED') throw error;
    reporter.warn(`Could not clean up incomplete writes in ${storage.display}: ${error.message}`);
    return done;
  }
  try {
    for (const write of writes) {
      if (!write.stale) continue;
      await storage.removeIncomplete(write);
      const message = `Removed ${write.display}${write.key ? `, an incomplete write of ${write.key}` : ''} left by an interrupted run`;
      done.push(message);
      reporter.warn(message);
    }
  } catch (error) {
    reporter.warn(`Could not clean up incomplete writes in ${storage.display}: ${(error as Error).message}`);
  }
  return done;
}

/**
 * Removes scratch directories (spool files) of pgclone processes on this host that no longer run, in the system temp
 * directory and in `spoolDir` when one is chosen.
 */
export async function removeStaleScratch(reporter: Reporter, spoolDir?: string): Promise<string[]> {
  const done: string[] = [];
  try {
    for (const base of scratchBases(spoolDir)) {
      for (const leftover of await findScratchLeftovers(base)) {
        if (!leftover.stale) continue;
        await removeScratch(leftover, base);
        const message = `Removed ${leftover.path} (${leftover.bytes} bytes of temporary files) left by an interrupted run`;
        done.push(message);
        reporter.warn(message);
      }
    }
  } catch (error) {
    reporter.warn(`Could not clean up temporary files: ${(error as Error).message}`);
  }
  return done;
}

/** Where scratch directories may be: the system temp directory, and the chosen spool directory. */
export function scratchBases(spoolDir?: string): string[] {
  const bases = [os.tmpdir()];
  if (spoolDir && path.resolve(spoolDir) !== path.resolve(os.tmpdir())) bases.push(path.resolve(spoolDir));
  return bases;
}
