import { knexMain } from './cli/knex.js';

process.exitCode = await knexMain(process.argv.slice(2));
