/**
 * Limits shared by core and the CLI's flags, in a module of their own: the CLI checks its flags at start-up, before
 * it loads the rest of core (pg, zod, the AWS SDK).
 */

/**
 * The most `jobs` may ask for: each is a server connection, and pg_restore sets up every job before the first one
 * connects (a billion jobs ended in pg_restore's "out of memory", after the temporary database was made).
 */
export const MAX_JOBS = 1024;
