import { KeyError, PgcloneError } from '../errors.js';
import { whenAborted } from '../interrupt.js';
import type { Reporter } from '../events.js';
import { restoreNames, spareName } from '../names.js';
import type { Admin } from '../pg/admin.js';
import { chooseCopyMethod, copyDatabase, describeCopyMethod, type CopyMethod, type CopyStrategyOption } from '../pg/copy-method.js';
import { endSessionsQuickly } from '../pg/end-sessions.js';
import { quoteIdent, quoteLiteral } from '../pg/ident.js';
import { alterDatabaseSetting } from '../pg/settings.js';
import { applyProperties } from '../plan/properties.js';
import { readMark } from '../plan/restore.js';
import { repairLeftovers } from './repair.js';

/**
 * The fast reset of a database N to a local snapshot S (`restore(':S')` in tests): no pg_dump, no plan, as few round
 * trips as possible, and, for small snapshots, a spare.
 *
 * The spare `N__spare` is a copy of S made in the background after each reset, so that the next reset is only:
 *  1. lock      pgclone's advisory lock on N (the one every operation on N takes);
 *  2. check     one query: N, S, the spare and leftovers; the spare is used only if it was copied from this very S
 *               (same OID, no session on S since, nobody connected to S now: its comment records the first two);
 *  3. block     `ALLOW_CONNECTIONS false` on N, end N's sessions (the caller's pool included) and wait until gone;
 *  4. swap      one transaction: N → `N__swap`, `N__spare` → N (connections allowed, S's comment in place of the mark).
 * Without a valid spare, step 4 swaps in `N__temp`, copied from S during the call (`CREATE DATABASE … TEMPLATE`).
 * Then, in the background (queued on this resetter, so the next reset waits for it rather than racing it), still
 * holding N's lock: copy S to a new `N__spare` while a second session drops `N__swap`. A crash anywhere leaves names that {@link repairLeftovers} and the next
 * reset recognise: `N__swap` (dropped or renamed back), a blocked N (allowed again), a spare without the right
 * comment (dropped).
 *
 * The spare never gets in the way of the caller's own copies of S: `CREATE DATABASE … TEMPLATE S` takes a share lock
 * on S, so copies run side by side; the spare is made without connecting to S, and skipped (not forced) when someone
 * is connected to S.
 */

/** A `CREATE DATABASE` strategy. */
export type CopyStrategy = NonNullable<CopyMethod['strategy']>;

/** Snapshots up to this size get a spare copy under the `auto` spare policy (test fixtures, migrated schemas). */
export const SPARE_MAX_BYTES = 64 * 1024 * 1024;

/** When to keep a spare: always, never, or when the snapshot is small (`SPARE_MAX_BYTES`). */
export type SparePolicy = boolean | 'auto';

/** Options of one reset. */
export interface SnapshotResetOptions {
  reporter: Reporter;
  /** Default `auto`. */
  spare?: SparePolicy;
  /** How to copy; default: what {@link copyStrategy} says. */
  strategy?: CopyStrategy;
  /**
   * The `copyStrategy` option, when no `strategy` is given: `auto` (default) is what `chooseCopyMethod` picks for
   * the snapshot's size (WAL_LOG when small); the others force a method, `clone` included.
   */
  copyStrategy?: CopyStrategyOption;
  /** How long to wait for the lock and for sessions to end (ms). */
  timeoutMs: number;
  /** Aborted before the reset holds N's lock (waiting its turn, or for another run's lock): it stops, changing nothing. */
  signal?: AbortSignal;
}

/** Milliseconds spent in each phase of a reset. */
export interface ResetTimings {
  /** Waiting for this process's earlier reset (and its background work) on the same database. */
  queueMs: number;
  lockMs: number;
  checkMs: number;
  /** Copying the snapshot during the call (0 when a spare was used). */
  copyMs: number;
  /** Blocking N, ending its sessions and the renaming transaction. */
  swapMs: number;
  totalMs: number;
}

/** What a reset did. */
export interface SnapshotResetOutcome {
  database: string;
  source: string;
  /** True when the spare was renamed into place; false when the snapshot was copied during the call. */
  usedSpare: boolean;
  /** Sessions on N that were ended. */
  endedSessions: number;
  /** One line per change, like a restore plan. */
  plan: string[];
  timings: ResetTimings;
}

