import { describe, expect, it } from 'vitest';
import { DumpError } from '../src/errors.js';
import { assertArchiveReadable, databaseSettingsFromScript, maxArchiveVersion, parseArchiveHeader } from '../src/pg/archive.js';
import { databaseFromScript } from '../src/pg/database-script.js';
import { restoresInOneTransaction } from '../src/pg/pg-restore.js';

/** The first bytes of a custom-format archive: magic, version major/minor/rev, int size, offset size, format. */
function header(version: [number, number, number], format = 1): Buffer {
  return Buffer.concat([Buffer.from('PGDMP', 'latin1'), Buffer.from([...version, 4, 8, format]), Buffer.alloc(5)]);
}

function dumpError(fn: () => unknown): DumpError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DumpError);
    expect((error as DumpError).code).toBe('DUMP_INVALID');
    expect((error as Error).message).not.toContain('\n');
    return error as DumpError;
  }
  throw new Error('expected a DumpError');
}

describe('parseArchiveHeader', () => {
  it('reads the archive version of a custom-format dump', () => {
    expect(parseArchiveHeader(header([1, 14, 0]), 'k')).toEqual({ wrapper: 'none', version: [1, 14, 0] });
  });

  it('recognises outer compression by magic bytes', () => {
    expect(parseArchiveHeader(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), 'k').wrapper).toBe('gzip');
    expect(parseArchiveHeader(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), 'k').wrapper).toBe('zstd');
    expect(parseArchiveHeader(Buffer.from([0x04, 0x22, 0x4d, 0x18, 0, 0, 0, 0]), 'k').wrapper).toBe('lz4');
  });

  it('refuses empty, truncated, directory/tar-format, plain SQL and unknown files, naming the key', () => {
    expect(dumpError(() => parseArchiveHeader(Buffer.alloc(0), 'dev/x.dump')).message).toContain('dev/x.dump');
    expect(dumpError(() => parseArchiveHeader(Buffer.from('PGDMP\x01', 'latin1'), 'k')).message).toMatch(/truncated/);
    expect(dumpError(() => parseArchiveHeader(header([1, 14, 0], 3), 'k')).message).toMatch(/format 3/);
    expect(dumpError(() => parseArchiveHeader(Buffer.from('--\n-- PostgreSQL database dump\n'), 'k')).message).toMatch(/plain SQL/);
    expect(() => parseArchiveHeader(Buffer.from('hello world, not a dump'), 'k')).toThrow(DumpError);
  });
});

describe('archive version check', () => {
  it('knows what each pg_restore major reads', () => {
    expect(maxArchiveVersion(15)).toEqual([1, 14]);
    expect(maxArchiveVersion(16)).toEqual([1, 15]);
    expect(maxArchiveVersion(17)).toEqual([1, 16]);
  });

  it('accepts versions up to what pg_restore reads', () => {
    const pgRestore = { major: 15, version: '15.8' };
    expect(() => assertArchiveReadable({ wrapper: 'none', version: [1, 14, 0] }, 'k', pgRestore)).not.toThrow();
    expect(() => assertArchiveReadable({ wrapper: 'none', version: [1, 12, 0] }, 'k', pgRestore)).not.toThrow();
  });

  it('refuses a newer archive with an error naming both versions', () => {
    const e = dumpError(() => assertArchiveReadable({ wrapper: 'none', version: [1, 16, 0] }, 'dev/k.dump', { major: 15, version: '15.8' }));
    expect(e.message).toContain('1.16');
    expect(e.message).toContain('15.8');
    expect(e.message).toContain('1.14');
    expect(e.message).toContain('dev/k.dump');
    expect(() => assertArchiveReadable({ wrapper: 'none', version: [2, 0, 0] }, 'k', { major: 17, version: '17.1' })).toThrow(DumpError);
  });
});

