import type { AdapterFactory, Runtime } from '@pgclone/core';
import { openStorage } from '@pgclone/storage';

/**
 * The ORM adapters pgclone tries, loaded lazily so that a project without Knex or Prisma never loads them, and so
 * that a missing optional adapter package is simply skipped.
 */
async function loadAdapterFactories(): Promise<AdapterFactory[]> {
  const factories: AdapterFactory[] = [];
  // Literal specifiers, so that the CLI's bundle (scripts/bundle-cli.mjs) carries the adapters instead of loading a
  // second, unbundled copy of core through them.
  for (const load of [() => import('@pgclone/knex'), () => import('@pgclone/prisma')]) {
    try {
      const mod = (await load()) as { adapterFactory?: AdapterFactory };
      if (mod.adapterFactory) factories.push(mod.adapterFactory);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    }
  }
  return factories;
}

let defaultFactories: Promise<AdapterFactory[]> | undefined;

/** The runtime the CLI and the default API use: storage from `@pgclone/storage`, adapters found at run time. */
export async function defaultRuntime(overrides: Partial<Runtime> = {}): Promise<Runtime> {
  defaultFactories ??= loadAdapterFactories();
  return { openStorage, adapters: overrides.adapters ?? (await defaultFactories), ...overrides };
}
