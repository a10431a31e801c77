import path from 'node:path';
import {
  AdapterError,
  inWorkingDir,
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
import { describeEnvironment, KNEXFILE_NAMES, loadKnexfile, locateKnexfile, type KnexfileEnvironment } from './knexfile.js';
import { runInChild } from './run-child.js';
import { knexTemplateInputs } from './sources.js';
import { taskTarget } from './target.js';

/** The Knex CLI's own flags, which pick the knexfile and its environment. */
export interface KnexOptions {
  /** `--knexfile PATH`: this knexfile (relative to `cwd`) instead of searching for one. */
  knexfile?: string;
  /** `--cwd DIR`: where to search for the knexfile (and resolve `knexfile` against). Default: the operation's CWD. */
  cwd?: string;
  /** `--env NAME`: the knexfile environment. Default: `NODE_ENV`, else `development`. */
  env?: string;
  /** `--esm`: allow ESM syntax in `.js` knexfiles, migrations and seeds of a CommonJS package. */
  esm?: boolean;
  /** Fail when no knexfile is found (the `knex-pgclone` bin and {@link fromKnexfile}); else the project is not Knex. */
  required?: boolean;
}

/**
 * An {@link AdapterFactory} that finds the knexfile as the Knex CLI does, with the Knex CLI's flags. pgclone's
 * default runtime uses {@link adapterFactory} (no flags); `knex-pgclone` passes the flags it was given.
 */
export function knexAdapterFactory(options: KnexOptions = {}): AdapterFactory {
  return {
    name: 'knex',
    async detect({ cwd, env }) {
      const searchFrom = path.resolve(cwd, options.cwd ?? '.');
      const file = locateKnexfile({ knexfile: options.knexfile, cwd: searchFrom });
      if (!file) {
        if (!options.required) return undefined;
        throw new AdapterError(`No knexfile found in ${searchFrom} or a parent directory (looked for ${KNEXFILE_NAMES.join(', ')}); pass --knexfile PATH`);
      }
      const envName = options.env || env.NODE_ENV || 'development';
      // Where the Knex CLI would be when it loads this knexfile: the folder of a --knexfile, else --cwd (or the CWD).
      const workDir = options.knexfile === undefined ? searchFrom : path.dirname(file);
      const loaded = await inWorkingDir(workDir, () => loadKnexfile(file, { envName, esm: !!options.esm }));
      const where = describeEnvironment(loaded);
      assertPostgresClient(loaded.config.client, where);
      const config =
        loaded.config.pgclone === undefined
          ? undefined
          : validateConfig(loaded.config.pgclone, `${loaded.file} (${loaded.section ? `${loaded.section}.` : ''}pgclone)`);
      return new KnexfileAdapter(loaded, { env, esm: !!options.esm, workDir, ...(config ? { config } : {}) });
    },
  };
}

/** The factory pgclone uses by default: a knexfile found from the CWD up, environment from `NODE_ENV`. */
export const adapterFactory: AdapterFactory = knexAdapterFactory();

/** A Knex project found by its knexfile. */
export class KnexfileAdapter implements Adapter {
  readonly name = 'knex';
  readonly projectDir: string;
  readonly source: string;
  readonly config?: PgcloneConfig;
  readonly #knexfile: KnexfileEnvironment;
  readonly #env: NodeJS.ProcessEnv;
  readonly #esm: boolean;
  readonly #workDir: string;

  constructor(knexfile: KnexfileEnvironment, options: { env: NodeJS.ProcessEnv; esm: boolean; workDir?: string; config?: PgcloneConfig }) {
    this.#knexfile = knexfile;
    this.#env = options.env;
    this.#esm = options.esm;
    this.#workDir = options.workDir ?? path.dirname(knexfile.file);
    this.projectDir = path.dirname(knexfile.file);
    this.source = knexfile.file;
    if (options.config) this.config = options.config;
  }

  async connection(): Promise<ConnectionInput | undefined> {
    const where = describeEnvironment(this.#knexfile);
    // Connection (and password) functions may read files or the environment, as the knexfile did when it loaded.
    return inWorkingDir(this.#workDir, async () =>
      connectionInput(await evaluateConnection(this.#knexfile.config.connection, where), this.#env, where),
    );
  }

  /** The knexfile's migrations and seeds folders: what a test template built with `migrate`/`seed` depends on. */
  async templateInputs(): Promise<string[]> {
    return knexTemplateInputs(this.#knexfile.config, this.projectDir);
  }

  /**
   * Runs `migrate.latest` (`migrate`) or `seed.run` (`seed`) against `target` in a child process with the
   * project's knex; output is reported as it comes, and a failure rejects.
   */
  async runHook(name: ReservedHook, target: AdapterHookTarget): Promise<void> {
    await runInChild(
      {
        task: name,
        knexfile: this.#knexfile.file,
        envName: this.#knexfile.envName,
        esm: this.#esm,
        baseDir: this.projectDir,
        target: taskTarget(target),
      },
      // The child loads the knexfile again, in the directory the parent loaded it in.
      { cwd: this.#workDir, env: target.env, reporter: target.reporter, signal: target.signal },
    );
  }
}
