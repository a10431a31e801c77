/**
 * Routes the process's warnings (a password file libpq would ignore, a dependency's deprecation) to `print` while a
 * command runs, instead of Node's own `(node:1234) PgcloneWarning: …` line, which with `--json` is a line of stderr
 * that is not JSON. Where warnings are turned off (`--no-warnings`, `NODE_NO_WARNINGS=1`) Node installs no printer of
 * its own, and none is installed here either. For the CLI's own process only: the listeners are the process's.
 *
 * @returns the function that puts Node's printer back
 */
export function routeProcessWarnings(print: (warning: Error) => void): () => void {
  const nodePrinters = process.listeners('warning');
  if (nodePrinters.length === 0) return () => {};
  for (const listener of nodePrinters) process.off('warning', listener);
  process.on('warning', print);
  return () => {
    process.off('warning', print);
    for (const listener of nodePrinters) process.on('warning', listener);
  };
}
