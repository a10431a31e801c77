import { mapAtOnce } from '../at-once.js';
import { PgcloneError } from '../errors.js';
import { interruptible } from '../interrupt.js';
import { isDumpKey, isSidecarKey } from '../keys.js';
import { assertMatchesManifest, hashObject, MANIFEST_READS_AT_ONCE, readManifest } from '../manifest.js';
import { ownerOfDerivedName, reservedSuffixOf, restoreNames, SYSTEM_DATABASES } from '../names.js';
import type { DoctorOptions } from '../options.js';
import type { Admin, LockHolder } from '../pg/admin.js';
import { dumpKeyOfSidecar } from '../pins.js';
import { findScratchLeftovers, removeScratch } from '../scratch.js';
import { resolvePerfOptions } from '../config/perf.js';
import { scratchBases } from './leftover-files.js';
import type { Storage } from '../storage.js';
import { connectAdmin, openStorage, prepare, type Prepared, type Runtime } from './prepare.js';
import { inspectLeftovers, repairLeftover } from './repair.js';

/** One thing `doctor` found. */
export interface Finding {
  /** Where: `database`, `lock`, `storage`, `temp-files`. */
  area: 'database' | 'lock' | 'storage' | 'temp-files';
  /** The database, key, session or path concerned. */
  subject: string;
  /** What is wrong (or, for `info`, what is going on). */
  problem: string;
  /** What `--fix` does about it; absent when only a human can decide (e.g. a corrupt dump). */
  fix?: string;
  /** `problem`: something to repair; `info`: worth knowing, nothing to repair (e.g. a run in progress). */
  severity: 'problem' | 'info';
  /** With `--fix`: what was done, or why it was not. */
  outcome?: 'fixed' | 'skipped' | 'failed';
  detail?: string;
}

/** What `doctor` returns. */
export interface DoctorReport {
  fix: boolean;
  findings: Finding[];
  /** Problems left after this run (all of them without `--fix`). */
  remaining: number;
}

/**
 * Finds what interrupted runs left behind and, with `fix`, repairs it: pgclone's working databases (`__temp`,
 * `__swap`, `__stage`) and blocked databases anywhere on the target's cluster, sessions holding pgclone's locks for
 * processes that no longer run, incomplete writes and orphan sidecars in the storage, and temporary files. Anything a
 * running pgclone may be using (its lock is held) is reported, never touched.
 *
 * @example
 * const report = await doctor({ fix: true }, runtime);
 */
export async function doctor(options: DoctorOptions, runtime: Runtime): Promise<DoctorReport> {
  return interruptible(options.signal, 'Doctor', () => doctorNow(options, runtime));
}

async function doctorNow(options: DoctorOptions, runtime: Runtime): Promise<DoctorReport> {
  const prepared = await prepare('doctor', options, runtime);
  const fix = !!options.fix;
  const findings: Finding[] = [];
  const { reporter } = prepared;

  const conn = prepared.options.connection;
  if (conn instanceof PgcloneError) {
    findings.push({ area: 'database', subject: '(no connection)', problem: `databases not checked: ${conn.message}`, severity: 'info' });
  } else {
    reporter.step('databases', `Checking the databases on ${conn.host ?? 'the server'}`);
    const admin = await connectAdmin(prepared.options, conn, prepared.env, reporter);
    try {
      const families = await familiesToCheck(admin, conn.database, !!options.all);
      findings.push(...(await checkDatabases(admin, families, fix)));
      findings.push(...(await checkLocks(admin, options.all ? undefined : families, fix)));
    } finally {
      await admin.close();
    }
  }

  reporter.step('storage', 'Checking the storage');
  const storage = await openStorage(prepared);
  findings.push(...(await checkStorage(storage, prepared, fix, !!options.verify)));
  reporter.step('temp-files', 'Checking temporary files');
  findings.push(...(await checkScratch(fix, resolvePerfOptions(options, prepared.options).spoolDir)));

  const remaining = findings.filter((f) => f.severity === 'problem' && f.outcome !== 'fixed').length;
  return { fix, findings, remaining };
}

async function attempt(finding: Finding, fix: boolean, repair: () => Promise<unknown>): Promise<Finding> {
  if (!fix || !finding.fix) return finding;
  try {
    await repair();
    return { ...finding, outcome: 'fixed' };
  } catch (error) {
    return { ...finding, outcome: 'failed', detail: (error as Error).message };
  }
}

