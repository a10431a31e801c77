import type { Hook } from '../config/schema.js';
import { describeHook } from '../hooks.js';
import { restoreNames } from '../names.js';

/**
 * The restore plan as data: what will be created, filled, renamed and dropped, in order, decided from the options
 * and the observed state without touching anything. `--dry-run` prints it; the executor runs it.
 *
 * Restore into `N` (the steps below are the plan's, in this order):
 *  1. create-temp      drop a stale `N__temp`; create it empty (dump: with N's encoding, collation and tablespace,
 *                      else the archive's) or as a template copy (local key, which takes its source's).
 *  2. restore          pg_restore the dump into `N__temp` (dump only); any error fails the restore. From a spool,
 *                      the schema is restored from its head while the data still arrives, the rest with -j after.
 *  3. settings         apply the archive's `ALTER DATABASE … SET` (else N's) or the local source's to `N__temp`;
 *                      give it the connection limit, owner, privileges, per-role settings and comment of N (dump;
 *                      the archive's when there is no N) or of the local source; then mark it restored in full (its
 *                      comment, which keeps the user's): only such an `N__temp` may be resumed.
 *  4. pre-swap-hooks   migrations etc. against `N__temp`; a failure keeps `N__temp` for `restore :N__temp`.
 *  5. snapshot-post    reversible dump restores: copy `N__temp` (and its settings and properties) to `N__stage`, the future `:post`,
 *                      so that `:pre` and `:post` are exactly the databases before and after the restore.
 *  6. swap             block new sessions on N and end the others (reversible: on the old `:pre`/`:post` too);
 *                      then one transaction renames N → `N__pre`|`N__swap` and `N__temp` → N (reversible: the old
 *                      `:post` → `N__swap`, `N__stage` → `N__post`, the old `:pre` → `N__stage`, first), so the
 *                      name N always holds a complete database, and `:pre`/`:post` are the old ones or the new ones;
 *                      the new N's comment becomes the user's one its mark kept.
 *  7. cleanup          drop `N__swap` (and `N__stage`); a non-reversible dump restore also drops the old `:pre`/`:post`.
 *  8. post-swap-hooks  against the new N.
 * A failure before step 6 drops what the run created and leaves N, `:pre` and `:post` as they were.
 */

/** Where the data comes from. */
export type RestoreSource =
  | { kind: 'dump'; key: string }
  | { kind: 'local'; key: string; database: string };

/** Where a database's properties come from: a database that exists, or the dump (for a target that does not). */
export type PropertySource = { database: string } | { archive: string };

/** One change the executor makes. */
export type PlanAction =
  | { kind: 'drop'; database: string; reason: string; /** Left by an interrupted run: reported as a warning. */ leftover?: boolean }
  | { kind: 'create-empty'; database: string; /** Whose encoding, collation and tablespace it gets. */ like: PropertySource }
  | { kind: 'create-from-template'; database: string; template: string }
  | { kind: 'pg-restore'; key: string; database: string }
  | { kind: 'apply-settings'; database: string; from: 'archive' | string; key?: string; fallback?: string }
  /** Connection limit, owner, privileges, per-role settings and comment (see `DatabaseProperties`). */
  | { kind: 'apply-properties'; database: string; from: PropertySource }
  | { kind: 'hooks'; phase: 'pre-swap' | 'post-swap'; database: string; hooks: Hook[] }
  | { kind: 'block'; database: string }
  | { kind: 'mark-restored'; database: string }
  | {
      kind: 'swap';
      renames: Array<[from: string, to: string]>;
      allowConnections: string[];
      /**
       * `[live, marked]`: the database going live under the name `live` gets the user's comment that the mark on
       * `marked` (its name before the swap) kept (see {@link restoredMark}).
       */
      restoreComments: Array<[live: string, marked: string]>;
    };

/**
 * The comment on a working database `N__temp` once it holds the whole restore (data and settings): only such a one
 * may be resumed with `restore :N__temp`. One without it was cut off while being filled.
 */
export const RESTORED_COMMENT = 'pgclone: restored in full; "pgclone restore :<this name>" resumes it';

/** The mark of a restored `N__temp` whose own comment (the one it goes live with) is `comment`. */
export function restoredMark(comment: string | null): string {
  return comment === null ? RESTORED_COMMENT : `${RESTORED_COMMENT}\n${comment}`;
}

/**
 * Reads a database's comment: whether it is pgclone's mark of a restored `N__temp`, and the user's comment (the one
 * the mark kept, or the comment itself when there is no mark).
 */
export function readMark(comment: string | null): { marked: boolean; comment: string | null } {
  if (comment === RESTORED_COMMENT) return { marked: true, comment: null };
  if (comment?.startsWith(`${RESTORED_COMMENT}\n`)) return { marked: true, comment: comment.slice(RESTORED_COMMENT.length + 1) };
  return { marked: false, comment };
}

