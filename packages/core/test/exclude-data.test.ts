import { describe, expect, it } from 'vitest';
import { excludeDataArgs, tablePattern } from '../src/pg/exclude-data.js';
import type { Connection } from '../src/connection.js';

describe('exclude patterns', () => {
  it('read as pg_dump reads them: case folded unless quoted, * and ?, an optional schema', () => {
    expect(tablePattern('Audit').name.test('audit')).toBe(true);
    expect(tablePattern('"Sessions"').name.test('Sessions')).toBe(true);
    expect(tablePattern('"Sessions"').name.test('sessions')).toBe(false);
    expect(tablePattern('"a.b*"').name.test('a.b*')).toBe(true);
    expect(tablePattern('"a.b*"').name.test('a.bc')).toBe(false);
    const p = tablePattern('app.ev*');
    expect([p.schema?.test('app'), p.name.test('events'), p.name.test('xevents')]).toEqual([true, true, false]);
    expect(tablePattern('db.app.t?').schema?.test('app')).toBe(true);
    expect(tablePattern('t?').name.test('t1')).toBe(true);
    expect(tablePattern('"say ""hi"""').name.test('say "hi"')).toBe(true);
  });

  it('use pg_dump 16+\'s own option for partitions, without asking the server', async () => {
    const unreachable = { host: '127.0.0.1', port: 1, database: 'x' } as unknown as Connection;
    expect(await excludeDataArgs(['app.events'], 16, unreachable, {})).toEqual(['--exclude-table-data-and-children=app.events']);
    expect(await excludeDataArgs([], 15, unreachable, {})).toEqual([]);
  });
});