interface DbRow {
  datname: string;
  oid: string;
  allowconn: boolean;
  istemplate: boolean;
  comment: string | null;
  /** What tells whether anyone could have written to the database since: see {@link activitySql}. */
  activity: string;
  /** Sessions connected now, other than ours and autovacuum's. */
  connected: number;
  bytes: string | null;
}

/**
 * The database's activity counter as SQL. From PostgreSQL 14, the client sessions ever opened on it (nobody writes
 * to a database without a session on it; a session's count reaches the statistics at the latest as it ends, before
 * it leaves pg_stat_activity), with the server's start and the statistics' last reset, either of which may lose
 * counts. Before 14, its transaction count, which autovacuum's visits also raise (a spare is then remade, never
 * wrongly used). Not the transaction count from 14 on: autovacuum visits every database once per naptime, which
 * made a spare unusable for no reason (test/reset.test.ts, seen in CI).
 */
function activitySql(serverMajor: number): string {
  if (serverMajor < 14) return `'xacts ' || (pg_stat_get_db_xact_commit(d.oid) + pg_stat_get_db_xact_rollback(d.oid))`;
  return `'sessions ' || pg_stat_get_db_sessions(d.oid) || ' since ' || extract(epoch FROM pg_postmaster_start_time())
          || ' reset ' || coalesce(extract(epoch FROM pg_stat_get_db_stat_reset_time(d.oid))::text, '-')`;
}

/**
 * N, S, the spare and leftovers. The sessions are read before the activity counters, whatever the plan: a row leaves
 * the join only after `live` is computed, and the counters are evaluated on the join's output. (Read the other way
 * round, a session on S that wrote and ended between the two reads would be seen neither connected nor counted.)
 * Both readings then hold for the rest of the transaction.
 */
function stateSql(serverMajor: number): string {
  return `
  WITH live AS (
    SELECT a.datid, count(*)::int AS n FROM pg_stat_activity a
     WHERE a.pid <> pg_backend_pid() AND a.backend_type <> 'autovacuum worker' GROUP BY a.datid)
  SELECT d.datname, d.oid::text AS oid, d.datallowconn AS allowconn, d.datistemplate AS istemplate,
         shobj_description(d.oid, 'pg_database') AS comment,
         coalesce(live.n, 0) AS connected,
         ${activitySql(serverMajor)} AS activity,
         CASE WHEN $2 AND d.datname = $3 THEN pg_database_size(d.oid)::text END AS bytes
    FROM pg_database d LEFT JOIN live ON live.datid = d.oid
   WHERE d.datname = ANY($1)`;
}

/** The comment a spare carries: which snapshot it copies, and that snapshot's activity counter then. */
function spareComment(source: DbRow): string {
  return `pgclone spare: copy of ${JSON.stringify(source.datname)} oid ${source.oid} ${source.activity}`;
}

/**
 * True when `spare` is a copy of `source` as it is now, and still sealed: one that accepts connections (opened by
 * hand, or by an older pgclone's repair) may have been written to.
 */
function isSpareOf(spare: DbRow | undefined, source: DbRow | undefined): boolean {
  return spare !== undefined && source !== undefined && !spare.allowconn && spare.comment === spareComment(source);
}

/**
 * Resets one database N to snapshots, keeping a spare between calls. One instance per N per process; it owns an
 * {@link Admin} session that it keeps between calls (its socket does not keep the process alive while idle). Calls
 * on one instance run one at a time.
 */
export class SnapshotResetter {
  readonly target: string;
  readonly #admin: Admin;
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #closed = false;

  readonly #connectHelper: (() => Promise<Admin>) | undefined;
  #helper: Promise<Admin> | undefined;

  /**
   * `connectHelper` opens a second session on the same server; with it, the background work drops the replaced
   * database while the next spare is being copied, instead of one after the other.
   */
  constructor(admin: Admin, target: string, options: { connectHelper?: () => Promise<Admin> } = {}) {
    this.#connectHelper = options.connectHelper;
    this.#admin = admin;
    this.target = target;
    restoreNames(target);
    spareName(target);
    admin.keepProcessAlive(false);
  }

  /** The session this resetter works on. */
  get admin(): Admin {
    return this.#admin;
  }