/** Stable names of the steps, as `--json` step events report them. */
export type RestoreStepName =
  | 'create-temp'
  | 'restore'
  | 'settings'
  | 'snapshot-post'
  | 'pre-swap-hooks'
  | 'swap'
  | 'cleanup'
  | 'post-swap-hooks';

/** A named group of actions; the step event is emitted when it starts. */
export interface PlanStep {
  step: RestoreStepName;
  actions: PlanAction[];
}

/** A whole restore (or copy) plan. */
export interface RestorePlan {
  operation: 'restore' | 'copy';
  /** The database that gets replaced (N). */
  target: string;
  source: RestoreSource;
  /** Whether `:pre`/`:post` are made (never for local sources). */
  reversible: boolean;
  steps: PlanStep[];
}

/** What the planner needs to know about the cluster. */
export interface ObservedState {
  /** Names of the databases that exist now. */
  existing: ReadonlySet<string>;
}

/**
 * Which hooks a restore runs. Restores from a dump (and `:N__temp`, which resumes one) run the pre-swap hooks from
 * flags, config or the adapter default (`migrate`). A local key names a database state that already exists — a
 * restore point, a copy, a snapshot — so restoring it runs only pre-swap hooks given explicitly for this call:
 * `restore :pre` is a real rollback, not a rollback plus the new migration. Post-swap hooks always run.
 */
export function selectRestoreHooks(
  options: { preSwapHooks: Hook[]; preSwapHooksGiven: boolean; postSwapHooks: Hook[] },
  source: { kind: 'dump' } | { kind: 'local'; database: string },
  target: string,
): { preSwapHooks: Hook[]; postSwapHooks: Hook[]; skipped: Hook[] } {
  const resume = source.kind === 'local' && source.database === restoreNames(target).temp;
  const run = source.kind === 'dump' || resume || options.preSwapHooksGiven;
  return {
    preSwapHooks: run ? options.preSwapHooks : [],
    postSwapHooks: options.postSwapHooks,
    skipped: run ? [] : options.preSwapHooks,
  };
}

