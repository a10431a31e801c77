import type { Hook } from '../config/schema.js';
import { PgcloneError } from '../errors.js';
import type { Reporter } from '../events.js';
import type { Admin } from '../pg/admin.js';
import { quoteIdent } from '../pg/ident.js';
import { alterDatabaseSetting } from '../pg/settings.js';
import { restoreNames } from '../names.js';
import type { ArchiveDatabase } from '../pg/database-script.js';
import { applyProperties, createEmpty, describeFrom } from './properties.js';
import { readMark, restoredMark, type PlanAction, type PlanStep, type RestorePlan } from './restore.js';

/** The I/O a plan needs; the executor itself only sequences it and undoes it on failure. */
export interface ExecuteIo {
  admin: Admin;
  reporter: Reporter;
  /** pg_restore `key` into `database`. */
  pgRestore(key: string, database: string): Promise<void>;
  /** What the archive says about its database (its `ALTER DATABASE … SET` clauses, its properties). */
  archiveDatabase(key: string): Promise<ArchiveDatabase>;
  runHooks(phase: 'pre-swap' | 'post-swap', database: string, hooks: Hook[]): Promise<void>;
  /** Strategy for template copies. */
  copyStrategy?: 'FILE_COPY' | 'WAL_LOG';
  /** Makes a template copy (choosing its strategy); replaces `copyStrategy` when given. */
  copyDatabase?(name: string, template: string): Promise<void>;
  /** Must resolve before the swap starts (the dump's checksum); a rejection fails the restore with nothing swapped. */
  beforeSwap?: () => Promise<void>;
  signal?: AbortSignal;
}

/**
 * Runs a plan step by step, emitting a `step` event as each starts. On a failure before the swap it drops what
 * this run created, lets sessions back into N, and leaves N and its restore points as they were; a failed pre-swap
 * hook keeps `N__temp`, with the sessions left on it ended, so that `restore :N__temp` resumes.
 */
export async function executePlan(plan: RestorePlan, io: ExecuteIo): Promise<void> {
  const { admin, reporter } = io;
  const names = restoreNames(plan.target);
  const created = new Set<string>();
  const blocked: string[] = [];
  let swapped = false;
  let keepTemp = false;

  try {
    for (const step of plan.steps) {
      io.signal?.throwIfAborted();
      if (step.step === 'swap') await io.beforeSwap?.();
      reporter.step(step.step, describeStep(step.step, plan), targetOf(step.actions[0]!));
      for (const action of step.actions) {
        io.signal?.throwIfAborted();
        if (action.kind === 'drop') {
          const message = `Dropping ${action.database} (${action.reason})`;
          if (action.leftover) reporter.warn(message);
          else reporter.info(message);
        }
        switch (action.kind) {
          case 'drop':
            await admin.drop(action.database);
            break;
          case 'create-empty':
            await createEmpty(io, action);
            created.add(action.database);
            break;
          case 'create-from-template':
            created.add(action.database);
            await admin.withExclusiveAccess(action.template, () =>
              io.copyDatabase
                ? io.copyDatabase(action.database, action.template)
                : admin.createFromTemplate(action.database, action.template, io.copyStrategy),
            ).catch((error: unknown) => {
              created.delete(action.database);
              throw error;
            });
            break;
          case 'pg-restore':
            await io.pgRestore(action.key, action.database);
            break;
          case 'apply-settings':
            await applySettings(io, action);
            break;
          case 'apply-properties': {
            const properties = 'database' in action.from ? await admin.properties(action.from.database) : (await io.archiveDatabase(action.from.archive)).properties;
            // A marked N__temp (the source of the future :post) keeps the user's comment inside its mark.
            await applyProperties(admin, reporter, action.database, { ...properties, comment: readMark(properties.comment).comment }, describeFrom(action.from));
            break;
          }
          case 'hooks':
            try {
              await io.runHooks(action.phase, action.database, action.hooks);
            } catch (error) {
              if (action.phase === 'pre-swap') keepTemp = true;
              throw error;
            }
            break;
          case 'block':
            await admin.setAllowConnections(action.database, false);
            blocked.push(action.database);
            await admin.requireNoSessions(action.database);
            break;
          case 'mark-restored':
            await admin.setComment(action.database, restoredMark(await admin.comment(action.database)));
            break;
          case 'swap': {
            const comments: Array<[string, string | null]> = [];
            for (const [live, marked] of action.restoreComments) comments.push([live, readMark(await admin.comment(marked)).comment]);
            // A template database stays one under its name (the new database takes the flag from the old).
            const template = (await admin.database(plan.target))?.isTemplate ? plan.target : undefined;
            await admin.swap(action.renames, action.allowConnections, comments, template);
            swapped = true;
            blocked.length = 0;
            break;
          }
        }
      }
    }
  } catch (error) {
    if (swapped) {
      // The new database is live; what failed was cleanup or a post-swap hook. Nothing to undo, and the error alone
      // would read as a failed restore.
      reporter.warn(`${plan.target} is restored and live: what failed came after the swap, and nothing was undone`);
      throw error;
    }
    await compensate({ admin, reporter, created, blocked, keepTemp, temp: names.temp, resume: keepTemp ? resumeAdvice(error) : undefined, stopped: !!io.signal?.aborted });
    throw error;
  }
}

