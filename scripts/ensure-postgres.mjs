// Makes sure PostgreSQL server binaries exist (the tests start throwaway clusters with them).
// On a fresh Debian machine as root, installs them with apt; elsewhere, explains what to install.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

export function pgBinDir() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const majors = readdirSync(base).filter((d) => existsSync(`${base}/${d}/bin/initdb`)).sort((a, b) => b - a);
  return majors[0] ? `${base}/${majors[0]}/bin` : undefined;
}

export function ensurePostgres() {
  if (process.env.PGCLONE_TEST_PG_BIN || pgBinDir()) return;
  const root = process.getuid?.() === 0;
  if (!root || !existsSync('/usr/bin/apt-get')) {
    console.error('PostgreSQL server binaries are missing: install them (Debian/Ubuntu: sudo apt-get install postgresql),');
    console.error('or set PGCLONE_TEST_PG_BIN to the directory holding initdb and pg_ctl.');
    process.exit(1);
  }
  console.error('Installing PostgreSQL with apt (the system cluster is not started or used)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql', 'postgresql-contrib', 'zstd', 'lz4'], { stdio: 'inherit', env });
  if (!pgBinDir()) {
    console.error('apt-get installed postgresql but no server binaries were found under /usr/lib/postgresql');
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) ensurePostgres();
