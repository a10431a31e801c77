#!/usr/bin/env node
// Committed so that npm links the bin at install time, before `dist/` is built.
import { readFileSync } from 'node:fs';

// A bare `pgclone --help` prints the text yargs rendered at build time (scripts/render-help.mjs, HELP_WIDTH columns):
// loading yargs alone takes longer than Node's own start-up. Anything else, or a narrower terminal, goes to the CLI.
const args = process.argv.slice(2);
let help;
if (args.length === 1 && (args[0] === '--help' || args[0] === '-h') && (process.stdout.columns ?? Infinity) >= 100) {
  try {
    help = readFileSync(new URL('../dist/help.txt', import.meta.url));
  } catch {
    // Not built yet, or built before the help was rendered: the CLI renders it.
  }
}
if (help) process.stdout.write(help);
else (await import('../dist/run-bundle.js')).runBundle('cli'); // one file: see scripts/bundle-cli.mjs
