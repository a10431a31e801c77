import { createRequire } from 'node:module';
import path from 'node:path';
import { AdapterError } from '@pgclone/core';
import type { KnexFactory } from './types.js';

/**
 * The project's own `knex`, resolved from `fromDir` (the knexfile's directory) as Node would from a file there —
 * never a copy bundled with pgclone, so migrations run with the Knex version (and `pg` driver) the project uses.
 */
export function requireProjectKnex(fromDir: string): KnexFactory {
  const require = createRequire(path.join(fromDir, 'noop.js'));
  let resolved: string;
  try {
    resolved = require.resolve('knex');
  } catch {
    throw new AdapterError(`Knex is not installed for ${fromDir}: pgclone runs the project's own knex (npm install knex pg)`);
  }
  const mod = require(resolved) as unknown as { default?: unknown; knex?: unknown };
  const factory = typeof mod === 'function' ? mod : (mod.knex ?? mod.default);
  if (typeof factory !== 'function') throw new AdapterError(`${resolved} does not export the knex function`);
  return factory as KnexFactory;
}
