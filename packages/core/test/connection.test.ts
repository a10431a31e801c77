import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectionUrl, libpqEnv, mergeEnv, parseConnection, pgClientConfig, systemCaBundle } from '../src/connection.js';
import { PgcloneError } from '../src/errors.js';
import { redact } from '../src/redact.js';

describe('parseConnection', () => {
  it('reads host, port, user, password, database and libpq parameters', () => {
    expect(parseConnection('postgres://me:s3cret@db.example:6543/app?sslmode=require&application_name=x&bogus=1')).toEqual({
      host: 'db.example',
      port: 6543,
      user: 'me',
      password: 's3cret',
      database: 'app',
      params: { sslmode: 'require', application_name: 'x' },
    });
  });

  it('percent-decodes the database name like libpq, reserved characters included', () => {
    expect(parseConnection('postgresql://h/we%22ird%3B%20name').database).toBe('we"ird; name');
    expect(parseConnection('postgresql://h/a%2Fb%3Fc%23d').database).toBe('a/b?c#d');
    expect(parseConnection('postgresql://h/caf%C3%A9').database).toBe('café');
  });

  it('accepts a socket directory in the query with credentials and no host', () => {
    expect(parseConnection('postgresql://me:pw@/app?host=/var/run/postgresql')).toMatchObject({
      host: '/var/run/postgresql',
      user: 'me',
      password: 'pw',
      database: 'app',
    });
  });

  it('refuses URLs without a database or of another scheme, without echoing the password', () => {
    for (const url of ['postgres://me:hunter22@h:5432/', 'mysql://me:hunter22@h/app', 'postgres://me:hunter22@h:notaport/app']) {
      let error: unknown;
      try {
        parseConnection(url);
      } catch (e) {
        error = e;
      }
      expect(error, url).toBeInstanceOf(PgcloneError);
      expect((error as PgcloneError).code).toBe('CONNECTION_MISSING');
      expect((error as Error).message).not.toContain('hunter22');
    }
  });

  it('refuses hostaddr, which it would not follow, and names a misspelt sslmode', () => {
    // Left out, pgclone's session went to the host while libpq's tools went to the address.
    expect(() => parseConnection('postgres://me:hunter22@h/app?hostaddr=10.0.0.9')).toThrow(
      'The database URL sets hostaddr, which pgclone cannot follow; give the address as the URL\'s host',
    );
    // It read as "The server does not support SSL connections".
    expect(() => parseConnection('postgres://me:hunter22@h/app?sslmode=requir')).toThrow(
      'The database URL has sslmode="requir": expected one of disable, allow, prefer, require, verify-ca, verify-full, no-verify',
    );
    expect(parseConnection('postgres://me:hunter22@h/app?sslmode=no-verify').params).toEqual({ sslmode: 'no-verify' });
  });

  it('names a port in the query that is not a port number', () => {
    // pgclone's session went to 5432 ("ECONNREFUSED 127.0.0.1:5432"), never saying what was wrong with the URL.
    for (const port of ['abc', '0', '70000', '-5']) {
      expect(() => parseConnection(`postgres://me:hunter22@127.0.0.1:5433/app?port=${port}`)).toThrow(
        `The database URL has port=${JSON.stringify(port)}: expected a port number (1-65535)`,
      );
    }
    expect(parseConnection('postgres://me:hunter22@h/app?port=6543').port).toBe(6543);
  });

  it('round-trips through connectionUrl and gives child processes the connection in PG* variables', () => {
    const conn = parseConnection(`postgresql://me:${encodeURIComponent('p@ss:/w"d')}@h:5432/we%22ird%3B?sslmode=disable`);
    expect(parseConnection(connectionUrl(conn))).toEqual(conn);
    expect(libpqEnv(conn)).toMatchObject({ PGHOST: 'h', PGPORT: '5432', PGUSER: 'me', PGPASSWORD: 'p@ss:/w"d', PGDATABASE: 'we"ird;', PGSSLMODE: 'disable' });
  });
});