/** Builds the plan of a restore into `target`. Pure. */
export function planRestore(input: {
  target: string;
  source: RestoreSource;
  reversible: boolean;
  preSwapHooks: Hook[];
  postSwapHooks: Hook[];
  state: ObservedState;
  operation?: 'restore' | 'copy';
}): RestorePlan {
  const { target, source, state } = input;
  const n = restoreNames(target);
  const has = (db: string) => state.existing.has(db);
  const fromDump = source.kind === 'dump';
  const reversible = fromDump && input.reversible;
  const resume = source.kind === 'local' && source.database === n.temp;
  const steps: PlanStep[] = [];

  const create: PlanAction[] = [];
  if (!resume) {
    if (has(n.temp)) create.push({ kind: 'drop', database: n.temp, reason: 'left by an earlier run', leftover: true });
    create.push(
      fromDump
        ? { kind: 'create-empty', database: n.temp, like: has(target) ? { database: target } : { archive: source.key } }
        : { kind: 'create-from-template', database: n.temp, template: source.database },
    );
  }
  if (create.length) steps.push({ step: 'create-temp', actions: create });
  if (fromDump) steps.push({ step: 'restore', actions: [{ kind: 'pg-restore', key: source.key, database: n.temp }] });
  if (!resume) {
    steps.push({
      step: 'settings',
      actions: [
        {
          kind: 'apply-settings',
          database: n.temp,
          from: fromDump ? 'archive' : source.database,
          ...(fromDump ? { key: source.key } : {}),
          // A local database's settings are exact (none means none, so `:pre` really goes back); only an archive
          // without settings falls back to N's.
          ...(fromDump && has(target) ? { fallback: target } : {}),
        },
        // A dump restore keeps what the live N has (as pg_restore into N would); a local restore brings back its
        // source as it is, its properties included (`:pre` is the old N itself).
        {
          kind: 'apply-properties',
          database: n.temp,
          from: !fromDump ? { database: source.database } : has(target) ? { database: target } : { archive: source.key },
        },
        // Last: from here on, N__temp is complete and may be resumed (after a failed pre-swap hook).
        { kind: 'mark-restored', database: n.temp },
      ],
    });
  }
  if (input.preSwapHooks.length) {
    steps.push({
      step: 'pre-swap-hooks',
      actions: [{ kind: 'hooks', phase: 'pre-swap', database: n.temp, hooks: input.preSwapHooks }],
    });
  }
  if (reversible) {
    const snap: PlanAction[] = [];
    if (has(n.stage)) snap.push({ kind: 'drop', database: n.stage, reason: 'left by an earlier run', leftover: true });
    snap.push({ kind: 'create-from-template', database: n.stage, template: n.temp });
    // A template copy does not carry `ALTER DATABASE … SET`: without this, restoring `:post` would lose them.
    snap.push({ kind: 'apply-settings', database: n.stage, from: n.temp });
    snap.push({ kind: 'apply-properties', database: n.stage, from: { database: n.temp } });
    steps.push({ step: 'snapshot-post', actions: snap });
  }

  const swap: PlanAction[] = [];
  const renames: Array<[string, string]> = [];
  const allow: string[] = [];
  const cleanup: PlanAction[] = [];
  if (has(target)) swap.push({ kind: 'block', database: target });
  if (reversible) {
    // The old restore points move aside in the swap's own transaction, and are dropped after it: a run killed before
    // the commit leaves them as they were (dropped first, they were lost with it), one killed after it leaves them
    // under names the next run drops. The renames run in this order, each freeing the name the next one takes.
    if (has(n.swap)) swap.push({ kind: 'drop', database: n.swap, reason: 'left by an earlier run', leftover: true });
    for (const old of [n.pre, n.post]) if (has(old)) swap.push({ kind: 'block', database: old });
    if (has(n.post)) {
      renames.push([n.post, n.swap]);
      cleanup.push({ kind: 'drop', database: n.swap, reason: 'the :post this restore replaced' });
    }
    renames.push([n.stage, n.post]);
    if (has(n.pre)) {
      renames.push([n.pre, n.stage]);
      cleanup.push({ kind: 'drop', database: n.stage, reason: 'the :pre this restore replaced' });
    }
    if (has(target)) {
      renames.push([target, n.pre]);
      allow.push(n.pre);
    }
    renames.push([n.temp, target]);
  } else {
    if (has(n.swap)) swap.push({ kind: 'drop', database: n.swap, reason: 'left by an earlier run', leftover: true });
    if (has(target)) renames.push([target, n.swap]);
    renames.push([n.temp, target]);
    if (has(target)) cleanup.push({ kind: 'drop', database: n.swap, reason: 'the replaced database' });
    if (fromDump) {
      // A non-reversible restore from a dump starts a new history: old restore points no longer describe it.
      if (has(n.pre)) cleanup.push({ kind: 'drop', database: n.pre, reason: 'restore point of an earlier restore' });
      if (has(n.post)) cleanup.push({ kind: 'drop', database: n.post, reason: 'restore point of an earlier restore' });
    }
  }
  swap.push({ kind: 'swap', renames, allowConnections: allow, restoreComments: [[target, n.temp]] });
  steps.push({ step: 'swap', actions: swap });
  if (cleanup.length) steps.push({ step: 'cleanup', actions: cleanup });
  if (input.postSwapHooks.length) {
    steps.push({
      step: 'post-swap-hooks',
      actions: [{ kind: 'hooks', phase: 'post-swap', database: target, hooks: input.postSwapHooks }],
    });
  }
  return { operation: input.operation ?? 'restore', target, source, reversible, steps };
}

/** One human line per action, for `--dry-run` and logs. */
export function describeAction(action: PlanAction): string {
  switch (action.kind) {
    case 'drop':
      return `drop database ${action.database} (${action.reason})`;
    case 'create-empty':
      return `create database ${action.database} with the encoding, collation and tablespace of ${describeSource(action.like)}`;
    case 'create-from-template':
      return `create database ${action.database} as a copy of ${action.template}`;
    case 'pg-restore':
      return `pg_restore ${action.key} into ${action.database}`;
    case 'apply-settings':
      return `apply database settings from ${action.from === 'archive' ? 'the dump' : action.from}${action.fallback ? ` (else from ${action.fallback})` : ''} to ${action.database}`;
    case 'apply-properties':
      return `give ${action.database} the connection limit, owner, privileges, per-role settings and comment of ${describeSource(action.from)}`;
    case 'hooks':
      return `run ${action.phase} hooks on ${action.database}: ${action.hooks.map(describeHook).join(', ')}`;
    case 'block':
      return `block new sessions on ${action.database} and end the open ones`;
    case 'mark-restored':
      return `mark ${action.database} as restored in full`;
    case 'swap':
      return `in one transaction: ${action.renames.map(([from, to]) => `rename ${from} to ${to}`).join(', ')}`;
  }
}

function describeSource(source: PropertySource): string {
  return 'database' in source ? source.database : 'the dump';
}

/** The plan as printable lines. */
export function describePlan(plan: RestorePlan): string[] {
  const from = plan.source.kind === 'dump' ? `dump ${plan.source.key}` : `local database ${plan.source.database}`;
  const lines = [`${plan.operation} ${from} into ${plan.target}${plan.reversible ? ' (reversible)' : ''}`];
  for (const step of plan.steps) for (const action of step.actions) lines.push(`${step.step}: ${describeAction(action)}`);
  return lines;
}
