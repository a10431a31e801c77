import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import path from 'node:path';
import {
  connectAdmin,
  libpqEnv,
  loadProject,
  PgcloneError,
  SnapshotResetter,
  type Connection,
  type ProjectContext,
  type ProjectQuery,
  type ResolvedOptions,
  type SnapshotResetOptions,
  type SnapshotResetOutcome,
} from '@pgclone/core';

/**
 * What the API keeps between calls in one process, so that `restore(':fixture')` in a `beforeEach` costs a few
 * milliseconds instead of a config search, a TypeScript config import and a new authenticated connection:
 * - the loaded config and the detected ORM project, per cwd/config/environment, reused while the config file and the
 *   ORM's file are unchanged (same mtime and size) and the environment is the same;
 * - one admin session and one {@link SnapshotResetter} per server, credentials and target database. Their sockets do
 *   not keep the process alive while idle; {@link closeSession} (`pgclone.close()`) ends them.
 * The state hangs off `globalThis` so that test runners that evaluate modules again per test file share it.
 */
interface SessionState {
  projects: Map<string, { context: Promise<ProjectContext>; stamp?: string }>;
  resetters: Map<string, Promise<SnapshotResetter>>;
  /** Extra cleanups registered by the test helpers (test runs, test databases). */
  closers: Set<() => Promise<void>>;
}

const STATE = Symbol.for('pgclone.session.v1');
const MAX_PROJECTS = 16;

function state(): SessionState {
  const holder = globalThis as unknown as Record<symbol, SessionState | undefined>;
  return (holder[STATE] ??= { projects: new Map(), resetters: new Map(), closers: new Set() });
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

// Factories by identity, not name: a factory made per call (e.g. around a Knex instance) must not share a cache entry.
const factoryIds = new WeakMap<object, number>();
let nextFactoryId = 1;
function factoryId(factory: object): number {
  let id = factoryIds.get(factory);
  if (id === undefined) factoryIds.set(factory, (id = nextFactoryId++));
  return id;
}

function stampOf(context: ProjectContext): string {
  const files = [context.file?.filepath];
  if (context.adapter) files.push(path.resolve(context.adapter.projectDir, context.adapter.source));
  return files
    .map((file) => {
      if (!file) return '-';
      try {
        const s = statSync(file);
        return `${file}:${s.mtimeMs}:${s.size}`;
      } catch {
        return `${file}:missing`;
      }
    })
    .join('|');
}

/** {@link loadProject} with the per-process cache described above. */
export async function cachedLoadProject(query: ProjectQuery): Promise<ProjectContext> {
  const { projects } = state();
  const key = digest([query.cwd, query.configFile ?? null, query.configName ?? null, query.factories.map(factoryId), query.env]);
  const cached = projects.get(key);
  if (cached?.stamp !== undefined) {
    const context = await cached.context.catch(() => undefined);
    if (context && stampOf(context) === cached.stamp) return context;
  }
  projects.delete(key);
  const entry: { context: Promise<ProjectContext>; stamp?: string } = { context: loadProject(query) };
  projects.set(key, entry);
  while (projects.size > MAX_PROJECTS) projects.delete(projects.keys().next().value!);
  try {
    const context = await entry.context;
    entry.stamp = stampOf(context);
    return context;
  } catch (error) {
    projects.delete(key);
    throw error;
  }
}

function resetterKey(options: ResolvedOptions, conn: Connection, target: string, env: NodeJS.ProcessEnv): string {
  // What the URL leaves out comes from `env` (PGHOST, PGPASSWORD, …): the same URL with another env is another server.
  return digest([libpqEnv(conn, env), conn.params, target, options.lockTimeout, options.statementTimeout]);
}

/**
 * The process's resetter for `target` on the server of `conn` (connecting on first use, and again when the kept
 * session has ended meanwhile: a server restart, a terminated session, idle_session_timeout); `env` supplies what the
 * connection leaves out, as for the operations.
 */
export async function resetterFor(options: ResolvedOptions, conn: Connection, target: string, env: NodeJS.ProcessEnv): Promise<SnapshotResetter> {
  const { resetters } = state();
  const key = resetterKey(options, conn, target, env);
  for (let current = resetters.get(key); current; current = resetters.get(key)) {
    const resetter = await current.catch(() => undefined);
    if (resetter?.admin.connected) return resetter;
    // Another caller may have replaced it while this one waited.
    if (resetters.get(key) === current) {
      resetters.delete(key);
      void resetter?.close().catch(() => {});
    }
  }
  const created = connectAdmin(options, conn, env).then(
    (admin) => new SnapshotResetter(admin, target, { connectHelper: () => connectAdmin(options, conn, env) }),
  );
  resetters.set(key, created);
  created.catch(() => {
    if (resetters.get(key) === created) resetters.delete(key);
  });
  return created;
}

/**
 * Resets `target` to `source` through the process's resetter. A failure that may have broken its session (PostgreSQL
 * or the connection) drops the resetter, so that the next reset connects again instead of failing the same way.
 */
export async function resetThrough(
  options: ResolvedOptions,
  conn: Connection,
  target: string,
  env: NodeJS.ProcessEnv,
  source: string,
  resetOptions: SnapshotResetOptions,
): Promise<SnapshotResetOutcome> {
  const resetter = await resetterFor(options, conn, target, env);
  try {
    return await resetter.reset(source, resetOptions);
  } catch (error) {
    if (!(error instanceof PgcloneError) || error.code === 'POSTGRES') await forgetResetter(options, conn, target, env);
    throw error;
  }
}

/** Waits for the background work of `target`'s resetter, if this process has one. */
export async function settleResetter(options: ResolvedOptions, conn: Connection, target: string, env: NodeJS.ProcessEnv): Promise<void> {
  await state().resetters.get(resetterKey(options, conn, target, env))?.then((r) => r.settled()).catch(() => {});
}

/** Closes and forgets a resetter whose session may be broken; the next call connects again. */
export async function forgetResetter(
  options: ResolvedOptions,
  conn: Connection,
  target: string,
  env: NodeJS.ProcessEnv,
  close: { dropSpare?: boolean } = {},
): Promise<void> {
  const { resetters } = state();
  const key = resetterKey(options, conn, target, env);
  const resetter = resetters.get(key);
  resetters.delete(key);
  await resetter?.then((r) => r.close(close)).catch(() => {});
}

/** Registers a cleanup that {@link closeSession} runs; returns a function that unregisters it. */
export function onClose(closer: () => Promise<void>): () => void {
  state().closers.add(closer);
  return () => state().closers.delete(closer);
}

/** Waits for background work of every resetter of this process (the spares being prepared). */
export async function settleSession(): Promise<void> {
  await Promise.all([...state().resetters.values()].map((r) => r.then((x) => x.settled()).catch(() => {})));
}

/**
 * Ends what the API keeps between calls: waits for spares being prepared, runs the test helpers' cleanups, closes
 * the admin sessions and forgets the cached config. Calls after it connect again.
 */
export async function closeSession(options: { dropSpares?: boolean } = {}): Promise<void> {
  const current = state();
  // Spares still being made first: made after a run's cleanup dropped its databases, one would outlive the run.
  await settleSession();
  const closers = [...current.closers];
  current.closers.clear();
  for (const closer of closers) await closer().catch(() => {});
  const resetters = [...current.resetters.values()];
  current.resetters.clear();
  current.projects.clear();
  await Promise.all(resetters.map((r) => r.then((x) => x.close({ dropSpare: options.dropSpares === true })).catch(() => {})));
}
