import { quoteIdent, quoteLiteral } from './ident.js';

// Settings whose value is a list that pg_dump splits into separately quoted items (makeAlterConfigCommand).
const LIST_SETTINGS = new Set([
  'search_path',
  'session_preload_libraries',
  'shared_preload_libraries',
  'local_preload_libraries',
  'temp_tablespaces',
  'unix_socket_directories',
]);

/**
 * `ALTER DATABASE db SET …` for one `name=value` entry of `pg_db_role_setting.setconfig`, quoted the way pg_dump
 * does it (list settings such as search_path are split into items, so `public, billing` stays two schemas).
 */
export function alterDatabaseSetting(database: string, entry: string): string {
  return `ALTER DATABASE ${quoteIdent(database)} SET ${settingClause(entry)}`;
}

/** `name TO value` for one `name=value` entry of `pg_db_role_setting.setconfig` (see {@link alterDatabaseSetting}). */
export function settingClause(entry: string): string {
  const eq = entry.indexOf('=');
  const name = entry.slice(0, eq);
  const value = entry.slice(eq + 1);
  if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) throw new Error(`Unexpected setting name ${JSON.stringify(name)}`);
  const rendered = LIST_SETTINGS.has(name.toLowerCase())
    ? splitList(value).map(quoteLiteral).join(', ')
    : quoteLiteral(value);
  return `${name} TO ${rendered}`;
}

/** Splits a GUC list value (`public, "My Schema"`) into its items, dequoting double-quoted ones (pg_dump's SplitGUCList). */
export function splitList(value: string): string[] {
  const items: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (value[i] === ' ' || value[i] === '\t') i++;
    if (i >= value.length) break;
    let item = '';
    if (value[i] === '"') {
      i++;
      while (i < value.length) {
        if (value[i] === '"' && value[i + 1] === '"') {
          item += '"';
          i += 2;
        } else if (value[i] === '"') {
          i++;
          break;
        } else item += value[i++];
      }
      items.push(item);
      while (i < value.length && value[i] !== ',') i++;
    } else {
      while (i < value.length && value[i] !== ',') item += value[i++];
      items.push(item.trim());
    }
    i++; // skip the comma
  }
  return items;
}
