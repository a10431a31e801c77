import { ignoreClosedOutput } from './closed-output.js';

/**
 * What each of the three bins (`pgclone`, `knex-pgclone`, `prisma-pgclone`) does around its main function, so that
 * they behave alike: output to a closed pipe is dropped, and the process exits with the code `run` resolves to.
 */
export function startCli(run: () => Promise<number>): void {
  ignoreClosedOutput(process.stdout, process.stderr);
  // No top-level await in the callers: the bundle is CommonJS (scripts/bundle-cli.mjs).
  void run().then((code) => {
    process.exitCode = code;
  });
}
