import { ignoreClosedOutput } from './closed-output.js';

/**
 * What each of the three bins (`pgclone`, `knex-pgclone`, `prisma-pgclone`) does around its main function, so that
 * they behave alike: output to a closed pipe is dropped, the process exits with the code `run` resolves to, and the
 * AWS SDK (loaded only for s3:// locations) stays quiet about Node 20. It warns on every run that its releases from
 * 2027 on will need Node 22: noise in a CLI's output that users cannot act on. Setting the variable to anything else
 * opts back in.
 */
export function startCli(run: () => Promise<number>): void {
  ignoreClosedOutput(process.stdout, process.stderr);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // No top-level await in the callers: the bundle is CommonJS (scripts/bundle-cli.mjs).
  void run().then((code) => {
    process.exitCode = code;
  });
}
