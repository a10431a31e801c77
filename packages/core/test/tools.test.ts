// Locating pg_dump/pg_restore with the real binaries of this machine.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { PgcloneError } from '../src/errors.js';
import { locateTool, locateToolForServer, prefixRepairer, toolDirectories } from '../src/pg/tools.js';
import { isItemLine } from '../src/pg/restore-progress.js';

const { binDir, major } = inject('pg');
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-tools-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(promise: Promise<unknown>): Promise<PgcloneError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(PgcloneError);
  expect((error as Error).message).not.toContain('\n');
  return error as PgcloneError;
}

describe('locating the PostgreSQL tools', () => {
  it('looks in PGCLONE_PG_BIN first', async () => {
    const custom = path.join(dir, 'custom');
    mkdirSync(custom);
    symlinkSync(path.join(binDir, 'pg_restore'), path.join(custom, 'pg_restore'));
    const tool = await locateTool('pg_restore', major, { PGCLONE_PG_BIN: custom, PATH: '' });
    expect(tool).toMatchObject({ name: 'pg_restore', path: path.join(custom, 'pg_restore'), major });
    expect(tool.version).toMatch(new RegExp(`^${major}\\.\\d+$`));
  });

  it('then /usr/lib/postgresql/<server major>/bin, before PATH', async () => {
    const tool = await locateTool('pg_dump', major, { PATH: '/usr/bin:/bin' });
    expect(tool.path).toBe(`/usr/lib/postgresql/${major}/bin/pg_dump`);
  });

  it('looks where packages keep each major, on Linux and macOS, around PATH', () => {
    expect(toolDirectories(16, { PGCLONE_PG_BIN: '/opt/pg', PATH: '/usr/bin:/bin' }, 'linux')).toEqual([
      '/opt/pg',
      '/usr/lib/postgresql/16/bin',
      '/usr/pgsql-16/bin',
      '/usr/bin',
      '/bin',
    ]);
    // Homebrew links neither postgresql@N nor libpq into PATH; Postgres.app keeps each major apart.
    expect(toolDirectories(17, { PATH: '/usr/bin' }, 'darwin')).toEqual([
      '/opt/homebrew/opt/postgresql@17/bin',
      '/usr/local/opt/postgresql@17/bin',
      '/Applications/Postgres.app/Contents/Versions/17/bin',
      '/usr/bin',
      '/opt/homebrew/opt/libpq/bin',
      '/usr/local/opt/libpq/bin',
      '/Applications/Postgres.app/Contents/Versions/latest/bin',
    ]);
  });

  it('a missing tool is a one-line error with the install hint', async () => {
    const error = await failure(locateTool('pg_dump', 99, { PGCLONE_PG_BIN: path.join(dir, 'nowhere'), PATH: path.join(dir, 'nowhere') }));
    expect(error.code).toBe('TOOL_MISSING');
    expect(error.message).toContain('pg_dump not found');
    expect(error.message).toContain('apt-get install postgresql-client');
    expect(error.message).toContain('PGCLONE_PG_BIN');
  });

  it('a pg_dump older than the server is an error naming both versions', async () => {
    const error = await failure(locateToolForServer('pg_dump', major + 1, { PGCLONE_PG_BIN: binDir, PATH: '' }));
    expect(error.code).toBe('TOOL_VERSION');
    expect(error.message).toContain(`older than the PostgreSQL ${major + 1} server`);
    expect(error.message).toMatch(new RegExp(`version ${major}\\.\\d+`));
    await expect(locateToolForServer('pg_dump', major, { PGCLONE_PG_BIN: binDir })).resolves.toMatchObject({ major });
  });
});

