import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { libpqEnv, parseConnection } from '../src/connection.js';
import { redact } from '../src/redact.js';
import { applyService, parseServiceFile } from '../src/service-file.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-service-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

const userFile = file(
  'user.conf',
  ['# staging', '[staging]', 'host = db.staging.internal', 'port=6543', 'user=app', 'password=s3rvice-secret', 'sslmode=require', '', '[other]', 'host=elsewhere'].join('\n'),
);
const systemDir = mkdtempSync(path.join(dir, 'sys-'));
writeFileSync(path.join(systemDir, 'pg_service.conf'), '[staging]\nhost=never.used\n[system-only]\nhost=system.host\n');
const env = { PGSERVICEFILE: userFile, PGSYSCONFDIR: systemDir, HOME: dir };

describe('connection services (pg_service.conf)', () => {
  it('parses sections of key=value, with comments and blank lines; the first section of a name counts', () => {
    const services = parseServiceFile('# c\n[a]\nhost=h\noptions=-c search_path=x\n\n[b]\nport=1\n[a]\nhost=later\n', 'f');
    expect(services.get('a')).toEqual({ host: 'h', options: '-c search_path=x' });
    expect(services.get('b')).toEqual({ port: '1' });
    expect(() => parseServiceFile('host=h\n', 'f.conf')).toThrow('Syntax error in service file f.conf, line 1: "host=h"');
  });

  it('fills in what the URL leaves out, in libpq order: the URL, then the service, then the environment', async () => {
    const conn = await applyService(parseConnection('postgres://me@/app?service=staging'), env);
    expect(conn).toEqual({
      host: 'db.staging.internal',
      port: 6543,
      user: 'me',
      password: 's3rvice-secret',
      database: 'app',
      params: { sslmode: 'require' },
    });
    expect(redact('password s3rvice-secret')).toBe('password ***');
    // The tools get the same settings explicitly, and no PGSERVICE that libpq would rank above them.
    const tools = libpqEnv(conn, { ...env, PGSERVICE: 'other', PGHOST: 'from-env' });
    expect(tools).toMatchObject({ PGHOST: 'db.staging.internal', PGPORT: '6543', PGUSER: 'me', PGSSLMODE: 'require', PGSERVICE: undefined });
  });

  it('reads $PGSERVICE when the URL names no service, and the system file when the user file lacks it', async () => {
    const conn = await applyService(parseConnection('postgres:///app'), { ...env, PGSERVICE: 'system-only' });
    expect(conn).toMatchObject({ host: 'system.host', database: 'app', params: {} });
    // The URL's own parts win over the service's.
    const own = await applyService(parseConnection('postgres://u@127.0.0.1:5999/app'), { ...env, PGSERVICE: 'staging' });
    expect(own).toMatchObject({ host: '127.0.0.1', port: 5999, user: 'u', password: 's3rvice-secret' });
  });

  it('leaves a connection without a service as it is', async () => {
    const conn = parseConnection('postgres://u@h/app');
    expect(await applyService(conn, { HOME: dir })).toBe(conn);
  });

  it('refuses, naming it, a service that is nowhere or that sets what pgclone cannot follow', async () => {
    await expect(applyService(parseConnection('postgres:///app?service=nope'), env)).rejects.toThrow(
      `Connection service "nope" (service=nope) is not defined in ${userFile} or ${path.join(systemDir, 'pg_service.conf')}`,
    );
    const odd = file('odd.conf', '[a]\nhostaddr=10.0.0.1\n[b]\nhost=h1,h2\n[c]\nport=x\n');
    await expect(applyService(parseConnection('postgres:///app'), { PGSERVICEFILE: odd, PGSERVICE: 'a', HOME: dir })).rejects.toThrow(
      'Connection service "a" sets hostaddr, which pgclone cannot follow; use host= instead',
    );
    await expect(applyService(parseConnection('postgres:///app?service=b'), { PGSERVICEFILE: odd, HOME: dir })).rejects.toThrow('names several hosts (h1,h2)');
    await expect(applyService(parseConnection('postgres:///app?service=c'), { PGSERVICEFILE: odd, HOME: dir })).rejects.toThrow('invalid port "x"');
  });
});
