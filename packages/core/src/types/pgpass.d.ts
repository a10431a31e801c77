// pgpass ships no types; only its helper module is used (src/passfile.ts).
declare module 'pgpass/lib/helper.js' {
  interface Entry {
    host: string;
    port: string;
    database: string;
    user: string;
    password: string;
  }
  const helper: {
    /** A line's five fields (escapes undone), or null. */
    parseLine(line: string): Entry | null;
    isValidEntry(entry: Entry): boolean;
    /** Whether the entry's first four fields match (`*` matches anything; the port defaults to 5432). */
    match(connInfo: { host: string; port: number; database: string; user: string }, entry: Entry): boolean;
  };
  export default helper;
}
