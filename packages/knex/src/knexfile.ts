import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { AdapterError } from '@pgclone/core';
import { defaultExport, loadProjectModule, type LoadOptions } from './load-module.js';
import type { KnexConfig } from './types.js';

/** The knexfile names searched for, in this order, in each directory from the CWD up (as the Knex CLI does). */
export const KNEXFILE_NAMES: readonly string[] = ['knexfile.js', 'knexfile.cjs', 'knexfile.mjs', 'knexfile.ts'];

/** The first knexfile found in `cwd` or a parent directory, or `undefined`. */
export function findKnexfile(cwd: string): string | undefined {
  let dir = path.resolve(cwd);
  for (;;) {
    let names: Set<string>;
    try {
      names = new Set(readdirSync(dir));
    } catch {
      names = new Set();
    }
    for (const name of KNEXFILE_NAMES) {
      if (names.has(name) && isFile(path.join(dir, name))) return path.join(dir, name);
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The knexfile to use: `knexfile` (relative to `cwd`, like the Knex CLI's `--knexfile` after `--cwd`) when given,
 * which must exist; else the search from `cwd` up.
 */
export function locateKnexfile(options: { knexfile?: string | undefined; cwd: string }): string | undefined {
  if (options.knexfile === undefined) return findKnexfile(options.cwd);
  const file = path.resolve(options.cwd, options.knexfile);
  // Named as given, with the directory it is relative to, not as resolved: resolving merges the `//` of a URL passed
  // by mistake, and the password in it would no longer look like one to the masking of printed lines.
  if (!existsSync(file)) throw new AdapterError(`Knexfile ${JSON.stringify(options.knexfile)} does not exist (in ${path.resolve(options.cwd)})`);
  return file;
}

/** A knexfile loaded and narrowed to one environment. */
export interface KnexfileEnvironment {
  /** Absolute path of the knexfile. */
  file: string;
  /** The environment asked for (`--env`, else `NODE_ENV`, else `development`). */
  envName: string;
  /** The section used: `envName`, or `undefined` for a flat knexfile (one config for every environment). */
  section: string | undefined;
  config: KnexConfig;
}

/**
 * Loads a knexfile as the Knex CLI does: the module's default export (or `module.exports`), called when it is a
 * function (possibly async), then the `envName` section, else the whole object when it is a flat config.
 */
export async function loadKnexfile(file: string, options: LoadOptions & { envName: string }): Promise<KnexfileEnvironment> {
  let exported: unknown;
  try {
    exported = defaultExport(await loadProjectModule(file, options));
    if (typeof exported === 'function') exported = await (exported as () => unknown)();
  } catch (error) {
    throw new AdapterError(`Cannot load knexfile ${file}: ${firstLine(error)}`, { cause: error });
  }
  if (!isObject(exported)) {
    throw new AdapterError(`Knexfile ${file} exports ${describe(exported)}, not a Knex config object`);
  }
  const candidate = exported[options.envName];
  if (isObject(candidate)) return { file, envName: options.envName, section: options.envName, config: candidate };
  if ('client' in exported || 'connection' in exported) {
    return { file, envName: options.envName, section: undefined, config: exported };
  }
  const environments = Object.keys(exported).filter((k) => isObject(exported[k]));
  throw new AdapterError(
    `Knexfile ${file} has no ${JSON.stringify(options.envName)} environment` +
      (environments.length ? ` (it has ${environments.map((e) => JSON.stringify(e)).join(', ')})` : '') +
      '; choose one with --env NAME or NODE_ENV',
  );
}

/** How an environment is named in messages: `knexfile.ts (development)`. */
export function describeEnvironment(env: Pick<KnexfileEnvironment, 'file' | 'section'>): string {
  return `${path.basename(env.file)}${env.section ? ` (${env.section})` : ''}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'undefined' ? 'nothing' : `a ${typeof value}`;
}

export function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!;
}
