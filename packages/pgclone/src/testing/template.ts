import {
  checkTestOptions,
  connectAdmin,
  derivedName,
  endSessionsQuickly,
  interruptible,
  PgcloneError,
  quoteIdent,
  resolveDumpKey,
  restore,
  runHooks,
  withDatabase,
  connectionUrl,
  type Admin,
  type Runtime,
} from '@pgclone/core';
import { templateHash, templateInputs } from './inputs.js';
import { templateName, templatePattern } from './names.js';
import { testRuntime, testSettings, type TestSettings, type TestTemplateOptions } from './settings.js';

/** A template ready to be cloned. */
export interface TestTemplate {
  /** The template database (`<base>_tpl_<hash12>`). */
  name: string;
  /** The full hash of its inputs. */
  hash: string;
  /** True when this call built it (false: it existed, or another worker built it while this one waited). */
  built: boolean;
  /** The files the hash covers, relative to the project. */
  files: string[];
}

/**
 * Makes sure the template for the current migrations exists: `<base>_tpl_<hash>` where the hash covers the
 * migration files, the build hooks and the dump restored first. The first caller builds it while holding pgclone's
 * advisory lock `test-template:<base>`; callers that come meanwhile (other Vitest workers) wait on the lock and then
 * find it built. A template is built under `<name>__temp` and renamed when complete, so a template that exists is
 * whole; a crashed build leaves `__temp`, which the next build drops. Templates of older hashes are dropped after a
 * new one is built. Templates are marked `IS_TEMPLATE` and refuse connections, so nothing changes them by accident.
 */
export async function ensureTemplate(options: TestTemplateOptions = {}): Promise<TestTemplate> {
  checkTestOptions(options, 'ensureTemplate');
  return interruptible(options.signal, 'The test template', () => ensureTemplateNow(options));
}

async function ensureTemplateNow(options: TestTemplateOptions): Promise<TestTemplate> {
  const runtime = await testRuntime(options);
  const settings = await testSettings(options, runtime);
  const holder = await connectAdmin(settings.prepared.options, settings.conn, settings.prepared.env);
  try {
    return await findOrBuildTemplate(settings, runtime, holder);
  } finally {
    await holder.close();
  }
}

/**
 * {@link ensureTemplate} from resolved settings. `holder` (a session the caller keeps) marks the template as in use
 * before looking for it: another checkout's build drops older templates, and one found unheld could be dropped
 * before the caller holds it.
 */
