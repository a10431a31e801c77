// The CLI runs from one bundled file (packages/pgclone/scripts/bundle-cli.mjs) while the API stays unbundled, so a
// process can hold two copies of core. These tests pin what that must not break.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PGCLONE_BIN } from './support/cli.js';

const coreDist = fileURLToPath(new URL('../packages/core/dist/', import.meta.url));
const bundleDir = fileURLToPath(new URL('../packages/pgclone/dist/bundle/', import.meta.url));

/** A second, separate instance of a core module, as a bundle or a second installed copy would load it. */
async function secondCopy<T>(file: string): Promise<T> {
  return (await import(`${pathToFileURL(path.join(coreDist, file)).href}?copy=${Math.random()}`)) as T;
}

describe('two copies of core in one process', () => {
  it('instanceof PgcloneError holds for the other copy, while subclasses keep the ordinary check', async () => {
    type Errors = typeof import('../packages/core/src/errors.js');
    const one = await secondCopy<Errors>('errors.js');
    const two = await secondCopy<Errors>('errors.js');
    expect(one.PgcloneError).not.toBe(two.PgcloneError);
    const foreign = new two.HookError('hook failed');
    expect(foreign instanceof one.PgcloneError).toBe(true);
    expect(one.isPgcloneError(foreign)).toBe(true);
    expect(foreign instanceof one.HookError).toBe(false);
    expect(new one.HookError('x') instanceof one.HookError).toBe(true);
    expect(new Error('plain') instanceof one.PgcloneError).toBe(false);
    expect(Object.assign(new Error('x'), { code: 'USAGE' }) instanceof one.PgcloneError).toBe(false);
  });

  it('a secret remembered by one copy is redacted by the other', async () => {
    type Redact = typeof import('../packages/core/src/redact.js');
    const one = await secondCopy<Redact>('redact.js');
    const two = await secondCopy<Redact>('redact.js');
    const secret = `s3cr3t-${Math.random().toString(36).slice(2)}`;
    two.rememberSecret(secret);
    expect(one.redact(`token ${secret} here`)).toBe('token *** here');
  });
});

describe('the CLI bundle', () => {
  it('loads no workspace package or bundled dependency from outside itself', () => {
    // An import by a computed name (or a new dependency left external) would load the unbundled core beside the
    // bundle's own: slower start-up and two copies of every module.
    const allowed = new Set(['@aws-sdk/client-s3', '@aws-sdk/lib-storage', 'jiti', 'cli-progress', 'pg-native', 'typescript']);
    const meta = JSON.parse(readFileSync(path.join(bundleDir, 'meta.json'), 'utf8')) as {
      outputs: Record<string, { imports: { path: string; external?: boolean }[] }>;
    };
    const found = new Set<string>();
    for (const output of Object.values(meta.outputs)) {
      for (const imported of output.imports) {
        // `./knex-child.cjs` is the bundle's own file beside it (the Knex adapter forks it).
        if (imported.external && !imported.path.startsWith('node:') && !imported.path.startsWith('./') && !builtinModules.includes(imported.path)) found.add(imported.path);
      }
    }
    expect([...found].filter((s) => !allowed.has(s))).toEqual([]);
    expect(found.has('@aws-sdk/client-s3')).toBe(true); // the check sees the imports it is meant to see
  });
});

