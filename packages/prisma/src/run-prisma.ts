import { spawn } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { abortError, AdapterError, lineSplitter, stopTreeOnAbort, type Reporter } from '@pgclone/core';
import type { PrismaCli } from './prisma-cli.js';

// Prisma prints the database it is about to work on before connecting:
//   Datasource "db": PostgreSQL database "app__temp", schema "public" at "localhost:5432"
const DATASOURCE_LINE = /^Datasource "[^"]*": .*? database "([^"]*)"/;

// When Prisma fails, its error starts at a line `Error: …`; the lines after it say which migration and why.
const ERROR_START = /^Error\b/;
// Stack frames and links add nothing to a one-line error.
const NOISE = /^(\d+:|at\s|Read more|https?:\/\/)/;
const MAX_ERROR_LINES = 6;

/**
 * Runs the project's Prisma CLI with an argument array (no shell), streaming every line to the reporter as hook
 * output. When Prisma announces its datasource and names another database than `expectDatabase`, the process is
 * killed at once and the run fails: a last guard should the URL overrides ever miss a source Prisma reads.
 */
export function runPrisma(
  cli: PrismaCli,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; reporter: Reporter; expectDatabase: string; signal?: AbortSignal },
): Promise<void> {
  const command = `prisma ${args.slice(0, 2).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli.bin, ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Stopped, Prisma ends with what it started: its schema engine, the seed command it runs through a shell.
    const closed = stopTreeOnAbort(child, options.signal);
    const errors: string[] = [];
    let wrongDatabase: string | undefined;
    const onLine = (raw: string) => {
      const line = stripVTControlCharacters(raw).replace(/\s+$/, '');
      const datasource = DATASOURCE_LINE.exec(line.trim());
      if (datasource && datasource[1] !== options.expectDatabase && wrongDatabase === undefined) {
        wrongDatabase = datasource[1]!;
        child.kill('SIGKILL');
      }
      const text = line.trim();
      if (ERROR_START.test(text) && errors.length === 0) errors.push(text);
      else if (errors.length > 0 && errors.length < MAX_ERROR_LINES && text && !NOISE.test(text)) errors.push(text);
      options.reporter.output('prisma', line);
    };
    // Shared with pgclone's own children: a character split across two chunks stays whole.
    const out = lineSplitter(onLine);
    const err = lineSplitter(onLine);
    child.stdout.on('data', out.push);
    child.stderr.on('data', err.push);
    child.on('error', (error) => {
      reject(new AdapterError(`Cannot run ${cli.bin}: ${error.message}`, { cause: error }));
    });
    child.on('close', async (code, signal) => {
      out.end();
      err.end();
      if (await closed()) reject(abortError(options.signal!));
      else if (wrongDatabase !== undefined) {
        reject(
          new AdapterError(
            `${command} was about to work on database "${wrongDatabase}" instead of "${options.expectDatabase}"; pgclone stopped it`,
          ),
        );
      } else if (code === 0) {
        resolve();
      } else {
        const summary = errors.join(' | ');
        const why = summary ? `: ${summary.length > 500 ? `${summary.slice(0, 500)}…` : summary}` : '';
        reject(new AdapterError(`${command} (Prisma ${cli.version}) failed with ${signal ? `signal ${signal}` : `exit code ${code}`}${why}`));
      }
    });
  });
}
