import { prismaAdapterFactory } from '@pgclone/prisma';
import { main } from './cli/main.js';
import { stringOption } from './cli/option-types.js';
import { startCli } from './cli/start.js';

// `prisma-pgclone`: the pgclone CLI for a Prisma project, taking Prisma's own `--schema` and `--config` flags.
// pgclone's named configs keep `-c` (long form `--config-name`), since `--config` is Prisma's.
startCli(() =>
  main(process.argv.slice(2), {
    scriptName: 'prisma-pgclone',
    namedConfigOption: 'config-name',
    configure: (argv) =>
      argv
        .option('schema', stringOption('schema', 'Prisma schema file or folder (as in prisma --schema)'))
        .option('config', stringOption('config', 'Prisma config file (as in prisma --config)'))
        .group(['schema', 'config'], 'Prisma project:'),
    runtime: (args) => ({
      adapters: [
        prismaAdapterFactory({
          required: true,
          ...(typeof args.schema === 'string' ? { schema: args.schema } : {}),
          ...(typeof args.config === 'string' ? { config: args.config } : {}),
        }),
      ],
    }),
  }),
);
