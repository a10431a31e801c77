import { describe, expect, it } from 'vitest';
import { mapAtOnce } from '../src/at-once.js';

describe('mapAtOnce', () => {
  it('runs at most `limit` calls at a time and keeps the items order, whatever order they end in', async () => {
    let running = 0;
    let most = 0;
    const results = await mapAtOnce([50, 10, 30, 0, 20, 40, 5], 3, async (ms) => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, ms));
      running--;
      return ms * 2;
    });
    expect(results).toEqual([100, 20, 60, 0, 40, 80, 10]);
    expect(most).toBe(3);
  });

  it('rejects with the first failure and starts nothing after it', async () => {
    const started: number[] = [];
    const failing = mapAtOnce([1, 2, 3, 4, 5, 6], 2, async (n) => {
      started.push(n);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (n === 2) throw new Error(`item ${n} failed`);
      return n;
    });
    await expect(failing).rejects.toThrow('item 2 failed');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(started).toEqual([1, 2, 3]);
  });

  it('takes an empty list and a limit below 1', async () => {
    expect(await mapAtOnce([], 4, async () => 1)).toEqual([]);
    expect(await mapAtOnce([1, 2], 0, async (n) => n + 1)).toEqual([2, 3]);
  });
});
