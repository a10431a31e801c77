// `npm run demo`: pgclone's main job on an embedded default. Starts a throwaway PostgreSQL cluster, loads a small
// app database, dumps it to a local storage folder, changes the data, restores the dump reversibly, shows the
// :pre/:post restore points, rolls back with `restore :pre`, and stops the cluster. Nothing outside /tmp is touched.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster } from './cluster.mjs';
import { ensurePostgres } from './ensure-postgres.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'packages/pgclone/bin/pgclone.js');

ensurePostgres();
if (!existsSync(path.join(root, 'packages/pgclone/dist/cli.js'))) {
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(1);
}

const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s) => console.log(`\n${bold(`# ${s}`)}`);

console.log('Starting a throwaway PostgreSQL cluster...');
const cluster = await startCluster();
const { info } = cluster;
const project = mkdtempSync(path.join(os.tmpdir(), 'pgclone-demo-'));
const url = (db) => `postgresql://${info.user}:${encodeURIComponent(info.password)}@${info.host}:${info.port}/${db}`;
const env = { ...process.env, DATABASE_URL: url('shop'), PGCLONE_INSTANCE: 'demo' };
for (const k of Object.keys(env)) if (/^PG(HOST|PORT|USER|PASSWORD|DATABASE)$/.test(k)) delete env[k];

/** Runs psql against a database of the demo cluster and returns its output. */
function psql(db, sql) {
  const r = spawnSync(path.join(info.binDir, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], {
    env: { ...env, PGHOST: info.host, PGPORT: String(info.port), PGUSER: info.user, PGPASSWORD: info.password, PGDATABASE: db },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

/** Runs the real CLI like a user would, echoing the command and its output. */
function pgclone(...args) {
  console.log(`$ pgclone ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: project, env, encoding: 'utf8' });
  if (r.stderr) process.stdout.write(r.stderr.replace(/^/gm, '  '));
  if (r.stdout) process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error(`pgclone ${args.join(' ')} exited with ${r.status}`);
  return r.stdout.trim().split('\n').at(-1);
}

const customers = () => psql('shop', 'SELECT count(*) FROM customers');

let failed = false;
try {
  say('A small app database "shop" (DATABASE_URL points at it)');
  psql('postgres', 'CREATE DATABASE shop');
  psql('shop', `
    CREATE TABLE customers (id serial PRIMARY KEY, email text UNIQUE NOT NULL);
    CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers, total_cents int NOT NULL);
    INSERT INTO customers (email) SELECT 'customer' || g || '@example.com' FROM generate_series(1, 100) g;
    INSERT INTO orders (customer_id, total_cents) SELECT 1 + g % 100, g * 7 FROM generate_series(1, 1000) g;`);
  console.log(`customers: ${customers()}`);

  say('Dump it into the local storage folder .pgclone/ (the key is the last line of stdout)');
  const key = pgclone('dump');
  pgclone('ls');

  say('Change the data: 50 customers deleted (and their orders)');
  psql('shop', 'DELETE FROM orders WHERE customer_id > 50; DELETE FROM customers WHERE id > 50');
  console.log(`customers: ${customers()}`);

  say('Restore the dump reversibly: the old database is kept as :pre, the restored dump as :post');
  pgclone('restore', key, '--reversible');
  console.log(`customers: ${customers()}`);
  pgclone('ls', '--local');

  say('Roll back to the database as it was before the restore');
  pgclone('restore', ':pre');
  console.log(`customers: ${customers()}`);

  say('And forward again to the restored dump');
  pgclone('restore', ':post');
  console.log(`customers: ${customers()}`);
  console.log('\nDone. Try `npx pgclone --help` in your own project.');
} catch (error) {
  failed = true;
  console.error(`demo failed: ${error.message}`);
} finally {
  await cluster.stop();
  rmSync(project, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
