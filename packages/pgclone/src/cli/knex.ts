import { statSync } from 'node:fs';
import path from 'node:path';
import yargs, { type Argv } from 'yargs';
import { knexAdapterFactory } from '@pgclone/knex';
import { main, type CliContext } from './main.js';
import { stringOption } from './option-types.js';

/** The Knex CLI's flags that choose the knexfile, accepted anywhere on the `knex-pgclone` command line. */
function knexOptions(base: string) {
  const cwd = stringOption('cwd', 'Directory to work from: where the knexfile and the pgclone config are searched');
  return {
    knexfile: stringOption('knexfile', 'Knexfile to use (relative to --cwd) instead of searching from the CWD up'),
    cwd: {
      ...cwd,
      // Refused as given: every later message would name it resolved, which merges the `//` of a URL passed by
      // mistake, and its password would no longer look like one to the masking of printed lines.
      coerce: (given: unknown): string => {
        const value = cwd.coerce(given);
        if (!statSync(path.resolve(base, value), { throwIfNoEntry: false })?.isDirectory()) {
          throw new Error(`Invalid --cwd ${JSON.stringify(value)}: not a directory`);
        }
        return value;
      },
    },
    env: stringOption('env', 'Knexfile environment (default: $NODE_ENV, else development)'),
    esm: { type: 'boolean', describe: 'Allow ESM syntax in .js knexfiles, migrations and seeds of a CommonJS package' },
  } as const;
}

/**
 * `knex-pgclone`: the pgclone CLI for a Knex project, taking the Knex CLI's `--knexfile`, `--cwd`, `--env` and
 * `--esm` (Knex's CLI has no plugin mechanism, so this is a bin of its own). The commands are pgclone's.
 */
export async function knexMain(argv: string[], context: CliContext = {}): Promise<number> {
  const base = context.cwd ?? process.cwd();
  const options = knexOptions(base);
  let flags: { knexfile?: string; cwd?: string; env?: string; esm?: boolean } = {};
  try {
    flags = yargs(argv)
      .options(options)
      .help(false)
      .version(false)
      .exitProcess(false)
      .fail((message, error) => {
        throw error ?? new Error(message);
      })
      .parseSync();
  } catch {
    // A flag without its value: main parses the same options, and reports it as the usage error it is.
  }
  const cwd = flags.cwd ? path.resolve(base, flags.cwd) : base;
  const factory = knexAdapterFactory({
    ...(flags.knexfile ? { knexfile: flags.knexfile } : {}),
    ...(flags.env ? { env: flags.env } : {}),
    ...(flags.esm ? { esm: true } : {}),
    required: true,
  });
  return main(argv, {
    ...context,
    cwd,
    runtime: { ...context.runtime, adapters: [factory] },
    scriptName: context.scriptName ?? 'knex-pgclone',
    configure: (y: Argv) => {
      const configured = context.configure ? context.configure(y) : y;
      return configured.options(options).group(Object.keys(options), 'Knex options:');
    },
  });
}
