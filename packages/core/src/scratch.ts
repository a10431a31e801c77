import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ownerState, ownerTag, parseOwnerTag } from './owner.js';

/**
 * Scratch directories for spool files and other temporary data, named `pgclone-<pid>@<host>-<purpose>-XXXXXX` in
 * the system temp directory so that the next run (and `pgclone doctor`) can remove what a killed run left there.
 * Every temporary file pgclone writes belongs in one.
 */

const PREFIX = 'pgclone-';
/** Scratch of a writer that cannot be checked (another host sharing /tmp) is stale once untouched this long. */
const STALE_MS = 24 * 60 * 60 * 1000;

/** Creates a scratch directory for `purpose` (letters and dashes). Remove it with `rm(dir, { recursive: true })`. */
export function makeScratchDir(purpose: string, base = os.tmpdir()): Promise<string> {
  return mkdtemp(path.join(base, `${PREFIX}${ownerTag()}-${purpose.replace(/[^a-z-]/gi, '')}-`));
}

/** A scratch directory a run left behind. */
export interface ScratchLeftover {
  path: string;
  bytes: number;
  modified: Date;
  /** True when its process is gone (or it is old): safe to remove. */
  stale: boolean;
}

/** Scratch directories in `base` whose process is gone or unknown. */
export async function findScratchLeftovers(base = os.tmpdir()): Promise<ScratchLeftover[]> {
  const entries = await readdir(base, { withFileTypes: true }).catch(() => []);
  const out: ScratchLeftover[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || !entry.name.startsWith(PREFIX)) continue;
    const owner = parseOwnerTag(entry.name.slice(PREFIX.length));
    if (!owner || !entry.name.startsWith(`${PREFIX}${owner.pid}@${owner.host}-`)) continue;
    const full = path.join(base, entry.name);
    const s = await stat(full).catch(() => undefined);
    if (!s) continue;
    const state = ownerState(owner);
    if (state === 'alive') continue;
    out.push({
      path: full,
      bytes: await directoryBytes(full),
      modified: s.mtime,
      stale: state === 'dead' || Date.now() - s.mtimeMs > STALE_MS,
    });
  }
  return out;
}

/** Removes a scratch leftover (only a `pgclone-` directory inside `base`). */
export async function removeScratch(leftover: ScratchLeftover, base = os.tmpdir()): Promise<void> {
  const full = path.resolve(leftover.path);
  if (path.dirname(full) !== path.resolve(base) || !path.basename(full).startsWith(PREFIX)) return;
  await rm(full, { recursive: true, force: true });
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(full);
    else total += (await stat(full).catch(() => undefined))?.size ?? 0;
  }
  return total;
}
