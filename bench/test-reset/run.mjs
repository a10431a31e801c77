// Benchmark of test resets: `restore(':fixture')` through pgclone's fast path (spare ready, back to back, without a
// spare, with the caller's pool connected) beside the general restore plan and the raw PostgreSQL operations it is
// made of (`CREATE DATABASE … TEMPLATE` with each strategy, a two-rename transaction), all in one run on a throwaway
// cluster. Fixtures: a small one (10 tables, 1,000 rows) and ../shared/bench/dataset.sql at scale 1.
//
//   npm run bench:test-reset                 # both fixtures
//   npm run bench:test-reset -- --small      # the small fixture only (seconds instead of minutes)
//   npm run bench:test-reset -- --fsync-on   # also the small fixture on a cluster with fsync=on
//
// Prints a Markdown table (median and p95 in ms) and writes the raw samples to bench/test-reset/results.json.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { close, copy, restore, settled } from 'pgclone';
import { startCluster } from '../../scripts/cluster.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const datasetSql = path.resolve(repoRoot, '../shared/bench/dataset.sql');
const args = new Set(process.argv.slice(2));
const cwd = os.tmpdir();

const quote = (name) => `"${name.replace(/"/g, '""')}"`;
const stats = (samples) => {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { n: s.length, median: at(0.5), p95: at(0.95), min: s[0], max: s.at(-1) };
};
const time = async (fn) => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};

