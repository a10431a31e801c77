import { createHash } from 'node:crypto';
import { accessSync, constants, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

/** The CLI's bundles (scripts/bundle-cli.mjs), beside this file's build in `dist/`. */
const BUNDLE_DIR = fileURLToPath(new URL('./bundle/', import.meta.url));

/**
 * CommonJS's own wrapper, plus the `import()` the bundle calls for what it loads from outside (jiti, an ES module
 * knexfile): a script compiled from a code cache has no working `import()` of its own on Node 20.
 */
const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname, __pgcloneImport) {';

/**
 * Runs one of the CLI's CommonJS bundles (`dist/bundle/<name>.cjs`) with V8's code cache, which Node 20 has no
 * switch for: V8 takes ~35 ms to compile the bundle, and more for each function as it first runs, in every command
 * before pgclone does anything; from the cache it takes ~13 ms (~30 ms less per command, bench/README.md).
 *
 * The cache (`<name>-<hash>.v8cache` beside the bundle) is written at the end of the first run that had none, or
 * whose cache this Node's V8 rejected, so it holds the functions that run compiled. It is named by the bundle's
 * content (and this file's wrapper around it) because V8 checks only a cache's length against the source: a cache of
 * an edited bundle (a rebuild, a patched install) must never be used. It is written only there, where whoever can
 * write it can already change the bundle: a code cache is code. A directory pgclone cannot write to leaves it without
 * a cache, nothing else.
 *
 * @returns what the bundle assigns to `module.exports`
 */
export function runBundle(name: string): unknown {
  const file = path.join(BUNDLE_DIR, `${name}.cjs`);
  const bytes = readFileSync(file);
  // esbuild writes ASCII only (its default `charset`): latin1 is the fastest exact decoding.
  const source = bytes.toString('latin1');
  const cacheFile = codeCacheFile(name, bytes);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // None yet: this run writes it.
  }
  const wrapped = `${WRAPPER_HEAD}${source}\n})`;
  const script = new vm.Script(wrapped, { filename: file, ...(cachedData ? { cachedData } : {}) });
  if ((!cachedData || script.cachedDataRejected) && writable(BUNDLE_DIR)) process.once('exit', () => writeCache(script, name, cacheFile));
  const module = { exports: {} as unknown };
  const run = script.runInThisContext() as BundleFunction;
  // Resolved from this file, in dist/ beside dist/bundle/: the same packages as from the bundle.
  const importNative = (specifier: string): Promise<unknown> => import(specifier);
  run.call(module.exports, module.exports, createRequire(file), module, file, BUNDLE_DIR, importNative);
  return module.exports;
}

/** The code cache of bundle `name` whose content is `bytes`: named by a hash of the script V8 compiles from them. */
export function codeCacheFile(name: string, bytes: Buffer): string {
  const hash = createHash('sha256').update(WRAPPER_HEAD).update(bytes).digest('hex').slice(0, 16);
  return path.join(BUNDLE_DIR, `${name}-${hash}.v8cache`);
}

type BundleFunction = (
  exports: unknown,
  require: NodeJS.Require,
  module: { exports: unknown },
  filename: string,
  dirname: string,
  importNative: (specifier: string) => Promise<unknown>,
) => void;

/** Checked first: a read-only install would otherwise make the cache data, and fail to write it, on every command. */
function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function writeCache(script: vm.Script, name: string, cacheFile: string): void {
  const temp = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, script.createCachedData());
    // A rename: a concurrent run reads the whole of one cache or none.
    renameSync(temp, cacheFile);
    for (const entry of readdirSync(BUNDLE_DIR)) {
      if (entry.startsWith(`${name}-`) && entry.endsWith('.v8cache') && path.join(BUNDLE_DIR, entry) !== cacheFile) {
        rmSync(path.join(BUNDLE_DIR, entry), { force: true });
      }
    }
  } catch {
    rmSync(temp, { force: true });
  }
}
