import { describe, expect, it } from 'vitest';
import { alterDatabaseSetting, splitList } from '../src/pg/settings.js';

describe('splitList (pg_dump SplitGUCList)', () => {
  it('splits plain and quoted items', () => {
    expect(splitList('public, billing')).toEqual(['public', 'billing']);
    expect(splitList('"$user", public')).toEqual(['$user', 'public']);
    expect(splitList('"My Schema","a""b", c')).toEqual(['My Schema', 'a"b', 'c']);
    expect(splitList('')).toEqual([]);
    expect(splitList('  single  ')).toEqual(['single']);
  });

  it('keeps commas inside quotes', () => {
    expect(splitList('"a,b", c')).toEqual(['a,b', 'c']);
  });
});

describe('alterDatabaseSetting', () => {
  it('quotes list settings item by item, so search_path keeps its schemas', () => {
    expect(alterDatabaseSetting('app__temp', 'search_path=public, billing')).toBe(
      `ALTER DATABASE "app__temp" SET search_path TO 'public', 'billing'`,
    );
    expect(alterDatabaseSetting('app', 'search_path="$user", "My Schema"')).toBe(
      `ALTER DATABASE "app" SET search_path TO '$user', 'My Schema'`,
    );
  });

  it('quotes scalar values as one literal and the database as an identifier', () => {
    expect(alterDatabaseSetting('we"ird', "statement_timeout=5s")).toBe(`ALTER DATABASE "we""ird" SET statement_timeout TO '5s'`);
    expect(alterDatabaseSetting('app', "application_name=it's")).toBe(`ALTER DATABASE "app" SET application_name TO 'it''s'`);
  });

  it('refuses a setting name that is not an identifier', () => {
    expect(() => alterDatabaseSetting('app', 'x; drop=1')).toThrow(/Unexpected setting name/);
  });
});
