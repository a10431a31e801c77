// A throwaway PostgreSQL cluster on a free loopback port with scram-sha-256 password auth, for the demo, the
// tests (test/support/cluster.ts) and the benchmarks. Runs initdb/pg_ctl as the `postgres` user when root
// (initdb refuses root), keeps its data outside /root, and uses fsync=off: the data is thrown away anyway.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The newest installed PostgreSQL server's bin directory (Debian layout), or undefined. */
export function findPgBin() {
  if (process.env.PGCLONE_TEST_PG_BIN) return process.env.PGCLONE_TEST_PG_BIN;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const majors = readdirSync(base)
    .filter((d) => existsSync(path.join(base, d, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? path.join(base, majors[0], 'bin') : undefined;
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const isRoot = process.getuid?.() === 0;

function asPostgres(file, args) {
  const [cmd, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  execFileSync(cmd, argv, { stdio: 'ignore' });
}

/** The major version of the server in `binDir` (`postgres (PostgreSQL) 18.4` → 18). */
function serverMajor(binDir) {
  const out = execFileSync(path.join(binDir, 'postgres'), ['--version']).toString();
  const m = /\)\s+(\d+)/.exec(out);
  if (!m) throw new Error(`${binDir}/postgres --version printed no version: ${out.trim()}`);
  return Number(m[1]);
}

/**
 * Starts a cluster. Resolves to `{ info: { host, port, user, password, binDir, major, dataDir }, stop }`.
 * @param {{ password?: string, settings?: Record<string, string>, binDir?: string }} [options] `binDir`: the server's
 *   programs (default: the newest installed, see findPgBin)
 */
export async function startCluster(options = {}) {
  const binDir = options.binDir ?? findPgBin();
  if (!binDir) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)');
  const major = serverMajor(binDir);
  const password = options.password ?? `pw-${randomBytes(9).toString('base64url')}`;
  const root = mkdtempSync(path.join(os.tmpdir(), 'pgclone-cluster-'));
  const dataDir = path.join(root, 'data');
  const sock = path.join(root, 'sock');
  const pwfile = path.join(root, 'pwfile');
  mkdirSync(sock);
  writeFileSync(pwfile, `${password}\n`);
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    for (const p of [root, sock, pwfile]) chownSync(p, uid, gid);
  }
  chmodSync(root, 0o700);
  asPostgres(path.join(binDir, 'initdb'), [
    '-D', dataDir, '-U', 'postgres', `--pwfile=${pwfile}`,
    '--auth-local=scram-sha-256', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-locale',
  ]);
  rmSync(pwfile);
  const settings = Object.entries({ fsync: 'off', max_connections: '200', ...options.settings })
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      asPostgres(path.join(binDir, 'pg_ctl'), [
        '-D', dataDir, '-l', path.join(root, 'server.log'), '-w', '-t', '60',
        '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${sock} ${settings}`, 'start',
      ]);
      break;
    } catch (error) {
      if (attempt >= 4) throw error;
    }
  }
  const info = { host: '127.0.0.1', port, user: 'postgres', password, binDir, major, dataDir };
  return {
    info,
    async stop() {
      try {
        asPostgres(path.join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
