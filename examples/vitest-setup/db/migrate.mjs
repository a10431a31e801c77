// Applies db/migrations/*.sql in order (recording them in schema_migrations), then db/seed.sql with --seed.
// Connects to $DATABASE_URL: pgclone runs it against the template it is building.
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

const dir = new URL('./migrations/', import.meta.url);
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
try {
  await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY)');
  const done = new Set((await client.query('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    if (done.has(file)) continue;
    await client.query('BEGIN');
    await client.query(readFileSync(new URL(file, dir), 'utf8'));
    await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
    await client.query('COMMIT');
    console.log(`applied ${file}`);
  }
  if (process.argv.includes('--seed')) {
    await client.query(readFileSync(new URL('./seed.sql', import.meta.url), 'utf8'));
    console.log('seeded');
  }
} finally {
  await client.end();
}
