import { quoteIdent, quoteLiteral } from './ident.js';

/**
 * What `CREATE DATABASE` fixes for good: encoding, collation and tablespace. A template copy takes them from its
 * template; an empty database (a restore from a dump) must be given them, or it gets the server's defaults. The
 * collation version is never carried over: pg_restore builds every index anew with the server's library, so the new
 * database's version is the server's own, as CREATE DATABASE records it.
 */
export interface CreateOptions {
  encoding?: string;
  localeProvider?: string;
  /** `LOCALE` (pg_dump writes it when collate and ctype are the same). */
  locale?: string;
  lcCollate?: string;
  lcCtype?: string;
  icuLocale?: string;
  icuRules?: string;
  builtinLocale?: string;
  /** Absent: the server's default tablespace. */
  tablespace?: string;
}

/** One change of the database's privileges, applied after its owner is set (so the owner grants). */
export interface PrivilegeChange {
  action: 'GRANT' | 'REVOKE';
  /** Upper-case privilege keywords (`CONNECT`, `TEMPORARY`, `CREATE`, `ALL`). */
  privileges: string[];
  /** A role name, or `null` for PUBLIC. */
  grantee: string | null;
  grantOption: boolean;
  /** Granted by this role rather than the owner (it holds the grant option). */
  grantor?: string;
}

/**
 * The database's own properties besides its contents and its `ALTER DATABASE … SET` settings: what a restore carries
 * over from the database it replaces (or the archive, or a local source) onto the new one.
 */
export interface DatabaseProperties {
  create: CreateOptions;
  /** `CONNECTION LIMIT`; absent: none. */
  connectionLimit?: number;
  owner?: string;
  /** From the owner's default privileges to the database's; none: the default. */
  privileges: PrivilegeChange[];
  /** `ALTER ROLE role IN DATABASE … SET clause`, each clause `name TO value`, quoted. */
  roleSettings: Array<{ role: string; clause: string }>;
  comment: string | null;
}

/** Server majors from which CREATE DATABASE takes each option. */
const SINCE: Partial<Record<keyof CreateOptions, number>> = { localeProvider: 15, icuLocale: 15, icuRules: 16, builtinLocale: 17 };

/** The options of `CREATE DATABASE … TEMPLATE template0` that give a database `create` on a server of `serverMajor`. */
export function createDatabaseOptions(create: CreateOptions, serverMajor: number): string {
  const parts: string[] = [];
  // A server before 15 knows only libc: naming it is not needed there (and not understood).
  const provider = create.localeProvider && !(create.localeProvider === 'libc' && serverMajor < (SINCE.localeProvider ?? 0));
  if (create.encoding) parts.push(`ENCODING ${quoteLiteral(create.encoding)}`);
  if (provider) parts.push(`LOCALE_PROVIDER ${providerWord(create.localeProvider!)}`);
  if (create.locale !== undefined) parts.push(`LOCALE ${quoteLiteral(create.locale)}`);
  if (create.lcCollate !== undefined) parts.push(`LC_COLLATE ${quoteLiteral(create.lcCollate)}`);
  if (create.lcCtype !== undefined) parts.push(`LC_CTYPE ${quoteLiteral(create.lcCtype)}`);
  if (create.icuLocale !== undefined) parts.push(`ICU_LOCALE ${quoteLiteral(create.icuLocale)}`);
  if (create.icuRules !== undefined) parts.push(`ICU_RULES ${quoteLiteral(create.icuRules)}`);
  if (create.builtinLocale !== undefined) parts.push(`BUILTIN_LOCALE ${quoteLiteral(create.builtinLocale)}`);
  if (create.tablespace !== undefined) parts.push(`TABLESPACE ${quoteIdent(create.tablespace)}`);
  return parts.join(' ');
}

function providerWord(provider: string): string {
  if (!/^[a-z]+$/.test(provider)) throw new Error(`Unexpected locale provider ${JSON.stringify(provider)}`);
  return provider;
}

/** The statement of one privilege change on `database`. */
export function privilegeStatement(database: string, change: PrivilegeChange): string {
  for (const p of change.privileges) if (!/^[A-Z]+$/.test(p)) throw new Error(`Unexpected privilege ${JSON.stringify(p)}`);
  const who = change.grantee === null ? 'PUBLIC' : quoteIdent(change.grantee);
  const on = `${change.privileges.join(', ')} ON DATABASE ${quoteIdent(database)}`;
  return change.action === 'GRANT'
    ? `GRANT ${on} TO ${who}${change.grantOption ? ' WITH GRANT OPTION' : ''}`
    : `REVOKE ${on} FROM ${who}`;
}

