import { workingDirectory, type AdapterFactory } from '@pgclone/core';
import { knexAdapterFactory, type KnexOptions } from './adapter.js';

/** Options for pgclone's `restore()`, `dump()`, `copy()` and `ls()` that make them use a knexfile. */
export interface KnexfileRunOptions {
  cwd?: string;
  runtime: { adapters: AdapterFactory[] };
}

/**
 * The options that make pgclone's API use a knexfile, picked with the Knex CLI's flags (`knexfile`, `cwd`, `env`,
 * `esm`): its connection for alias `default`, its `pgclone` section, and its migrations as the `migrate` hook.
 * Fails at the first call when no knexfile is found; at once, with a `UsageError`, when `cwd` is not a directory.
 *
 * @example
 * import { restore } from 'pgclone';
 * import { fromKnexfile } from '@pgclone/knex';
 * await restore('prod/default/anon', { ...fromKnexfile({ env: 'development' }), reversible: true });
 */
export function fromKnexfile(options: Omit<KnexOptions, 'required'> = {}): KnexfileRunOptions {
  const cwd = options.cwd === undefined ? undefined : workingDirectory(options.cwd, process.cwd(), 'cwd');
  return {
    ...(cwd ? { cwd } : {}),
    runtime: { adapters: [knexAdapterFactory({ ...options, ...(cwd ? { cwd } : {}), required: true })] },
  };
}
