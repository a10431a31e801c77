import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseConnection, redact } from '@pgclone/core';
import { parseDatasources } from '../src/datasource.js';
import { searchPathOption, translatePrismaUrl, withPrismaDatabase } from '../src/url.js';

const where = { where: 'test', baseDir: '/app/prisma' };

describe('translatePrismaUrl', () => {
  it('decodes a password with @:/?#% and keeps libpq parameters', () => {
    const url = 'postgresql://app:p%40ss%3A%2F%3F%23%25w@db.example:6543/shop?sslmode=require&application_name=web';
    const { connection } = translatePrismaUrl(url, where);
    expect(connection).toEqual({
      host: 'db.example',
      port: 6543,
      user: 'app',
      password: 'p@ss:/?#%w',
      database: 'shop',
      params: { sslmode: 'require', application_name: 'web' },
    });
    // What core builds from it parses back to the same password.
    expect(parseConnection(connection).password).toBe('p@ss:/?#%w');
    expect(redact(`connecting with ${url}`)).not.toContain('p%40ss');
  });

  it('drops Prisma pool settings and turns schema= into a search_path for libpq tools', () => {
    const url = 'postgres://u:pw@h/db?schema=My%20App&connection_limit=5&pool_timeout=10&pgbouncer=true&statement_cache_size=0&socket_timeout=3';
    const translated = translatePrismaUrl(url, where);
    expect(translated.schema).toBe('My App');
    expect(translated.connection.params).toEqual({ options: '-c search_path="My\\ App"' });
    expect(translated.dropped.sort()).toEqual(['connection_limit', 'pgbouncer', 'pool_timeout', 'socket_timeout', 'statement_cache_size']);
    // A libpq URL made from it is one psql accepts: only libpq parameters.
    expect(Object.keys(translated.connection.params)).toEqual(['options']);
  });

  it('appends the search_path to existing options and escapes quotes and backslashes', () => {
    expect(searchPathOption('a"b\\c')).toBe('-c search_path="a""b\\\\c"');
    const { connection } = translatePrismaUrl('postgresql://h/db?options=-c%20statement_timeout%3D5s&schema=app', where);
    expect(connection.params.options).toBe('-c statement_timeout=5s -c search_path="app"');
  });

  it('makes certificate paths absolute against the schema folder and maps sslaccept=strict', () => {
    const { connection } = translatePrismaUrl('postgresql://h/db?sslmode=require&sslaccept=strict&sslrootcert=certs/ca.pem&sslcert=/abs/client.pem', where);
    expect(connection.params).toEqual({ sslmode: 'verify-full', sslrootcert: '/app/prisma/certs/ca.pem', sslcert: '/abs/client.pem' });
  });

  it('reads a socket directory from host= and an IPv6 host without brackets', () => {
    expect(translatePrismaUrl('postgresql://me@localhost/db?host=/var/run/postgresql', where).connection.host).toBe('/var/run/postgresql');
    expect(translatePrismaUrl('postgresql://me@[::1]:5433/db', where).connection).toMatchObject({ host: '::1', port: 5433 });
  });

  it('refuses URLs pg_dump cannot use, saying why', () => {
    expect(() => translatePrismaUrl('prisma://accelerate.prisma-data.net/?api_key=x', where)).toThrow(/prisma:\/\/ URL.*direct postgresql/);
    expect(() => translatePrismaUrl('mysql://u@h/db', where)).toThrow(/mysql:\/\/ URL/);
    expect(() => translatePrismaUrl('postgresql://h/db?sslidentity=id.p12&sslpassword=secret', where)).toThrow(/sslidentity .*sslcert and sslkey/);
  });

  it('keeps the password of a URL it cannot parse out of the error, its cause included', () => {
    const url = 'postgresql://app:Unparsable%40Secret@db.example:notaport/shop';
    let error: unknown;
    try {
      translatePrismaUrl(url, where);
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).toContain('cannot be parsed');
    // What console.error(error) or a logger shows: the message, the stack and the whole cause chain.
    expect(inspect(error, { depth: 10 })).not.toContain('Unparsable');
    // A password with an unencoded @ (Prisma needs it encoded): what follows that @ is still the password.
    expect(() => translatePrismaUrl('postgresql://app:p@ssUnencoded@db.example:notaport/shop', where)).toThrow(/cannot be parsed/);
    expect(() => translatePrismaUrl('postgresql://app:p@ssUnencoded@db.example:notaport/shop', where)).not.toThrow(/ssUnencoded/);
  });
});

describe('withPrismaDatabase', () => {
  it('replaces only the database name', () => {
    expect(withPrismaDatabase('postgresql://u:p%40ss@h:5432/app?schema=x&pgbouncer=true', 'app__temp')).toBe(
      'postgresql://u:p%40ss@h:5432/app__temp?schema=x&pgbouncer=true',
    );
    expect(withPrismaDatabase('postgres://h', 'a b')).toBe('postgres://h/a%20b');
    expect(withPrismaDatabase('postgresql://h/old#frag', 'new')).toBe('postgresql://h/new#frag');
  });
});

describe('parseDatasources', () => {
  it('reads env() and literals, skipping comments, arrays and other blocks', () => {
    const schema = `
// datasource fake { provider = "mysql" }
generator client {
  provider = "prisma-client-js" // { not a block }
}
/// The database
datasource db {
  provider          = "postgresql" // Prisma's name
  url               = env("POOLED_URL")
  directUrl         = env( "DIRECT_URL" )
  shadowDatabaseUrl = "postgresql://shadow/db?x=}"
  extensions        = [pgcrypto, postgis(version: "3.4")]
  schemas           = ["public",
                       "audit"]
}
model User {
  id Int @id
}`;
    expect(parseDatasources([['/s.prisma', schema]])).toEqual([
      {
        name: 'db',
        provider: { value: 'postgresql' },
        url: { env: 'POOLED_URL' },
        directUrl: { env: 'DIRECT_URL' },
        shadowDatabaseUrl: { value: 'postgresql://shadow/db?x=}' },
        file: '/s.prisma',
        line: 7,
      },
    ]);
  });

  it('finds the block in any file of a multi-file schema, and on one line', () => {
    const found = parseDatasources([
      ['/a.prisma', 'model A {\n id Int @id\n}'],
      ['/b.prisma', 'datasource pg { provider = "postgres" url = "postgresql://h/db" }'],
    ]);
    expect(found).toEqual([{ name: 'pg', provider: { value: 'postgres' }, url: { value: 'postgresql://h/db' }, file: '/b.prisma', line: 1 }]);
  });
});