async function compensate(input: {
  admin: Admin;
  reporter: Reporter;
  created: Set<string>;
  blocked: readonly string[];
  keepTemp: boolean;
  temp: string;
  /** The adapter's advice when `restore :N__temp` cannot resume after its hook failed. */
  resume: string | undefined;
  /** The run was stopped (Ctrl-C, an aborted signal): no hook failed. */
  stopped: boolean;
}): Promise<void> {
  const { admin, reporter } = input;
  const advice = (db: string) =>
    input.stopped
      ? `the restore was stopped during its pre-swap hooks; run "pgclone restore :${db}" to resume`
      : `fix the failing hook, then run "pgclone restore :${db}" to resume`;
  const kept = (db: string) => `Kept ${db}: ${input.resume ?? advice(db)}`;
  for (const db of input.blocked) {
    await admin.setAllowConnections(db, true).catch((e: unknown) => reporter.warn(`Could not allow connections to ${db} again: ${(e as Error).message}`));
  }
  if (input.keepTemp) {
    // A hook that was stopped (Ctrl-C, a killed child) leaves its query running on N__temp, holding its locks
    // (Knex's migration lock) for as long as it runs: a resume would wait for them.
    await admin.terminate(input.temp).catch((e: unknown) => reporter.warn(`Could not end the sessions on ${input.temp}: ${(e as Error).message}`));
  }
  for (const db of input.created) {
    if (db === input.temp && input.keepTemp) {
      reporter.warn(kept(db));
      continue;
    }
    await admin.drop(db).catch((e: unknown) => reporter.warn(`Could not drop ${db}: ${(e as Error).message}`));
  }
  if (input.keepTemp && !input.created.has(input.temp)) {
    reporter.warn(kept(input.temp));
  }
}

/** The `resume` advice of the adapter error behind a hook failure (see `AdapterError`), if any. */
function resumeAdvice(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const { resume } = e as { resume?: unknown };
    if (typeof resume === 'string') return resume;
  }
  return undefined;
}

async function applySettings(io: ExecuteIo, action: Extract<PlanAction, { kind: 'apply-settings' }>): Promise<void> {
  const { admin } = io;
  let statements: string[];
  if (action.from === 'archive') {
    // The archive carries its own `ALTER DATABASE … SET` only in `--create` output; re-target them.
    const clauses = (await io.archiveDatabase(action.key!)).settings;
    statements = clauses.map((clause) => `ALTER DATABASE ${quoteIdent(action.database)} SET ${clause}`);
  } else {
    const entries = await admin.databaseSettings(action.from);
    statements = entries.map((entry) => alterDatabaseSetting(action.database, entry));
  }
  if (statements.length === 0 && action.fallback) {
    const entries = await admin.databaseSettings(action.fallback);
    statements = entries.map((entry) => alterDatabaseSetting(action.database, entry));
  }
  for (const sql of statements) {
    try {
      await admin.query(sql);
    } catch (error) {
      throw new PgcloneError('RESTORE_FAILED', `Cannot apply database setting (${sql}): ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

function describeStep(step: PlanStep['step'], plan: RestorePlan): string {
  const n = restoreNames(plan.target);
  switch (step) {
    case 'create-temp':
      return plan.source.kind === 'local' ? `Copying ${plan.source.database} to ${n.temp}` : `Creating ${n.temp}`;
    case 'restore':
      return `Restoring ${plan.source.key} into ${n.temp}`;
    case 'settings':
      return `Applying database settings to ${n.temp}`;
    case 'snapshot-post':
      return `Copying ${n.temp} to ${n.stage} (the future :post)`;
    case 'pre-swap-hooks':
      return `Running pre-swap hooks on ${n.temp}`;
    case 'swap':
      return `Swapping ${n.temp} into place as ${plan.target}`;
    case 'cleanup':
      return 'Cleaning up';
    case 'post-swap-hooks':
      return `Running post-swap hooks on ${plan.target}`;
  }
}

function targetOf(action: PlanAction): string | undefined {
  return 'database' in action ? action.database : undefined;
}
