/**
 * Restore progress from `pg_restore --verbose`: one `creating …`, `processing data for table …` or `executing …`
 * line per table-of-contents item restored, in single-job and parallel mode alike (measured on the bench dataset:
 * 58 such lines for 58 listed items with -j1 and -j2). The total is the item count of `pg_restore -l`.
 */

const ITEM_LINE = /^pg_restore: (creating |processing data for table |executing |restoring large objects|processing BLOBS)/;
/**
 * Messages that pg_restore prints because of `--verbose` only. Errors, warnings and the `from TOC entry …` line that
 * says where an error happened are not among them.
 */
const VERBOSE_LINE = /^pg_restore: (?!(error|warning|detail|hint|fatal): |from TOC entry )/;

/** True for a line that marks one restored item. */
export function isItemLine(line: string): boolean {
  return ITEM_LINE.test(line);
}

/** True for a line that only `--verbose` prints: counted for progress, never shown as output. */
export function isVerboseLine(line: string): boolean {
  return VERBOSE_LINE.test(line);
}
