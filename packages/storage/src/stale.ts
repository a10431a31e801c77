/**
 * An unfinished write whose writer cannot be checked (a partial file of another host or older naming, an S3 multipart
 * upload) is stale once it is this old: no dump runs for a day. Younger ones may be a dump still running elsewhere,
 * so they are only reported, never removed.
 */
export const UNFINISHED_WRITE_STALE_MS = 24 * 60 * 60 * 1000;
