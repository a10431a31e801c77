import type { PgcloneEvent } from '@pgclone/core';
import { redact } from '@pgclone/core/redact';
import { createProgressRenderer, type ProgressRenderer } from './progress.js';

/** Prints results, events and errors for one CLI run. Everything passes through `redact`. */
export interface Printer {
  event(event: PgcloneEvent): void;
  /** Prints a result: `lines` one per line, or `json` as JSON with `--json`. */
  result(lines: readonly string[], json: unknown): void;
  /** Prints an error as one line and returns the exit status. */
  error(error: unknown): number;
}

/** Creates the printer for the chosen output mode. */
export function createPrinter(options: {
  json: boolean;
  quiet: boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  scriptName: string;
  /** Whether stderr is a terminal (progress bars) or not (periodic progress lines). Default: `stderr.isTTY`. */
  tty?: boolean;
}): Printer {
  const { json, quiet, stdout, stderr, scriptName } = options;
  const tty = options.tty ?? (stderr as { isTTY?: boolean }).isTTY === true;
  let progress: ProgressRenderer | undefined;
  const err = (line: string) => {
    if (progress) progress.log(redact(line));
    else stderr.write(`${redact(line)}\n`);
  };
  // Core's hints name the command as "pgclone …". Printed by knex-pgclone or prisma-pgclone they name that bin, whose
  // own flags (the knexfile, its environment, the Prisma schema) choose the same database again.
  const named = (text: string) => (scriptName === 'pgclone' ? text : text.replaceAll('"pgclone ', `"${scriptName} `));
  return {
    event(event) {
      if (json) {
        if (event.event === 'progress' && quiet) return;
        err(toJson(event.event === 'message' || event.event === 'step' ? { ...event, message: named(event.message) } : event));
        return;
      }
      switch (event.event) {
        case 'step':
          // A new step: leave the finished bars on screen and print below them.
          progress?.stop();
          if (!quiet) err(`${scriptName}: ${named(event.message)}`);
          break;
        case 'message':
          if (event.level === 'warn') err(`${scriptName}: warning: ${named(event.message)}`);
          else if (!quiet) err(`${scriptName}: ${named(event.message)}`);
          break;
        case 'output':
          if (!quiet || event.source === 'hook') err(event.line);
          break;
        case 'progress':
          if (quiet) break;
          progress ??= createProgressRenderer({ stream: stderr, tty, scriptName });
          progress.update(event);
          break;
      }
    },
    result(lines, value) {
      progress?.stop();
      if (json) stdout.write(`${toJson(value)}\n`);
      else for (const line of lines) stdout.write(`${redact(line)}\n`);
    },
    error(error) {
      progress?.stop();
      const e = error as { code?: unknown; exitCode?: unknown; message?: unknown; stack?: unknown };
      const known = typeof e?.code === 'string' && typeof e?.exitCode === 'number';
      const message = named(String(e?.message ?? error).split('\n')[0] ?? 'unknown error');
      if (json) {
        err(toJson({ event: 'error', code: known ? e.code : 'INTERNAL', message }));
      } else {
        err(`${scriptName}: error: ${message}`);
        if (!known && process.env.DEBUG?.includes('pgclone') && typeof e?.stack === 'string') err(e.stack);
      }
      return known ? (e.exitCode as number) : 1;
    },
  };
}

/**
 * JSON with every string redacted before encoding: once encoded, a secret holding `"` or `\` is escaped and would
 * no longer match what {@link redact} looks for.
 */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'function') return `[function ${(v as { name?: string }).name || 'anonymous'}]`;
    return typeof v === 'string' ? redact(v) : v;
  });
}
