import path from 'node:path';
import { isMainThread } from 'node:worker_threads';

let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs `fn` with `process.cwd()` set to `dir`, as the Knex CLI runs a knexfile: it changes to `--cwd`, and to the
 * folder of a `--knexfile`, before loading it. A knexfile's `dotenv.config()` or `readFileSync('./ca.pem')` reads
 * from there. Calls that change directory run one at a time, so two operations of one program cannot see each
 * other's directory; nothing changes when `process.cwd()` is already `dir`, or in a worker thread (which cannot
 * change it).
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
