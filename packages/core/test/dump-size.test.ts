import { describe, expect, it } from 'vitest';
import { ARCHIVE_ROW_OVERHEAD, refineDumpTotal, type CopyReading, type DumpedTable } from '../src/pg/dump-size.js';

const tables: DumpedTable[] = [
  { relid: '1', diskBytes: 1_000_000, rows: 10_000 }, // 100 bytes a row on disk
  { relid: '2', diskBytes: 3_000_000, rows: 30_000 },
  { relid: '3', diskBytes: 500_000, rows: undefined }, // never vacuumed or analyzed
];
const readings = (entries: [string, CopyReading][]) => new Map(entries);

describe('refineDumpTotal', () => {
  it('is the size on disk (and the other bytes) before any COPY is seen', () => {
    expect(refineDumpTotal(tables, readings([]), 7, 0)).toBe(4_500_007);
  });

  it('counts a table seen in COPY as its bytes per row so far times its rows, and the others as on disk', () => {
    // Table 1 shows 60 bytes a row: 600 000 in all, 0.6× its disk size; tables 2 and 3 still count as on disk.
    const total = refineDumpTotal(tables, readings([['1', { bytes: 60_000, tuples: 1_000 }]]), 0, 0);
    expect(total).toBe(600_000 + 3_000_000 + 500_000);
  });

  it('scales the tables not seen up when the seen ones outgrew their disk size, by their weighted ratio', () => {
    const total = refineDumpTotal(
      tables,
      readings([
        ['1', { bytes: 600_000, tuples: 10_000 }], // finished: 60 a row
        ['2', { bytes: 140_000, tuples: 1_000 }], // 140 a row: 4.2 MB
      ]),
      0,
      0,
    );
    expect(total).toBe(600_000 + 4_200_000 + (4_800_000 / 4_000_000) * 500_000);
  });

  it('adds the archive\'s chunk header to every row, read or to come', () => {
    const total = refineDumpTotal([tables[0]!], readings([['1', { bytes: 60_000, tuples: 1_000 }]]), 0, ARCHIVE_ROW_OVERHEAD);
    expect(total).toBe(10_000 * (60 + ARCHIVE_ROW_OVERHEAD));
  });

  it('never counts less than was read: stale row counts, tables without them, COPYs of no known table', () => {
    const stale = [{ relid: '1', diskBytes: 1_000_000, rows: 100 }];
    expect(refineDumpTotal(stale, readings([['1', { bytes: 600_000, tuples: 10_000 }]]), 0, 0)).toBe(600_000);
    const unknownRows = [{ relid: '3', diskBytes: 500_000, rows: undefined }];
    expect(refineDumpTotal(unknownRows, readings([['3', { bytes: 900_000, tuples: 9_000 }]]), 0, 0)).toBe(900_000);
    expect(refineDumpTotal([], readings([['0', { bytes: 1_234, tuples: 10 }]]), 0, 0)).toBe(1_234);
  });
});
