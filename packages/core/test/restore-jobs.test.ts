import { describe, expect, it } from 'vitest';
import { DOMINANT_SHARE, jobsForShare, largestShare, oneJobMessage, usefulJobs } from '../src/pg/restore-jobs.js';

describe('usefulJobs', () => {
  // Lines as `pg_restore -l` prints them (comments already dropped by readContents).
  const schema = ['214; 1259 16385 TABLE public numbers postgres', '215; 1259 16390 SEQUENCE public numbers_id_seq postgres'];
  const data = '3338; 0 16385 TABLE DATA public numbers postgres';
  const pkey = '3190; 2606 16400 CONSTRAINT public numbers numbers_pkey postgres';

  it('keeps -j when two data items, or two builds, can run side by side', () => {
    expect(usefulJobs([...schema, data, '3339; 0 16395 TABLE DATA public other postgres'], 2)).toBe(2);
    expect(usefulJobs([...schema, data, '3500; 0 0 BLOBS - BLOBS '], 4)).toBe(4);
    expect(usefulJobs([...schema, data, pkey, '3200; 1259 16410 INDEX public numbers_a_idx postgres'], 4)).toBe(4);
    expect(usefulJobs([...schema, data, pkey, '3400; 2606 16420 FK CONSTRAINT public numbers numbers_fk postgres'], 2)).toBe(2);
  });

  it('is one for a lone table with at most one index or constraint (a chain), or an archive without data', () => {
    expect(usefulJobs([...schema, data], 2)).toBe(1);
    expect(usefulJobs([...schema, data, pkey], 4)).toBe(1);
    expect(usefulJobs([...schema, data, '3200; 1259 16410 INDEX public numbers_a_idx postgres'], 2)).toBe(1);
    expect(usefulJobs(schema, 8)).toBe(1);
    expect(usefulJobs([...schema, data, '3201; 0 0 INDEX ATTACH public p_1_idx postgres'], 2)).toBe(1);
  });
});

describe('largestShare and jobsForShare', () => {
  it('is one job when a single data item holds four fifths of the data or more', () => {
    expect(largestShare([200, 1])).toBe(200 / 201);
    expect(jobsForShare(largestShare([200, 1]), 4)).toBe(1);
    expect(largestShare([80, 15, 5])).toBe(DOMINANT_SHARE);
    expect(jobsForShare(largestShare([80, 15, 5]), 2)).toBe(1);
    expect(jobsForShare(largestShare([100]), 2)).toBe(1);
  });

  it('keeps the jobs when the data is spread or absent', () => {
    expect(largestShare([79, 21])).toBe(0.79);
    expect(jobsForShare(0.79, 2)).toBe(2);
    expect(jobsForShare(largestShare([39, 33, 28]), 8)).toBe(8);
    expect(largestShare([])).toBe(0);
    expect(largestShare([0, 0])).toBe(0);
    expect(jobsForShare(0, 2)).toBe(2);
  });

  it('says why in one line, naming the share, the dump and the jobs not used', () => {
    expect(oneJobMessage(0.997, 'a/b/c.dump', 4)).toBe('One item holds 99% of the data in a/b/c.dump: pg_restore runs one job, as -j4 would only wait for it');
  });
});
