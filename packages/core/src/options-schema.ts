import * as z from 'zod/mini';
import { bundleShape, describeIssues, scalarText, testShape, type HookContext } from './config/schema.js';
import { UsageError } from './errors.js';
import type { PgcloneEvent } from './events.js';

/**
 * The operations' options (options.ts) as data. TypeScript checks them where the API is called; a JavaScript caller,
 * or one that builds options at run time, gets them checked here instead, when an operation starts: a string where
 * a boolean belongs (`reversible: 'no'` restored reversibly), an array where a string belongs (a TypeError from deep
 * inside), or a misspelt key (`compresion`, silently ignored). Values are checked where they are used, the same for
 * the CLI's flags (a compression's level, the range of `jobs`).
 */

const text = z.string();
// An option that names something (a folder, a config, a location, an instance): '' is an unset variable, most likely,
// as the CLI's `-s ''` is, never a name. Taken as "not given", `storageLocation: ''` wrote dumps into the project
// directory itself, and `databaseUrl: ''` fell back to DATABASE_URL: another database than the one meant.
const name = z.string().check(z.minLength(1, 'expected a value'));
const flag = z.boolean();
// An empty command is allowed here, unlike in a config file: `--pre-swap-hook ''` turns the configured hooks off.
const hooks = z.array(
  z.union([text, z.custom<(context: HookContext) => unknown>((v) => typeof v === 'function', 'expected a command or a function')]),
);

const common = {
  cwd: name,
  config: name,
  configFile: name,
  database: name,
  storageLocation: name,
  instance: name,
  databaseUrl: name,
  env: z.record(z.string(), z.optional(z.string())),
  onEvent: z.custom<(event: PgcloneEvent) => void>((v) => typeof v === 'function', 'expected a function'),
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, 'expected an AbortSignal'),
};
const dump = { exclude: z.array(text), preDumpHooks: hooks, preDumpHook: hooks, compression: text };
const restore = {
  reversible: flag,
  preSwapHooks: hooks,
  preSwapHook: hooks,
  postSwapHooks: hooks,
  postSwapHook: hooks,
  dryRun: flag,
  jobs: z.number(),
  spoolDir: name,
  copyStrategy: bundleShape.copyStrategy,
};
/** The API's fast reset of `restore(':name')` (pgclone's fast-restore.ts); the CLI has no flags for them. */
const fastReset = {
  fast: flag,
  spare: z.union([flag, z.literal('auto')]),
  strategy: z.enum(['WAL_LOG', 'FILE_COPY']),
};
const ls = { instances: flag, databases: flag, configs: flag, local: flag };
const prune = { keep: z.number(), olderThan: text, yes: flag };

/** Every option's type, whichever operation takes it. */
const optionTypes = z.partial(z.looseObject({ ...common, ...dump, ...restore, ...fastReset, ...ls, ...prune, force: flag, fix: flag, verify: flag, all: flag, unpin: flag }));

/** The keys each operation takes (the API adds its own: `runtime`, `knex`, and the fast reset's). */
export const OPTION_KEYS = {
  dump: Object.keys({ ...common, ...dump }),
  restore: Object.keys({ ...common, ...restore }),
  copy: [...Object.keys(common), 'copyStrategy'],
  ls: Object.keys({ ...common, ...ls }),
  lsLong: [...Object.keys(common), 'local'],
  prune: Object.keys({ ...common, ...prune }),
  pin: Object.keys(common),
  rm: [...Object.keys(common), 'force'],
  doctor: [...Object.keys(common), 'fix', 'verify', 'all'],
  fastReset: Object.keys(fastReset),
} as const satisfies Record<string, readonly string[]>;

/**
 * The test helpers' own options (`testDatabase`, `startTestRun`, `ensureTemplate`): the config's `test` keys but
 * `reset` (the setup file's), with the API's hooks and strategy, plus `worker` for `testDatabase`.
 */
const testHelper = {
  name: testShape.name,
  files: testShape.files,
  hooks,
  restore: testShape.restore,
  spare: testShape.spare,
  strategy: fastReset.strategy,
  runtime: z.custom<object>((v) => typeof v === 'object' && v !== null, 'expected an object'),
};
const testOptionTypes = z.partial(z.looseObject({ ...common, ...testHelper, worker: z.union([text, z.number()]) }));

/** The keys each test helper takes. */
export const TEST_OPTION_KEYS = {
  startTestRun: Object.keys({ ...common, ...testHelper }),
  ensureTemplate: Object.keys({ ...common, ...testHelper }),
  testDatabase: [...Object.keys({ ...common, ...testHelper }), 'worker'],
} as const satisfies Record<string, readonly string[]>;

/** Checks a test helper's options as TypeScript would: a usage error naming a wrong type or an unknown key. */
export function checkTestOptions(options: unknown, fn: keyof typeof TEST_OPTION_KEYS): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new UsageError(`Invalid options ${describeValue(options)} for ${fn}(): expected an object`);
  }
  const parsed = testOptionTypes.safeParse(options);
  if (!parsed.success) throw new UsageError(`Invalid options for ${fn}(): ${describeIssues(parsed.error, options)}`);
  checkOptionKeys(options, TEST_OPTION_KEYS[fn], fn);
}

/** Throws a usage error naming each option whose value has the wrong type. */
export function checkOptionTypes(options: unknown): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new UsageError(`Invalid options ${describeValue(options)}: expected an object`);
  }
  const parsed = optionTypes.safeParse(options);
  if (!parsed.success) throw new UsageError(`Invalid options: ${describeIssues(parsed.error, options)}`);
}

/** Throws a usage error naming the keys of `options` that `fn` does not take. */
export function checkOptionKeys(options: object, allowed: readonly string[], fn: string): void {
  const unknown = Object.keys(options).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new UsageError(`Unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} for ${fn}(); it takes ${allowed.join(', ')}`);
  }
}

/** Throws a usage error unless `value` is a string (or, when `optional`, undefined). */
export function checkTextArgument(value: unknown, what: string, optional = false): void {
  if (typeof value === 'string' || (optional && value === undefined)) return;
  throw new UsageError(`Invalid ${what} ${describeValue(value)}: expected a string`);
}

// An object is named by its kind, never quoted: passed where a key belongs (`ls(options)`), it is the options, whose
// databaseUrl or connection password would be in the error. A string may be that URL: its user info is masked.
function describeValue(value: unknown): string {
  if (value === undefined || typeof value === 'function') return String(typeof value);
  if (Array.isArray(value)) return '(an array)';
  if (value !== null && typeof value === 'object') return '(an object)';
  const json = scalarText(value);
  return json.length > 60 ? `${json.slice(0, 59)}…` : json;
}
