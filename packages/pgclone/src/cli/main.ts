import yargs, { type Argv } from 'yargs';
import type { PgcloneEvent, Runtime } from '@pgclone/core';
import { createPrinter, type Printer } from './printer.js';

/** Streams and hooks the CLI runs with; tests and the ORM bins pass their own. */
export interface CliContext {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Overrides for storage and adapters (the ORM bins pass the adapter chosen by their own flags). */
  runtime?: Partial<Runtime>;
  /** Program name in help and errors. */
  scriptName?: string;
  /** Extra global options, described in help (the ORM bins' own flags, already parsed by them). */
  configure?: (argv: Argv) => Argv;
}

interface GlobalArgs {
  json?: boolean;
  quiet?: boolean;
  configFile?: string;
  config?: string;
  database?: string;
  storageLocation?: string;
}

const common = {
  database: { alias: 'd', type: 'string', describe: 'Database alias from the config ("databases"); default: default' },
  'storage-location': { alias: 's', type: 'string', describe: 'Where dumps live: a directory or s3://bucket/prefix/' },
  config: { alias: 'c', type: 'string', describe: 'Named config from "configs" in the pgclone config' },
} as const;

const copyStrategyOption = {
  type: 'string',
  choices: ['auto', 'wal_log', 'file_copy', 'clone'],
  describe: 'How database copies are made (default auto: WAL_LOG for small, FILE_COPY or clone for large)',
} as const;

/**
 * Runs the pgclone CLI with `argv` (without the node and script paths) and resolves to the exit status:
 * 0 success, 1 error, 2 usage error. Results go to stdout one per line, everything else to stderr.
 */
export async function main(argv: string[], context: CliContext = {}): Promise<number> {
  const stdout = context.stdout ?? process.stdout;
  const stderr = context.stderr ?? process.stderr;
  const scriptName = context.scriptName ?? 'pgclone';
  let exitCode = 0;
  let printer: Printer | undefined;
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    stderr.write(`${scriptName}: ${signal} received, stopping and cleaning up (again to exit at once)\n`);
    controller.abort(new Error(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const run = async (args: GlobalArgs, action: (base: BaseOptions) => Promise<unknown>) => {
    printer = createPrinter({ json: !!args.json, quiet: !!args.quiet, stdout, stderr, scriptName });
    const base: BaseOptions = {
      ...(context.cwd ? { cwd: context.cwd } : {}),
      ...(context.env ? { env: context.env } : {}),
      ...(args.configFile !== undefined ? { configFile: args.configFile } : {}),
      ...(args.config !== undefined ? { config: args.config } : {}),
      ...(args.database !== undefined ? { database: args.database } : {}),
      ...(args.storageLocation !== undefined ? { storageLocation: args.storageLocation } : {}),
      onEvent: (event: PgcloneEvent) => printer!.event(event),
      signal: controller.signal,
      ...(context.runtime ? { runtime: context.runtime } : {}),
    };
    await action(base);
  };

  let parser = yargs(argv)
    .scriptName(scriptName)
    .usage(`$0 <command> [options]\n\nDump, restore (reversibly) and copy PostgreSQL databases.`)
    .option('json', { type: 'boolean', describe: 'Results as JSON on stdout; events as NDJSON on stderr' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Print only results, warnings and errors' })
    .option('config-file', { type: 'string', describe: 'Use this config file instead of searching for one' });
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
          .option(common),
      (args) =>
        run(args, async (base) => {
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
          .option('exclude', { alias: 'e', type: 'string', array: true, describe: 'Keep this table but leave out its rows (repeatable)' })
          .option('instance', { alias: 'i', type: 'string', describe: 'Instance part of the key (default: $PGCLONE_INSTANCE, else the host name)' })
          .option('pre-dump-hook', { type: 'string', array: true, describe: 'Command to run before dumping (repeatable)' })
          .option('compression', { type: 'string', describe: 'auto (default), none, gzip[:1-9], zstd[:1-19] or lz4[:1-12]' })
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
          .option('reversible', { alias: 'r', type: 'boolean', describe: 'Keep :pre (the old database) and :post (the restored dump)' })
          .option('pre-swap-hook', { type: 'string', array: true, describe: 'Command run on the restored copy before the swap (repeatable; "" disables the defaults)' })
          .option('post-swap-hook', { type: 'string', array: true, describe: 'Command run after the swap (repeatable; "" disables the defaults)' })
          .option('dry-run', { type: 'boolean', describe: 'Print the plan and change nothing' })
          .option('jobs', { alias: 'j', type: 'number', describe: 'Parallel pg_restore jobs (default: the number of cores, at most 8)' })
          .option('spool-dir', { type: 'string', describe: 'Directory for the temporary archive of a parallel restore (default: OS temp)' })
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
    .demandCommand(1, 'Give a command: ls, dump, restore or copy')
    .recommendCommands()
    .strict()
    .help()
    .alias('help', 'h')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message, error) => {
      if (error) throw error;
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
      stderr.write(`${scriptName}: ${(error as Error).message} (see "${scriptName} --help")\n`);
      exitCode = 2;
    } else {
      printer ??= createPrinter({ json: argv.includes('--json'), quiet: false, stdout, stderr, scriptName });
      exitCode = printer.error(error);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
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