  /** Resets N to a copy of `source`. */
  async reset(source: string, options: SnapshotResetOptions): Promise<SnapshotResetOutcome> {
    const queued = performance.now();
    let started = false;
    const job = this.#serial(async () => {
      started = true;
      if (this.#closed) throw new PgcloneError('USAGE', `The resetter of ${this.target} is closed`);
      const outcome = await this.#reset(source, options, performance.now() - queued, queued);
      const spare = options.spare ?? 'auto';
      void this.#serial(() => this.#background(source, options, spare)).catch(() => {});
      return outcome;
    });
    if (!options.signal) return job;
    // Aborted while still waiting its turn (behind the last reset's spare, which may take a while): stop now; the
    // queued job then finds the signal aborted and changes nothing. Once started, the reset answers for itself.
    job.catch(() => {});
    let stop = () => {};
    const aborted = new Promise<never>((_, reject) => {
      stop = whenAborted(options.signal, () => {
        if (!started) reject(new PgcloneError('INTERRUPTED', `Reset of ${this.target} was interrupted before it started; nothing was changed`));
      });
    });
    aborted.catch(() => {});
    try {
      return await Promise.race([job, aborted]);
    } finally {
      stop();
    }
  }

  /** Resolves when the background work of the last reset (the next spare) is done. */
  async settled(): Promise<void> {
    await this.#serial(async () => {}).catch(() => {});
  }

  /**
   * Waits for background work and closes the session. `dropSpare` also drops `N__spare` (the spare otherwise stays
   * for the next process: it is checked before use, so a stale one is never swapped in).
   */
  async close(options: { dropSpare?: boolean } = {}): Promise<void> {
    await this.#serial(async () => {
      if (this.#closed) return;
      this.#closed = true;
      if (options.dropSpare) await this.#admin.drop(spareName(this.target)).catch(() => {});
    }).catch(() => {});
    // A reset that ran just before the close queued its background work behind it: that drops the database it
    // replaced (no new spare once closed), and needs the sessions.
    await this.settled();
    await this.#admin.close();
    await this.#helper?.then((h) => h.close()).catch(() => {});
  }

  /** Drops `name` on the helper session (connected on first use), or on the main one without a helper. */
  async #dropAside(name: string): Promise<void> {
    if (!this.#connectHelper) {
      await this.#admin.drop(name);
      return;
    }
    this.#helper ??= this.#connectHelper();
    const helper = await this.#helper.catch(() => undefined);
    if (!helper) {
      this.#helper = undefined;
      await this.#admin.drop(name);
      return;
    }
    helper.keepProcessAlive(true);
    try {
      await helper.drop(name);
    } finally {
      helper.keepProcessAlive(false);
    }
  }

  async #serial<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    this.#pending += 1;
    this.#admin.keepProcessAlive(true);
    try {
      await previous.catch(() => {});
      return await fn();
    } finally {
      this.#pending -= 1;
      if (this.#pending === 0) this.#admin.keepProcessAlive(false);
      release();
    }
  }

  /** N, the snapshot, the spare and leftovers in one query (the snapshot's size only when asked: it walks files). */
  async #state(source: string, withSize = false): Promise<Map<string, DbRow>> {
    const n = restoreNames(this.target);
    const names = [n.live, n.temp, n.swap, n.stage, spareName(this.target), source];
    const rows = await this.#admin.query<DbRow>(stateSql(this.#admin.serverMajor), [names, withSize, source]);
    return new Map(rows.map((r) => [r.datname, r]));
  }

  async #reset(source: string, options: SnapshotResetOptions, queueMs: number, started: number): Promise<SnapshotResetOutcome> {
    const admin = this.#admin;
    const { reporter } = options;
    const n = restoreNames(this.target);
    const spare = spareName(this.target);
    const mark = () => performance.now();
    const plan: string[] = [];

    if (options.signal?.aborted) throw new PgcloneError('INTERRUPTED', `Reset of ${n.live} was interrupted before it started; nothing was changed`);
    reporter.step('lock', `Waiting for pgclone's lock on ${n.live}`, n.live);
    let t = mark();
    await admin.lock([n.live], options.signal);
    const lockMs = mark() - t;
    try {
      t = mark();
      let state = await this.#state(source);
      const before = state.get(n.live);
      if (state.has(n.swap) || state.has(n.stage) || (before && !before.allowconn && !before.istemplate)) {
        await repairLeftovers(admin, n.live, reporter);
        state = await this.#state(source);
      }
      const live = state.get(n.live);
      const src = state.get(source);
      if (!src) {
        throw new KeyError('KEY_NOT_FOUND', `Local database ${JSON.stringify(source)} does not exist ("pgclone ls --local" lists them)`);
      }
      const spareRow = state.get(spare);
      const spareValid = isSpareOf(spareRow, src) && src.connected === 0;
      const checkMs = mark() - t;

      let incoming: string;
      let copyMs = 0;
      if (spareValid) {
        incoming = spare;
        plan.push(`use ${spare}, a copy of ${source} made after the last reset`);
      } else {
        reporter.step('create-temp', `Copying ${source} to ${n.temp}`, n.temp);
        t = mark();
        if (state.has(n.temp)) await admin.drop(n.temp);
        const forced = forcedCopyStrategy(options);
        const strategy = forced ? undefined : (options.strategy ?? strategyFor((await this.#state(source, true)).get(source) ?? src, admin.serverMajor));
        let how: string | undefined = strategy;
        try {
          await admin.withExclusiveAccess(source, async () => {
            if (forced) how = describeCopyMethod(await copyDatabase(admin, n.temp, source, forced, reporter, false));
            else await admin.createFromTemplate(n.temp, source, strategy);
          });
          await copySettings(admin, source, n.temp);
          await copyProperties(admin, reporter, source, n.temp);
        } catch (error) {
          await admin.drop(n.temp).catch(() => {});
          throw error;
        }
        copyMs = mark() - t;
        incoming = n.temp;
        plan.push(`create database ${n.temp} as a copy of ${source}${how ? ` (${how})` : ''}`);
      }

      reporter.step('swap', `Swapping ${incoming} into place as ${n.live}`, n.live);
      t = mark();
      let endedSessions = 0;
      if (live) {
        await admin.setAllowConnections(n.live, false);
        try {
          endedSessions = await endSessionsQuickly(admin, n.live, options.timeoutMs);
        } catch (error) {
          await admin.setAllowConnections(n.live, true).catch(() => {});
          if (incoming === n.temp) await admin.drop(n.temp).catch(() => {});
          throw error;
        }
      }
      try {
        // One round trip: several statements in one simple query run as one transaction.
        const statements = [
          ...(live ? [`ALTER DATABASE ${quoteIdent(n.live)} RENAME TO ${quoteIdent(n.swap)}`] : []),
          `ALTER DATABASE ${quoteIdent(incoming)} RENAME TO ${quoteIdent(n.live)}`,
          `ALTER DATABASE ${quoteIdent(n.live)} WITH ALLOW_CONNECTIONS true`,
          ...(incoming === spare ? [`COMMENT ON DATABASE ${quoteIdent(n.live)} IS ${commentLiteral(readMark(src.comment).comment)}`] : []),
        ];
        await admin.query(statements.join(';\n'));
      } catch (error) {
        if (live) await admin.setAllowConnections(n.live, true).catch(() => {});
        if (incoming === n.temp) await admin.drop(n.temp).catch(() => {});
        throw error;
      }
      if (live) plan.push(`end ${endedSessions} session(s) on ${n.live}; rename ${n.live} to ${n.swap}`);
      plan.push(`rename ${incoming} to ${n.live}`);
      const swapMs = mark() - t;
      reporter.step('done', `Reset ${n.live} to ${source}${spareValid ? ' (spare)' : ''}`, n.live);
      return {
        database: n.live,
        source,
        usedSpare: spareValid,
        endedSessions,
        plan,
        timings: { queueMs, lockMs, checkMs, copyMs, swapMs, totalMs: mark() - started },
      };
    } catch (error) {
      await admin.unlock(n.live).catch(() => {});
      throw error;
    }
    // On success the lock stays held: the background work that follows (on this session) releases it.
  }

  /** After a reset: drop the replaced database, then make the next spare (if wanted). Failures only warn. */
  async #background(source: string, options: SnapshotResetOptions, policy: SparePolicy): Promise<void> {
    const admin = this.#admin;
    const n = restoreNames(this.target);
    try {
      // The reset before left N's lock held for this.
      try {
        const state = await this.#state(source, true);
        // The replaced database is dropped beside the copy (DROP DATABASE waits for a checkpoint).
        const dropping = state.has(n.swap) && state.has(n.live) ? this.#dropAside(n.swap) : Promise.resolve();
        dropping.catch(() => {});
        try {
          if (!this.#closed) await this.#makeSpare(source, state, policy, options);
        } finally {
          await dropping;
        }
      } finally {
        await admin.unlock(n.live).catch(() => {});
      }
    } catch (error) {
      options.reporter.warn(`Could not prepare the spare copy of ${source} for ${n.live}: ${(error as Error).message}`);
    }
  }

  /** Copies the snapshot to a new `N__spare` unless a valid one exists or none is wanted. */
  async #makeSpare(source: string, state: Map<string, DbRow>, policy: SparePolicy, options: SnapshotResetOptions): Promise<void> {
    const admin = this.#admin;
    const n = restoreNames(this.target);
    const spare = spareName(this.target);
    const src = state.get(source);
    const existing = state.get(spare);
    const wanted = src !== undefined && (policy === true || (policy === 'auto' && Number(src.bytes ?? Infinity) <= SPARE_MAX_BYTES));
    if (existing && (!wanted || !isSpareOf(existing, src))) await admin.drop(spare);
    if (!wanted || !src || isSpareOf(existing, src)) return;
    if (src.connected > 0) {
      // Someone is connected to the snapshot: leave them alone; the next reset copies during the call.
      options.reporter.info(`No spare copy of ${source} made: it has open sessions`);
      return;
    }
    const forced = forcedCopyStrategy(options);
    if (forced) await copyDatabase(admin, spare, source, forced, options.reporter, false);
    else await admin.createFromTemplate(spare, source, options.strategy ?? strategyFor(src, admin.serverMajor));
    try {
      // One transaction: nobody may connect to the spare, it gets the settings, and only then the mark that makes
      // it usable (a spare without the mark, left by a crash, is never used).
      const statements = [
        `ALTER DATABASE ${quoteIdent(spare)} WITH ALLOW_CONNECTIONS false`,
        ...(await settingsStatements(admin, source, spare)),
        `COMMENT ON DATABASE ${quoteIdent(spare)} IS ${quoteLiteral(spareComment(src))}`,
      ];
      await admin.query(statements.join(';\n'));
      // The comment stays the mark until the swap, which gives N the snapshot's.
      await copyProperties(admin, options.reporter, source, spare, false);
    } catch (error) {
      await admin.drop(spare).catch(() => {});
      throw error;
    }
  }
}

