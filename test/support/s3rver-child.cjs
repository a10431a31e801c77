// Runs s3rver for the test suite; started by s3-global-setup.ts with --openssl-legacy-provider (s3rver builds its
// ListObjectsV2 continuation tokens with DES, which Node 17+ only has in the legacy provider). Prints one JSON line
// with the port, then serves until killed.
'use strict';
const S3rver = require('s3rver');

const directory = process.argv[2];
const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
server.run().then(
  (address) => process.stdout.write(`${JSON.stringify({ port: address.port })}\n`),
  (error) => {
    process.stderr.write(`s3rver failed to start: ${error.stack ?? error}\n`);
    process.exit(1);
  },
);
process.on('SIGTERM', () => {
  // close() waits for keep-alive connections; do not let one hold up the end of the test run.
  setTimeout(() => process.exit(0), 2000).unref();
  server.close().finally(() => process.exit(0));
});
