import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import type { PgcloneEvent, Runtime } from '@pgclone/core';
// Only the dependency-free part of core at start-up: `--help` must not load pg, zod or the AWS SDK.
import { formatAge, formatBytes } from '@pgclone/core/format';
import { MAX_JOBS } from '@pgclone/core/limits';
import { redact } from '@pgclone/core/redact';
import { createPrinter, type Printer } from './printer.js';
import { assertBooleanValues, repeatableOption, stringOption, wholeNumberOption } from './option-types.js';
import { captureStrayStdout } from './stray-stdout.js';
import { routeProcessWarnings } from './process-warnings.js';

/** Streams and hooks the CLI runs with; tests and the ORM bins pass their own. */
export interface CliContext {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /**
   * Overrides for storage and adapters (the ORM bins pass the adapter chosen by their own flags), or a function of
   * the parsed arguments that returns them (for flags added with {@link CliContext.configure}).
   */
  runtime?: Partial<Runtime> | ((args: Record<string, unknown>) => Partial<Runtime>);
  /** Program name in help and errors. */
  scriptName?: string;
  /** Extra global options, described in help (the ORM bins' own flags, already parsed by them). */
  configure?: (argv: Argv) => Argv;
  /**
   * Long name of the named-config option (`-c`). Default `config`; `prisma-pgclone` uses `config-name`, since its
   * `--config` is Prisma's config file, as in the Prisma CLI.
   */
  namedConfigOption?: string;
}

/** Columns the help is wrapped to (fewer on a narrower terminal); bin/pgclone.js prints it pre-rendered at this width. */
export const HELP_WIDTH = 100;

interface GlobalArgs {
  json?: boolean;
  quiet?: boolean;
  configFile?: string;
  config?: string;
  database?: string;
  storageLocation?: string;
}

const common = {
  database: stringOption('database', 'Database alias from the config ("databases"); default: default', { alias: 'd' }),
  'storage-location': stringOption('storage-location', 'Where dumps live: a directory or s3://bucket/prefix/', { alias: 's' }),
  config: stringOption('config', 'Named config from "configs" in the pgclone config', { alias: 'c' }),
} as const;

const COPY_STRATEGIES = ['auto', 'wal_log', 'file_copy', 'clone'] as const;
const copyStrategyOption = stringOption<(typeof COPY_STRATEGIES)[number]>(
  'copy-strategy',
  'How database copies are made (default auto: WAL_LOG for small, FILE_COPY or clone for large)',
  { choices: COPY_STRATEGIES },
);

const COMMANDS = ['ls', 'dump', 'restore', 'copy', 'prune', 'pin', 'unpin', 'rm', 'doctor'] as const;

/**
 * The unknown flag that took a command name as its value (`--bogus ls`), if that is why no command was found. Flags
 * that take a value before the command (`-d ls` names a database "ls") are not unknown.
 */
function flagBeforeCommand(
  argv: readonly string[],
  commands: readonly string[],
  known: ReadonlySet<string>,
): { flag: string; command: string } | undefined {
  for (let i = 0; i + 1 < argv.length && argv[i] !== '--'; i++) {
    const flag = /^--?([^=]+)$/.exec(argv[i]!)?.[1];
    const command = argv[i + 1]!;
    if (flag && commands.includes(command) && !known.has(flag)) return { flag, command };
  }
  return undefined;
}

/** The flags that take a value before the command: the common options and the bin's own (`--knexfile`, `--schema`, …). */
function valueFlags(parser: { getOptions(): object }, common: Record<string, object>): Set<string> {
  const options = parser.getOptions() as { boolean: string[]; alias: Record<string, string[]>; key: Record<string, unknown> };
  const names = new Set<string>();
  for (const key of Object.keys(options.key)) {
    if (!options.boolean.includes(key)) for (const name of [key, ...(options.alias[key] ?? [])]) names.add(name);
  }
  for (const [key, option] of Object.entries(common)) {
    const { alias } = option as { alias?: string };
    names.add(key);
    if (alias) names.add(alias);
  }
  return names;
}