/** The `copyStrategy` that decides, when it is not `auto` and no `strategy` overrides it. */
function forcedCopyStrategy(options: SnapshotResetOptions): Exclude<CopyStrategyOption, 'auto'> | undefined {
  const option = options.copyStrategy ?? 'auto';
  return options.strategy || option === 'auto' ? undefined : option;
}

// The one size-based choice (pg/copy-method.ts): WAL_LOG for small snapshots, whose cost follows their size, where
// FILE_COPY's checkpoints cost whatever the cluster has dirty (1.6 s against 0.18 s for a 7.8 MiB fixture with
// fsync on, bench/test-reset); FILE_COPY for big ones (3x faster for the 329 MiB bench dataset).
function strategyFor(source: DbRow, serverMajor: number): CopyStrategy | undefined {
  return chooseCopyMethod({ option: 'auto', size: Number(source.bytes ?? Infinity), serverMajor, canClone: false }).method.strategy;
}

/**
 * `ALTER DATABASE to SET …` for the settings of `from`, exactly, as a restore from a local key does (a template copy
 * does not carry them; none means none).
 */
async function settingsStatements(admin: Admin, from: string, to: string): Promise<string[]> {
  const entries = await admin.databaseSettings(from);
  return entries.map((entry) => alterDatabaseSetting(to, entry));
}

/**
 * Gives `to` (a template copy, owned by pgclone's role) the owner, privileges, per-role settings, connection limit
 * and, unless told not to, the comment of `from`, as a copy does. Nothing to do, the usual case, costs one query.
 */
async function copyProperties(admin: Admin, reporter: Reporter, from: string, to: string, withComment = true): Promise<void> {
  const properties = await admin.properties(from);
  const comment = withComment ? readMark(properties.comment).comment : null;
  await applyProperties(admin, reporter, to, { ...properties, comment }, from);
}

function commentLiteral(comment: string | null): string {
  return comment === null ? 'NULL' : quoteLiteral(comment);
}

/** Gives `to` the database-level settings of `from`. */
async function copySettings(admin: Admin, from: string, to: string): Promise<void> {
  for (const sql of await settingsStatements(admin, from, to)) await admin.query(sql);
}
