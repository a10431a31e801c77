// TLS as hosted PostgreSQL offers it: a server that accepts only encrypted connections, with a certificate from a CA
// of its own. pgclone's own session (node-pg) and the tools it starts (pg_dump, pg_restore: libpq) must read the URL's
// and the environment's TLS settings alike: node-pg's `sslmode=no-verify` idiom (libpq refuses the name), libpq's
// `require` (node-pg alone would verify the certificate), `prefer` and `allow` (node-pg alone has no fallback), and a
// verifying mode with the CA, or without it (refused).
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { startCluster, type ClusterInfo } from './support/cluster.js';
import { removeDir } from './support/fixtures.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-tls-'));
const home = path.join(dir, 'home'); // no ~/.postgresql/root.crt: libpq would otherwise look there
const file = (name: string) => path.join(dir, name);
let server: { info: ClusterInfo; stop: () => Promise<void> } | undefined;

/** A CA, and a certificate it signed for localhost and 127.0.0.1. */
function makeCertificates(): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=pgclone test CA', '-keyout', file('ca.key'), '-out', file('ca.crt'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', file('server.key'), '-out', file('server.csr'));
  writeFileSync(file('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file('san.ext'), '-out', file('server.crt'));
  chmodSync(dir, 0o755);
  chmodSync(file('server.key'), 0o600);
  // The server runs as `postgres` (scripts/cluster.mjs) and refuses a key anyone else may read.
  if (process.getuid?.() === 0) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
    chownSync(file('server.key'), id('-u'), id('-g'));
  }
}

const url = (database: string, query = '') => {
  const c = server!.info;
  return `postgresql://${c.user}:${encodeURIComponent(c.password)}@localhost:${c.port}/${database}${query}`;
};
const query = async (database: string, text: string) => {
  const c = server!.info;
  const client = new pg.Client({ host: 'localhost', port: c.port, user: c.user, password: c.password, database, ssl: { ca: readFileSync(file('ca.crt')) } });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
};
const rows = async (database: string) => (await query(database, 'SELECT id FROM t ORDER BY id')).map((r) => r.id as number);

beforeAll(async () => {
  makeCertificates();
  server = await startCluster({ settings: { ssl: 'on', ssl_cert_file: file('server.crt'), ssl_key_file: file('server.key') } });
  // Encrypted connections only: a tool that connected without TLS would be refused.
  const hba = path.join(server.info.dataDir, 'pg_hba.conf');
  writeFileSync(hba, readFileSync(hba, 'utf8').replace(/^host(\s)/gm, 'hostssl$1'));
  await query('postgres', 'SELECT pg_reload_conf()');
  await query('postgres', 'CREATE DATABASE app');
  await query('app', 'CREATE TABLE t AS SELECT generate_series(1, 3) AS id');
});
afterAll(async () => {
  await server?.stop();
  removeDir(dir);
});

describe('a server that accepts TLS only, with a certificate of its own CA', () => {
  const cases: Array<[name: string, query: string, env: Record<string, string>]> = [
    ['sslmode=no-verify in the URL (node-pg)', '?sslmode=no-verify', {}],
    ['PGSSLMODE=no-verify', '', { PGSSLMODE: 'no-verify' }],
    ['PGSSLMODE=require (libpq: encrypted, not verified)', '', { PGSSLMODE: 'require' }],
    ['sslmode=verify-full with the CA as sslrootcert', `?sslmode=verify-full&sslrootcert=${encodeURIComponent(file('ca.crt'))}`, {}],
    // libpq tries TLS first with prefer, last with allow (the server refuses the attempt without it).
    ['sslmode=prefer', '?sslmode=prefer', {}],
    ['sslmode=allow', '?sslmode=allow', {}],
  ];
  for (const [i, [name, q, extra]] of cases.entries()) {
    it(`dumps and restores with ${name}`, async () => {
      const cwd = path.join(dir, `case${i}`);
      mkdirSync(cwd);
      const env = { DATABASE_URL: url('app', q), HOME: home, ...extra };
      const dumped = await runCli(['dump', '--json'], { cwd, env });
      expect(dumped.code, dumped.stderr).toBe(0);
      await query('app', `INSERT INTO t VALUES (${100 + i})`);
      const restored = await runCli(['restore', (JSON.parse(dumped.stdout) as { key: string }).key], { cwd, env });
      expect(restored.code, restored.stderr).toBe(0);
      expect(await rows('app')).toEqual([1, 2, 3]);
    });
  }

  it('refuses a verifying mode without the CA in one line, changing nothing', async () => {
    const cwd = path.join(dir, 'unverified');
    mkdirSync(cwd);
    await query('app', 'INSERT INTO t VALUES (4)');
    const result = await runCli(['restore', ':nothing'], { cwd, env: { DATABASE_URL: url('app', '?sslmode=verify-full'), HOME: home } });
    expect(result.code).toBe(1);
    const errors = result.stderr.trim().split('\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^pgclone: error: Cannot connect to postgresql:\/\/postgres:\*\*\*@localhost:\d+\/postgres\?sslmode=verify-full: .*certificate/);
    expect(result.stderr).not.toContain(server!.info.password);
    expect(await rows('app')).toEqual([1, 2, 3, 4]);
  });
});
