import { spawn } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { AdapterError, type Reporter } from '@pgclone/core';
import type { PrismaCli } from './prisma-cli.js';

// Prisma prints the database it is about to work on before connecting:
//   Datasource "db": PostgreSQL database "app__temp", schema "public" at "localhost:5432"
const DATASOURCE_LINE = /^Datasource "[^"]*": .*? database "([^"]*)"/;

/** Lines worth quoting when Prisma fails: its error and the database's. */
const ERROR_LINE = /^(Error|error:|P\d{4}\b|Database error|ERROR:)|\bfailed to apply\b|Migration name:/i;

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
  const command = `prisma ${args.filter((a) => !a.startsWith('-')).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli.bin, ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const errors: string[] = [];
    let wrongDatabase: string | undefined;
    const onLine = (raw: string) => {
      const line = stripVTControlCharacters(raw).replace(/\s+$/, '');
      const datasource = DATASOURCE_LINE.exec(line.trim());
      if (datasource && datasource[1] !== options.expectDatabase && wrongDatabase === undefined) {
        wrongDatabase = datasource[1]!;
        child.kill('SIGKILL');
      }
      if (ERROR_LINE.test(line.trim()) && errors.length < 6) errors.push(line.trim());
      options.reporter.output('hook', line);
    };
    const splitter = () => {
      let rest = '';
      return {
        push: (chunk: Buffer) => {
          rest += chunk.toString();
          let index: number;
          while ((index = rest.indexOf('\n')) >= 0) {
            onLine(rest.slice(0, index));
            rest = rest.slice(index + 1);
          }
        },
        end: () => {
          if (rest) onLine(rest);
          rest = '';
        },
      };
    };
    const out = splitter();
    const err = splitter();
    child.stdout.on('data', out.push);
    child.stderr.on('data', err.push);
    child.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).name === 'AbortError') reject(error);
      else reject(new AdapterError(`Cannot run ${cli.bin}: ${error.message}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      out.end();
      err.end();
      if (wrongDatabase !== undefined) {
        reject(
          new AdapterError(
            `${command} was about to work on database "${wrongDatabase}" instead of "${options.expectDatabase}"; pgclone stopped it`,
          ),
        );
      } else if (code === 0) {
        resolve();
      } else {
        const why = errors.length ? `: ${errors.join(' | ')}` : '';
        reject(new AdapterError(`${command} (Prisma ${cli.version}) failed with ${signal ? `signal ${signal}` : `exit code ${code}`}${why}`));
      }
    });
  });
}
