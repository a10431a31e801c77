import type { CreateOptions, DatabaseProperties, PrivilegeChange } from './database-properties.js';
import { IDENT, LITERAL, splitStatements, unquoteIdent, unquoteLiteral } from './sql-statements.js';

/** What an archive says about its database, from the database entries of `pg_restore --create` output. */
export interface ArchiveDatabase {
  /** `SET` clauses (`name TO value`) of its `ALTER DATABASE … SET` statements. */
  settings: string[];
  properties: DatabaseProperties;
}

// `name TO 'a', 'b'`: a (possibly qualified) setting name and a list of literals or plain words, nothing else.
const VALUE = `(?:${LITERAL}|[A-Za-z0-9_.+-]+)`;
const CLAUSE = `(?:${IDENT}(?:\\.${IDENT})*) TO ${VALUE}(?:, ${VALUE})*`;

const CREATE = new RegExp(`^CREATE DATABASE ${IDENT} WITH ([\\s\\S]*)$`);
const OPTION = new RegExp(`([A-Z_]+) = (${LITERAL}|${IDENT})`, 'g');
const OWNER = new RegExp(`^ALTER DATABASE ${IDENT} OWNER TO (${IDENT})$`);
const COMMENT = new RegExp(`^COMMENT ON DATABASE ${IDENT} IS (${LITERAL})$`);
const LIMIT = new RegExp(`^ALTER DATABASE ${IDENT} CONNECTION LIMIT = (-?\\d+)$`);
const SETTING = new RegExp(`^ALTER DATABASE ${IDENT} SET (${CLAUSE})$`);
const ROLE_SETTING = new RegExp(`^ALTER ROLE (${IDENT}) IN DATABASE ${IDENT} SET (${CLAUSE})$`);
const PRIVILEGE = new RegExp(
  `^(GRANT|REVOKE) ([A-Z]+(?:, ?[A-Z]+)*) ON DATABASE ${IDENT} (?:TO|FROM) (PUBLIC|${IDENT}(?:, ?${IDENT})*)( WITH GRANT OPTION)?$`,
);
const AUTHORIZATION = new RegExp(`^SET SESSION AUTHORIZATION (${IDENT}|${LITERAL})$`);

const CREATE_KEYS: Record<string, keyof CreateOptions> = {
  ENCODING: 'encoding',
  LOCALE_PROVIDER: 'localeProvider',
  LOCALE: 'locale',
  LC_COLLATE: 'lcCollate',
  LC_CTYPE: 'lcCtype',
  ICU_LOCALE: 'icuLocale',
  ICU_RULES: 'icuRules',
  BUILTIN_LOCALE: 'builtinLocale',
  TABLESPACE: 'tablespace',
};

/**
 * Reads the database entries of `pg_restore --create` output (CREATE DATABASE, its owner, comment, privileges,
 * connection limit, settings and per-role settings), statement by statement: a value may span lines. Statements of
 * any other shape are not the database's and are ignored.
 */
export function databaseFromScript(script: string): ArchiveDatabase {
  const settings: string[] = [];
  const properties: DatabaseProperties = { create: {}, privileges: [], roleSettings: [], comment: null };
  let grantor: string | undefined;
  for (const statement of splitStatements(script)) {
    let m: RegExpExecArray | null;
    if ((m = CREATE.exec(statement))) {
      for (const [, key, value] of m[1]!.matchAll(OPTION)) {
        const field = CREATE_KEYS[key!];
        if (field) properties.create[field] = value!.startsWith("'") || /^[Ee]'/.test(value!) ? unquoteLiteral(value!) : unquoteIdent(value!);
      }
    } else if ((m = OWNER.exec(statement))) properties.owner = unquoteIdent(m[1]!);
    else if ((m = COMMENT.exec(statement))) properties.comment = unquoteLiteral(m[1]!);
    else if ((m = LIMIT.exec(statement))) {
      const limit = Number(m[1]);
      if (limit >= 0) properties.connectionLimit = limit;
    } else if ((m = SETTING.exec(statement))) settings.push(m[1]!);
    else if ((m = ROLE_SETTING.exec(statement))) properties.roleSettings.push({ role: unquoteIdent(m[1]!), clause: m[2]! });
    else if ((m = PRIVILEGE.exec(statement))) {
      const privileges = m[2]!.split(',').map((p) => p.trim());
      const grantees = m[3] === 'PUBLIC' ? [null] : [...m[3]!.matchAll(new RegExp(IDENT, 'g'))].map((g) => unquoteIdent(g[0]));
      for (const grantee of grantees) {
        const change: PrivilegeChange = {
          action: m[1] as 'GRANT' | 'REVOKE',
          privileges,
          grantee,
          grantOption: m[4] !== undefined,
          ...(grantor !== undefined ? { grantor } : {}),
        };
        properties.privileges.push(change);
      }
    } else if ((m = AUTHORIZATION.exec(statement))) {
      grantor = m[1]!.startsWith('"') ? unquoteIdent(m[1]!) : m[1]!.startsWith("'") ? unquoteLiteral(m[1]!) : m[1]!;
    } else if (statement === 'RESET SESSION AUTHORIZATION') grantor = undefined;
  }
  return { settings, properties };
}
