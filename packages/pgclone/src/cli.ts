import { main } from './cli/main.js';
import { startCli } from './cli/start.js';

startCli(() => main(process.argv.slice(2)));
