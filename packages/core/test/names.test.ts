import { describe, expect, it } from 'vitest';
import { KeyError } from '../src/errors.js';
import { assertDatabaseName, derivedName, ownerOfDerivedName, reservedSuffixOf, restoreNames } from '../src/names.js';
import { copyTargetName } from '../src/ops/copy.js';
import { localDatabaseOf } from '../src/ops/resolve-key.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KeyError);
    expect((error as Error).message).not.toContain('\n');
    return (error as KeyError).code;
  }
  return undefined;
}

describe('restore names', () => {
  it('derives N__temp, N__swap, N__pre, N__post', () => {
    expect(restoreNames('app')).toMatchObject({ live: 'app', temp: 'app__temp', swap: 'app__swap', pre: 'app__pre', post: 'app__post' });
  });

  it('refuses a name whose N__temp would exceed 63 bytes, counting bytes not characters', () => {
    expect(() => restoreNames('a'.repeat(56))).not.toThrow(); // a…a__stage = 63 bytes
    expect(codeOf(() => restoreNames('a'.repeat(58)))).toBe('NAME_TOO_LONG');
    expect(codeOf(() => derivedName('é'.repeat(29), 'temp'))).toBe('NAME_TOO_LONG'); // 58 bytes + 6
    expect(() => derivedName('é'.repeat(28), 'temp')).not.toThrow();
  });

  it('checks database names: empty, control characters, over 63 bytes', () => {
    expect(codeOf(() => assertDatabaseName(''))).toBe('NAME_INVALID');
    expect(codeOf(() => assertDatabaseName('a\nb'))).toBe('NAME_INVALID');
    expect(codeOf(() => assertDatabaseName('x'.repeat(64)))).toBe('NAME_TOO_LONG');
    expect(() => assertDatabaseName('a"b; drop database x; --')).not.toThrow();
  });

  it('recognises reserved suffixes and their owner', () => {
    expect(reservedSuffixOf('app__pre')).toBe('pre');
    expect(reservedSuffixOf('app__temp')).toBe('temp');
    expect(reservedSuffixOf('app__backup')).toBeUndefined();
    expect(ownerOfDerivedName('my__app__post')).toBe('my__app');
    expect(ownerOfDerivedName('app')).toBeUndefined();
  });
});

describe('local keys', () => {
  it('maps :pre and :post to the target restore points and :name to the name', () => {
    expect(localDatabaseOf(':pre', 'app')).toBe('app__pre');
    expect(localDatabaseOf(':post', 'app')).toBe('app__post');
    expect(localDatabaseOf(':app__temp', 'app')).toBe('app__temp');
    expect(localDatabaseOf(':a b"c', 'app')).toBe('a b"c');
    expect(codeOf(() => localDatabaseOf(':', 'app'))).toBe('KEY_INVALID');
    expect(codeOf(() => localDatabaseOf(':a\nb', 'app'))).toBe('NAME_INVALID');
  });
});

describe('copy targets', () => {
  it('accepts :name and returns the database name', () => {
    expect(copyTargetName(':backup', 'app')).toBe('backup');
    expect(copyTargetName(':a"b; drop', 'app')).toBe('a"b; drop');
  });

  it('refuses a target without the colon', () => {
    expect(codeOf(() => copyTargetName('backup', 'app'))).toBe('KEY_INVALID');
  });

  it('refuses :pre, :post and reserved suffixes', () => {
    for (const t of [':pre', ':post', ':app__pre', ':app__post', ':app__temp', ':app__swap', ':other__temp']) {
      expect(codeOf(() => copyTargetName(t, 'app')), t).toBe('NAME_RESERVED');
    }
  });

  it('refuses the source itself and system databases', () => {
    expect(codeOf(() => copyTargetName(':app', 'app'))).toBe('KEY_INVALID');
    expect(codeOf(() => copyTargetName(':postgres', 'app'))).toBe('NAME_RESERVED');
    expect(codeOf(() => copyTargetName(':template1', 'app'))).toBe('NAME_RESERVED');
  });

  it('refuses names PostgreSQL would truncate', () => {
    expect(codeOf(() => copyTargetName(`:${'c'.repeat(60)}`, 'app'))).toBe('NAME_TOO_LONG');
  });
});
