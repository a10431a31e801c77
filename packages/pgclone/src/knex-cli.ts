import { knexMain } from './cli/knex.js';
import { startCli } from './cli/start.js';

startCli(() => knexMain(process.argv.slice(2)));
