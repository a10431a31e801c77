import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { importNative, transpileCacheDir } from '@pgclone/core';

/** Extensions Node cannot load by itself: always transpiled with jiti. */
const TRANSPILED = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** How project files (knexfile, migrations, seeds) are loaded. */
export interface LoadOptions {
  /**
   * The Knex CLI's `--esm`: ESM syntax is allowed in any `.js` file (Knex uses the `esm` package; pgclone uses jiti).
   */
  esm?: boolean;
}

/**
 * Loads a knexfile, migration or seed the way the Knex CLI does: `.mjs`, and `.js` in a `"type": "module"` package,
 * with `import()`; other JavaScript with `require`. TypeScript (and every file with `esm`) goes through jiti, which
 * needs nothing installed in the project (the Knex CLI would want ts-node or another `interpret` loader instead).
 * Returns the module namespace (or `module.exports`) as is.
 */
export async function loadProjectModule(file: string, options: LoadOptions = {}): Promise<Record<string, unknown>> {
  const ext = path.extname(file);
  if (TRANSPILED.has(ext) || options.esm) return importWithJiti(file);
  if (ext === '.mjs' || (ext !== '.cjs' && packageType(file) === 'module')) {
    return (await importNative(pathToFileURL(file).href)) as Record<string, unknown>;
  }
  return createRequire(file)(file) as Record<string, unknown>;
}

async function importWithJiti(file: string): Promise<Record<string, unknown>> {
  const { createJiti } = (await importNative('jiti')) as typeof import('jiti');
  const jiti = createJiti(pathToFileURL(file).href, { moduleCache: false, fsCache: transpileCacheDir(file), interopDefault: false });
  return jiti.import<Record<string, unknown>>(file);
}

/** The `type` of the package.json nearest to `file` (what Node and Knex use to choose ESM or CommonJS). */
export function packageType(file: string): string | undefined {
  let dir = path.dirname(path.resolve(file));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { type?: unknown };
      return typeof pkg.type === 'string' ? pkg.type : undefined;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return undefined;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The default export when there is one (ESM `export default`, or jiti's namespace of it), else the module itself. */
export function defaultExport(mod: Record<string, unknown>): unknown {
  return mod && typeof mod === 'object' && 'default' in mod && mod.default !== undefined ? mod.default : mod;
}
