// Creates the app's database (from the knexfile's connection) when it does not exist yet.
import pg from 'pg';
import { databaseUrl } from '../knexfile.ts';

const url = new URL(databaseUrl);
const database = decodeURIComponent(url.pathname.slice(1));
url.pathname = '/postgres';
const client = new pg.Client({ connectionString: url.toString() });
await client.connect();
try {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  if (rowCount) console.log(`Database ${database} exists`);
  else {
    await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}" TEMPLATE template0`);
    console.log(`Created database ${database}`);
  }
} finally {
  await client.end();
}