/** The target alone, or (`all`) every database that has pgclone working names or is blocked. */
async function familiesToCheck(admin: Admin, target: string, all: boolean): Promise<string[]> {
  const families = new Set<string>();
  if (!SYSTEM_DATABASES.includes(target)) families.add(target);
  if (all) {
    for (const db of await admin.listDatabases()) {
      const suffix = reservedSuffixOf(db.name);
      const owner = ownerOfDerivedName(db.name);
      if (owner && (suffix === 'temp' || suffix === 'swap' || suffix === 'stage')) families.add(owner);
      if (!db.allowConnections && !db.isTemplate) families.add(owner ?? db.name);
    }
  }
  return [...families].sort();
}

async function checkDatabases(admin: Admin, families: readonly string[], fix: boolean): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const family of families) {
    let leftovers = await inspectLeftovers(admin, family);
    if (leftovers.length === 0) continue;
    // A running restore or copy holds this lock: its working databases are not leftovers.
    if (!(await admin.tryLock(family))) {
      const holders = await admin.lockHolders(family);
      out.push({
        area: 'database',
        subject: family,
        problem: `a pgclone run is working on ${family} (session ${holders.map((h) => h.pid).join(', ') || '?'}); its ${leftovers.map((l) => l.database).join(', ')} may be in use`,
        severity: 'info',
      });
      continue;
    }
    try {
      // Repairs can reveal the next state (a renamed-back database that is still blocked): inspect again after each.
      for (let round = 0; round < 8 && leftovers.length > 0; round++) {
        const leftover = leftovers[0]!;
        const finding = await attempt(
          { area: 'database', subject: leftover.database, problem: leftover.description, fix: leftover.fix, severity: 'problem' },
          fix,
          () => repairLeftover(admin, leftover),
        );
        out.push(finding);
        if (!fix || finding.outcome !== 'fixed') {
          for (const rest of leftovers.slice(1)) {
            out.push({ area: 'database', subject: rest.database, problem: rest.description, fix: rest.fix, severity: 'problem' });
          }
          break;
        }
        leftovers = await inspectLeftovers(admin, family);
      }
    } finally {
      await admin.unlock(family);
    }
  }
  return out;
}

async function checkLocks(admin: Admin, families: readonly string[] | undefined, fix: boolean): Promise<Finding[]> {
  const scope = families?.flatMap((f) => {
    try {
      return Object.values(restoreNames(f));
    } catch {
      return [f];
    }
  });
  const rows = await admin.query<{ pid: number; application_name: string | null; names: string[] | null }>(
    `SELECT l.pid, a.application_name,
            (SELECT array_agg(n) FROM (SELECT datname::text AS n FROM pg_database UNION SELECT unnest($1::text[])) c
              WHERE (hashtext(c.n)::bigint & 4294967295)::oid = l.objid) AS names
       FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.pid <> pg_backend_pid()
        AND l.classid = (hashtext('pgclone')::bigint & 4294967295)::oid
        AND ($1::text[] IS NULL OR l.objid = ANY (SELECT (hashtext(n)::bigint & 4294967295)::oid FROM unnest($1::text[]) n))`,
    [scope ?? null],
  );
  const out: Finding[] = [];
  const seen = new Set<number>();
  for (const row of rows) {
    if (seen.has(row.pid)) continue;
    seen.add(row.pid);
    const names = (row.names ?? []).join(', ') || 'a database';
    // One query at a time: the admin session takes no more.
    let holder: LockHolder | undefined;
    for (const name of row.names ?? []) holder ??= (await admin.lockHolders(name)).find((h) => h.pid === row.pid);
    const app = row.application_name ?? '';
    if (holder?.ownerState === 'dead') {
      out.push(
        await attempt(
          {
            area: 'lock',
            subject: `session ${row.pid}`,
            problem: `holds pgclone's lock on ${names} for pgclone process ${holder.owner!.pid}, which no longer runs`,
            fix: `end session ${row.pid}`,
            severity: 'problem',
          },
          fix,
          async () => {
            if (!(await admin.terminateBackend(row.pid))) throw new Error(`session ${row.pid} could not be ended`);
          },
        ),
      );
    } else {
      out.push({
        area: 'lock',
        subject: `session ${row.pid}`,
        problem: `a pgclone run holds the lock on ${names} (${
          holder?.owner
            ? `pgclone process ${holder.owner.pid}${holder.ownerState === 'unknown' ? ' on another host' : ''}`
            : `application ${JSON.stringify(app)}`
        })`,
        severity: 'info',
      });
    }
  }
  return out;
}