async function benchFixture(cluster, label, fixture, iterations) {
  const { info } = cluster;
  const url = (db) => `postgresql://${info.user}:${encodeURIComponent(info.password)}@${info.host}:${info.port}/${encodeURIComponent(db)}`;
  const admin = new pg.Client({ connectionString: url('postgres') });
  await admin.connect();
  const target = `${fixture}_app`;
  const snapshot = `${fixture}_snap`;
  const env = { DATABASE_URL: url(target) };
  const rows = [];
  const record = (what, samples, extra = {}) => {
    rows.push({ fixture: label, what, ...stats(samples), ...extra, samples });
    const st = stats(samples);
    console.error(`  ${what}: median ${st.median.toFixed(1)} ms, p95 ${st.p95.toFixed(1)} ms (n=${st.n})`);
  };
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quote(target)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${quote(target)} TEMPLATE ${quote(fixture)}`);
    await copy(`:${snapshot}`, { cwd, env });
    const bytes = Number((await admin.query(`SELECT pg_database_size($1) AS b`, [snapshot])).rows[0].b);
    console.error(`${label}: ${(bytes / 1024 / 1024).toFixed(1)} MiB`);

    for (const strategy of ['WAL_LOG', 'FILE_COPY']) {
      const samples = [];
      for (let i = 0; i < iterations.raw; i++) {
        const name = `${fixture}_raw`;
        samples.push(await time(() => admin.query(`CREATE DATABASE ${quote(name)} TEMPLATE ${quote(snapshot)} STRATEGY ${strategy}`)));
        await admin.query(`DROP DATABASE ${quote(name)}`);
      }
      record(`raw CREATE DATABASE … TEMPLATE (${strategy})`, samples);
    }
    {
      const a = `${fixture}_ra`;
      const b = `${fixture}_rb`;
      await admin.query(`CREATE DATABASE ${quote(a)}`);
      await admin.query(`CREATE DATABASE ${quote(b)}`);
      const samples = [];
      for (let i = 0; i < iterations.rename; i++) {
        samples.push(
          await time(() =>
            admin.query(`ALTER DATABASE ${quote(a)} RENAME TO ${quote(`${a}_x`)}; ALTER DATABASE ${quote(b)} RENAME TO ${quote(a)}; ALTER DATABASE ${quote(`${a}_x`)} RENAME TO ${quote(b)}`),
          ),
        );
      }
      await admin.query(`DROP DATABASE ${quote(a)}`);
      await admin.query(`DROP DATABASE ${quote(b)}`);
      record('raw rename transaction (3 renames)', samples);
    }

    const resets = async (what, n, options, between) => {
      const samples = [];
      let spares = 0;
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        const result = await restore(`:${snapshot}`, { cwd, env, ...options });
        samples.push(performance.now() - t);
        if (result.usedSpare) spares += 1;
        if (between) await between();
      }
      record(what, samples, { usedSpare: spares });
      await settled();
    };
    await restore(`:${snapshot}`, { cwd, env, spare: true }); // warm: session, spare
    await settled();
    await resets('pgclone reset, spare ready', iterations.reset, { spare: true }, settled);
    const pool = new pg.Pool({ connectionString: url(target), max: 5 });
    pool.on('error', () => {});
    await resets('pgclone reset, spare ready, 5 idle pool connections', iterations.reset, { spare: true }, async () => {
      await settled();
      const clients = await Promise.all([1, 2, 3, 4, 5].map(() => pool.connect()));
      for (const c of clients) c.release();
    });
    await pool.end();
    await resets('pgclone reset, back to back (waits for the spare)', iterations.reset, { spare: true });
    await resets('pgclone reset, no spare (copy during the call)', iterations.raw, { spare: false });
    await resets('pgclone restore, general plan (fast: false)', iterations.general, { fast: false });
    return rows;
  } finally {
    await close({ dropSpares: true });
    for (const db of [target, snapshot]) await admin.query(`DROP DATABASE IF EXISTS ${quote(db)} WITH (FORCE)`);
    await admin.end();
  }
}

async function makeSmallFixture(cluster, name) {
  const { info } = cluster;
  const client = new pg.Client({ host: info.host, port: info.port, user: info.user, password: info.password, database: 'postgres' });
  await client.connect();
  await client.query(`CREATE DATABASE ${quote(name)}`);
  await client.end();
  const db = new pg.Client({ host: info.host, port: info.port, user: info.user, password: info.password, database: name });
  await db.connect();
  for (let t = 0; t < 10; t++) {
    await db.query(
      `CREATE TABLE t${t} (id serial PRIMARY KEY, name text NOT NULL, qty int NOT NULL, created timestamptz NOT NULL DEFAULT now());
       CREATE INDEX t${t}_name_idx ON t${t} (name);
       INSERT INTO t${t} (name, qty) SELECT 'row ' || g, g FROM generate_series(1, 100) g;`,
    );
  }
  await db.end();
}

function makeDataset(cluster, name) {
  const { info } = cluster;
  const env = { ...process.env, PGHOST: info.host, PGPORT: String(info.port), PGUSER: info.user, PGPASSWORD: info.password };
  execFileSync(path.join(info.binDir, 'psql'), ['-X', '-q', '-d', 'postgres', '-c', `CREATE DATABASE ${quote(name)}`], { env, stdio: 'ignore' });
  execFileSync(path.join(info.binDir, 'psql'), ['-X', '-q', '-v', 'scale=1', '-d', name, '-f', datasetSql], { env, stdio: 'ignore' });
}

const all = [];
const clusters = [];
try {
  const cluster = await startCluster();
  clusters.push(cluster);
  console.error(`cluster: PostgreSQL ${cluster.info.major}, fsync=off, port ${cluster.info.port}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  await makeSmallFixture(cluster, 'small');
  all.push(...(await benchFixture(cluster, 'small (10 tables, 1,000 rows)', 'small', { raw: 30, rename: 30, reset: 30, general: 10 })));
  if (!args.has('--small')) {
    if (!existsSync(datasetSql)) throw new Error(`${datasetSql} not found (the repo must sit beside shared/)`);
    console.error('building dataset.sql at scale 1 …');
    const t = performance.now();
    makeDataset(cluster, 'dataset');
    console.error(`  built in ${((performance.now() - t) / 1000).toFixed(0)} s`);
    all.push(...(await benchFixture(cluster, 'dataset.sql scale=1', 'dataset', { raw: 5, rename: 30, reset: 8, general: 3 })));
  }
  if (args.has('--fsync-on')) {
    const synced = await startCluster({ settings: { fsync: 'on' } });
    clusters.push(synced);
    await makeSmallFixture(synced, 'small');
    all.push(...(await benchFixture(synced, 'small, fsync=on', 'small', { raw: 20, rename: 20, reset: 20, general: 5 })));
  }
} finally {
  for (const c of clusters) await c.stop();
}

const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
console.log(`\nload average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (${os.cpus().length} cores)\n`);
console.log('| fixture | operation | median ms | p95 ms | n | spare used |');
console.log('|---|---|---:|---:|---:|---:|');
for (const r of all) {
  console.log(`| ${r.fixture} | ${r.what} | ${fmt(r.median)} | ${fmt(r.p95)} | ${r.n} | ${r.usedSpare === undefined ? '' : `${r.usedSpare}/${r.n}`} |`);
}
writeFileSync(path.join(here, 'results.json'), JSON.stringify({ date: new Date().toISOString(), loadavg: os.loadavg(), results: all }, null, 2));