export async function findOrBuildTemplate(settings: TestSettings, runtime: Runtime, holder: Admin): Promise<TestTemplate> {
  const { prepared, conn, base } = settings;
  const opts = prepared.options;
  const storage = settings.restore
    ? await runtime.openStorage(opts.storageLocation, opts.bundle as Record<string, unknown>, { warn: (message) => prepared.reporter.warn(message) })
    : undefined;
  const restoreKey = storage ? (await resolveDumpKey(storage, settings.restore!, { validateDumpKeys: opts.validateDumpKeys })).key : undefined;
  const inputs = await templateInputs({ files: settings.files, projectDir: opts.projectDir, adapter: prepared.adapter });
  const { hash, files } = await templateHash({ ...inputs, hooks: settings.hooks, ...(restoreKey ? { restoreKey } : {}) });
  const name = templateName(base, hash);
  await holdTemplate(holder, name);
  const admin = await connectAdmin(opts, conn, prepared.env);
  try {
    if (await admin.exists(name)) return { name, hash, built: false, files };
    prepared.reporter.step('lock', `Waiting for pgclone's lock on the templates of ${base}`, name);
    await admin.lock([`test-template:${base}`], settings.signal);
    if (await admin.exists(name)) return { name, hash, built: false, files };
    prepared.reporter.info(`Building test template ${name} from ${files.length} file(s)`);
    if (restoreKey) {
      await restore(
        restoreKey,
        {
          cwd: opts.cwd,
          env: prepared.env,
          ...(opts.configFile ? { configFile: opts.configFile } : {}),
          ...(opts.configName ? { config: opts.configName } : {}),
          databaseUrl: connectionUrl(withDatabase(conn, name)),
          preSwapHooks: settings.hooks,
          postSwapHooks: [],
          reversible: false,
          ...(settings.onEvent ? { onEvent: settings.onEvent } : {}),
          ...(settings.signal ? { signal: settings.signal } : {}),
        },
        runtime,
      );
      await admin.query(`ALTER DATABASE ${quoteIdent(name)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
    } else {
      await buildFromHooks(admin, settings, name);
    }
    await dropOlderTemplates(admin, base, name);
    return { name, hash, built: true, files };
  } finally {
    await admin.close();
  }
}

async function buildFromHooks(admin: Admin, settings: TestSettings, name: string): Promise<void> {
  const { prepared, conn } = settings;
  const temp = derivedName(name, 'temp');
  await admin.drop(temp);
  await admin.createEmpty(temp);
  try {
    prepared.reporter.step('pre-swap-hooks', `Running the template hooks on ${temp}`, temp);
    await runHooks(settings.hooks, {
      phase: 'template',
      connection: withDatabase(conn, temp),
      cwd: prepared.options.projectDir,
      env: prepared.env,
      ...(prepared.adapter ? { adapter: prepared.adapter } : {}),
      reporter: prepared.reporter,
      ...(settings.signal ? { signal: settings.signal } : {}),
    });
    // An abort stops a shell hook at once, a function hook only when it returns: either way nothing is kept.
    if (settings.signal?.aborted) throw new PgcloneError('INTERRUPTED', `The build of test template ${name} was interrupted`);
    // A hook's connections may still be closing; RENAME needs none.
    await endSessionsQuickly(admin, temp, prepared.options.lockTimeout);
    await admin.transaction(async () => {
      await admin.query(`ALTER DATABASE ${quoteIdent(temp)} RENAME TO ${quoteIdent(name)}`);
      await admin.query(`ALTER DATABASE ${quoteIdent(name)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
    });
  } catch (error) {
    await admin.drop(temp).catch(() => {});
    throw error;
  }
}

// Runs hold this lock in share mode on the template they clone, so that another run (another checkout with other
// migrations, on the same server and base name) never drops a template still in use.
const IN_USE_SQL = `SELECT pg_advisory_lock_shared(hashtext('pgclone'), hashtext('test-template-use:' || $1))`;
const TRY_UNUSED_SQL = `SELECT pg_try_advisory_lock(hashtext('pgclone'), hashtext('test-template-use:' || $1)) AS ok`;
const RELEASE_UNUSED_SQL = `SELECT pg_advisory_unlock(hashtext('pgclone'), hashtext('test-template-use:' || $1))`;

/** Marks `template` as in use for as long as `admin`'s session lasts. */
export async function holdTemplate(admin: Admin, template: string): Promise<void> {
  await admin.query(IN_USE_SQL, [template]);
}

/** Drops `base`'s templates other than `keep` (built from older migrations) that no live run uses. */
export async function dropOlderTemplates(admin: Admin, base: string, keep: string): Promise<string[]> {
  const pattern = templatePattern(base);
  const dropped: string[] = [];
  for (const db of await admin.listDatabases()) {
    if (db.name === keep || !pattern.test(db.name)) continue;
    const [free] = await admin.query<{ ok: boolean }>(TRY_UNUSED_SQL, [db.name]);
    if (!free?.ok) continue;
    try {
      await dropTemplate(admin, db.name);
      dropped.push(db.name);
    } finally {
      await admin.query(RELEASE_UNUSED_SQL, [db.name]);
    }
  }
  return dropped;
}

/** Drops a template database (it must stop being a template first). */
export async function dropTemplate(admin: Admin, name: string): Promise<void> {
  if (!(await admin.exists(name))) return;
  await admin.query(`ALTER DATABASE ${quoteIdent(name)} WITH IS_TEMPLATE false`);
  await admin.drop(name);
}
