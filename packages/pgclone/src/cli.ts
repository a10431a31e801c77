import { main } from './cli/main.js';
import { ignoreClosedOutput } from './cli/closed-output.js';

ignoreClosedOutput(process.stdout, process.stderr);

// The AWS SDK (loaded only for s3:// locations) warns on every run under Node 20 that its releases from 2027 on will
// need Node 22: noise in a CLI's output that users cannot act on. Setting the variable to anything else opts back in.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// No top-level await: the bundle is CommonJS (scripts/bundle-cli.mjs).
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