/** A row of {@link PROPERTIES_QUERY}. */
export interface PropertiesRow {
  encoding: string;
  db: Record<string, unknown>;
  owner: string;
  tablespace: string;
  acl: Array<{ grantor: string; grantee: string | null; privilege: string; grantable: boolean }> | null;
  role_settings: Array<{ role: string; config: string[] }> | null;
  comment: string | null;
}

/**
 * The properties of database `$1`, on any server from PostgreSQL 13 on: the locale columns differ by version
 * (daticulocale 15–16, datlocale 17+, daticurules 16+), so the row is read whole as JSON and picked from.
 */
export const PROPERTIES_QUERY = `
  SELECT pg_encoding_to_char(d.encoding) AS encoding, to_jsonb(d) - 'datacl' AS db, pg_get_userbyid(d.datdba) AS owner,
         t.spcname AS tablespace, shobj_description(d.oid, 'pg_database') AS comment,
         CASE WHEN d.datacl IS NOT NULL THEN COALESCE((
           SELECT json_agg(json_build_object('grantor', pg_get_userbyid(a.grantor),
                    'grantee', CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END,
                    'privilege', a.privilege_type, 'grantable', a.is_grantable) ORDER BY a.n)
             FROM aclexplode(d.datacl) WITH ORDINALITY AS a(grantor, grantee, privilege_type, is_grantable, n)), '[]') END AS acl,
         (SELECT json_agg(json_build_object('role', pg_get_userbyid(s.setrole), 'config', s.setconfig) ORDER BY pg_get_userbyid(s.setrole))
            FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole <> 0) AS role_settings
    FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace
   WHERE d.datname = $1`;

/** {@link DatabaseProperties} from a row of {@link PROPERTIES_QUERY}. */
export function propertiesFromRow(row: PropertiesRow, settingClause: (entry: string) => string): DatabaseProperties {
  const db = row.db;
  const text = (key: string) => (typeof db[key] === 'string' ? (db[key] as string) : undefined);
  const provider = { c: 'libc', i: 'icu', b: 'builtin' }[text('datlocprovider') ?? ''];
  // 17 renamed daticulocale to datlocale, which also holds the builtin provider's locale.
  const providerLocale = text('datlocale') ?? text('daticulocale');
  const create: CreateOptions = {
    encoding: row.encoding,
    ...(provider ? { localeProvider: provider } : {}),
    lcCollate: text('datcollate') ?? 'C',
    lcCtype: text('datctype') ?? 'C',
    ...(provider === 'icu' && providerLocale !== undefined ? { icuLocale: providerLocale } : {}),
    ...(provider === 'builtin' && providerLocale !== undefined ? { builtinLocale: providerLocale } : {}),
    ...(text('daticurules') !== undefined ? { icuRules: text('daticurules')! } : {}),
    ...(row.tablespace !== 'pg_default' ? { tablespace: row.tablespace } : {}),
  };
  const limit = Number(db['datconnlimit'] ?? -1);
  return {
    create,
    ...(limit >= 0 ? { connectionLimit: limit } : {}),
    owner: row.owner,
    privileges: row.acl === null ? [] : privilegesFromAcl(row.owner, row.acl),
    roleSettings: (row.role_settings ?? []).flatMap((s) => s.config.map((entry) => ({ role: s.role, clause: settingClause(entry) }))),
    comment: row.comment,
  };
}

/**
 * The changes that turn a new database's default privileges into the exploded ACL `acl`: everything revoked from
 * PUBLIC and the owner, then each grant as it was, grouped by grantor, grantee and grant option (the owner's first, so
 * that a grant made by a role holding the grant option follows the one that gave it).
 */
function privilegesFromAcl(owner: string, acl: NonNullable<PropertiesRow['acl']>): PrivilegeChange[] {
  const changes: PrivilegeChange[] = [
    { action: 'REVOKE', privileges: ['ALL'], grantee: null, grantOption: false },
    { action: 'REVOKE', privileges: ['ALL'], grantee: owner, grantOption: false },
  ];
  const groups = new Map<string, PrivilegeChange>();
  const ordered = [...acl].sort((a, b) => Number(b.grantor === owner) - Number(a.grantor === owner));
  for (const item of ordered) {
    const id = JSON.stringify([item.grantor, item.grantee, item.grantable]);
    let group = groups.get(id);
    if (!group) {
      group = {
        action: 'GRANT',
        privileges: [],
        grantee: item.grantee,
        grantOption: item.grantable,
        ...(item.grantor !== owner ? { grantor: item.grantor } : {}),
      };
      groups.set(id, group);
      changes.push(group);
    }
    group.privileges.push(item.privilege.toUpperCase());
  }
  return changes;
}
