import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
// pgpass (node-pg's own reader of password files) exports only a reader bound to process.env; its helper module parses
// and matches lines, which lets the file be the connection's.
import pgpassHelper from 'pgpass/lib/helper.js';
import type { Connection } from './connection.js';
import { homeDir } from './home-dir.js';
import { rememberSecret } from './redact.js';

/**
 * libpq's password file, for pgclone's own sessions: node-pg reads `~/.pgpass` only through `process.env` (and warns
 * that it will stop, printing a DeprecationWarning on every command that uses it), never a URL's `passfile=` nor an
 * API caller's `env`, while pgclone's tools (pg_dump, pg_restore, psql) read the file libpq chooses. This chooses the
 * same file as libpq: the connection's `passfile`, else `PGPASSFILE`, else `~/.pgpass` (`%APPDATA%\postgresql\pgpass.conf`
 * on Windows), and ignores it where libpq does (not a plain file, or readable by group or others), saying why through
 * `ignored`: the file is read only when the server asks for a password, so the reason belongs in the error that
 * follows (a process warning would print from the API, which prints nothing).
 */

/** The file libpq would read for `conn` (which may not exist). */
export function passfilePath(conn: Pick<Connection, 'params'>, env: NodeJS.ProcessEnv): string {
  const explicit = conn.params.passfile || env.PGPASSFILE;
  if (explicit) return explicit;
  if (process.platform === 'win32') return path.join(env.APPDATA ?? os.homedir(), 'postgresql', 'pgpass.conf');
  return path.join(homeDir(env), '.pgpass');
}

/** Socket directories libpq builds in as its default (Debian's, and upstream's): those match `localhost` lines. */
const DEFAULT_SOCKET_DIRS = new Set(['/var/run/postgresql', '/run/postgresql', '/tmp']);

/** What a password file's line is matched against: the connection as it is made. */
export interface PassfileTarget {
  host?: string;
  port?: number;
  database: string;
  user?: string;
}

/**
 * The password of the file's first line matching `target`, or `undefined`: no file, no matching line, or a file libpq
 * would ignore (not a plain file, or open to group or others), which `ignored` is told about.
 */
export async function passwordFromFile(file: string, target: PassfileTarget, ignored: (reason: string) => void): Promise<string | undefined> {
  let text: Buffer;
  try {
    const info = await stat(file);
    if (!info.isFile()) {
      ignored(`password file ${JSON.stringify(file)} is not a plain file, so it was ignored`);
      return undefined;
    }
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      ignored(`password file ${JSON.stringify(file)} has group or world access (permissions should be u=rw, 0600, or less), so it was ignored`);
      return undefined;
    }
    text = await readFile(file);
  } catch {
    return undefined; // none, or unreadable: as libpq, connect without
  }
  const host = !target.host || DEFAULT_SOCKET_DIRS.has(target.host.replace(/\/+$/, '')) ? 'localhost' : target.host;
  const connInfo = { host, port: target.port ?? 5432, database: target.database, user: target.user ?? os.userInfo().username };
  // Line by line, to stop at the first match as libpq does (pgpass's own stream reader lets a later match win).
  for (const line of text.toString('utf8').split(/\r?\n/)) {
    if (line.startsWith('#')) continue;
    const entry = pgpassHelper.parseLine(line);
    if (entry && pgpassHelper.isValidEntry(entry) && pgpassHelper.match(connInfo, entry)) {
      rememberSecret(entry.password);
      return entry.password;
    }
  }
  return undefined;
}
