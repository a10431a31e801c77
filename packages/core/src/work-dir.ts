import path from 'node:path';
import { isMainThread } from 'node:worker_threads';

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
