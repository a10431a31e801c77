import type { Reporter } from '../events.js';
import type { Admin } from '../pg/admin.js';
import { restoreNames } from '../names.js';

/**
 * Repairs what an interrupted run left around database `target`. Call it while holding the target's lock, so no
 * other pgclone run is using these names:
 * - `N__swap` without N: the old database, put back under its name;
 * - `N__swap` beside N: the database a completed swap replaced, dropped;
 * - N (or its restore points) not accepting connections: a swap or copy was cut off after blocking them;
 * - `N__stage`: an unfinished `:post` snapshot, dropped.
 * `N__temp` is left to the restore (it may be resumed with `restore :N__temp`). Returns what was done.
 */
export async function repairLeftovers(admin: Admin, target: string, reporter: Reporter): Promise<string[]> {
  const n = restoreNames(target);
  const done: string[] = [];
  const say = (message: string) => {
    done.push(message);
    reporter.warn(message);
  };
  const live = await admin.database(n.live);
  if (!live && (await admin.exists(n.swap))) {
    await admin.rename(n.swap, n.live);
    await admin.setAllowConnections(n.live, true);
    say(`Renamed ${n.swap} back to ${n.live}: an earlier run was interrupted before its new database went live`);
  } else if (live && (await admin.exists(n.swap))) {
    await admin.drop(n.swap);
    say(`Dropped ${n.swap}, the database an earlier, interrupted restore had already replaced`);
  }
  for (const name of [n.live, n.pre, n.post]) {
    const info = await admin.database(name);
    if (info && !info.allowConnections && !info.isTemplate) {
      await admin.setAllowConnections(name, true);
      say(`Allowed connections to ${name} again: an earlier run was interrupted while it blocked them`);
    }
  }
  if (await admin.exists(n.stage)) {
    await admin.drop(n.stage);
    say(`Dropped ${n.stage}, an unfinished :post snapshot of an interrupted restore`);
  }
  return done;
}
