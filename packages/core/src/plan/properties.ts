import { PgcloneError } from '../errors.js';
import type { Reporter } from '../events.js';
import type { Admin } from '../pg/admin.js';
import { createDatabaseOptions, privilegeStatement, type DatabaseProperties } from '../pg/database-properties.js';
import type { ArchiveDatabase } from '../pg/database-script.js';
import { quoteIdent, quoteLiteral } from '../pg/ident.js';
import type { PlanAction, PropertySource } from './restore.js';

/** Names a property source in messages. */
export function describeFrom(source: PropertySource): string {
  return 'database' in source ? source.database : 'the dump';
}

/**
 * Creates the empty working database of a dump restore like the database it replaces: N's encoding, collation and
 * tablespace, which this server has (so failing to use them is an error, before anything changed). A target that does
 * not exist yet takes the dump's: a dump often comes from another server, whose locale or tablespace this one may
 * lack; then it gets this server's defaults, with a warning.
 */
export async function createEmpty(
  io: { admin: Admin; reporter: Reporter; archiveDatabase(key: string): Promise<ArchiveDatabase> },
  action: Extract<PlanAction, { kind: 'create-empty' }>,
): Promise<void> {
  const { admin } = io;
  if ('database' in action.like) {
    const { create } = await admin.properties(action.like.database);
    try {
      await admin.createEmpty(action.database, create);
    } catch (error) {
      throw new PgcloneError(
        'RESTORE_FAILED',
        `Cannot create ${action.database} like ${action.like.database} (${createDatabaseOptions(create, admin.serverMajor)}): ${(error as Error).message}`,
        { cause: error },
      );
    }
    return;
  }
  const { create } = (await io.archiveDatabase(action.like.archive)).properties;
  try {
    await admin.createEmpty(action.database, create);
  } catch (error) {
    await admin.createEmpty(action.database);
    io.reporter.warn(
      `${action.database} has this server's default encoding, collation and tablespace, not the dump's ` +
        `(${createDatabaseOptions(create, admin.serverMajor)}): ${(error as Error).message}; ` +
        'to choose them, create the target database with them before restoring (a restore keeps an existing database\'s)',
    );
  }
}

/**
 * Gives `database` (a new database pgclone owns) the connection limit, owner, privileges, per-role settings and
 * comment of `properties`. What pgclone's role may not set (another role's settings without superuser, an owner it is
 * not a member of, a role this server lacks) is a warning: the data is in by now, and the database is whole without it.
 */
export async function applyProperties(admin: Admin, reporter: Reporter, database: string, properties: DatabaseProperties, from: string): Promise<void> {
  const db = quoteIdent(database);
  const attempt = async (what: string, statements: string[]): Promise<boolean> => {
    try {
      await admin.query(statements.join(';\n'));
      return true;
    } catch (error) {
      reporter.warn(`${database} does not get ${what} of ${from}: ${(error as Error).message}`);
      return false;
    }
  };
  if (properties.connectionLimit !== undefined) {
    await attempt(`the connection limit (${properties.connectionLimit})`, [`ALTER DATABASE ${db} CONNECTION LIMIT ${Math.trunc(properties.connectionLimit)}`]);
  }
  // Privileges are stated relative to the owner: without it, they would lock out the owner pgclone's role is.
  const owned = properties.owner === undefined || properties.owner === admin.user || (await setOwner(admin, reporter, database, properties.owner, from));
  if (owned) {
    for (const change of properties.privileges) {
      const statement = privilegeStatement(database, change);
      // A grant made by a role that holds the grant option is made as that role (pg_dump does the same); a failure
      // rolls back the SET ROLE with the rest of the implicit transaction.
      await attempt(`the privileges (${statement})`, change.grantor ? [`SET ROLE ${quoteIdent(change.grantor)}`, statement, 'RESET ROLE'] : [statement]);
    }
  } else if (properties.privileges.length > 0) {
    reporter.warn(`${database} does not get the privileges of ${from} either: they are stated for its owner`);
  }
  for (const { role, clause } of properties.roleSettings) {
    await attempt(`the setting of role ${role} (${clause})`, [`ALTER ROLE ${quoteIdent(role)} IN DATABASE ${db} SET ${clause}`]);
  }
  if (properties.comment !== null) await attempt('the comment', [`COMMENT ON DATABASE ${db} IS ${quoteLiteral(properties.comment)}`]);
}

/**
 * `ALTER DATABASE … OWNER TO owner` when the role exists and pgclone's role has its privileges (else it could not
 * rename the database it gave away in the swap). Returns whether the owner is set.
 */
async function setOwner(admin: Admin, reporter: Reporter, database: string, owner: string, from: string): Promise<boolean> {
  const [role] = await admin.query<{ usable: boolean }>(
    `SELECT pg_has_role(current_user, oid, 'USAGE') AS usable FROM pg_roles WHERE rolname = $1`,
    [owner],
  );
  if (!role) {
    reporter.warn(`${database} stays owned by ${admin.user}: the owner of ${from}, role ${JSON.stringify(owner)}, does not exist here`);
    return false;
  }
  if (!role.usable) {
    reporter.warn(`${database} stays owned by ${admin.user}: ${admin.user} does not have the privileges of ${JSON.stringify(owner)}, the owner of ${from}`);
    return false;
  }
  try {
    await admin.query(`ALTER DATABASE ${quoteIdent(database)} OWNER TO ${quoteIdent(owner)}`);
    return true;
  } catch (error) {
    reporter.warn(`${database} stays owned by ${admin.user}, not ${JSON.stringify(owner)} as ${from}: ${(error as Error).message}`);
    return false;
  }
}
