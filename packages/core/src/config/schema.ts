import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { COMPRESSION_HELP, parseCompression } from '../compression-spec.js';
import { hideUserInfo, redact } from '../redact.js';
import { MAX_JOBS } from './perf.js';

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

// zod's "mini" build: the same validation as classic zod, as functions a bundler keeps only when used (the CLI's
// bundle would otherwise carry ~730 KB of zod, parsed at every command). Its English messages are configured here.
z.config(en());

const nonEmpty = () => z.string().check(z.minLength(1));
// An instance, alias or config name becomes a part of dump keys, which must not start with `-` (keys.ts).
const keyName = () => z.string().check(z.minLength(1), z.refine((v) => !v.startsWith('-'), 'cannot start with "-"'));
/** Whether `pattern` compiles, as pg_restore's error lines are matched against it. */
function isRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
const hook = z.union([
  z.string().check(z.minLength(1, 'a hook command cannot be empty')),
  z.custom<(context: HookContext) => unknown>((v) => typeof v === 'function', 'expected a command or a function'),
]);
const hooks = z.array(hook);
const millis = z.int().check(z.nonnegative());
const connection = z.union([
  nonEmpty(),
  z.strictObject({ env: z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')) }),
], { error: 'expected a connection URL or { "env": "VARIABLE" }' });

const MIB = 1024 * 1024;
const BYTE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1024, ki: 1024, kib: 1024, kb: 1000, m: MIB, mi: MIB, mib: MIB, mb: 1e6, g: 1024 * MIB, gi: 1024 * MIB, gib: 1024 * MIB, gb: 1e9,
};
/** A size in bytes: a whole number, or a string such as `"64MiB"`, `"1.5 GiB"`, `"100MB"`. */
const byteSize = z.pipe(
  z.union([
    z.int().check(z.positive()),
    z.string().check(z.regex(/^\s*\d+(\.\d+)?\s*([kmg]i?b?|b)?\s*$/i, 'expected bytes, or a size such as "64MiB"')),
  ]),
  z.transform((v: number | string) => {
    if (typeof v === 'number') return v;
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v)!;
    return Math.round(Number(m[1]) * BYTE_UNITS[m[2]!.toLowerCase()]!);
  }),
);

/**
 * `s3`: how to reach an `s3://` storage location. Credentials never go here: the AWS SDK finds them (environment,
 * shared config/credentials files and `profile`, SSO, instance roles).
 */
export const s3SettingsSchema = z.partial(
  z.strictObject({
    /** Endpoint of an S3-compatible service (MinIO, R2, Spaces, Ceph…); AWS S3 when absent. */
    endpoint: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL such as "https://s3.example.com"' }),
    region: nonEmpty(),
    /** Path-style URLs (`endpoint/bucket/key`), needed by MinIO and most self-hosted services. */
    forcePathStyle: z.boolean(),
    /** A profile of the shared AWS config/credentials files. */
    profile: nonEmpty(),
    /** Multipart part size (bytes or `"64MiB"`); default from the database size. */
    partSize: z.pipe(
      byteSize,
      z.number().check(z.minimum(5 * MIB, 'the S3 minimum part size is 5 MiB'), z.maximum(5 * 1024 * MIB, 'the S3 maximum part size is 5 GiB')),
    ),
    /** Parts uploaded at once (memory is about partSize × (queueSize + 1)). */
    queueSize: z.int().check(z.minimum(1), z.maximum(64)),
    requestChecksumCalculation: z.enum(['WHEN_SUPPORTED', 'WHEN_REQUIRED']),
    responseChecksumValidation: z.enum(['WHEN_SUPPORTED', 'WHEN_REQUIRED']),
  }),
);

/** The validated `s3` settings (sizes in bytes). */
export type S3Settings = z.infer<typeof s3SettingsSchema>;

