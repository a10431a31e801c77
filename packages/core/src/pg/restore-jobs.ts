/**
 * How many jobs pg_restore is worth running with: decided from the archive's table of contents first, then from how
 * its data is spread over its items (from the dump's manifest, or the data sizes of a file or spool). Pure.
 */
import type { TocLines } from './toc-listing.js';

// TOC entries that `pg_restore -j` runs side by side once the schema is in: the data items (table data, large objects,
// materialized view data), which need nothing of each other, and the index and constraint builds after them, which
// need only their table's data. (`INDEX ATTACH` only links partition indexes.)
const DATA_ENTRY = /^\d+; \d+ \d+ (TABLE DATA|BLOBS|BLOB DATA|LARGE OBJECT|MATERIALIZED VIEW DATA) /;
const BUILD_ENTRY = /^\d+; \d+ \d+ (INDEX(?! ATTACH)|CONSTRAINT|FK CONSTRAINT) /;

/**
 * The pg_restore jobs worth starting for an archive with this table of contents (from `readContents`): `jobs` when two
 * data items, or two builds, could run at the same time; else one. A lone table with at most one index or constraint
 * is a chain (its data, then its build): `-j` would write a spool for nothing, and take the build's parallel workers
 * away (`restoreDefaults`). Measured on a lone 240 MB table with its primary key, 4 alternating rounds: pgclone's own
 * dump 3.7–3.8 s with one job against 4.2–4.6 s spooled for `-j2`; a plain archive in place 3.5–3.7 s against
 * 4.0–4.2 s. With two more indexes on that table, one job and `-j2` took the same time (6.6–7.3 s, 6.8–7.6 s).
 */
export function usefulJobs(toc: TocLines, jobs: number): number {
  let data = 0;
  let builds = 0;
  for (const line of toc) {
    if (DATA_ENTRY.test(line)) data += 1;
    else if (BUILD_ENTRY.test(line)) builds += 1;
    if (data > 1 || builds > 1) return jobs;
  }
  return 1;
}

/** The share of an archive's data from which one data item makes `pg_restore -j` wait for it. */
export const DOMINANT_SHARE = 0.8;

/** The largest of these sizes' share of their sum (0 when they sum to nothing). */
export function largestShare(sizes: Iterable<number>): number {
  let total = 0;
  let largest = 0;
  for (const size of sizes) {
    total += size;
    largest = Math.max(largest, size);
  }
  return total > 0 ? largest / total : 0;
}

/**
 * The jobs worth starting when the largest data item holds `share` of the data: one from four fifths on, else `jobs`.
 * `-j` then only waits for that item's chain (its data, then its builds), and takes the builds' parallel workers away
 * (`restoreDefaults`). Measured with bare pg_restore, a single job with `--single-transaction` against `-j2` without
 * workers, 3 alternating rounds: one 200 MB table beside 1 MB of others 2.6–2.9 s against 3.2–3.3 s; beside a 50 MB
 * table (80%) 4.2–4.8 s against 4.2–5.0 s; beside a 100 MB one (67%) 5.1–5.4 s against 4.8–5.3 s. (The bench
 * dataset's largest table holds 39% of its data.)
 */
export function jobsForShare(share: number, jobs: number): number {
  return share >= DOMINANT_SHARE ? 1 : jobs;
}

/** Why pg_restore runs one job rather than `jobs`: one item holds `share` of the data in the dump `key`. */
export function oneJobMessage(share: number, key: string, jobs: number): string {
  return `One item holds ${Math.floor(share * 100)}% of the data in ${key}: pg_restore runs one job, as -j${jobs} would only wait for it`;
}
