import { knexMain } from './cli/knex.js';
import { ignoreClosedOutput } from './cli/closed-output.js';

ignoreClosedOutput(process.stdout, process.stderr);

process.exitCode = await knexMain(process.argv.slice(2));