/** The `test` section's keys (the test helpers' options check them too: options-schema.ts). */
export const testShape = {
  /** Base name of the template and the per-worker databases (default: the target database's name). */
  name: z.string().check(z.minLength(1), z.maxLength(30), z.regex(/^[A-Za-z0-9_]+$/, 'use only [A-Za-z0-9_]')),
  /** Globs (relative to the project directory) whose files key the template: migrations, seeds, schema. */
  files: z.array(nonEmpty()),
  /** Hooks that build the template (default: ["migrate"] when a Knex or Prisma project is found). */
  hooks,
  /** A dump key or prefix restored into the template before its hooks run. */
  restore: nonEmpty(),
  /** When the ready-made setup file resets the worker's database. */
  reset: z.enum(['each', 'file', 'never']),
  /** Keep a spare copy so a reset is a rename (`auto`: when the template is small). */
  spare: z.union([z.boolean(), z.literal('auto')]),
};

/** Keys allowed both at the top level and inside each named config. */
export const bundleShape = {
  instance: keyName(),
  database: keyName(),
  databases: z.record(keyName(), connection),
  storageLocation: nonEmpty(),
  exclude: z.array(nonEmpty()),
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
  restoreErrorAllowList: z.array(nonEmpty().check(z.refine(isRegExp, 'expected a regular expression'))),
  adapter: z.enum(['knex', 'prisma']),
  compression: z.string().check(z.refine((v) => parseCompression(v) !== undefined, `expected ${COMPRESSION_HELP}`)),
  jobs: z.int().check(z.minimum(1), z.maximum(MAX_JOBS)),
  copyStrategy: z.enum(['auto', 'wal_log', 'file_copy', 'clone']),
  spoolDir: nonEmpty(),
  s3: s3SettingsSchema,
  /** Test databases (`pgclone/vitest`, `testDatabase()`); see docs/testing.md. */
  test: z.partial(z.strictObject(testShape)),
};

const bundle = z.partial(z.strictObject(bundleShape));

/** The schema of a whole config file. */
export const configSchema = z.partial(
  z.extend(bundle, {
    configs: z.record(z.string().check(z.regex(/^[A-Za-z0-9_-]+$/, 'config names use only [A-Za-z0-9_-]'), z.refine((v) => !v.startsWith('-'), 'cannot start with "-"')), bundle),
  }),
);

/** A bundle of options: the top level of a config file, or one of its named `configs`. */
export type ConfigBundle = z.infer<typeof bundle>;

/** A whole config file. */
export type PgcloneConfig = z.infer<typeof configSchema>;

/**
 * Formats zod issues as `path: message` for one-line errors, with the value given where it is a scalar of `input`
 * (`compression: expected … (got "zstd:50")`): never for keys that may hold a secret, and redacted.
 */
export function describeIssues(error: z.core.$ZodError, input?: unknown): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
        return `unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}${path ? ` in ${path}` : ''}`;
      }
      if (issue.code === 'invalid_key') {
        // A name under `configs` or `databases`: the name is what is wrong (its value may be a URL), and the rule is
        // in the nested issues (zod's own message says only "Invalid key in record").
        const name = issue.path.at(-1);
        const rules = issue.issues.map((inner) => inner.message).join('; ');
        return `${issue.path.slice(0, -1).map(String).join('.') || '(root)'}: invalid name ${JSON.stringify(String(name))}${rules ? `: ${rules}` : ''}`;
      }
      return `${path || '(root)'}: ${issue.message}${given(input, issue.path)}`;
    })
    .join('; ');
}

/** ` (got <value>)` for the scalar at `path` in `input`; empty for objects, functions and secret-like keys. */
function given(input: unknown, path: readonly PropertyKey[]): string {
  if (input === undefined || path.some((p) => typeof p === 'string' && /secret|password|token|credential/i.test(p))) return '';
  let value: unknown = input;
  for (const p of path) {
    if (value === null || typeof value !== 'object') return '';
    value = (value as Record<PropertyKey, unknown>)[p];
  }
  if (value === undefined || typeof value === 'function' || (typeof value === 'object' && value !== null)) return '';
  // A rejected string may be a mangled URL whose user info the URL patterns of redact() do not recognise.
  const text = scalarText(value);
  return ` (got ${redact(text.length > 80 ? `${text.slice(0, 79)}…` : text)})`;
}

/**
 * A scalar as the user would write it: strings quoted (user info masked), `NaN`, `10n`, `Symbol(x)` as such
 * (JSON.stringify gives "null" for NaN, nothing for a symbol, and throws for a bigint).
 */
export function scalarText(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(hideUserInfo(value));
  return typeof value === 'bigint' ? `${value}n` : String(value);
}
