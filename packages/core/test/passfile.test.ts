import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConnection, pgClientConfig } from '../src/connection.js';
import { passfilePath, passwordFromFile } from '../src/passfile.js';
import { redact } from '../src/redact.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-passfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function passfile(name: string, lines: string[], mode = 0o600): string {
  const p = path.join(dir, name);
  writeFileSync(p, `${lines.join('\n')}\n`);
  chmodSync(p, mode);
  return p;
}

const lines = [
  '# host:port:database:user:password',
  'db.internal:5432:app:alice:first\\:match',
  'db.internal:5432:app:alice:second',
  'db.internal:*:*:bob:any-port',
  'localhost:5432:*:carol:from-localhost',
  '/srv/sockets:5432:*:carol:literal-socket',
  '*:6543:*:*:by\\\\port',
];

describe('password file', () => {
  const file = passfile('pgpass', lines);
  const warnings: string[] = [];
  const read = (target: Parameters<typeof passwordFromFile>[1]) => passwordFromFile(file, target, (m) => warnings.push(m));

  it('the first matching line wins; * matches any value; \\: and \\\\ are a colon and a backslash', async () => {
    expect(await read({ host: 'db.internal', port: 5432, database: 'app', user: 'alice' })).toBe('first:match');
    expect(await read({ host: 'db.internal', port: 7777, database: 'other', user: 'bob' })).toBe('any-port');
    expect(await read({ host: 'anywhere', port: 6543, database: 'x', user: 'y' })).toBe('by\\port');
    expect(await read({ host: 'db.internal', port: 5432, database: 'app', user: 'nobody' })).toBeUndefined();
  });

  it('no host, or the default socket directory, is localhost (as libpq); the port defaults to 5432', async () => {
    expect(await read({ database: 'app', user: 'carol' })).toBe('from-localhost');
    expect(await read({ host: '/var/run/postgresql', database: 'app', user: 'carol' })).toBe('from-localhost');
    expect(await read({ host: '/srv/sockets', database: 'app', user: 'carol' })).toBe('literal-socket');
  });

  it('a file open to group or others, or not a plain file, is ignored, saying why; a missing one silently', async () => {
    const open = passfile('open', lines, 0o644);
    const seen: string[] = [];
    expect(await passwordFromFile(open, { host: 'db.internal', database: 'app', user: 'alice' }, (m) => seen.push(m))).toBeUndefined();
    const folder = path.join(dir, 'folder');
    mkdirSync(folder);
    expect(await passwordFromFile(folder, { database: 'app', user: 'carol' }, (m) => seen.push(m))).toBeUndefined();
    expect(await passwordFromFile(path.join(dir, 'none'), { database: 'app', user: 'carol' }, (m) => seen.push(m))).toBeUndefined();
    expect(seen).toEqual([
      `password file ${JSON.stringify(open)} has group or world access (permissions should be u=rw, 0600, or less), so it was ignored`,
      `password file ${JSON.stringify(folder)} is not a plain file, so it was ignored`,
    ]);
    expect(warnings).toEqual([]);
  });

  it('which file: the connection passfile=, else PGPASSFILE, else ~/.pgpass of HOME', () => {
    const conn = parseConnection('postgres://u@h/db?passfile=/etc/conn-pgpass');
    expect(passfilePath(conn, { PGPASSFILE: '/env/pgpass', HOME: '/home/u' })).toBe('/etc/conn-pgpass');
    const plain = parseConnection('postgres://u@h/db');
    expect(passfilePath(plain, { PGPASSFILE: '/env/pgpass', HOME: '/home/u' })).toBe('/env/pgpass');
    expect(passfilePath(plain, { HOME: '/home/u' })).toBe('/home/u/.pgpass');
  });

  it("pgClientConfig: without a password, the session asks the file libpq would read; its password is masked like a URL's", async () => {
    const own = passfile('own', ['h.example:5433:db:u:from-the-file']);
    const config = pgClientConfig(parseConnection(`postgres://u@h.example:5433/db?passfile=${encodeURIComponent(own)}`), {});
    expect(typeof config.password).toBe('function');
    const password = await (config.password as () => Promise<string>)();
    expect(password).toBe('from-the-file');
    expect(redact('auth failed for from-the-file')).not.toContain('from-the-file');
    // A password of the URL (or PGPASSWORD) is used as it is.
    expect(pgClientConfig(parseConnection('postgres://u:given@h.example/db'), {}).password).toBe('given');
    expect(pgClientConfig(parseConnection('postgres://u@h.example/db'), { PGPASSWORD: 'from-env' }).password).toBe('from-env');
  });
});
