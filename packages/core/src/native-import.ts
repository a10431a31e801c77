/**
 * `import()` of what is not part of pgclone's own code: a package loaded on demand (jiti) or a module of the user's
 * project (an ES module knexfile). Every such import goes through this one function so that the CLI bundle can supply
 * it (packages/pgclone/scripts/bundle-cli.mjs): on Node 20 a script that V8 compiled from a code cache cannot call
 * `import()` itself.
 */
export function importNative(specifier: string): Promise<unknown> {
  return import(specifier);
}