/**
 * Whether `argv` asks for `--json` (`--json=true` too; the last of them wins, as for the command), for what is printed
 * before yargs has parsed it or when it could not. Not after `--`, where it is an argument.
 */
function jsonAsked(argv: readonly string[]): boolean {
  let json = false;
  for (const arg of argv.slice(0, argv.includes('--') ? argv.indexOf('--') : undefined)) {
    if (arg === '--json' || arg === '--json=true') json = true;
    else if (arg === '--json=false' || arg === '--no-json') json = false;
  }
  return json;
}

/** {@link common} with the named-config option under another long name (the `-c` alias stays). */
function commonOptions(namedConfigOption: string): typeof common {
  if (namedConfigOption === 'config') return common;
  const { config, ...rest } = common;
  return { ...rest, [namedConfigOption]: stringOption(namedConfigOption, config.describe, { alias: 'c' }) } as unknown as typeof common;
}

/** pgclone's version, from its package.json: two levels up both from `dist/cli/` and from the bundle in `dist/bundle/`. */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Runs the pgclone CLI with `argv` (without the node and script paths) and resolves to the exit status:
 * 0 success, 1 error, 2 usage error. Results go to stdout one per line, everything else to stderr.
 */
export async function main(argv: string[], context: CliContext = {}): Promise<number> {
  const stdout = context.stdout ?? process.stdout;
  const stderr = context.stderr ?? process.stderr;
  const scriptName = context.scriptName ?? 'pgclone';
  // Anywhere before a `--`, as with yargs' own --version: nothing else runs.
  if (argv.slice(0, argv.includes('--') ? argv.indexOf('--') : undefined).includes('--version')) {
    stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const namedConfigKey = camelCase(context.namedConfigOption ?? 'config');
  const common = commonOptions(context.namedConfigOption ?? 'config');
  let exitCode = 0;
  let printer: Printer | undefined;
  // Before a command has made its own (an error in parsing, a warning at start-up): `--json` as far as argv says.
  const currentPrinter = () => (printer ??= createPrinter({ json: jsonAsked(argv), quiet: false, stdout, stderr, scriptName }));
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    // An event like any other (NDJSON with --json), shown even with --quiet.
    currentPrinter().event({ event: 'message', level: 'warn', message: `${signal} received, stopping and cleaning up (again to exit at once)` });
    controller.abort(new Error(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A warning prints like pgclone's own (an NDJSON event with --json). Not when a caller passes its own streams: the
  // process's listeners are not the command's to change.
  const restoreWarnings = context.stderr
    ? () => {}
    : routeProcessWarnings((warning) => {
        const message = warning.name === 'PgcloneWarning' ? warning.message : `${warning.name}: ${warning.message}`;
        currentPrinter().event({ event: 'message', level: 'warn', message });
      });

  const run = async (args: GlobalArgs, action: (base: BaseOptions) => Promise<unknown>) => {
    // In-process writes to stdout (a function hook's console.log) are hook output on stderr: stdout is for results.
    const stray = context.stdout ? undefined : captureStrayStdout((line) => printer!.event({ event: 'output', source: 'hook', line }));
    printer = createPrinter({ json: !!args.json, quiet: !!args.quiet, stdout: stray ? { write: stray.write } as NodeJS.WritableStream : stdout, stderr, scriptName });
    const configName = (args as Record<string, unknown>)[namedConfigKey] as string | undefined;
    const runtime = typeof context.runtime === 'function' ? context.runtime(args as Record<string, unknown>) : context.runtime;
    const base: BaseOptions = {
      ...(context.cwd ? { cwd: context.cwd } : {}),
      ...(context.env ? { env: context.env } : {}),
      ...(args.configFile !== undefined ? { configFile: args.configFile } : {}),
      ...(configName !== undefined ? { config: configName } : {}),
      ...(args.database !== undefined ? { database: args.database } : {}),
      ...(args.storageLocation !== undefined ? { storageLocation: args.storageLocation } : {}),
      onEvent: (event: PgcloneEvent) => printer!.event(event),
      signal: controller.signal,
      ...(runtime ? { runtime } : {}),
    };
    try {
      await action(base);
    } finally {
      stray?.restore();
    }
  };

  let parser = yargs(argv)
    // Numeric flags check what was typed (option-types.ts): yargs would take `0x10` or ` 3` for a number first.
    .parserConfiguration({ 'parse-numbers': false })
    .scriptName(scriptName)
    .usage(`$0 <command> [options]\n\nDump, restore (reversibly) and copy PostgreSQL databases.`)
    .option('json', { type: 'boolean', describe: 'Results as JSON on stdout; events as NDJSON on stderr' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Print only results, warnings and errors' })
    .option('config-file', stringOption('config-file', 'Use this config file instead of searching for one'));
  if (context.configure) parser = context.configure(parser as unknown as Argv) as unknown as typeof parser;
  parser = parser
    .command(
      'ls [prefix]',
      'List dump keys, newest first (or instances, databases, configs, local keys)',
      (y) =>
        y
          .positional('prefix', { type: 'string', describe: 'Only keys under this prefix (whole path segments)' })
          .option('instances', { type: 'boolean', describe: 'List the instance parts of the keys' })
          .option('databases', { type: 'boolean', describe: 'List the database alias parts of the keys' })
          .option('configs', { type: 'boolean', describe: 'List the config parts of the keys' })
          .option('local', { type: 'boolean', describe: 'List local databases usable as :name keys' })
          .option('long', { alias: 'l', type: 'boolean', describe: 'With size, age, verification and pin (or, with --local, sizes)' })
          .option(common),
      (args) =>
        run(args, async (base) => {
          if (args.long && (args.instances || args.databases || args.configs)) {
            throw Object.assign(new Error('--long goes with the dump listing or --local, not with --instances/--databases/--configs'), { usage: true });
          }
          if (args.long && args.local) {
            if (args.prefix) throw (await import('@pgclone/core')).localPrefixError(args.prefix);
            const { lsLocal } = await import('../index.js');
            const rows = await lsLocal(base);
            printer!.result(
              rows.map((r) =>
                [r.key, formatBytes(r.bytes).padStart(10), r.kind === 'database' ? 'database' : `${r.kind} of ${r.of}`, r.allowConnections || r.kind === 'spare' ? '' : 'blocked']
                  .filter(Boolean)
                  .join('  '),
              ),
              rows,
            );
            return;
          }
          if (args.long) {
            const { lsLong } = await import('../index.js');
            const rows = await lsLong(args.prefix, base);
            const now = Date.now();
            const verified = { manifest: 'verified', 'no-manifest': 'unverified', 'size-mismatch': 'CORRUPT', 'bad-manifest': 'CORRUPT' } as const;
            printer!.result(
              rows.map((r) =>
                [r.key, formatBytes(r.size).padStart(10), formatAge(now - r.created.getTime()).padStart(5), verified[r.verified], r.pinned ? 'pinned' : '']
                  .filter(Boolean)
                  .join('  '),
              ),
              rows,
            );
            return;
          }
          const { ls } = await import('../index.js');
          const keys = await ls(args.prefix, {
            ...base,
            ...(args.instances ? { instances: true } : {}),
            ...(args.databases ? { databases: true } : {}),
            ...(args.configs ? { configs: true } : {}),
            ...(args.local ? { local: true } : {}),
          });
          printer!.result(keys, keys);
        }),
    )
    .command(
      'dump',
      'Dump the database; prints the new key as the last line',
      (y) =>
        y
          .option('exclude', repeatableOption('Keep this table but leave out its rows (repeatable; "" disables the configured ones)', { alias: 'e' }))
          .option('instance', stringOption('instance', 'Instance part of the key (default: $PGCLONE_INSTANCE, else the host name)', { alias: 'i' }))
          .option('pre-dump-hook', repeatableOption('Command to run before dumping (repeatable; "" disables the defaults)'))
          .option('compression', stringOption('compression', 'auto (default), none, gzip[:1-9], zstd[:1-19] or lz4[:1-12]'))
          .option(common),
      (args) =>
        run(args, async (base) => {
          const { dump } = await import('../index.js');
          const result = await dump({
            ...base,
            ...(args.exclude ? { exclude: args.exclude } : {}),
            ...(args.instance !== undefined ? { instance: args.instance } : {}),
            ...(args.preDumpHook ? { preDumpHooks: args.preDumpHook } : {}),
            ...(args.compression !== undefined ? { compression: args.compression } : {}),
          });
          printer!.result([result.key], result);
        }),
    )
    .command(
      'restore [key]',
      'Restore a key, the newest dump under a prefix, or a :local database',
      (y) =>
        y
          .positional('key', { type: 'string', describe: 'Exact key, prefix (newest dump wins), or :pre, :post, :name' })
          .option('reversible', { alias: 'r', type: 'boolean', describe: 'Keep :pre (the old database) and :post (the restored, migrated database)' })
          .option('pre-swap-hook', repeatableOption('Command run on the restored copy before the swap (repeatable; "" disables the defaults)'))
          .option('post-swap-hook', repeatableOption('Command run after the swap (repeatable; "" disables the defaults)'))
          .option('dry-run', { type: 'boolean', describe: 'Print the plan and change nothing' })
          .option('jobs', { alias: 'j', ...wholeNumberOption('jobs', 'Parallel pg_restore jobs (default: the number of cores, at most 8)', { min: 1, max: MAX_JOBS }) })
          .option('spool-dir', stringOption('spool-dir', 'Directory for the temporary archive of a parallel restore (default: OS temp)'))
          .option('copy-strategy', copyStrategyOption)
          .option(common),
      (args) =>
        run(args, async (base) => {
          const { restore } = await import('../index.js');
          const result = await restore(args.key, {
            ...base,
            ...(args.reversible !== undefined ? { reversible: args.reversible } : {}),
            ...(args.preSwapHook ? { preSwapHooks: args.preSwapHook } : {}),
            ...(args.postSwapHook ? { postSwapHooks: args.postSwapHook } : {}),
            ...(args.dryRun ? { dryRun: true } : {}),
            ...(args.jobs !== undefined ? { jobs: args.jobs } : {}),
            ...(args.spoolDir !== undefined ? { spoolDir: args.spoolDir } : {}),
            ...(args.copyStrategy !== undefined ? { copyStrategy: args.copyStrategy } : {}),
            fast: false,
          });
          printer!.result(result.dryRun ? result.plan : [result.key], result);
        }),
    )
    .command(
      'copy <target>',
      'Copy the database into a local database (:name)',
      (y) =>
        y
          .positional('target', { type: 'string', demandOption: true, describe: 'Local name, e.g. :before' })
          .option('copy-strategy', copyStrategyOption)
          .option(common),
      (args) =>
        run(args, async (base) => {
          const { copy } = await import('../index.js');
          const result = await copy(args.target, { ...base, ...(args.copyStrategy !== undefined ? { copyStrategy: args.copyStrategy } : {}) });
          printer!.result([result.key], result);
        }),
    )
    .command(
      'prune [prefix]',
      'Delete old dumps per instance/database/config (dry run unless --yes); never the newest of a group or a pinned one',
      (y) =>
        y
          .positional('prefix', { type: 'string', describe: 'Only groups under this prefix (whole path segments)' })
          .option('keep', wholeNumberOption('keep', 'Keep the newest N dumps of each group', { min: 1 }))
          .option('older-than', stringOption('older-than', 'Delete only dumps older than this (30d, 12h, 2w, 1d12h)'))
          .option('yes', { alias: 'y', type: 'boolean', describe: 'Delete for real (otherwise only show what would go)' })
          .option(common),
      (args) =>
        run(args, async (base) => {
          const { prune } = await import('../index.js');
          const result = await prune(args.prefix, {
            ...base,
            ...(args.keep !== undefined ? { keep: args.keep } : {}),
            ...(args.olderThan !== undefined ? { olderThan: args.olderThan } : {}),
            ...(args.yes ? { yes: true } : {}),
          });
          const verb = result.dryRun ? 'would delete' : 'deleted';
          printer!.result(result.deleted.map((d) => `${verb} ${d.key}`), result);
          printer!.event({
            event: 'message',
            level: 'info',
            message: `${result.dryRun ? 'Would delete' : 'Deleted'} ${result.deleted.length} dump(s) (${formatBytes(result.bytes)}), kept ${result.kept.length}${result.dryRun && result.deleted.length ? '; pass --yes to delete them' : ''}`,
          });
        }),
    )
    .command(
      'pin <key>',
      'Pin a dump: prune and rm keep it',
      (y) => y.positional('key', { type: 'string', demandOption: true, describe: 'Exact dump key' }).option(common),
      (args) =>
        run(args, async (base) => {
          const { pin } = await import('../index.js');
          const result = await pin(args.key, base);
          printer!.result([result.key], result);
        }),
    )
    .command(
      'unpin <key>',
      'Remove the pin of a dump',
      (y) => y.positional('key', { type: 'string', demandOption: true, describe: 'Exact dump key' }).option(common),
      (args) =>
        run(args, async (base) => {
          const { unpin } = await import('../index.js');
          const result = await unpin(args.key, base);
          printer!.result([result.key], result);
        }),
    )
    .command(
      'rm <key>',
      'Delete a dump (exact key) or drop a local database (:name)',
      (y) =>
        y
          .positional('key', { type: 'string', demandOption: true, describe: 'Exact dump key, or :name / :pre / :post' })
          .option('force', { type: 'boolean', describe: 'Drop a local database even though it has open sessions' })
          .option(common),
      (args) =>
        run(args, async (base) => {
          const { rm } = await import('../index.js');
          const result = await rm(args.key, { ...base, ...(args.force ? { force: true } : {}) });
          printer!.result([result.key], result);
        }),
    )
    .command(
      'doctor',
      'Show what interrupted runs left behind (working databases, blocked databases, stale locks, partial files); --fix repairs it',
      (y) =>
        y
          .option('fix', { type: 'boolean', describe: 'Repair what can be repaired' })
          .option('verify', { type: 'boolean', describe: 'Also read every dump with a manifest and check its sha256' })
          .option('all', { type: 'boolean', describe: 'Check every database on the server, not just the target and its working names' })
          .option(common),
      (args) =>
        run(args, async (base) => {
          const [{ doctor }, { describeFinding }] = await Promise.all([import('../index.js'), import('@pgclone/core')]);
          const report = await doctor({
            ...base,
            ...(args.fix ? { fix: true } : {}),
            ...(args.verify ? { verify: true } : {}),
            ...(args.all ? { all: true } : {}),
          });
          printer!.result(report.findings.map(describeFinding), report);
          const problems = report.findings.filter((f) => f.severity === 'problem').length;
          const fixable = report.findings.filter((f) => f.severity === 'problem' && f.fix && f.outcome !== 'fixed').length;
          printer!.event({
            event: 'message',
            level: report.remaining > 0 ? 'warn' : 'info',
            message:
              problems === 0
                ? 'Nothing to repair'
                : report.remaining === 0
                  ? `Repaired ${problems} problem(s)`
                  : `${report.remaining} problem(s) left${!report.fix && fixable > 0 ? `; run "pgclone doctor --fix" to repair ${fixable === report.remaining ? 'them' : `${fixable} of them`}` : ''}`,
          });
          if (report.remaining > 0) exitCode = 1;
        }),
    )
    // Before yargs' own checks, with the command's flags known: a bad boolean value is named, not read as false.
    .middleware((args) => {
      assertBooleanValues(argv, (parser as unknown as { getOptions(): { boolean: string[] } }).getOptions());
      // yargs binds no positional after "--" and strict mode lets it pass: "prune --yes -- dev" pruned every group.
      // It holds them apart here (later it adds them to `_`, where a command's own words cannot be told from them).
      const extra = (args as { '--'?: unknown[] })['--'] ?? [];
      if (extra.length > 0) {
        throw Object.assign(new Error(`Unexpected argument after "--": ${String(extra[0])} (a key or prefix goes before "--")`), { usage: true });
      }
    }, true)
    .demandCommand(1, `Give a command: ${COMMANDS.slice(0, -1).join(', ')} or ${COMMANDS.at(-1)}`)
    .recommendCommands()
    .strict()
    .help()
    .alias('help', 'h')
    // Listed in the help; answered above, before yargs.
    .version('version', 'Print the version of pgclone', packageVersion())
    .wrap(Math.min(HELP_WIDTH, process.stdout.columns ?? HELP_WIDTH))
    .exitProcess(false)
    .fail((message, error) => {
      // yargs' own errors (YError: a failed coerce, a missing option value) are usage errors too; a command's are not.
      if (error && error.name !== 'YError') throw error;
      throw Object.assign(new Error(message), { usage: true });
    });

  // yargs renders the whole help text each time a command starts, only to show it should the command fail later; our
  // .fail() never prints help, and the rendering cost every command ~100 ms of CPU on the main thread at start-up.
  type UsageInstance = { cacheHelpMessage?: () => void };
  const usage = (parser as unknown as { getInternalMethods?: () => { getUsageInstance?: () => UsageInstance } }).getInternalMethods?.().getUsageInstance?.();
  if (usage?.cacheHelpMessage) usage.cacheHelpMessage = () => {};

  try {
    await parser.parseAsync();
  } catch (error) {
    const usage = (error as { usage?: boolean }).usage;
    if (usage) {
      // One line, whatever yargs wrote ("Invalid values:\n  Argument: …, Given: …, Choices: …").
      let message = (error as Error).message.trim().replace(/\s*\n\s*/g, ' ');
      // An unknown flag before the command took the command as its value: "Give a command" ("--bogus ls"), or, with
      // more arguments, yargs took the next one for the command ("--force rm :x": "Did you mean"). Name the flag.
      const swallowed = /^(Give a command|Did you mean)/.test(message)
        ? flagBeforeCommand(argv, COMMANDS, valueFlags(parser as unknown as { getOptions(): object }, common))
        : undefined;
      // yargs names a mistyped --dry-runn twice, as typed and camel-cased ("Unknown arguments: dry-runn, dryRunn").
      const unknown = /^Unknown arguments?: (.*)$/.exec(message);
      if (unknown) {
        const names = unknown[1]!.split(', ');
        const typed = names.filter((name) => !names.some((other) => other !== name && camelCase(other) === name)).map((name) => asTyped(name, argv));
        message = `Unknown argument${typed.length > 1 ? 's' : ''}: ${typed.join(', ')}`;
      }
      // yargs' suggestion alone ("Did you mean rm?") does not say what was wrong.
      const command = argv.find((arg) => !arg.startsWith('-'));
      if (swallowed) message = `Unknown argument: ${swallowed.flag}, before the command "${swallowed.command}" (a command's options go after it)`;
      else if (message.startsWith('Did you mean') && command) message = `Unknown command ${JSON.stringify(command)}. ${message}`;
      // With --json, the same error event as any other error (core's UsageError, without loading core for it).
      if (jsonAsked(argv)) currentPrinter().error(Object.assign(new Error(message), { code: 'USAGE', exitCode: 2 }));
      // yargs quotes what it did not take: a URL given as an argument ("pgclone dump postgresql://…") holds a password.
      // The same "error:" line as the printer's, so that one pattern finds every error of every bin.
      else stderr.write(`${scriptName}: error: ${redact(message)} (see "${scriptName} --help")\n`);
      exitCode = 2;
    } else {
      exitCode = currentPrinter().error(error);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    restoreWarnings();
  }
  return exitCode;
}

type BaseOptions = {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  configFile?: string;
  config?: string;
  database?: string;
  storageLocation?: string;
  onEvent: (event: PgcloneEvent) => void;
  signal: AbortSignal;
  runtime?: Partial<Runtime>;
};

/**
 * An unknown flag's name as typed: yargs reads `--no-such` as `such` negated and names `such`, a word never given.
 */
function asTyped(name: string, argv: readonly string[]): string {
  const given = (flag: string) => argv.some((arg) => arg === `--${flag}` || arg.startsWith(`--${flag}=`));
  return !given(name) && given(`no-${name}`) ? `no-${name}` : name;
}
