import { statSync } from 'node:fs';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { UsageError } from './errors.js';
import { redact } from './redact.js';

/**
 * `dir` (a `cwd` option) resolved against `base`; a {@link UsageError} naming `dir` as given when it is not a
 * directory, before anything is read or changed. Named as given, masked: resolving merges the `//` of a URL passed by
 * mistake, and its password would no longer look like one to the masking of printed lines.
 */
export function workingDirectory(dir: string, base: string, name: string): string {
  const resolved = path.resolve(base, dir);
  let isDirectory = false;
  try {
    isDirectory = !!statSync(resolved, { throwIfNoEntry: false })?.isDirectory();
  } catch {
    // Not a path at all (a NUL byte in it).
  }
  if (!isDirectory) throw new UsageError(redact(`${name} ${JSON.stringify(dir)} is not a directory`));
  return resolved;
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs `fn` with `process.cwd()` set to `dir`: an ORM's config file (knexfile, prisma.config.ts) runs where its CLI
 * would run it, so its `dotenv.config()` or `readFileSync('./ca.pem')` reads from there even when pgclone was given
 * another `cwd`. Calls run one at a time, so two operations of one program cannot see each other's directory; the
 * directory is left alone in a worker thread (which cannot change it).
 */
export function inWorkingDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const target = path.resolve(dir);
  if (!isMainThread) return fn();
  const run = queue.then(async () => {
    const saved = process.cwd();
    if (saved === target) return fn();
    process.chdir(target);
    try {
      return await fn();
    } finally {
      process.chdir(saved);
    }
  });
  queue = run.catch(() => undefined);
  return run;
}
