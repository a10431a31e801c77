import path from 'node:path';
import { cosmiconfig, type Loader } from 'cosmiconfig';
import { ConfigError } from '../errors.js';
import { configSchema, describeIssues, type PgcloneConfig } from './schema.js';
import { transpileCacheDir } from '../transpile-cache.js';
import { importNative } from '../native-import.js';

/** A config file found and validated. */
export interface LoadedConfig {
  config: PgcloneConfig;
  /** Absolute path of the file (or package.json holding the `pgclone` key). */
  filepath: string;
  /**
   * True for the user's own config (`~/.config/pgclone/…`, found when the search from the CWD up found none): it gives
   * values, but it is no project, so dumps and hooks stay in the project rather than in that folder.
   */
  user?: boolean;
}

const MODULE = 'pgclone';

/** Where the config is searched for, in each directory from the CWD up. */
export const CONFIG_SEARCH_PLACES: readonly string[] = [
  'package.json',
  '.pgclonerc',
  '.pgclonerc.json',
  '.pgclonerc.yaml',
  '.pgclonerc.yml',
  '.pgclonerc.js',
  '.pgclonerc.mjs',
  '.pgclonerc.cjs',
  '.pgclonerc.ts',
  'pgclone.config.json',
  'pgclone.config.js',
  'pgclone.config.mjs',
  'pgclone.config.cjs',
  'pgclone.config.ts',
];

/** Loads JS/TS modules (ESM or CJS, TypeScript included) with jiti, which needs no TypeScript install. */
export async function importModule(filepath: string): Promise<unknown> {
  const { createJiti } = (await importNative('jiti')) as typeof import('jiti');
  const jiti = createJiti(import.meta.url, { moduleCache: false, fsCache: transpileCacheDir(filepath), interopDefault: true });
  const mod = await jiti.import<Record<string, unknown>>(filepath);
  return mod && typeof mod === 'object' && 'default' in mod ? mod.default : mod;
}

// cosmiconfig names the file in its JSON and YAML errors, not in what a JS/TS config throws while it runs.
const moduleLoader: Loader = async (filepath) => {
  try {
    return await importModule(filepath);
  } catch (error) {
    throw new ConfigError('CONFIG_INVALID', `Cannot read ${filepath}: ${parseErrorLine(error)}`, { cause: error });
  }
};

/**
 * Finds and validates the pgclone config: `configFile` when given, else the first match of
 * {@link CONFIG_SEARCH_PLACES} from `cwd` up. Returns `undefined` when there is none.
 */
export async function loadConfig(options: { cwd: string; configFile?: string }): Promise<LoadedConfig | undefined> {
  const explorer = cosmiconfig(MODULE, {
    searchPlaces: [...CONFIG_SEARCH_PLACES],
    searchStrategy: 'global',
    loaders: { '.ts': moduleLoader, '.mts': moduleLoader, '.cts': moduleLoader, '.js': moduleLoader, '.mjs': moduleLoader, '.cjs': moduleLoader },
    cache: false,
    // An empty pgclone.config.json in the project is the project's config (all defaults), not a reason to go on
    // searching and take a parent directory's.
    ignoreEmptySearchPlaces: false,
  });
  let result: Awaited<ReturnType<typeof explorer.search>>;
  try {
    result = options.configFile
      ? await explorer.load(path.resolve(options.cwd, options.configFile))
      : await explorer.search(options.cwd);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (options.configFile && code === 'ENOENT') {
      throw new ConfigError('CONFIG_NOT_FOUND', `Config file ${JSON.stringify(options.configFile)} does not exist`);
    }
    const where = options.configFile ? JSON.stringify(options.configFile) : 'the pgclone config';
    throw new ConfigError('CONFIG_INVALID', `Cannot read ${where}: ${parseErrorLine(error)}`, { cause: error });
  }
  if (!result) return undefined;
  const fromCwd = path.relative(path.dirname(result.filepath), path.resolve(options.cwd));
  const inProject = fromCwd.split(path.sep)[0] !== '..' && !path.isAbsolute(fromCwd);
  const user = !options.configFile && !inProject ? { user: true } : {};
  if (result.isEmpty) return { config: {}, filepath: result.filepath, ...user };
  return { config: validateConfig(result.config, result.filepath), filepath: result.filepath, ...user };
}

/** Validates a config object; `source` names it in errors. */
export function validateConfig(value: unknown, source: string): PgcloneConfig {
  const parsed = configSchema.safeParse(value ?? {});
  if (!parsed.success) {
    throw new ConfigError('CONFIG_INVALID', `Invalid pgclone config in ${source}: ${describeIssues(parsed.error, value ?? {})}`);
  }
  return parsed.data;
}

/**
 * A parser's error on one line, without the code frames cosmiconfig's JSON and YAML errors quote (`> 1 | {bad`), whose
 * first line alone says only where: `JSON Error in /app/pgclone.config.json: Expected property name … at position 1`.
 */
function parseErrorLine(error: unknown): string {
  return String((error as Error)?.message ?? error)
    // Node's "Cannot find module 'x'" goes on with the chain of files that required it, the config among them.
    .replace(/\n\s*Require stack:[\s\S]*$/, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !/^(>\s*)?(\d+\s*)?\|/.test(line) && !/^-*\^$/.test(line))
    .join(' ');
}
