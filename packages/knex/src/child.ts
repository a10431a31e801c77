/**
 * The process the `migrate` and `seed` hooks run in (forked by `run-child.ts`): it loads the knexfile and the
 * project's knex itself, so the migrations' own output (console.log, warnings) is captured line by line instead of
 * mixing with pgclone's stdout, and a hung migration can be stopped.
 */
import path from 'node:path';
import { evaluateConnection } from './connection.js';
import { describeEnvironment, loadKnexfile } from './knexfile.js';
import { requireProjectKnex } from './project-knex.js';
import { runKnexTask } from './run-task.js';
import type { ChildJob, ChildMessage } from './run-child.js';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()));
}

process.once('message', (job: ChildJob) => {
  void (async () => {
    let code = 0;
    try {
      const env = await loadKnexfile(job.knexfile, { envName: job.envName, esm: job.esm });
      const where = describeEnvironment(env);
      await runKnexTask({
        task: job.task,
        knex: requireProjectKnex(path.dirname(job.knexfile)),
        config: env.config,
        connection: await evaluateConnection(env.config.connection, where),
        target: job.target,
        baseDir: job.baseDir,
        esm: job.esm,
        report: {
          line: (text) => void send({ type: 'line', text }),
          info: (text) => void send({ type: 'info', text }),
        },
      });
    } catch (error) {
      code = 1;
      const e = error as { message?: unknown; code?: unknown };
      await send({ type: 'error', message: String(e?.message ?? error) });
    }
    // Exit even if a migration left timers or sockets open.
    process.exit(code);
  })();
});
