import path from 'node:path';
import { ignoreClosedOutput } from './closed-output.js';

/**
 * What each of the three bins (`pgclone`, `knex-pgclone`, `prisma-pgclone`) does around its main function, so that
 * they behave alike: output to a closed pipe is dropped, and the process exits with the code `run` resolves to.
 */
export function startCli(run: () => Promise<number>): void {
  ignoreClosedOutput(process.stdout, process.stderr);
  let settled = false;
  // A command whose work stopped without an end (a promise nothing will ever settle, as a connection to an impossible
  // port was once) lets Node run out of work, and it would exit 0 having said nothing: a dump without a key that
  // looks like success.
  process.once('beforeExit', () => {
    if (settled) return;
    const bin = path.basename(process.argv[1] ?? 'pgclone').replace(/\.[cm]?js$/, '');
    process.stderr.write(`${bin}: error: the command stopped before it finished, with nothing left to wait for (a bug in pgclone: please report it)\n`);
    process.exitCode = 1;
  });
  // No top-level await in the callers: the bundle is CommonJS (scripts/bundle-cli.mjs).
  void run().then((code) => {
    settled = true;
    process.exitCode = code;
  });
}