describe('the CLI at run time', () => {
  it('loads its modules from the bundle only', () => {
    // A load hook lists every ES module the CLI loads while it lists dumps (config search, adapters, storage), and
    // the require cache, at exit, every CommonJS one (a bundled dependency may require an optional one by name).
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-bundle-'));
    const hook = `data:text/javascript,${encodeURIComponent(`
      import { createRequire, register } from 'node:module';
      import { appendFileSync } from 'node:fs';
      const cache = createRequire(process.cwd() + '/').cache;
      process.on('exit', () => appendFileSync(process.env.LOADED_LIST, Object.keys(cache).map((f) => 'file://' + f + '\\n').join('')));
      const Segmenter = Intl.Segmenter;
      Intl.Segmenter = class extends Segmenter { constructor(...a) { appendFileSync(process.env.LOADED_LIST, 'Intl.Segmenter\\n'); super(...a); } };
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (url) => appendFileSync(process.env.LOADED_LIST, url + '\\n'));
      port1.unref();
      register('data:text/javascript,' + encodeURIComponent('let p; export function initialize(d) { p = d.port } export async function load(u, c, n) { p.postMessage(u); return n(u, c) }'), { data: { port: port2 }, transferList: [port2] });
    `)}`;
    const list = path.join(dir, 'loaded.txt');
    const run = spawnSync(process.execPath, ['--import', hook, PGCLONE_BIN, 'ls', '-s', path.join(dir, 'dumps')], {
      cwd: dir,
      env: { ...process.env, LOADED_LIST: list, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const files = readFileSync(list, 'utf8').split('\n').filter((u) => u.startsWith('file:'));
    // The hook sees the bin and the file that runs the bundle (the bundle itself is compiled as a script, not loaded
    // as a module: dist/run-bundle.js); a module loaded from outside the bundle would be listed too.
    expect(files.some((u) => u.endsWith('/packages/pgclone/dist/run-bundle.js'))).toBe(true);
    const own = (u: string) => u.includes('/packages/pgclone/bin/') || u.endsWith('/packages/pgclone/dist/run-bundle.js') || u.includes('/packages/pgclone/dist/bundle/');
    expect(files.filter((u) => !own(u))).toEqual([]);
    // yargs' text layout (cliui, string-width) builds an Intl.Segmenter and a Unicode emoji regex as it loads, ~50 ms;
    // the bundle loads it only when a command's help is rendered (scripts/bundle-cli.mjs).
    expect(readFileSync(list, 'utf8')).not.toContain('Intl.Segmenter');
    const help = spawnSync(process.execPath, ['--import', hook, PGCLONE_BIN, 'dump', '--help'], { cwd: dir, env: { ...process.env, LOADED_LIST: list }, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--storage-location +Where dumps live/); // laid out in columns, by the loaded cliui
    expect(readFileSync(list, 'utf8')).toContain('Intl.Segmenter'); // the check sees it when it is built
  });

  it('runs from V8\'s code cache, named by the bundle\'s content, and the cached bundle can still import()', async () => {
    // A TypeScript config is loaded with jiti, which the bundle import()s (core/src/native-import.ts): on Node 20 a
    // script compiled from a code cache cannot import() by itself.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-cache-'));
    writeFileSync(path.join(dir, 'pgclone.config.ts'), `const config: { storageLocation: string } = { storageLocation: './dumps' };\nexport default config;\n`);
    const { codeCacheFile } = (await import('../packages/pgclone/dist/run-bundle.js')) as typeof import('../packages/pgclone/src/run-bundle.js');
    const cache = codeCacheFile('cli', readFileSync(path.join(bundleDir, 'cli.cjs')));
    expect(path.dirname(cache)).toBe(path.resolve(bundleDir)); // beside the bundle, nowhere else
    // Another content of the same length is another cache (V8 itself would take it: it checks only the length).
    expect(codeCacheFile('cli', Buffer.from('a'))).not.toBe(codeCacheFile('cli', Buffer.from('b')));
    const ls = () => spawnSync(process.execPath, [PGCLONE_BIN, 'ls', '--json'], { cwd: dir, env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }, encoding: 'utf8' });
    const first = ls();
    expect(first.status, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual([]);
    const written = statSync(cache).mtimeMs; // by this run or an earlier one
    for (let i = 0; i < 2; i++) {
      const again = ls();
      expect(again.status, again.stderr).toBe(0);
      expect(again.stderr).toBe('');
    }
    // A cache that V8 rejected would have been written again.
    expect(statSync(cache).mtimeMs).toBe(written);
  });
});
