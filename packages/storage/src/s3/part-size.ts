const MIB = 1024 * 1024;

/** S3 limits for multipart uploads. */
export const S3_MAX_PARTS = 10_000;
export const S3_MIN_PART_SIZE = 5 * MIB;
export const S3_MAX_PART_SIZE = 5 * 1024 * MIB;
/**
 * The smallest part size pgclone picks by itself, S3's own minimum: every part in flight is held in memory, and so is
 * each sent one until V8 collects it (see sent-parts.ts), so smaller parts hold less. 5 MiB parts uploaded as fast as
 * 8 or 16 MiB ones here; 10,000 of them still allow a 48 GiB dump, and larger databases get larger parts.
 */
export const DEFAULT_MIN_PART_SIZE = S3_MIN_PART_SIZE;
/**
 * Parts in flight at once unless `s3.queueSize` says otherwise. Three 5 MiB parts keep up with any dump pg_dump and
 * zstd produce (4 were no faster against the test server), and each part fewer is 5 MiB less to hold.
 */
export const DEFAULT_QUEUE_SIZE = 3;
/** Head room over the expected size: a dump is usually smaller than the database, but not always. */
const SIZE_MARGIN = 1.5;

/**
 * The multipart part size for an upload of about `expectedBytes` (for a dump: `pg_database_size`):
 * `max(5 MiB, 1.5 × expectedBytes / 10,000)` rounded up to a whole MiB and capped at S3's 5 GiB, unless
 * `configured` (`s3.partSize`) is given. S3 allows 10,000 parts, so this is what caps the size of one dump.
 */
export function choosePartSize(expectedBytes: number | undefined, configured?: number): number {
  if (configured !== undefined) return Math.min(Math.max(configured, S3_MIN_PART_SIZE), S3_MAX_PART_SIZE);
  const wanted = expectedBytes && expectedBytes > 0 ? Math.ceil((SIZE_MARGIN * expectedBytes) / S3_MAX_PARTS / MIB) * MIB : 0;
  return Math.min(Math.max(DEFAULT_MIN_PART_SIZE, wanted), S3_MAX_PART_SIZE);
}

