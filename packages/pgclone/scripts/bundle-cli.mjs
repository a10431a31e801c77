// Bundles the three command-line entries (pgclone, knex-pgclone, prisma-pgclone), and the Knex adapter's child
// process, into dist/bundle/, one CommonJS file each, which the committed bins run through dist/run-bundle.js (with
// V8's code cache). Why: Node 20 loads ES modules one file at a time, and the CLI's graph is ~260 of them (zod alone
// ~95, yargs ~50, core ~55): ~200 ms of every command before pg_dump or CREATE DATABASE even starts. One bundle loads
// in a fraction of that (bench/README.md has the numbers). CommonJS rather than ES module chunks: Node loads a
// CommonJS file synchronously, without the ES loader's per-chunk resolving and linking, and V8 compiles a script from
// a code cache, which Node 20 offers for scripts only (~30 ms less per command than the ES chunks: bench/README.md,
// Run AJ).
// Prisma's and drizzle-kit's CLIs ship as bundles too.
//
// The programmatic API (dist/index.js) stays unbundled: it shares @pgclone/core with whatever else the host imports.
// A process may hold both copies (a config file that imports `pgclone`): PgcloneError's `instanceof` and the secret
// registry work across copies (core/src/errors.ts, core/src/redact.ts).
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

// pg tells Node from Cloudflare Workers by constructing a fetch `Response`, which on Node 20 loads undici: ~30 ms of
// every command. The CLI never runs on Workers, so that probe is cut from pg's own file (and only there).
const WORKERS_PROBE = "typeof Response === 'function'";
const skipWorkersProbe = {
  name: 'skip-workers-probe',
  setup(build) {
    build.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes(WORKERS_PROBE)) {
        return { contents: source, loader: 'js', warnings: [{ text: `pg's Workers probe changed; ${args.path} is bundled as it is` }] };
      }
      return { contents: source.replace(WORKERS_PROBE, 'false'), loader: 'js' };
    });
  },
};

// yargs' platform shim imports cliui and string-width, which lay out help text. At load, their string-width copies
// build an Intl.Segmenter and a Unicode emoji regex: ~50 ms of every command, though only a rendered `--help` uses
// them (pgclone's usage errors are one line, without yargs' help). Here those two imports become stubs that load the real module on first call (esbuild turns a bundled
// module reached by `require` into one evaluated on demand).
const YARGS_SHIM = /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/;
const lazyTextLayout = {
  name: 'lazy-text-layout',
  setup(build) {
    build.onResolve({ filter: /^(cliui|string-width)$/ }, async (args) => {
      if (!YARGS_SHIM.test(args.importer)) return undefined;
      const real = await build.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir });
      if (real.errors.length > 0) return { errors: real.errors };
      return { path: real.path, namespace: 'lazy-text-layout' };
    });
    build.onLoad({ filter: /.*/, namespace: 'lazy-text-layout' }, (args) => ({
      contents: `let real;\nexport default function lazy(...args) {\n  real ??= require(${JSON.stringify(args.path)}).default;\n  return real(...args);\n}\n`,
      loader: 'js',
      resolveDir: path.dirname(args.path),
    }));
  },
};

// The Knex adapter forks its child script (migrations, seeds) by package name (knex/src/run-child.ts). From the bundle
// it forks the bundled copy beside it instead: the unbundled child loads ~250 modules, ~0.3 s of every Knex hook.
const KNEX_CHILD_LOOKUP = "createRequire(import.meta.url).resolve('@pgclone/knex/child')";
const KNEX_CHILD_FILE = './knex-child.cjs';
const bundledKnexChild = {
  name: 'bundled-knex-child',
  setup(build) {
    build.onLoad({ filter: /[\\/]knex[\\/]dist[\\/]run-child\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes(KNEX_CHILD_LOOKUP)) {
        return { errors: [{ text: `${args.path} no longer finds its child with ${KNEX_CHILD_LOOKUP}: update scripts/bundle-cli.mjs` }] };
      }
      // The bundle's `require` resolves from its own file, in dist/bundle/.
      return { contents: source.replace(KNEX_CHILD_LOOKUP, `require.resolve('${KNEX_CHILD_FILE}')`), loader: 'js' };
    });
  },
};

// A script that V8 compiled from a code cache cannot call `import()` on Node 20 (the cache drops the script's import
// callback), so core's one function for it (core/src/native-import.ts) uses the `import` that dist/run-bundle.js
// hands the bundle. The forked Knex child is plain CommonJS that Node compiles, where `import()` works.
const NATIVE_IMPORT = /[\\/]core[\\/]dist[\\/]native-import\.js$/;
const bundledNativeImport = {
  name: 'bundled-native-import',
  setup(build) {
    build.onLoad({ filter: NATIVE_IMPORT }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!/export function importNative\(specifier\)/.test(source)) {
        return { errors: [{ text: `${args.path} no longer exports importNative(specifier): update scripts/bundle-cli.mjs` }] };
      }
      return {
        contents: "export function importNative(specifier) {\n  return typeof __pgcloneImport === 'function' ? __pgcloneImport(specifier) : import(specifier);\n}\n",
        loader: 'js',
      };
    });
  },
};

const outdir = new URL('../dist/bundle/', import.meta.url).pathname;
rmSync(outdir, { recursive: true, force: true });

const { metafile } = await build({
  entryPoints: {
    cli: new URL('../dist/cli.js', import.meta.url).pathname,
    'knex-cli': new URL('../dist/knex-cli.js', import.meta.url).pathname,
    'prisma-cli': new URL('../dist/prisma-cli.js', import.meta.url).pathname,
    'knex-child': createRequire(import.meta.url).resolve('@pgclone/knex/child'),
  },
  outdir,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  // A lazily imported part (the S3 backend, the adapters' heavier halves) is still evaluated only when imported.
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // The bundle is CommonJS, where `import.meta` is empty: its sources' `import.meta.url` becomes the bundle's own URL
  // (what they resolve from it, such as ../../package.json, holds from dist/bundle/ as from dist/cli/).
  define: { 'import.meta.url': '__pgcloneUrl' },
  banner: { js: "const __pgcloneUrl = require('node:url').pathToFileURL(__filename).href;" },
  // Loaded only when used, from this package's own dependencies: the AWS SDK (s3:// locations), jiti (TypeScript
  // config files and knexfiles), cli-progress (a TTY), and pg's optional native binding (never installed);
  // cosmiconfig's own TypeScript loader, which pgclone never uses (jiti loads .ts configs), would pull in typescript.
  external: ['@aws-sdk/*', 'jiti', 'cli-progress', 'pg-native', 'typescript', KNEX_CHILD_FILE],
  plugins: [skipWorkersProbe, lazyTextLayout, bundledKnexChild, bundledNativeImport],
  sourcemap: 'linked',
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  metafile: true,
});
// What each file imports from outside the bundle: test/cli-bundle.test.ts checks it.
writeFileSync(new URL('meta.json', `file://${outdir}`), JSON.stringify(metafile));
