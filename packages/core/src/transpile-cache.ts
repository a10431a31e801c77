import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Where jiti keeps the JavaScript it transpiled from a project's TypeScript (`pgclone.config.ts`, a `knexfile.ts`,
 * `prisma.config.ts`) between runs: `.cache/pgclone-jiti` in the `node_modules` nearest above `file`, as Babel and
 * ESLint keep theirs. Transpiling loads Babel, ~0.2–0.35 s of every command in a TypeScript project; a cache hit
 * takes a few milliseconds. Not jiti's default, a shared `/tmp/jiti`: that would leave a copy of the config, which
 * may hold a password, readable by every user of the machine. A project without `node_modules` gets no cache, and
 * jiti drops one it cannot write to.
 */
export function transpileCacheDir(file: string): string | false {
  let dir = path.dirname(path.resolve(file));
  for (;;) {
    const modules = path.join(dir, 'node_modules');
    if (existsSync(modules)) return ownerOnly(path.join(modules, '.cache', 'pgclone-jiti'));
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

/**
 * `dir`, created or tightened to mode 0700; false (no cache) when that fails. jiti writes its copies with the umask's
 * mode (0644 under umask 022): without this, a config kept `chmod 600` for its password would have a copy every
 * user could read.
 */
function ownerOnly(dir: string): string | false {
  try {
    mkdirSync(path.dirname(dir), { recursive: true });
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return false;
  }
  try {
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
    return dir;
  } catch {
    return false; // another user's folder: better no cache than a readable one
  }
}
