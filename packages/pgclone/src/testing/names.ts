import { createHash, randomBytes } from 'node:crypto';
import { KeyError, MAX_IDENTIFIER_BYTES } from '@pgclone/core';

/**
 * Names of the test databases. For base `app` (the target database's name, or `test.name`):
 * - `app_tpl_<hash12>`: the template, built once per migrations hash, kept between runs;
 * - `app_test_<run8>_<worker>`: the database of one worker in one test run (plus its `__spare`, `__swap`, `__temp`).
 * A run is alive while some session holds pgclone's advisory lock `test-run:<run8>`; databases of runs nobody holds
 * are leftovers of crashed runs and are dropped by the next run.
 */

const LONGEST_SUFFIX = '__spare'.length;

/** The base name, checked so that every derived name fits in 63 bytes. */
export function testBaseName(name: string): string {
  if (!/^[A-Za-z0-9_]+$/.test(name)) {
    throw new KeyError('NAME_INVALID', `Test database base name ${JSON.stringify(name)} may use only [A-Za-z0-9_]; set test.name in the pgclone config`);
  }
  if (name.length > 30) {
    throw new KeyError('NAME_TOO_LONG', `Test database base name ${JSON.stringify(name)} is longer than 30 characters; set a shorter test.name in the pgclone config`);
  }
  return name;
}

/** `app_tpl_<hash12>`. */
export function templateName(base: string, hash: string): string {
  return `${base}_tpl_${hash.slice(0, 12)}`;
}

/** Matches the templates of `base` (any hash). */
export function templatePattern(base: string): RegExp {
  return new RegExp(`^${base}_tpl_[0-9a-f]{12}$`);
}

/** A new run id: 8 characters of [a-z0-9]. */
export function newRunId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(8)].map((b) => alphabet[b % alphabet.length]).join('');
}

/** The advisory lock name a live run holds. */
export function runLockName(run: string): string {
  return `test-run:${run}`;
}

/**
 * The worker part of a name: VITEST_POOL_ID / JEST_WORKER_ID style ids (short, [A-Za-z0-9]) as they are; any other
 * id shortened and made safe, with a hash of the whole id so that two ids never share a database (`checkout-1` and
 * `checkout-2`, `w-1` and `w1`).
 */
export function workerPart(worker: string | number): string {
  const id = String(worker);
  if (/^[A-Za-z0-9]{1,8}$/.test(id)) return id;
  const part = id.replace(/[^A-Za-z0-9]/g, '').slice(0, 4);
  if (!part) throw new KeyError('NAME_INVALID', `Invalid test worker id ${JSON.stringify(id)}`);
  return `${part}${createHash('sha256').update(id).digest('hex').slice(0, 6)}`;
}

/** `app_test_<run>_<worker>`. */
export function workerDatabaseName(base: string, run: string, worker: string | number): string {
  if (!/^[a-z0-9]{8}$/.test(run)) throw new KeyError('NAME_INVALID', `Invalid test run id ${JSON.stringify(run)} (8 characters of [a-z0-9])`);
  const name = `${base}_test_${run}_${workerPart(worker)}`;
  if (Buffer.byteLength(name) + LONGEST_SUFFIX > MAX_IDENTIFIER_BYTES) {
    throw new KeyError('NAME_TOO_LONG', `Test database name ${name} leaves no room for pgclone's suffixes; set a shorter test.name`);
  }
  return name;
}

/** Matches every database of every run of `base`; group 1 is the run id. */
export function runDatabasePattern(base: string): RegExp {
  return new RegExp(`^${base}_test_([a-z0-9]{8})_[A-Za-z0-9]+(__[a-z]+)?$`);
}
