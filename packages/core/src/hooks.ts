import { spawn } from 'node:child_process';
import { RESERVED_HOOKS, type Adapter, type ReservedHook } from './adapter.js';
import type { Hook } from './config/schema.js';
import { connectionUrl, libpqEnv, mergeEnv, type Connection } from './connection.js';
import { HookError, PgcloneError } from './errors.js';
import type { Reporter } from './events.js';
import { lineSplitter } from './lines.js';
import { stopTreeOnAbort } from './process-tree.js';
import { redact } from './redact.js';

/** Where and against what a list of hooks runs. */
export interface HookRun {
  /** `pre-dump`, `pre-swap` or `post-swap`. */
  phase: string;
  /** The database the hooks concern (live for pre-dump, `N__temp` for pre-swap, `N` for post-swap). */
  connection: Connection;
  /** Directory the shell commands run in. */
  cwd: string;
  env: NodeJS.ProcessEnv;
  adapter?: Adapter;
  reporter: Reporter;
  signal?: AbortSignal;
}

/** A short description of a hook for plans and messages. */
export function describeHook(hook: Hook): string {
  return typeof hook === 'string' ? hook : `[function ${hook.name || 'anonymous'}]`;
}

/** Throws before anything changes when a reserved hook has no adapter to run it. */
export function checkHooks(hooks: readonly Hook[], adapter: Adapter | undefined, cwd: string): void {
  for (const hook of hooks) {
    if (typeof hook === 'string' && isReserved(hook) && !adapter) {
      throw new HookError(
        `Hook "${hook}" runs the project's ${hook === 'migrate' ? 'migrations' : 'seeds'}, but no Knex or Prisma project was found from ${cwd}`,
      );
    }
  }
}

function isReserved(hook: string): hook is ReservedHook {
  return (RESERVED_HOOKS as readonly string[]).includes(hook);
}

/**
 * Runs hooks one after the other. Shell commands get `DATABASE_URL` and the `PG*` variables of the target database
 * in their environment; their output is reported line by line. The first failure throws {@link HookError}.
 */
export async function runHooks(hooks: readonly Hook[], run: HookRun): Promise<void> {
  checkHooks(hooks, run.adapter, run.cwd);
  const databaseUrl = connectionUrl(run.connection);
  const env = mergeEnv(run.env, { ...libpqEnv(run.connection, run.env), DATABASE_URL: databaseUrl });
  for (const hook of hooks) {
    // A stopped hook may still exit 0 (a shell's trap, a script ending cleanly on SIGTERM): the next must not start.
    run.signal?.throwIfAborted();
    run.reporter.info(`Running ${run.phase} hook ${describeHook(hook)} on ${run.connection.database}`);
    try {
      if (typeof hook === 'function') {
        await hook({ databaseUrl, database: run.connection.database });
      } else if (isReserved(hook)) {
        await run.adapter!.runHook(hook, {
          connection: run.connection,
          databaseUrl,
          database: run.connection.database,
          env,
          reporter: run.reporter,
          ...(run.signal ? { signal: run.signal } : {}),
        });
      } else {
        await runShell(hook, { cwd: run.cwd, env, reporter: run.reporter, signal: run.signal });
      }
    } catch (error) {
      if (error instanceof HookError) throw error;
      const reason = error instanceof PgcloneError ? error.message : String((error as Error)?.message ?? error);
      // A hook's own error often quotes the URL it was given, and test runners print an error's cause with its stack:
      // the message and the cause are both redacted.
      throw new HookError(redact(`${capitalize(run.phase)} hook ${describeHook(hook)} failed: ${reason.split('\n')[0]}`), {
        cause: redactedError(error),
      });
    }
  }
}

/**
 * A copy of `error` with every string redacted (the hook's own object may hold a password): the same class, its own
 * properties (an adapter's `resume` advice, a `code`) and its causes, copied alike.
 */
function redactedError(error: unknown, depth = 0): Error {
  const source = error instanceof Error ? error : new Error(String(error));
  const copy = Object.create(Object.getPrototypeOf(source) as object) as Error & Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(source)) {
    const value = (source as unknown as Record<string, unknown>)[key];
    const copied = key === 'cause' && value instanceof Error && depth < 8 ? redactedError(value, depth + 1) : typeof value === 'string' ? redact(value) : value;
    Object.defineProperty(copy, key, { value: copied, writable: true, configurable: true, enumerable: Object.prototype.propertyIsEnumerable.call(source, key) });
  }
  return copy;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Hooks are the user's own shell commands (like npm scripts): the one place pgclone runs a shell. */
function runShell(
  command: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; reporter: Reporter; signal?: AbortSignal | undefined },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    // Stopped, the hook's whole tree ends, not just its shell: what the shell started would otherwise run on, writing
    // to the database or holding it open.
    const closed = stopTreeOnAbort(child, options.signal);
    const out = lineSplitter((line) => options.reporter.output('hook', line));
    const err = lineSplitter((line) => options.reporter.output('hook', line));
    child.stdout.on('data', out.push);
    child.stderr.on('data', err.push);
    // A process that left the tree (its own session, a daemon) could still hold the output pipes open, and the
    // hook's end with them.
    child.on('exit', () => {
      if (!options.signal?.aborted) return;
      child.stdout.destroy();
      child.stderr.destroy();
    });
    // The command is the user's own text, and may hold a password (a URL given to psql): masked for API callers too.
    child.on('error', (error) => reject(new HookError(redact(`Hook ${command} could not start: ${error.message}`))));
    child.on('close', async (code, signal) => {
      out.end();
      err.end();
      await closed();
      if (code === 0) resolve();
      else
        reject(
          new HookError(
            redact(`Hook ${JSON.stringify(command)} failed with ${signal ? `signal ${signal}` : `exit code ${code}`}`),
          ),
        );
    });
  });
}
