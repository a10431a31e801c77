/**
 * Splits a script as pg_restore prints it into its SQL statements (without the `;`), skipping `--` comments and psql
 * meta-commands (`\connect`). A `;` inside a quoted string or identifier does not end a statement, nor does a line
 * break: a setting's value may span lines.
 */
export function splitStatements(script: string): string[] {
  const statements: string[] = [];
  let current = '';
  let i = 0;
  const n = script.length;
  while (i < n) {
    const c = script[i]!;
    if (c === '\\' && current.trim() === '') {
      // A meta-command takes the rest of its line.
      while (i < n && script[i] !== '\n') i++;
      current = '';
      continue;
    }
    if (c === '-' && script[i + 1] === '-') {
      while (i < n && script[i] !== '\n') i++;
      continue;
    }
    if (c === "'" || c === '"') {
      // E'…' strings take backslash escapes; standard ones and identifiers only the doubled quote.
      const escapes = c === "'" && /(^|[^A-Za-z0-9_])[Ee]$/.test(current);
      let j = i + 1;
      for (; j < n; j++) {
        if (escapes && script[j] === '\\') j++;
        else if (script[j] === c) {
          if (script[j + 1] === c) j++;
          else break;
        }
      }
      current += script.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === ';') {
      if (current.trim()) statements.push(current.trim());
      current = '';
      i++;
      continue;
    }
    current += c;
    i++;
  }
  if (current.trim()) statements.push(current.trim());
  return statements;
}

/** An SQL identifier as pg_dump writes it: bare (lower case) or double-quoted. */
export const IDENT = `(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;

/** A string literal as pg_dump writes it (standard, or E'…' with escapes). */
export const LITERAL = `(?:'(?:[^']|'')*'|[Ee]'(?:[^'\\\\]|\\\\[\\s\\S]|'')*')`;

/** The name an {@link IDENT} stands for. */
export function unquoteIdent(text: string): string {
  return text.startsWith('"') ? text.slice(1, -1).replace(/""/g, '"') : text;
}

/** The value of a standard {@link LITERAL} (`'it''s'` → `it's`); E'…' strings are taken as pg_dump writes them. */
export function unquoteLiteral(text: string): string {
  if (/^[Ee]'/.test(text)) {
    return text.slice(2, -1).replace(/''/g, "'").replace(/\\(.)/gs, (_, ch: string) => ({ n: '\n', t: '\t', r: '\r' })[ch] ?? ch);
  }
  return text.slice(1, -1).replace(/''/g, "'");
}
