import pg from 'pg';

/** The app's pool, made when the module is imported (as apps usually do): DATABASE_URL must be set by then. */
export const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });

// A reset between tests ends this pool's idle connections; the pool drops them and opens new ones on demand.
// Without an 'error' listener, pg.Pool would turn such an idle-connection error into an uncaught exception.
pool.on('error', () => {});
