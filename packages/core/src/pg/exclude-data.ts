import type { Connection } from '../connection.js';
import { connectClient } from './connect.js';

/**
 * `exclude` (keep the table, leave out its rows) as pg_dump arguments. A partitioned table's rows live in its
 * partitions, which `--exclude-table-data` does not reach: pg_dump 16+ has `--exclude-table-data-and-children`; for
 * older pg_dumps every partition under a matching partitioned table is excluded by name as well (an "anon" dump must
 * not ship a partitioned audit log's rows).
 */
export async function excludeDataArgs(
  exclude: readonly string[],
  pgDumpMajor: number,
  conn: Connection,
  env: NodeJS.ProcessEnv,
): Promise<string[]> {
  if (exclude.length === 0) return [];
  if (pgDumpMajor >= 16) return exclude.map((pattern) => `--exclude-table-data-and-children=${pattern}`);
  const partitions = await partitionsUnder(exclude, conn, env);
  return [...exclude, ...partitions].map((pattern) => `--exclude-table-data=${pattern}`);
}

/** A table pattern as pg_dump reads it (psql's rules), as anchored regular expressions for the schema and the name. */
export function tablePattern(pattern: string): { schema?: RegExp; name: RegExp } {
  const parts: string[] = [''];
  let quoted = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '"') {
      if (quoted && pattern[i + 1] === '"') {
        parts[parts.length - 1] += '"';
        i++;
      } else quoted = !quoted;
    } else if (quoted) parts[parts.length - 1] += ch.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
    else if (ch === '.') parts.push('');
    else if (ch === '*') parts[parts.length - 1] += '.*';
    else if (ch === '?') parts[parts.length - 1] += '.';
    else if (ch === '$') parts[parts.length - 1] += '\\$';
    else parts[parts.length - 1] += ch.toLowerCase();
  }
  const anchored = (source: string) => {
    try {
      return new RegExp(`^(?:${source})$`);
    } catch {
      return /(?!)/; // not a regular expression JavaScript reads: it matches nothing here (pg_dump reports it)
    }
  };
  // `db.schema.table` names the database too: pg_dump requires it to be the one dumped, so only the last two count.
  const name = anchored(parts.at(-1)!);
  return parts.length > 1 ? { schema: anchored(parts.at(-2)!), name } : { name };
}

/** Quoted `"schema"."name"` patterns of the partitions (at any depth) of the partitioned tables `exclude` matches. */
async function partitionsUnder(exclude: readonly string[], conn: Connection, env: NodeJS.ProcessEnv): Promise<string[]> {
  const client = await connectClient(conn, {}, env);
  try {
    const { rows } = await client.query<{ root_schema: string; root_name: string; visible: boolean; schema: string; name: string }>(
      `WITH RECURSIVE tree(root, relid) AS (
         SELECT c.oid, c.oid FROM pg_class c WHERE c.relkind = 'p'
         UNION ALL SELECT t.root, i.inhrelid FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid)
       SELECT rn.nspname AS root_schema, r.relname AS root_name, pg_table_is_visible(r.oid) AS visible,
              n.nspname AS schema, c.relname AS name
         FROM tree t
         JOIN pg_class r ON r.oid = t.root JOIN pg_namespace rn ON rn.oid = r.relnamespace
         JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE t.relid <> t.root`,
    );
    const patterns = exclude.map(tablePattern);
    // Without a schema, pg_dump matches only tables visible on the search path.
    const matches = (row: (typeof rows)[number]) =>
      patterns.some((p) => p.name.test(row.root_name) && (p.schema ? p.schema.test(row.root_schema) : row.visible));
    const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
    return [...new Set(rows.filter(matches).map((row) => `${quote(row.schema)}.${quote(row.name)}`))];
  } finally {
    await client.end().catch(() => {});
  }
}
