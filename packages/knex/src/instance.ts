import path from 'node:path';
import {
  validateConfig,
  type Adapter,
  type AdapterFactory,
  type AdapterHookTarget,
  type ConnectionInput,
  type PgcloneConfig,
  type ReservedHook,
} from '@pgclone/core';
import { assertPostgresClient } from './client.js';
import { connectionInput, evaluateConnection } from './connection.js';
import { requireProjectKnex } from './project-knex.js';
import { runKnexTask } from './run-task.js';
import { knexTemplateInputs } from './sources.js';
import { taskTarget } from './target.js';
import type { KnexConfig, KnexInstanceLike } from './types.js';

const WHERE = 'the Knex config given to pgclone';

/** True for a Knex instance (as opposed to a config object). */
export function isKnexInstance(value: unknown): value is KnexInstanceLike {
  if ((typeof value !== 'function' && typeof value !== 'object') || value === null) return false;
  const client = (value as { client?: unknown }).client;
  return typeof client === 'object' && client !== null && 'config' in client;
}

/**
 * An {@link AdapterFactory} for a Knex instance (or config) that the program already has: its connection for alias
 * `default`, its `pgclone` key as the adapter section, and its migrations and seeds run in this process with the
 * project's knex (resolved from the operation's CWD); relative directories are resolved against that CWD, as Knex
 * does.
 */
export function knexInstanceAdapterFactory(knex: KnexInstanceLike | KnexConfig): AdapterFactory {
  const config = isKnexInstance(knex) ? knex.client.config : knex;
  return {
    name: 'knex',
    async detect({ cwd, env }) {
      assertPostgresClient(config.client, WHERE);
      const section = config.pgclone === undefined ? undefined : validateConfig(config.pgclone, `${WHERE} (pgclone)`);
      return new KnexInstanceAdapter(config, { cwd: path.resolve(cwd), env, ...(section ? { section } : {}) });
    },
  };
}

class KnexInstanceAdapter implements Adapter {
  readonly name = 'knex';
  readonly projectDir: string;
  readonly source = WHERE;
  readonly config?: PgcloneConfig;
  readonly #knexConfig: KnexConfig;
  readonly #env: NodeJS.ProcessEnv;

  constructor(knexConfig: KnexConfig, options: { cwd: string; env: NodeJS.ProcessEnv; section?: PgcloneConfig }) {
    this.#knexConfig = knexConfig;
    this.#env = options.env;
    this.projectDir = options.cwd;
    if (options.section) this.config = options.section;
  }

  async connection(): Promise<ConnectionInput | undefined> {
    return connectionInput(await evaluateConnection(this.#knexConfig.connection, WHERE), this.#env, WHERE);
  }

  async templateInputs(): Promise<string[]> {
    return knexTemplateInputs(this.#knexConfig, this.projectDir);
  }

  async runHook(name: ReservedHook, target: AdapterHookTarget): Promise<void> {
    await runKnexTask({
      task: name,
      knex: requireProjectKnex(this.projectDir),
      config: this.#knexConfig,
      connection: await evaluateConnection(this.#knexConfig.connection, WHERE),
      target: taskTarget(target),
      baseDir: this.projectDir,
      report: {
        line: (text) => target.reporter.output('knex', text),
        info: (text) => target.reporter.info(text),
      },
    });
  }
}
