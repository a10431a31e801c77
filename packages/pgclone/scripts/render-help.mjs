// Renders `pgclone --help` with the built CLI (yargs) into dist/help.txt, which bin/pgclone.js prints for a bare
// `--help`: loading yargs costs more than Node's own start-up, and the text only changes when the CLI is rebuilt.
// Rendered through a pipe, so at the width the CLI uses off a terminal (and on any terminal at least as wide).
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

const target = new URL('../dist/help.txt', import.meta.url);
rmSync(target, { force: true }); // never leave the help of an earlier build behind
const main = new URL('../dist/cli/main.js', import.meta.url).href; // the same yargs setup the bundle carries
const run = spawnSync(process.execPath, ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(main)}); process.exitCode = await main(['--help']);`], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
if (run.status !== 0 || !run.stdout.includes('Commands:')) throw new Error(`pgclone --help failed while rendering dist/help.txt (exit ${run.status})`);
writeFileSync(target, run.stdout);