describe('remembering what a tool said its version was', () => {
  /** A pg_restore that logs each run, then runs the real one. */
  function loggingTool(name: string, extra = ''): { bin: string; log: string; write: (more: string) => void } {
    const bin = path.join(dir, name);
    mkdirSync(bin);
    const log = path.join(bin, 'calls.log');
    const write = (more: string) => {
      writeFileSync(path.join(bin, 'pg_restore'), `#!/bin/sh\n${more}echo "$@" >> "${log}"\nexec "${binDir}/pg_restore" "$@"\n`);
      chmodSync(path.join(bin, 'pg_restore'), 0o755);
    };
    write(extra);
    return { bin, log, write };
  }
  const calls = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').length : 0);

  it('probes a tool once, and again only when its file changes', async () => {
    const { bin, log, write } = loggingTool('remembered');
    const env = { PGCLONE_PG_BIN: bin, PATH: process.env.PATH, XDG_CACHE_HOME: path.join(dir, 'cache') };
    const first = await locateTool('pg_restore', major, env);
    await new Promise((r) => setTimeout(r, 100)); // the answer is written behind the first probe
    const second = await locateTool('pg_restore', major, env);
    expect(second).toEqual(first);
    expect(first.version).toMatch(new RegExp(`^${major}\\.\\d+$`));
    expect(calls(log)).toBe(1);
    expect(existsSync(path.join(dir, 'cache', 'pgclone', 'tool-versions.json'))).toBe(true);

    write('# upgraded\n');
    await locateTool('pg_restore', major, env);
    expect(calls(log)).toBe(2);
  });

  it('probes every time when the cache cannot be written', async () => {
    const { bin, log } = loggingTool('unwritable');
    const notADir = path.join(dir, 'cache-is-a-file');
    writeFileSync(notADir, '');
    const env = { PGCLONE_PG_BIN: bin, PATH: process.env.PATH, XDG_CACHE_HOME: notADir };
    await locateTool('pg_restore', major, env);
    await new Promise((r) => setTimeout(r, 100));
    await expect(locateTool('pg_restore', major, env)).resolves.toMatchObject({ major });
    expect(calls(log)).toBe(2);
  });
});

describe('running the PostgreSQL tools', () => {
  // pg_restore opening a FIFO that nobody writes blocks for ever: only the launcher's parent-death signal ends it.
  // util-linux's setpriv is part of every Debian and Ubuntu system; elsewhere the tools run without the launcher.
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p));
  it.runIf(process.platform === 'linux' && setpriv)('a tool ends when the pgclone process that started it is killed', async () => {
    const fifo = path.join(dir, 'never-written.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const core = pathToFileURL(path.resolve(import.meta.dirname, '../dist/index.js')).href;
    const script = `
      const { locateTool, spawnTool } = await import(${JSON.stringify(core)});
      const tool = await locateTool('pg_restore', ${major}, { PGCLONE_PG_BIN: ${JSON.stringify(binDir)}, PATH: process.env.PATH });
      const running = spawnTool(tool, ['-l', ${JSON.stringify(fifo)}], { env: process.env });
      console.log(JSON.stringify({ pid: running.child.pid, launcher: tool.launcher ?? null }));
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    // Whatever fails below, neither the parent nor (through it) pg_restore may outlive the test.
    onTestFinished(() => {
      parent.kill('SIGKILL');
    });
    const first = await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    const { pid, launcher } = JSON.parse(first) as { pid: number; launcher: string[] | null };
    expect(launcher?.slice(1)).toEqual(['--pdeathsig', 'TERM', '--']);
    const alive = () => {
      try {
        process.kill(pid, 0);
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
      } catch {
        return false;
      }
    };
    // The pid is the launcher's until it has exec'd pg_restore (and, mid-exec, has no command line at all): wait for that.
    const program = () => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
      } catch {
        return undefined;
      }
    };
    expect(alive()).toBe(true);
    for (const until = Date.now() + 5000; program() !== path.join(binDir, 'pg_restore') && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(program()).toBe(path.join(binDir, 'pg_restore'));
    parent.kill('SIGKILL');
    const deadline = Date.now() + 5000;
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });
});

describe("the stderr of pg_restore's parallel workers", () => {
  it('two interleaved messages come out as two prefixed lines; continuation lines stay as they are', () => {
    const repair = prefixRepairer('pg_restore');
    const lines = [
      'pg_restore: launching item 4 FK CONSTRAINT users users_organization_id_fkey',
      'pg_restore: pg_restore: creating FK CONSTRAINT "public.users users_organization_id_fkey"',
      'executing SEQUENCE SET users_id_seq',
      'pg_restore: error: could not execute query: ERROR:  syntax error at or near "x"',
      'LINE 1: x',
      'pg_restore:pg_restore: error: could not execute query: ERROR:  relation "t" does not exist',
      'DETAIL:  something',
      'finished item 7 TABLE DATA t',
    ].map(repair);
    expect(lines).toEqual([
      'pg_restore: launching item 4 FK CONSTRAINT users users_organization_id_fkey',
      'pg_restore: creating FK CONSTRAINT "public.users users_organization_id_fkey"',
      'pg_restore: executing SEQUENCE SET users_id_seq',
      'pg_restore: error: could not execute query: ERROR:  syntax error at or near "x"',
      'LINE 1: x',
      'pg_restore: error: could not execute query: ERROR:  relation "t" does not exist',
      'DETAIL:  something',
      'pg_restore: finished item 7 TABLE DATA t',
    ]);
    expect(lines.filter(isItemLine)).toHaveLength(2); // both halves of the interleaving count as restored items
  });
});
