import {
  PgcloneError,
  prepare,
  targetDatabase,
  type CommonOptions,
  type Connection,
  type CopyStrategy,
  type Hook,
  type Prepared,
  type Runtime,
  type SparePolicy,
} from '@pgclone/core';
import { defaultRuntime } from '../runtime.js';
import { cachedLoadProject } from '../session.js';
import { testBaseName } from './names.js';

/** Options of the test helpers; each falls back to the `test` section of the pgclone config. */
export interface TestTemplateOptions extends CommonOptions {
  /** Base name of the template and the test databases (default: the target database's name). */
  name?: string;
  /** Globs, relative to the project directory, of the files that key the template (default: the ORM's migrations). */
  files?: string[];
  /** Hooks that build the template on an empty database (default: `['migrate']` when an ORM project is found). */
  hooks?: Hook[];
  /** A dump key or prefix to restore into the template before the hooks. */
  restore?: string;
  /** Keep a spare copy of the template per test database so that a reset is a rename (default `auto`). */
  spare?: SparePolicy;
  /** `CREATE DATABASE … STRATEGY` for the copies. */
  strategy?: CopyStrategy;
  /** Programmatic only: storage and adapters (defaults as in the rest of the API). */
  runtime?: Partial<Runtime>;
}

/** Everything the helpers work from, resolved once. */
export interface TestSettings {
  prepared: Prepared;
  conn: Connection;
  base: string;
  files: string[] | undefined;
  hooks: Hook[];
  restore: string | undefined;
  spare: SparePolicy;
  strategy: CopyStrategy | undefined;
  onEvent: CommonOptions['onEvent'];
  /** The call's signal: an abort stops the template build and the first reset. */
  signal: AbortSignal | undefined;
  /** `test.reset`: when the ready-made setup file resets. */
  resetWhen: 'each' | 'file' | 'never';
}

/** Resolves the helpers' settings: option > config `test.*` > defaults. */
export async function testSettings(options: TestTemplateOptions, runtime: Runtime): Promise<TestSettings> {
  const { runtime: _runtime, name, files, hooks, restore, spare, strategy, ...common } = options;
  const prepared = await prepare('restore', { ...common, preSwapHooks: [], postSwapHooks: [] }, runtime);
  const opts = prepared.options;
  if (opts.connection instanceof PgcloneError) throw opts.connection;
  const conn = opts.connection;
  const section = opts.bundle.test ?? {};
  const defaultHooks: Hook[] = prepared.adapter ? ['migrate'] : [];
  return {
    prepared,
    conn,
    base: testBaseName(name ?? section.name ?? targetDatabase(conn)),
    files: files ?? section.files,
    hooks: (hooks ?? section.hooks ?? defaultHooks).filter((h) => h !== ''),
    restore: restore ?? section.restore,
    spare: spare ?? section.spare ?? 'auto',
    strategy,
    onEvent: common.onEvent,
    signal: common.signal,
    resetWhen: section.reset ?? 'each',
  };
}

/** The API's runtime with the cached project loading. */
export async function testRuntime(options: { runtime?: Partial<Runtime> }): Promise<Runtime> {
  return defaultRuntime({ loadProject: cachedLoadProject, ...options.runtime });
}
