import { KeyError } from '../errors.js';

/** Quotes an SQL identifier (database, table, role name); the only way names reach SQL text. */
export function quoteIdent(name: string): string {
  if (name.includes('\u0000')) throw new KeyError('NAME_INVALID', `Invalid name ${JSON.stringify(name)}: contains NUL`);
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes an SQL string literal (standard_conforming_strings on). */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new KeyError('NAME_INVALID', `Invalid value ${JSON.stringify(value)}: contains NUL`);
  return `'${value.replace(/'/g, "''")}'`;
}

/** Quotes a value for a libpq connection string (`dbname='...'`). */
export function quoteConninfo(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
