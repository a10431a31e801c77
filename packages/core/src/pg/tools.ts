import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { PgcloneError } from '../errors.js';
import { lineSplitter } from '../lines.js';
import { probeIdentity, recalledVersion, rememberVersion, toolVersionsFile, type ProbedVersion } from './tool-versions.js';

/** The PostgreSQL client programs pgclone runs. */
export type ToolName = 'pg_dump' | 'pg_restore' | 'psql';

/** A located program and its major version. */
export interface Tool {
  name: ToolName;
  path: string;
  /** Full version string (`15.18`). */
  version: string;
  major: number;
  /**
   * Runs the tool so that it ends when pgclone does (Linux: `setpriv --pdeathsig TERM --`), where that works. A
   * pg_dump writing a file, or a pg_restore reading one, has no pipe to pgclone that would break when pgclone is
   * killed, and would otherwise go on dumping into a discarded file or restoring into an abandoned database.
   */
  launcher?: string[];
}

const INSTALL_HINT =
  'install the PostgreSQL client tools (Debian/Ubuntu: apt-get install postgresql-client; macOS: brew install libpq) ' +
  'or set PGCLONE_PG_BIN to the directory holding them';

/**
 * Where to look for the client tools of a server of major version `serverMajor`, in order. Pure. `$PGCLONE_PG_BIN`;
 * then the folders that packages keep each major in (Debian and Ubuntu, the PGDG packages of RHEL and friends,
 * Homebrew's `postgresql@N`, Postgres.app): a wrapper on PATH (Debian's `/usr/bin/pg_dump`) may pick another major, and
 * Homebrew does not link its versioned formulas; then PATH; then what Homebrew's `libpq` and Postgres.app keep off PATH.
 */
export function toolDirectories(serverMajor: number, env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string[] {
  const mac = platform === 'darwin';
  const homebrew = ['/opt/homebrew/opt', '/usr/local/opt'];
  const postgresApp = '/Applications/Postgres.app/Contents/Versions';
  return [
    ...(env.PGCLONE_PG_BIN ? [env.PGCLONE_PG_BIN] : []),
    ...(mac
      ? [...homebrew.map((d) => `${d}/postgresql@${serverMajor}/bin`), `${postgresApp}/${serverMajor}/bin`]
      : [`/usr/lib/postgresql/${serverMajor}/bin`, `/usr/pgsql-${serverMajor}/bin`]),
    ...(env.PATH ?? '').split(path.delimiter).filter(Boolean),
    ...(mac ? [...homebrew.map((d) => `${d}/libpq/bin`), `${postgresApp}/latest/bin`] : []),
  ];
}

/** Finds `name` for a server of major version `serverMajor` in {@link toolDirectories}. */
export async function locateTool(name: ToolName, serverMajor: number, env: NodeJS.ProcessEnv = process.env): Promise<Tool> {
  const found = toolDirectories(serverMajor, env)
    .map((dir) => path.join(dir, name))
    .find((c) => existsSync(c));
  if (!found) {
    throw new PgcloneError(
      'TOOL_MISSING',
      `${name} not found (looked in ${env.PGCLONE_PG_BIN ? '$PGCLONE_PG_BIN, ' : ''}the folders of PostgreSQL ${serverMajor} packages and PATH): ${INSTALL_HINT}`,
    );
  }
  const launcher = parentDeathLauncher(env);
  const cache = toolVersionsFile(env);
  const identity = await probeIdentity(launcher ? [launcher[0]!, found] : [found]);
  const recalled = await recalledVersion(cache, identity);
  if (recalled) return toolOf(name, found, recalled, launcher);
  // The version check runs through the launcher, which tests the launcher too (setpriv before 2.33 has no --pdeathsig).
  let launched = launcher ? await runCapture(launcher[0]!, [...launcher.slice(1), found, '--version'], env).catch(() => undefined) : undefined;
  if (launched && (launched.code !== 0 || !parseVersion(launched.stdout))) launched = undefined;
  const { stdout } = launched ?? (await runCapture(found, ['--version'], env));
  const version = parseVersion(stdout);
  if (!version) throw new PgcloneError('TOOL_MISSING', `${found} --version printed no version: ${stdout.trim()}`);
  const probed = { ...version, launched: launched !== undefined };
  void rememberVersion(cache, identity, probed);
  return toolOf(name, found, probed, launcher);
}

function toolOf(name: ToolName, found: string, probed: ProbedVersion, launcher: string[] | undefined): Tool {
  return { name, path: found, version: probed.version, major: probed.major, ...(probed.launched && launcher ? { launcher } : {}) };
}

function parseVersion(stdout: string): { version: string; major: number } | undefined {
  const m = /\)\s+(\d+)(?:\.(\d+))?/.exec(stdout) ?? /(\d+)\.(\d+)/.exec(stdout);
  return m ? { version: m[2] ? `${m[1]}.${m[2]}` : m[1]!, major: Number(m[1]) } : undefined;
}

