import { knexMain } from './cli/knex.js';
import { ignoreClosedOutput } from './cli/closed-output.js';

ignoreClosedOutput(process.stdout, process.stderr);

// No top-level await: the bundle is CommonJS (scripts/bundle-cli.mjs).
void knexMain(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
