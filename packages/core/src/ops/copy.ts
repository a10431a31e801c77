import { serverOnThisMachine } from '../connection.js';
import { GuardError, KeyError, PgcloneError } from '../errors.js';
import { assertDatabaseName, reservedSuffixOf, restoreNames, SYSTEM_DATABASES } from '../names.js';
import { interruptible } from '../interrupt.js';
import type { CopyOptions } from '../options.js';
import { resolvePerfOptions } from '../config/perf.js';
import type { Admin } from '../pg/admin.js';
import { copyDatabase } from '../pg/copy-method.js';
import { executePlan } from '../plan/execute.js';
import { planRestore } from '../plan/restore.js';
import { connectAdmin, prepare, requireConnection, targetDatabase, type Runtime } from './prepare.js';
import { repairLeftovers } from './repair.js';

/** What `copy` returns. */
export interface CopyResult {
  /** The local key of the copy (`:name`). */
  key: string;
  /** The copy's database name. */
  database: string;
  /** The database that was copied. */
  source: string;
  durationMs: number;
}

/** Checks a copy target (`:name`) and returns the database name. Pure. */
export function copyTargetName(target: string, source: string): string {
  if (!target.startsWith(':')) {
    throw new KeyError('KEY_INVALID', `Copy target ${JSON.stringify(target)} must start with ":" (a local database name, e.g. :before)`);
  }
  const name = target.slice(1);
  assertDatabaseName(name, 'copy target');
  if (name === 'pre' || name === 'post') {
    throw new KeyError('NAME_RESERVED', `Copy target ${target} is reserved for restore points; choose another name`);
  }
  const suffix = reservedSuffixOf(name);
  if (suffix) throw new KeyError('NAME_RESERVED', `Copy target ${target} ends in "__${suffix}", a name pgclone reserves; choose another name`);
  if (SYSTEM_DATABASES.includes(name)) throw new KeyError('NAME_RESERVED', `Copy target ${target} is a system database`);
  if (name === source) throw new KeyError('KEY_INVALID', `Copy target ${target} is the database being copied`);
  restoreNames(name);
  return name;
}

/**
 * Copies the target database into the local database `name` (`CREATE DATABASE … TEMPLATE`), replacing an earlier
 * copy of that name atomically. Sessions on the source are ended for the moment of the copy (PostgreSQL requires it);
 * a database of that name with client sessions is refused (`DATABASE_BUSY`), as it looks in use.
 *
 * @example
 * await copy(':before', {}, runtime);   // snapshot
 * await restore(':before', {}, runtime); // roll back to it
 */
export async function copy(target: string, options: CopyOptions, runtime: Runtime): Promise<CopyResult> {
  return interruptible(options.signal, `Copy to ${target}`, () => copyNow(target, options, runtime));
}

async function copyNow(target: string, options: CopyOptions, runtime: Runtime): Promise<CopyResult> {
  const started = Date.now();
  const prepared = await prepare('copy', options, runtime);
  const { options: opts, reporter } = prepared;
  if (!opts.allowCopy) throw new GuardError('Copy is not allowed here (allowCopy is false in the pgclone config)');
  const conn = requireConnection(opts);
  const { copyStrategy } = resolvePerfOptions(options, opts);
  const source = targetDatabase(conn);
  const name = copyTargetName(target, source);
  const admin = await connectAdmin(opts, conn, prepared.env, reporter);
  try {
    reporter.step('lock', `Waiting for pgclone's locks on ${source} and ${name}`, name);
    await admin.lock([source, name], options.signal);
    // The copy blocks its source for the template copy: a killed copy may have left the live database blocked.
    await repairLeftovers(admin, source, reporter);
    await repairLeftovers(admin, name, reporter);
    await admin.requireOwnership([source, ...Object.values(restoreNames(name))]);
    await admin.requireReplaceable([source], { dropped: false });
    await admin.requireReplaceable(Object.values(restoreNames(name)), { dropped: true });
    if (!(await admin.exists(source))) {
      throw new KeyError('DATABASE_NOT_FOUND', `Database ${JSON.stringify(source)} does not exist; nothing to copy`);
    }
    await refuseInUse(admin, name);
    const existing = new Set((await admin.listDatabases()).map((d) => d.name));
    const plan = planRestore({
      operation: 'copy',
      target: name,
      source: { kind: 'local', key: `:${source}`, database: source },
      reversible: false,
      preSwapHooks: [],
      postSwapHooks: [],
      state: { existing },
    });
    await executePlan(plan, {
      admin,
      reporter,
      copyDatabase: async (name, template) => {
        await copyDatabase(admin, name, template, copyStrategy, reporter, serverOnThisMachine(conn, prepared.env));
      },
      ...(options.signal ? { signal: options.signal } : {}),
      pgRestore: () => Promise.reject(new Error('unreachable: copies never run pg_restore')),
      archiveDatabase: () => Promise.reject(new Error('unreachable: copies never read a dump')),
      runHooks: () => Promise.resolve(),
    });
    reporter.step('done', `Copied ${source} to :${name}`, name);
    return { key: `:${name}`, database: name, source, durationMs: Date.now() - started };
  } finally {
    await admin.close();
  }
}

/**
 * A copy replaces an earlier copy of `name`, but a database someone is connected to is more likely an application's
 * live database named by a typo: refused, as `rm :name` refuses it (autovacuum and other background work aside).
 */
async function refuseInUse(admin: Admin, name: string): Promise<void> {
  const sessions = (await admin.sessions(name)).filter((s) => s.backendType === 'client backend');
  if (sessions.length === 0) return;
  const who = [...new Set(sessions.map((s) => s.applicationName || s.user || 'unknown'))].join(', ');
  throw new PgcloneError(
    'DATABASE_BUSY',
    `${name} has ${sessions.length} open session${sessions.length === 1 ? '' : 's'} (${who}): it looks in use, and a copy would replace it; ` +
      `end its sessions, or drop it first ("pgclone rm --force :${name}")`,
  );
}