async function checkStorage(storage: Storage, prepared: Prepared, fix: boolean, verify: boolean): Promise<Finding[]> {
  const out: Finding[] = [];
  if (storage.listIncomplete && storage.removeIncomplete) {
    for (const write of await storage.listIncomplete('')) {
      const finding: Finding = {
        area: 'storage',
        subject: write.display,
        problem: write.stale
          ? `an incomplete write${write.key ? ` of ${write.key}` : ''}${write.size !== undefined ? ` (${write.size} bytes)` : ''} left by an interrupted run`
          : `a write${write.key ? ` of ${write.key}` : ''} that may still be in progress (its pgclone process runs, or it is less than a day old)`,
        severity: write.stale ? 'problem' : 'info',
        ...(write.stale ? { fix: 'remove it' } : {}),
      };
      out.push(await attempt(finding, fix, () => storage.removeIncomplete!(write)));
    }
  }
  const objects = await storage.list('');
  const keys = new Set(objects.map((o) => o.key));
  for (const object of objects) {
    const owner = dumpKeyOfSidecar(object.key);
    if (owner !== undefined && !keys.has(owner)) {
      out.push(
        await attempt(
          {
            area: 'storage',
            subject: object.key,
            problem: `a sidecar of ${owner}, which does not exist (a deletion was interrupted)`,
            fix: 'delete it',
            severity: 'problem',
          },
          fix,
          () => storage.delete(object.key),
        ),
      );
    }
  }
  const dumps = objects.filter((o) => !isSidecarKey(o.key) && (!prepared.options.validateDumpKeys || isDumpKey(o.key)));
  // Manifests side by side, like `ls --long`; a verify downloads each dump whole, so those go one after another.
  const checked = await mapAtOnce(dumps, verify ? 1 : MANIFEST_READS_AT_ONCE, async (object): Promise<Finding | 'unverified' | undefined> => {
    try {
      const manifest = await readManifest(storage, object.key);
      if (!manifest) return 'unverified';
      assertMatchesManifest(manifest, verify ? await hashObject(storage, object.key) : { size: object.size }, object.key);
      return undefined;
    } catch (error) {
      // A read that failed (network, access denied) is not a damaged dump: never advise deleting it for that.
      if (!(error instanceof PgcloneError && error.code === 'DUMP_CORRUPT')) throw error;
      return {
        area: 'storage',
        subject: object.key,
        problem: `${error.message.replace(/; refusing to restore it$/, '')}; restore refuses it ("pgclone rm" deletes it)`,
        severity: 'problem',
      };
    }
  });
  const unverified = checked.filter((c) => c === 'unverified').length;
  for (const c of checked) if (c && c !== 'unverified') out.push(c);
  if (unverified > 0) {
    out.push({
      area: 'storage',
      subject: storage.display,
      problem: `${unverified} dump(s) have no manifest (made by plain pg_dump, django-pgclone or an interrupted run): restores check them as archives only`,
      severity: 'info',
    });
  }
  return out;
}

async function checkScratch(fix: boolean, spoolDir: string): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const base of scratchBases(spoolDir)) for (const leftover of await findScratchLeftovers(base)) {
    const finding: Finding = {
      area: 'temp-files',
      subject: leftover.path,
      problem: leftover.stale
        ? `${leftover.bytes} bytes of temporary files left by an interrupted run`
        : `temporary files of a pgclone process on another host (kept for a day)`,
      severity: leftover.stale ? 'problem' : 'info',
      ...(leftover.stale ? { fix: 'remove them' } : {}),
    };
    out.push(await attempt(finding, fix, () => removeScratch(leftover, base)));
  }
  return out;
}

/** One line per finding, for the CLI. */
export function describeFinding(finding: Finding): string {
  const head = finding.severity === 'info' ? 'info' : finding.outcome ?? 'problem';
  const fix = finding.fix && finding.outcome !== 'fixed' ? ` (--fix: ${finding.fix})` : '';
  const detail = finding.detail ? `: ${finding.detail}` : '';
  return `${head}: [${finding.area}] ${finding.subject}: ${finding.problem}${finding.outcome === 'fixed' ? ` → ${finding.fix}` : fix}${detail}`;
}
