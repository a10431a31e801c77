import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, describeHook, type Adapter, type Hook } from '@pgclone/core';

/** The template's inputs when neither `test.files` nor the adapter (Knex and Prisma list theirs) names them. */
const DEFAULT_INPUTS = ['migrations/**'];

/** The globs whose files key the template, and the directory they are relative to. */
export async function templateInputs(input: {
  files: string[] | undefined;
  projectDir: string;
  adapter: Adapter | undefined;
}): Promise<{ patterns: string[]; baseDir: string; source: string }> {
  if (input.files?.length) return { patterns: input.files, baseDir: input.projectDir, source: 'test.files' };
  if (input.adapter?.templateInputs) {
    return { patterns: await input.adapter.templateInputs(), baseDir: input.adapter.projectDir, source: `the ${input.adapter.name} project` };
  }
  return { patterns: DEFAULT_INPUTS, baseDir: input.adapter?.projectDir ?? input.projectDir, source: 'the default folder' };
}

/**
 * A hash of everything that decides the template's content: the input files (path and bytes, sorted), the hooks
 * that build it (commands as written, functions by their source) and the dump restored first. Throws when the
 * globs match no file, which is almost always a wrong path.
 */
export async function templateHash(input: {
  patterns: string[];
  baseDir: string;
  source: string;
  hooks: readonly Hook[];
  restoreKey?: string;
}): Promise<{ hash: string; files: string[] }> {
  const patterns = await Promise.all(
    input.patterns.map(async (p) => {
      const full = path.resolve(input.baseDir, p);
      const isDir = await stat(full).then((s) => s.isDirectory(), () => false);
      return isDir ? `${p.replace(/\/+$/, '')}/**` : p;
    }),
  );
  // Loaded here, not at the top: the CLI's bundle carries this module, and fdir (under tinyglobby) resolves picomatch
  // from node_modules as it loads, which every command would pay for.
  const { glob } = await import('tinyglobby');
  const files = (
    await glob(patterns, { cwd: input.baseDir, onlyFiles: true, dot: true, ignore: ['**/node_modules/**', '**/.git/**'] })
  ).sort();
  if (files.length === 0) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `No file matches ${patterns.map((p) => JSON.stringify(p)).join(', ')} (from ${input.source}) in ${input.baseDir}: set test.files to the migration files that build the test template`,
    );
  }
  const hash = createHash('sha256');
  hash.update('pgclone-test-template-v1\0');
  hash.update(`restore\0${input.restoreKey ?? ''}\0`);
  for (const hook of input.hooks) hash.update(`hook\0${typeof hook === 'function' ? hook.toString() : describeHook(hook)}\0`);
  for (const file of files) {
    hash.update(`file\0${file}\0`);
    hash.update(await readFile(path.resolve(input.baseDir, file)));
    hash.update('\0');
  }
  return { hash: hash.digest('hex'), files };
}
