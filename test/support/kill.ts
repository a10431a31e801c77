import { spawn } from 'node:child_process';
import { cliEnv, PGCLONE_BIN } from './cli.js';

/** A `--json` step event as the CLI prints it on stderr. */
export interface StepEvent {
  event: 'step';
  operation: string;
  step: string;
  database?: string;
  message: string;
  elapsedMs: number;
}

/** What a run that was (maybe) killed printed. */
export interface KilledRun {
  /** The step event after which the run was killed; undefined when it ended on its own first. */
  killedAfter?: StepEvent;
  steps: StepEvent[];
  stderr: string;
  stdout: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The CLI's process id. */
  pid: number;
}

/**
 * Runs the `pgclone` CLI with `--json` and SIGKILLs it (and, with `group`, every process it started: pg_restore,
 * hooks — as when a container is killed) as soon as `when` accepts a step event. `when` may be async (e.g. wait
 * until pg_restore has written something); events keep being read meanwhile.
 */
export function runAndKill(
  args: string[],
  options: {
    cwd: string;
    env?: Record<string, string | undefined>;
    when: (event: StepEvent, steps: StepEvent[]) => boolean | Promise<boolean>;
    group?: boolean;
  },
): Promise<KilledRun> {
  const env = cliEnv(options.env);
  const group = options.group ?? true;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PGCLONE_BIN, '--json', ...args], {
      cwd: options.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: group, // its own process group, so that one kill reaches pg_restore and hooks too
    });
    const steps: StepEvent[] = [];
    let stderr = '';
    let stdout = '';
    let pending = '';
    let killedAfter: StepEvent | undefined;
    let exited = false;
    const kill = (event: StepEvent) => {
      if (killedAfter || exited) return;
      killedAfter = event;
      try {
        if (group) process.kill(-child.pid!, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // already gone
      }
    };
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        let event: StepEvent;
        try {
          event = JSON.parse(line) as StepEvent;
        } catch {
          continue;
        }
        if (event.event !== 'step') continue;
        steps.push(event);
        void Promise.resolve(options.when(event, steps)).then(
          (yes) => yes && kill(event),
          () => {},
        );
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      exited = true;
      if (group) {
        // Whatever the CLI started and left running (a hook's sleep after a late kill) goes too.
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // none left
        }
      }
      resolve({ ...(killedAfter ? { killedAfter } : {}), steps, stderr, stdout, code, signal, pid: child.pid! });
    });
  });
}

/** Waits until `check` resolves true (polling), up to `timeoutMs`; returns whether it did. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000, intervalMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return false;
}
