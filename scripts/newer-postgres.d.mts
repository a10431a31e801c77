/** The npm package and version of the PostgreSQL 18 server the tests use where none is installed. */
export const EMBEDDED_PG18: string;
/** The bin directory of a PostgreSQL 18 server, or undefined where there is none for this machine. */
export function findPg18Bin(): string | undefined;
