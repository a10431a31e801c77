/**
 * Runs `read` every `ms` on a session that takes one query at a time: a reading still in flight skips the tick, a
 * failed one is ignored (progress is never worth an error). The returned stop function waits for the reading in
 * flight; `stopped()` tells that reading, once its query returns, that its result is no longer wanted.
 */
export function pollQueries(ms: number, read: (stopped: () => boolean) => Promise<void>): () => Promise<void> {
  let stopped = false;
  let pending: Promise<void> | undefined;
  const timer = setInterval(() => {
    pending ??= read(() => stopped)
      .catch(() => {})
      .finally(() => (pending = undefined));
  }, ms);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await pending;
  };
}
