import { execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { whenAborted } from './interrupt.js';

/** How long a stopped process tree gets to end on SIGTERM before it is killed. */
const GRACE_MS = 5_000;
const POLL_MS = 50;

/** A process as seen at one moment: its start time tells a reused pid from the process that was there. */
interface Proc {
  pid: number;
  ppid: number;
  start: string;
}

/**
 * Stops `child` and everything it started (a hook's shell runs `npm`, which runs `node`; `sh -c 'x & wait'`): SIGTERM
 * to the whole tree, SIGKILL to what is left after a grace period. Resolves once none of them runs any more.
 *
 * The tree is walked rather than a process group signalled: a hook in its own group (or session) would no longer get
 * a terminal's Ctrl-C, and a program using the API without a signal would leave it running when Ctrl-C ends it.
 */
export async function stopProcessTree(child: ChildProcess, graceMs = GRACE_MS): Promise<void> {
  if (child.pid === undefined) return;
  const known = new Map<number, Proc>();
  const collect = () => {
    const table = processTable();
    if (!table) return;
    const byParent = new Map<number, Proc[]>();
    for (const proc of table.values()) byParent.set(proc.ppid, [...(byParent.get(proc.ppid) ?? []), proc]);
    // From the child and from every process already seen that still runs: one whose parent has died is re-parented
    // out of the child's tree, but what it starts is still found.
    const roots = [child.pid!, ...[...known.values()].filter((p) => table.get(p.pid)?.start === p.start).map((p) => p.pid)];
    const queue = [...roots];
    while (queue.length > 0) {
      const pid = queue.pop()!;
      for (const sub of byParent.get(pid) ?? []) {
        if (known.get(sub.pid)?.start === sub.start) continue;
        known.set(sub.pid, sub);
        queue.push(sub.pid);
      }
    }
  };
  const running = (): number[] => {
    const table = processTable();
    const pids = [...known.values()].filter((p) => table?.get(p.pid)?.start === p.start).map((p) => p.pid);
    return child.exitCode === null && child.signalCode === null ? [child.pid!, ...pids] : pids;
  };
  const send = (signal: NodeJS.Signals) => {
    collect();
    for (const pid of running()) {
      try {
        process.kill(pid, signal);
      } catch {
        // Ended in the meantime.
      }
    }
  };
  // Should pgclone itself exit meanwhile (a second Ctrl-C), what is left must not outlive it.
  const onExit = () => send('SIGKILL');
  process.once('exit', onExit);
  try {
    send('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (running().length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      // Whatever was started since the last look (a shell starting its next command) is stopped as well.
      send('SIGTERM');
    }
    // A process that ignores SIGTERM, and any it starts while dying: killed until none is left (a bounded number of rounds).
    for (let round = 0; round < 100 && running().length > 0; round++) {
      send('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    process.off('exit', onExit);
  }
}

/**
 * Stops `child` and everything it started (see {@link stopProcessTree}) once `signal` aborts, so that a stopped hook,
 * Knex task or Prisma command leaves nothing running that writes to the database or holds it open.
 *
 * @returns A function to call when the child has closed: it stops listening to `signal` and resolves, once the stop
 *   (if any) is over, to whether the tree was stopped, i.e. the child ended because of the abort.
 */
export function stopTreeOnAbort(child: ChildProcess, signal: AbortSignal | undefined): () => Promise<boolean> {
  let stopping: Promise<void> | undefined;
  const forget = whenAborted(signal, () => (stopping ??= stopProcessTree(child)));
  return async () => {
    forget();
    if (!stopping) return false;
    await stopping;
    return true;
  };
}

/**
 * Every running process (zombies have ended and are left out) by pid: from /proc on Linux, from `ps` elsewhere;
 * undefined when neither can be read (then only the child itself is signalled).
 */
function processTable(): Map<number, Proc> | undefined {
  const table = new Map<number, Proc>();
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // ended while listing
      }
      // pid (comm) state ppid … starttime (field 22): comm may hold spaces and parentheses, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      table.set(Number(entry), { pid: Number(entry), ppid: Number(fields[1]), start: fields[19] ?? '' });
    }
    return table;
  } catch {
    // No /proc (macOS, BSD).
  }
  try {
    const out = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,stat=,lstart='], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const line of out.split('\n')) {
      const m = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line);
      if (!m || m[3]!.startsWith('Z')) continue;
      table.set(Number(m[1]), { pid: Number(m[1]), ppid: Number(m[2]), start: m[4]!.trim() });
    }
    return table;
  } catch {
    return undefined;
  }
}