/** `setpriv --pdeathsig TERM --` on Linux where util-linux's setpriv is installed; elsewhere nothing. */
function parentDeathLauncher(env: NodeJS.ProcessEnv): string[] | undefined {
  if (process.platform !== 'linux') return undefined;
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv', ...(env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, 'setpriv'))].find(
    (c) => existsSync(c),
  );
  return setpriv ? [setpriv, '--pdeathsig', 'TERM', '--'] : undefined;
}

/** Locates `name` and refuses one older than the server (an old pg_dump cannot dump a newer server). */
export async function locateToolForServer(name: ToolName, serverMajor: number, env?: NodeJS.ProcessEnv): Promise<Tool> {
  const tool = await locateTool(name, serverMajor, env);
  if (tool.major < serverMajor) {
    throw new PgcloneError(
      'TOOL_VERSION',
      `${tool.path} is version ${tool.version}, older than the PostgreSQL ${serverMajor} server; ${name} must be at least ${serverMajor} (${INSTALL_HINT})`,
    );
  }
  return tool;
}

async function runCapture(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, code: code ?? 1 }));
  });
}

/** A running PostgreSQL tool. */
export interface RunningTool {
  child: ChildProcess;
  /** Resolves when the process has exited, with its code and the stderr lines it printed. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string[] }>;
}

/**
 * Spawns a tool with an argument array (never a shell) and the connection in `env`. stderr is collected line by line
 * and passed to `onStderr` as it arrives.
 */
export function spawnTool(
  tool: Tool,
  args: string[],
  options: {
    env: NodeJS.ProcessEnv;
    /** `pipe`, `ignore`, or another process's stdout pipe for the tool to read directly. */
    stdin?: 'pipe' | 'ignore' | Readable;
    /** `pipe`, `ignore`, or another process's stdin pipe for pg_dump to write into directly. */
    stdout?: 'pipe' | 'ignore' | Writable;
    onStderr?: (line: string) => void;
    /** Which stderr lines `done` returns (all by default); `--verbose` chatter need not stay in memory. */
    keepStderr?: (line: string) => boolean;
  },
): RunningTool {
  const [file, ...prefix] = tool.launcher ?? [];
  const child = spawn(file ?? tool.path, file ? [...prefix, tool.path, ...args] : args, {
    env: options.env,
    stdio: [options.stdin ?? 'ignore', options.stdout ?? 'ignore', 'pipe'],
  });
  const stderr: string[] = [];
  const repair = prefixRepairer(tool.name);
  const lines = lineSplitter((raw) => {
    const line = repair(raw);
    if (options.keepStderr?.(line) ?? true) stderr.push(line);
    options.onStderr?.(line);
  });
  child.stderr!.on('data', lines.push);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string[] }>((resolve, reject) => {
    child.on('error', (error) =>
      reject(new PgcloneError('TOOL_MISSING', `Cannot run ${tool.path}: ${error.message}`, { cause: error })),
    );
    child.on('close', (code, signal) => {
      lines.end();
      resolve({ code, signal, stderr });
    });
  });
  return { child, done };
}

/**
 * Mends the stderr lines of a tool whose parallel workers share one stderr (`pg_restore -j`). PostgreSQL's logging
 * writes each message in three writes: `name:`, a space, then the text (and its newline). Two workers' messages then
 * interleave into `pg_restore:pg_restore:  creating FK CONSTRAINT …` followed by a bare `executing SEQUENCE SET …` or
 * ` executing …` (the space went elsewhere too), or `pg_restore:restoring large object …` (its space went ahead of
 * another line), which neither the progress nor the error check would recognise: a restore of 8,000 tables and
 * 50,000 large objects printed thousands of such lines. Each line gets one prefix and one space; an extra prefix goes
 * back to the next line that lacks one and starts like a message (after stray spaces): lowercase, unlike the server's
 * `LINE 1:` or `DETAIL:` lines or the `^` under them, which continue an error.
 */
export function prefixRepairer(name: ToolName): (line: string) => string {
  const prefix = `${name}: `;
  const head = new RegExp(`^(?:${name}:| )+`); // tool names are plain words
  let owed = 0;
  return (line) => {
    const m = head.exec(line);
    const count = m ? m[0].split(`${name}:`).length - 1 : 0;
    const text = line.slice(m?.[0].length ?? 0);
    if (count > 0) {
      owed += count - 1;
      // `psql:file.sql:3: ERROR: …` is whole as it is: only a message's text is lowercase.
      return count > 1 || /^[a-z]/.test(text) ? prefix + text : line;
    }
    if (owed > 0 && /^[a-z]/.test(text)) {
      owed -= 1;
      return prefix + text;
    }
    return line;
  };
}
