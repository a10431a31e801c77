import { createHash } from 'node:crypto';
import os from 'node:os';

/**
 * Who made a leftover: pgclone tags its partial files, scratch directories and admin sessions with the process id
 * and a short hash of the host name, so that a later run can tell "the process that made this is gone" (safe to
 * remove) from "it may still be running" (leave it alone).
 */

/** 8 hex characters identifying this host (a hash: host names never leak into file or session names). */
export function hostTag(hostname = os.hostname()): string {
  return createHash('sha256').update(hostname).digest('hex').slice(0, 8);
}

/** This process's tag, `<pid>@<host tag>`. */
export function ownerTag(): string {
  return `${process.pid}@${hostTag()}`;
}

/** Parses `<pid>@<host tag>` anywhere in `text`. */
export function parseOwnerTag(text: string): { pid: number; host: string } | undefined {
  const m = /(\d+)@([0-9a-f]{8})/.exec(text);
  return m ? { pid: Number(m[1]), host: m[2]! } : undefined;
}

/**
 * Whether the owner is still running: `dead` only when it ran on this host and no process has its pid any more;
 * `unknown` for another host.
 */
export function ownerState(owner: { pid: number; host: string }): 'alive' | 'dead' | 'unknown' {
  if (owner.host !== hostTag()) return 'unknown';
  if (owner.pid === process.pid) return 'alive';
  try {
    process.kill(owner.pid, 0);
    return 'alive';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? 'alive' : 'dead';
  }
}
