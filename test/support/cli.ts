import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Path of the committed `pgclone` bin. */
export const PGCLONE_BIN = fileURLToPath(new URL('../../packages/pgclone/bin/pgclone.js', import.meta.url));
/** Path of the committed `knex-pgclone` bin. */
export const KNEX_PGCLONE_BIN = fileURLToPath(new URL('../../packages/pgclone/bin/knex-pgclone.js', import.meta.url));

/** What a CLI run printed and how it exited. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Non-empty stdout lines. */
  lines: string[];
}

/** The test's environment, minus any DATABASE_URL/PG* variables of the outer shell, plus `extra` (undefined deletes). */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('PG') || k === 'DATABASE_URL') delete env[k];
  Object.assign(env, { PGCLONE_INSTANCE: 'dev', NO_COLOR: '1' });
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Collects a child's output until it exits. */
export function collectOutput(child: ChildProcess): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    // Decoded across chunks: a character split between two of them stays whole.
    child.stdout?.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, lines: stdout.split('\n').filter((l) => l.trim() !== '') }));
  });
}

/**
 * Runs a bin (the `pgclone` CLI by default) as a real child process, in {@link cliEnv}`(env)`. `onSpawn` gets the
 * child (to signal it).
 */
export function runCli(args: string[], options: { cwd: string; env?: Record<string, string | undefined>; bin?: string; input?: string; onSpawn?: (child: ChildProcess) => void }): Promise<CliResult> {
  const child = spawn(process.execPath, [options.bin ?? PGCLONE_BIN, ...args], { cwd: options.cwd, env: cliEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
  const result = collectOutput(child);
  options.onSpawn?.(child);
  child.stdin!.end(options.input ?? '');
  return result;
}

/**
 * Runs an ES module script in a child node process, as a user's plain script runs (`pgclone` a fresh import, resolved
 * from the test directory; nothing keeping the process alive but the script's own work), and collects its output.
 */
export function runScript(source: string, env: Record<string, string>): Promise<CliResult> {
  return collectOutput(
    spawn(process.execPath, ['--input-type=module', '-e', source], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}
