import type { Reporter } from '../events.js';
import type { Admin } from '../pg/admin.js';
import { fitsWorkingNames, reservedSuffixOf, restoreNames } from '../names.js';
import { readMark } from '../plan/restore.js';

/**
 * What an interrupted run can leave around a database `N`, and how each is repaired. Every leftover has one meaning
 * because the restore orders its steps so (see plan/restore.ts):
 * - `N__swap` without N: the old database, renamed away in a swap that never committed its successor → renamed back;
 * - `N__swap` beside N: the database a completed swap replaced → dropped;
 * - N, `:pre`, `:post` or `N__temp` not accepting connections: a run was cut off after blocking them → allowed again;
 * - `N__stage`: an unfinished `:post` snapshot → dropped;
 * - `N__temp`: an unfinished restore, or one kept after a failed pre-swap hook → kept for `restore :N__temp`; the next
 *   restore from a dump drops it (its plan says so), and `doctor --fix` drops it.
 */
export interface Leftover {
  kind: 'swap-orphan' | 'swap-replaced' | 'blocked' | 'stage' | 'temp';
  /** The database concerned. */
  database: string;
  /** The target database whose family it belongs to. */
  target: string;
  /** What it is, for `doctor`. */
  description: string;
  /** What the repair does, for `doctor` (without --fix). */
  fix: string;
}

/** The leftovers around `target`, changing nothing. */
export async function inspectLeftovers(admin: Admin, target: string): Promise<Leftover[]> {
  // A spare refuses connections on purpose (the fast reset trusts only a sealed one): never "repaired".
  if (reservedSuffixOf(target) === 'spare') return [];
  if (!fitsWorkingNames(target)) return [];
  const n = restoreNames(target);
  const found: Leftover[] = [];
  // One query for the whole family: this runs before every restore and copy, on servers that may be far away.
  const family = await admin.databases([n.live, n.swap, n.pre, n.post, n.temp, n.stage]);
  const live = family.get(n.live);
  const swap = family.has(n.swap);
  if (!live && swap) {
    found.push({
      kind: 'swap-orphan',
      database: n.swap,
      target,
      description: `${n.swap} exists but ${n.live} does not: a swap was interrupted before its new database went live`,
      fix: `rename ${n.swap} back to ${n.live}`,
    });
  } else if (live && swap) {
    found.push({
      kind: 'swap-replaced',
      database: n.swap,
      target,
      description: `${n.swap} is the database an interrupted restore had already replaced`,
      fix: `drop ${n.swap}`,
    });
  }
  for (const name of [n.live, n.pre, n.post, n.temp]) {
    const info = family.get(name);
    if (info && !info.allowConnections && !info.isTemplate) {
      found.push({
        kind: 'blocked',
        database: name,
        target,
        description: `${name} does not accept connections: a run was interrupted while it blocked them`,
        fix: `allow connections to ${name}`,
      });
    }
  }
  if (family.has(n.stage)) {
    found.push({
      kind: 'stage',
      database: n.stage,
      target,
      description: `${n.stage} is an unfinished :post snapshot of an interrupted restore`,
      fix: `drop ${n.stage}`,
    });
  }
  if (family.has(n.temp)) {
    const resumable = readMark(await admin.comment(n.temp)).marked;
    found.push({
      kind: 'temp',
      database: n.temp,
      target,
      description: resumable
        ? `${n.temp} is a complete restore that was not swapped in (a pre-swap hook failed, or the run was stopped) ("pgclone restore :${n.temp}" resumes it)`
        : `${n.temp} is a restore that stopped before it was complete (it cannot be resumed)`,
      fix: `drop ${n.temp}`,
    });
  }
  return found;
}

/** Repairs one leftover; returns the sentence that tells the user what was done. */
export async function repairLeftover(admin: Admin, leftover: Leftover): Promise<string> {
  const n = restoreNames(leftover.target);
  switch (leftover.kind) {
    case 'swap-orphan':
      await admin.rename(n.swap, n.live);
      await admin.setAllowConnections(n.live, true);
      return `Renamed ${n.swap} back to ${n.live}: an earlier run was interrupted before its new database went live`;
    case 'swap-replaced':
      await admin.drop(n.swap);
      return `Dropped ${n.swap}, the database an earlier, interrupted restore had already replaced`;
    case 'blocked':
      await admin.setAllowConnections(leftover.database, true);
      return `Allowed connections to ${leftover.database} again: an earlier run was interrupted while it blocked them`;
    case 'stage':
      await admin.drop(n.stage);
      return `Dropped ${n.stage}, an unfinished :post snapshot of an interrupted restore`;
    case 'temp':
      await admin.drop(n.temp);
      return `Dropped ${n.temp}, left by an interrupted or failed restore`;
  }
}

/**
 * Repairs what an interrupted run left around database `target` (all but `N__temp`, which the restore plan handles).
 * Call it while holding the target's lock, so no other pgclone run is using these names. Reports each repair as a
 * warning and returns the messages.
 */
export async function repairLeftovers(
  admin: Admin,
  target: string,
  reporter: Reporter,
  options: { includeTemp?: boolean; /** The database this run restores from: used, not dropped or renamed. */ source?: string } = {},
): Promise<string[]> {
  const done: string[] = [];
  // A repair can reveal the next one (a renamed-back N that is still blocked): repeat until nothing is left.
  for (let round = 0; round < 8; round++) {
    const leftovers = (await inspectLeftovers(admin, target)).filter(
      (l) => (l.kind !== 'temp' || options.includeTemp) && (l.database !== options.source || l.kind === 'blocked'),
    );
    const next = leftovers[0];
    if (!next) break;
    const message = await repairLeftover(admin, next);
    done.push(message);
    reporter.warn(message);
  }
  return done;
}
