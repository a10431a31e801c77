import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { templateHash } from '../packages/pgclone/src/testing/inputs.js';
import { runDatabasePattern, templateName, testBaseName, workerDatabaseName } from '../packages/pgclone/src/testing/names.js';
import { RESERVED_SUFFIXES, reservedSuffixOf, spareName } from '@pgclone/core';

// Pure parts of the test helpers: names and the template hash.

describe('test database names', () => {
  it('derives worker names that leave room for every suffix, and recognises them with their working names', () => {
    const name = workerDatabaseName('app_test', 'abcd1234', 3);
    expect(name).toBe('app_test_test_abcd1234_3');
    const pattern = runDatabasePattern('app_test');
    for (const n of [name, `${name}__spare`, `${name}__swap`, `${name}__temp`]) expect(pattern.exec(n)?.[1]).toBe('abcd1234');
    expect(pattern.test('app_test_tpl_0123456789ab')).toBe(false);
    expect(pattern.test('app_test_test_abcd1234')).toBe(false);
    expect(workerDatabaseName('a'.repeat(30), 'abcd1234', 'pool-7!')).toMatch(/_pool[0-9a-f]{6}$/);
    expect(workerDatabaseName('app', 'abcd1234', 'Pool7')).toBe('app_test_abcd1234_Pool7');
    expect(() => workerDatabaseName('app', 'ABCD', 1)).toThrow(/run id/);
    expect(() => testBaseName('a'.repeat(31))).toThrow(expect.objectContaining({ code: 'NAME_TOO_LONG' }));
    expect(() => testBaseName('my-app')).toThrow(expect.objectContaining({ code: 'NAME_INVALID' }));
    expect(templateName('app', 'f'.repeat(64))).toBe(`app_tpl_${'f'.repeat(12)}`);
  });

  it('gives distinct worker ids distinct names, however they are spelt', () => {
    const ids = ['checkout-1', 'checkout-2', 'w-1', 'w1', 'w_1', 'shard-1', 'shard1', 'a'.repeat(9), 'a'.repeat(10), 7, '7'];
    const names = ids.map((id) => workerDatabaseName('a'.repeat(30), 'abcd1234', id));
    expect(new Set(names).size).toBe(ids.length - 1); // 7 and '7' are the same worker
    expect(workerDatabaseName('app', 'abcd1234', 'checkout-1')).toMatch(/^app_test_abcd1234_chec[0-9a-f]{6}$/);
  });

  it('reserves the spare suffix', () => {
    expect(RESERVED_SUFFIXES).toContain('spare');
    expect(spareName('app')).toBe('app__spare');
    expect(reservedSuffixOf('app__spare')).toBe('spare');
    expect(() => spareName('x'.repeat(57))).toThrow(expect.objectContaining({ code: 'NAME_TOO_LONG' }));
  });
});

describe('template hash', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-hash-'));
  mkdirSync(path.join(dir, 'migrations'));
  writeFileSync(path.join(dir, 'migrations', '001.sql'), 'CREATE TABLE a (id int);');
  writeFileSync(path.join(dir, 'migrations', '002.sql'), 'CREATE TABLE b (id int);');
  const hash = (over: Partial<Parameters<typeof templateHash>[0]> = {}) =>
    templateHash({ patterns: ['migrations'], baseDir: dir, source: 'test', hooks: ['node migrate.mjs'], ...over }).then((h) => h.hash);

  it('is stable, and changes with a file, a hook or the dump restored first', async () => {
    const base = await hash();
    expect(await hash()).toBe(base);
    expect(await hash({ patterns: ['migrations/*.sql'] })).toBe(base); // a folder means everything under it
    expect(await hash({ hooks: ['node migrate.mjs --seed'] })).not.toBe(base);
    expect(await hash({ restoreKey: 'dev/default/none/2026-11-25-14-03-59-123456.dump' })).not.toBe(base);
    writeFileSync(path.join(dir, 'migrations', '002.sql'), 'CREATE TABLE b (id bigint);');
    expect(await hash()).not.toBe(base);
  });

  it('refuses globs that match no file', async () => {
    await expect(hash({ patterns: ['nothing/**'] })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
