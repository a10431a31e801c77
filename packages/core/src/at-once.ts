/**
 * `fn` over `items`, at most `limit` calls at a time, the results in the items' order: for round trips that need not
 * wait for one another (a manifest per dump on S3: one after another, thousands of dumps took minutes). The first
 * failure rejects; no item starts after it (those already running end on their own).
 */
export async function mapAtOnce<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        out[index] = await fn(items[index]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return out;
}