describe('libpqEnv', () => {
  it('leaves what the URL does not give to the parent environment, as node-pg does, and clears PGHOSTADDR', () => {
    const parent = { PGHOST: 'envhost', PGHOSTADDR: '10.0.0.9', PGPORT: '6543', PGUSER: 'envuser', PGPASSWORD: 'envpw', PGDATABASE: 'other' };
    expect(mergeEnv(parent, libpqEnv(parseConnection('postgres:///app'), parent))).toEqual({
      PGHOST: 'envhost',
      PGPORT: '6543',
      PGUSER: 'envuser',
      PGPASSWORD: 'envpw',
      PGDATABASE: 'app',
    });
    expect(mergeEnv(parent, libpqEnv(parseConnection('postgres://me:pw@h:5433/app'), parent))).toEqual({
      PGHOST: 'h',
      PGPORT: '5433',
      PGUSER: 'me',
      PGPASSWORD: 'pw',
      PGDATABASE: 'app',
    });
    // No host anywhere: node-pg's localhost, not libpq's socket.
    expect(libpqEnv(parseConnection('postgres:///app'), {})).toMatchObject({ PGHOST: 'localhost', PGDATABASE: 'app' });
  });

  it('gives the tools and pgclone\'s own sessions the same TLS settings, from the URL or the environment', () => {
    const noVerify = parseConnection('postgres://h/app?sslmode=no-verify');
    // node-pg's name for an encrypted, unverified connection is libpq's require (libpq refuses "no-verify").
    expect(libpqEnv(noVerify, {}).PGSSLMODE).toBe('require');
    expect(libpqEnv(parseConnection('postgres://h/app'), { PGSSLMODE: 'no-verify' }).PGSSLMODE).toBe('require');
    expect(pgClientConfig(noVerify, {}).ssl).toEqual({ rejectUnauthorized: false });
    // PGSSLMODE=require means what it means to libpq (node-pg alone verifies the certificate).
    expect(pgClientConfig(parseConnection('postgres://h/app'), { PGSSLMODE: 'require' }).ssl).toEqual({ rejectUnauthorized: false });
    expect(pgClientConfig(parseConnection('postgres://h/app'), {}).ssl).toBeUndefined();
    expect(pgClientConfig(parseConnection('postgres://h/app'), { PGSSLROOTCERT: '/nowhere/root.crt' }).ssl).toBeUndefined();
    // A verifying mode without a root certificate trusts the system's CAs, as Node does, unless ~/.postgresql has one.
    const home = mkdtempSync(path.join(os.tmpdir(), 'pgclone-home-'));
    const verifying = parseConnection('postgres://h/app?sslmode=verify-full');
    expect(libpqEnv(verifying, { HOME: home }).PGSSLROOTCERT).toBe(systemCaBundle());
    mkdirSync(path.join(home, '.postgresql'));
    writeFileSync(path.join(home, '.postgresql', 'root.crt'), '');
    expect(libpqEnv(verifying, { HOME: home }).PGSSLROOTCERT).toBeUndefined();
    expect(() => pgClientConfig(parseConnection('postgres://h/app'), { PGSSLMODE: 'verify-ca' })).toThrow(
      'Cannot use the TLS settings sslmode=verify-ca: Using sslmode=verify-ca requires specifying a CA with sslrootcert',
    );
    rmSync(home, { recursive: true, force: true });
  });
});

describe('redact', () => {
  it('masks URL passwords, password= values and every password it has seen', () => {
    parseConnection('postgres://me:remembered-secret@h/app');
    expect(redact('postgresql://u:anything@h/db')).toBe('postgresql://u:***@h/db');
    expect(redact("host=h password='a b' user=u")).toBe('host=h password=*** user=u');
    // A password with an unencoded @ (a WHATWG URL's user info ends at the last @ of the host part).
    expect(redact('postgresql://u:p@ss@h:5432/db, mailto:x@y and http://a:b@c/d@e')).toBe('postgresql://u:***@h:5432/db, mailto:x@y and http://a:***@c/d@e');
    // A client key's passphrase, in a URL's query or a keyword string.
    expect(redact('postgresql://u@h/db?sslpassword=Kp-1&sslmode=require sslkey=k.pem sslpassword=Kp-2')).toBe(
      'postgresql://u@h/db?sslpassword=***&sslmode=require sslkey=k.pem sslpassword=***',
    );
    expect(redact('the hook printed remembered-secret')).toBe('the hook printed ***');
    expect(redact(`encoded ${encodeURIComponent('remembered-secret')}`)).not.toContain('remembered-secret');
  });

  it('masks a remembered password where it stands whole, not inside a name or as the URL scheme', () => {
    // The usual local setups: a password that is also the user's, the database's or the scheme's name.
    parseConnection('postgres://postgres:postgres@h/app');
    parseConnection('postgresql://shop:shop@h/shop');
    expect(redact('Cannot connect to postgresql://postgres:postgres@h/app')).toBe('Cannot connect to postgresql://***:***@h/app');
    expect(redact('Cannot connect to postgres://postgres@h/app')).toBe('Cannot connect to postgres://***@h/app');
    expect(redact(':shop_backup\n:shop__pre\nshops')).toBe(':shop_backup\n:shop__pre\nshops');
    expect(redact('PGPASSWORD=shop "shop" shop.')).toBe('PGPASSWORD=*** "***" ***.');
    // A password whose edges are not word characters is masked wherever it occurs.
    parseConnection(`postgres://u:${encodeURIComponent('@edge!')}@h/app`);
    expect(redact('user@edge!x')).toBe('user***x');
  });

  it('masks a remembered password also as it appears inside JSON', () => {
    parseConnection(`postgres://me:${encodeURIComponent('Tok"en\\x')}@h/app`);
    expect(redact(JSON.stringify({ password: 'Tok"en\\x' }))).toBe('{"password":"***"}');
  });
});