describe('databaseSettingsFromScript', () => {
  it('extracts the SET clauses of ALTER DATABASE statements, whatever the database name', () => {
    const script = [
      'CREATE DATABASE src WITH TEMPLATE = template0;',
      "ALTER DATABASE src SET search_path TO 'public', 'billing';",
      `ALTER DATABASE "we""ird name" SET statement_timeout TO '5s';`,
      'ALTER DATABASE src OWNER TO me;',
    ].join('\n');
    expect(databaseSettingsFromScript(script)).toEqual(["search_path TO 'public', 'billing'", "statement_timeout TO '5s'"]);
  });

  it('keeps a value that spans lines, and one with a semicolon', () => {
    const script = [
      'SET client_encoding = \'UTF8\';',
      '\\connect props',
      '-- Name: props; Type: DATABASE PROPERTIES; Schema: -; Owner: own1',
      "ALTER DATABASE props SET \"app.msg\" TO 'line1",
      "line2; it''s';",
      "ALTER DATABASE props SET work_mem TO '5MB';",
    ].join('\n');
    expect(databaseSettingsFromScript(script)).toEqual([`"app.msg" TO 'line1\nline2; it''s'`, "work_mem TO '5MB'"]);
  });

  it('ignores a SET that is not a plain list of values', () => {
    expect(databaseSettingsFromScript("ALTER DATABASE x SET a TO 'b'; DROP TABLE t;")).toEqual(["a TO 'b'"]);
    expect(databaseSettingsFromScript('ALTER DATABASE x SET a TO (SELECT 1);')).toEqual([]);
  });
});

describe('databaseFromScript', () => {
  it("reads the database's CREATE options, owner, comment, privileges, connection limit and role settings", () => {
    const script = [
      "CREATE DATABASE props WITH TEMPLATE = template0 ENCODING = 'LATIN1' LOCALE_PROVIDER = icu LOCALE = 'C' ICU_LOCALE = 'de-u-kn-true' TABLESPACE = \"Fast\";",
      'ALTER DATABASE props OWNER TO own1;',
      "COMMENT ON DATABASE props IS 'it''s the app",
      "two lines';",
      'ALTER DATABASE props CONNECTION LIMIT = 5;',
      "ALTER ROLE \"Reader\" IN DATABASE props SET work_mem TO '7MB';",
      'REVOKE CONNECT,TEMPORARY ON DATABASE props FROM PUBLIC;',
      'GRANT CONNECT ON DATABASE props TO reader;',
      'SET SESSION AUTHORIZATION reader;',
      'GRANT ALL ON DATABASE props TO "x y" WITH GRANT OPTION;',
      'RESET SESSION AUTHORIZATION;',
    ].join('\n');
    expect(databaseFromScript(script).properties).toEqual({
      create: { encoding: 'LATIN1', localeProvider: 'icu', locale: 'C', icuLocale: 'de-u-kn-true', tablespace: 'Fast' },
      owner: 'own1',
      comment: "it's the app\ntwo lines",
      connectionLimit: 5,
      roleSettings: [{ role: 'Reader', clause: "work_mem TO '7MB'" }],
      privileges: [
        { action: 'REVOKE', privileges: ['CONNECT', 'TEMPORARY'], grantee: null, grantOption: false },
        { action: 'GRANT', privileges: ['CONNECT'], grantee: 'reader', grantOption: false },
        { action: 'GRANT', privileges: ['ALL'], grantee: 'x y', grantOption: true, grantor: 'reader' },
      ],
    });
  });
});

describe('restoresInOneTransaction', () => {
  const toc = ['214; 1259 16385 TABLE public numbers postgres', '3338; 0 16385 TABLE DATA public numbers postgres'];

  it('runs a single job over a small table of contents as one transaction', () => {
    expect(restoresInOneTransaction(toc, { parallel: false, allowList: [] })).toBe(true);
    expect(restoresInOneTransaction(Array.from({ length: 256 }, (_, i) => `${i}; 0 0 COMMENT - x`), { parallel: false, allowList: [] })).toBe(true);
  });

  it('not with -j, not with an allow list, not over a table of contents whose locks could fill the lock table', () => {
    expect(restoresInOneTransaction(toc, { parallel: true, allowList: [] })).toBe(false);
    expect(restoresInOneTransaction(toc, { parallel: false, allowList: ['must be owner of extension'] })).toBe(false);
    const blobs = Array.from({ length: 257 }, (_, i) => `${3000 + i}; 2613 ${20000 + i} LARGE OBJECT - ${20000 + i} postgres`);
    expect(restoresInOneTransaction([...toc, ...blobs], { parallel: false, allowList: [] })).toBe(false);
  });
});
