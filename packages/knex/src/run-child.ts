import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import readline from 'node:readline';
import { abortError, AdapterError, stopTreeOnAbort, type Reporter, type ReservedHook } from '@pgclone/core';
import type { TaskTarget } from './run-task.js';

/** What the parent sends the child. */
export interface ChildJob {
  task: ReservedHook;
  knexfile: string;
  envName: string;
  esm: boolean;
  baseDir: string;
  target: TaskTarget;
}

/** What the child sends back. */
export type ChildMessage = { type: 'line'; text: string } | { type: 'info'; text: string } | { type: 'error'; message: string };

/**
 * Runs a Knex task in a child Node process (see `child.ts`). Its stdout and stderr lines are reported as `output`
 * events from `knex`; the job (target credentials included) travels over the IPC channel, never in argv.
 */
export function runInChild(
  job: ChildJob,
  options: { cwd: string; env: NodeJS.ProcessEnv; reporter: Reporter; signal?: AbortSignal | undefined },
): Promise<void> {
  const { reporter } = options;
  // By package name, not `./child.js` beside this file: the pgclone CLI runs this module from its bundle, whose build
  // replaces this very expression with its own bundled child (pgclone/scripts/bundle-cli.mjs).
  const script = createRequire(import.meta.url).resolve('@pgclone/knex/child');
  return new Promise((resolve, reject) => {
    const child = fork(script, [], {
      cwd: options.cwd,
      env: options.env,
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    // Stopped, the task's process ends with whatever a migration or seed started.
    const closed = stopTreeOnAbort(child, options.signal);
    let failure: string | undefined;
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => reporter.output('knex', line));
    }
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'line') reporter.output('knex', message.text);
      else if (message.type === 'info') reporter.info(message.text);
      else failure = message.message;
    });
    child.on('error', (error) => reject(error));
    child.on('close', async (code, signal) => {
      if (await closed()) reject(abortError(options.signal!));
      else if (failure !== undefined) reject(new AdapterError(failure));
      else if (code === 0) resolve();
      else reject(new AdapterError(`Knex ${job.task} process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`));
    });
    child.send(job);
  });
}
