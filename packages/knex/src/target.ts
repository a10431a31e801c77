import type { AdapterHookTarget } from '@pgclone/core';
import type { TaskTarget } from './run-task.js';

/** The parts of a hook target a Knex connection is pointed at. */
export function taskTarget(target: AdapterHookTarget): TaskTarget {
  const c = target.connection;
  return {
    ...(c.host !== undefined ? { host: c.host } : {}),
    ...(c.port !== undefined ? { port: c.port } : {}),
    ...(c.user !== undefined ? { user: c.user } : {}),
    ...(c.password !== undefined ? { password: c.password } : {}),
    database: target.database,
  };
}
