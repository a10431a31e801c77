import { z } from 'zod';
import { COMPRESSION_HELP, parseCompression } from '../compression-spec.js';

/**
 * The one place that lists every config key. `pgclone.config.*`, `.pgclonerc*`, `package.json#pgclone`, named
 * `configs` and adapter sections (knexfile `pgclone`) are all validated by this schema; an unknown key is an error
 * naming it, so a typo never silently does nothing.
 */

/** What a function hook receives. */
export interface HookContext {
  /** URL of the database the hook concerns (password included: keep it out of logs). */
  databaseUrl: string;
  /** Name of that database (`N__temp` for pre-swap hooks). */
  database: string;
}

/** A hook: a shell command, a reserved adapter name (`migrate`, `seed`), or a function in JS/TS configs. */
export type Hook = string | ((context: HookContext) => unknown);

const hook = z.union([
  z.string().min(1, 'a hook command cannot be empty'),
  z.custom<(context: HookContext) => unknown>((v) => typeof v === 'function', 'expected a command or a function'),
]);
const hooks = z.array(hook);
const millis = z.number().int().nonnegative();
const connection = z.union([
  z.string().min(1),
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name') }),
]);

/** Keys allowed both at the top level and inside each named config. */
export const bundleShape = {
  instance: z.string().min(1),
  database: z.string().min(1),
  databases: z.record(z.string().min(1), connection),
  storageLocation: z.string().min(1),
  exclude: z.array(z.string().min(1)),
  preDumpHooks: hooks,
  preSwapHooks: hooks,
  postSwapHooks: hooks,
  reversible: z.boolean(),
  allowDump: z.boolean(),
  allowRestore: z.boolean(),
  allowCopy: z.boolean(),
  statementTimeout: millis,
  lockTimeout: millis,
  validateDumpKeys: z.boolean(),
  restoreErrorAllowList: z.array(z.string().min(1)),
  adapter: z.enum(['knex', 'prisma']),
  compression: z.string().refine((v) => parseCompression(v) !== undefined, `expected ${COMPRESSION_HELP}`),
  jobs: z.number().int().min(1),
  copyStrategy: z.enum(['auto', 'wal_log', 'file_copy', 'clone']),
  spoolDir: z.string().min(1),
};

const bundle = z.strictObject(bundleShape).partial();

/** The schema of a whole config file. */
export const configSchema = bundle.extend({
  configs: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'config names use only [A-Za-z0-9_-]'), bundle),
}).partial();

/** A bundle of options: the top level of a config file, or one of its named `configs`. */
export type ConfigBundle = z.infer<typeof bundle>;

/** A whole config file. */
export type PgcloneConfig = z.infer<typeof configSchema>;

/** Formats zod issues as `path: message` for one-line errors. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
        return `unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}${path ? ` in ${path}` : ''}`;
      }
      return `${path || '(root)'}: ${issue.message}`;
    })
    .join('; ');
}
