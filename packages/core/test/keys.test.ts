import { describe, expect, it } from 'vitest';
import { KeyError } from '../src/errors.js';
import {
  assertSafeKey,
  compareNewestFirst,
  formatDumpKey,
  formatKeyTimestamp,
  isDumpKey,
  isSidecarKey,
  keyMatchesPrefix,
  parseDumpKey,
  sanitizeKeyPart,
  selectDumpKeys,
  uniqueKeyParts,
} from '../src/keys.js';

const at = new Date(Date.UTC(2026, 10, 25, 14, 3, 59, 123));

describe('key format', () => {
  it('formats keys like django-pgclone: <instance>/<alias>/<config>/<UTC stamp with microseconds>.dump', () => {
    expect(formatKeyTimestamp(at, 456)).toBe('2026-11-25-14-03-59-123456');
    expect(formatDumpKey({ instance: 'dev', database: 'default', config: 'none' }, at, 456)).toBe(
      'dev/default/none/2026-11-25-14-03-59-123456.dump',
    );
  });

  it('replaces characters outside [A-Za-z0-9_-] in the first three parts with _', () => {
    expect(sanitizeKeyPart('my.host/../x y')).toBe('my_host____x_y');
    expect(sanitizeKeyPart('')).toBe('_');
    const key = formatDumpKey({ instance: '../etc', database: 'a/b', config: "x'; drop" }, at);
    expect(key).toBe("___etc/a_b/x___drop/2026-11-25-14-03-59-123000.dump");
    expect(key.split('/')).toHaveLength(4);
    expect(() => assertSafeKey(key)).not.toThrow();
  });

  it('parses well-formed keys and rejects everything else', () => {
    expect(parseDumpKey('dev/default/none/2026-11-25-14-03-59-123456.dump')).toEqual({
      instance: 'dev',
      database: 'default',
      config: 'none',
      timestamp: '2026-11-25-14-03-59-123456',
    });
    for (const bad of [
      'dev/default/none/2026-11-25-14-03-59-123456.sql',
      'dev/default/2026-11-25-14-03-59-123456.dump',
      'dev/default/none/x/2026-11-25-14-03-59-123456.dump',
      'dev/default/none/2026-11-25.dump',
      'dev/de fault/none/2026-11-25-14-03-59-123456.dump',
      '/dev/default/none/2026-11-25-14-03-59-123456.dump',
      'nightly.dump',
      // Not a moment: such a key sorted as the newest, and a prefix restore picked it.
      'dev/default/none/2026-13-45-00-00-00-000001.dump',
      'dev/default/none/2026-02-30-00-00-00-000000.dump',
      'dev/default/none/2026-11-25-24-00-00-000000.dump',
      'dev/default/none/2026-11-25-14-60-00-000000.dump',
      'dev/default/none/2026-11-25-14-03-60-000000.dump',
      'dev/default/none/2026-00-10-14-03-59-000000.dump',
    ]) {
      expect(parseDumpKey(bad), bad).toBeUndefined();
      expect(isDumpKey(bad), bad).toBe(false);
    }
    expect(isDumpKey('dev/default/none/2028-02-29-23-59-59-999999.dump')).toBe(true);
  });

  it('recognises sidecar and hidden files', () => {
    expect(isSidecarKey('dev/default/none/2026-11-25-14-03-59-123456.dump.manifest.json')).toBe(true);
    expect(isSidecarKey('dev/default/none/.pgclone-partial-x')).toBe(true);
    expect(isSidecarKey('dev/default/none/2026-11-25-14-03-59-123456.dump')).toBe(false);
  });
});

describe('assertSafeKey', () => {
  const hostile = [
    '../etc/passwd',
    'dev/../../etc/passwd',
    'dev/./x',
    '/etc/passwd',
    'C:/Windows',
    'dev\\default',
    'dev/default/none/x\n.dump',
    'dev/\u0000',
    'dev//none',
    'x'.repeat(1025),
  ];
  for (const key of hostile) {
    it(`rejects ${JSON.stringify(key.slice(0, 40))} with a one-line KeyError naming it`, () => {
      let error: unknown;
      try {
        assertSafeKey(key);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(KeyError);
      expect((error as KeyError).code).toBe('KEY_INVALID');
      expect((error as Error).message).not.toContain('\n');
      expect((error as Error).message).toContain(JSON.stringify(key.slice(0, 20)).slice(0, 10));
    });
  }

  it('accepts ordinary keys and prefixes, including a trailing slash', () => {
    for (const key of ['dev', 'dev/', 'dev/default/none/', 'dev/default/none/2026-11', 'cron/nightly.dump', "we'ird key;x"]) {
      expect(() => assertSafeKey(key), key).not.toThrow();
    }
  });
});

describe('keyMatchesPrefix', () => {
  const key = 'dev/default/none/2026-11-25-14-03-59-123456.dump';

  it('matches whole path segments: dev matches dev/..., not devops/...', () => {
    expect(keyMatchesPrefix(key, 'dev')).toBe(true);
    expect(keyMatchesPrefix(key, 'dev/')).toBe(true);
    expect(keyMatchesPrefix('devops/default/none/2026-11-25-14-03-59-123456.dump', 'dev')).toBe(false);
    expect(keyMatchesPrefix('devops/default/none/2026-11-25-14-03-59-123456.dump', 'dev/')).toBe(false);
    expect(keyMatchesPrefix(key, 'de')).toBe(false);
    expect(keyMatchesPrefix(key, 'dev/def')).toBe(false);
    expect(keyMatchesPrefix(key, 'dev/default/none')).toBe(true);
  });

  it('lets the last prefix segment end mid-way through the timestamp', () => {
    expect(keyMatchesPrefix(key, 'dev/default/none/2026-11')).toBe(true);
    expect(keyMatchesPrefix(key, 'dev/default/none/2026-12')).toBe(false);
    expect(keyMatchesPrefix(key, key)).toBe(true);
    expect(keyMatchesPrefix(key, `${key}/x`)).toBe(false);
    expect(keyMatchesPrefix(key, '')).toBe(true);
  });
});

describe('ordering and selection', () => {
  it('sorts newest first by the key timestamp, not lexicographically', () => {
    const keys = [
      { key: 'zeta/default/none/2020-01-01-00-00-00-000000.dump' },
      { key: 'alpha/default/none/2021-01-01-00-00-00-000000.dump' },
      { key: 'mid/default/none/2020-06-01-00-00-00-000000.dump' },
    ];
    expect([...keys].sort(compareNewestFirst).map((k) => k.key.split('/')[0])).toEqual(['alpha', 'mid', 'zeta']);
  });

  it('compares microseconds numerically', () => {
    const a = { key: 'dev/default/none/2026-01-01-00-00-00-000009.dump' };
    const b = { key: 'dev/default/none/2026-01-01-00-00-00-000010.dump' };
    expect([a, b].sort(compareNewestFirst)[0]).toBe(b);
  });

  it('hides invalid keys and sidecars unless validateDumpKeys is false, then orders others by mtime', () => {
    const objects = [
      { key: 'dev/default/none/2026-01-01-00-00-00-000000.dump', modified: new Date('2026-01-01T00:00:00Z') },
      { key: 'dev/default/none/notastamp.dump', modified: new Date('2027-01-01T00:00:00Z') },
      { key: 'dev/nightly.dump', modified: new Date('2025-01-01T00:00:00Z') },
      { key: 'dev/default/none/2026-01-01-00-00-00-000000.dump.manifest.json', modified: new Date('2028-01-01T00:00:00Z') },
      { key: 'dev/default/none/.pgclone-partial-2026', modified: new Date('2028-01-01T00:00:00Z') },
    ];
    expect(selectDumpKeys(objects, { validateDumpKeys: true }).map((o) => o.key)).toEqual([
      'dev/default/none/2026-01-01-00-00-00-000000.dump',
    ]);
    expect(selectDumpKeys(objects, { validateDumpKeys: false }).map((o) => o.key)).toEqual([
      'dev/default/none/notastamp.dump',
      'dev/default/none/2026-01-01-00-00-00-000000.dump',
      'dev/nightly.dump',
    ]);
    expect(selectDumpKeys(objects, { validateDumpKeys: false, prefix: 'dev/default' }).map((o) => o.key)).toEqual([
      'dev/default/none/notastamp.dump',
      'dev/default/none/2026-01-01-00-00-00-000000.dump',
    ]);
  });

  it('lists sorted unique parts of valid keys only', () => {
    const keys = [
      'b/default/none/2026-01-01-00-00-00-000000.dump',
      'a/other/ci/2026-01-01-00-00-00-000000.dump',
      'a/default/none/2026-01-02-00-00-00-000000.dump',
      'junk.dump',
    ];
    expect(uniqueKeyParts(keys, 'instance')).toEqual(['a', 'b']);
    expect(uniqueKeyParts(keys, 'database')).toEqual(['default', 'other']);
    expect(uniqueKeyParts(keys, 'config')).toEqual(['ci', 'none']);
  });
});
